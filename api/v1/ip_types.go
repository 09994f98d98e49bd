package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPSpec records one allocation: the addresses and MAC of one pod (or node,
// or VM) on one subnet, plus its attachment networks. The object is the
// persisted truth the controller rebuilds its IPAM from at start.
type IPSpec struct {
	// PodName is the owner's name (pod, node or VM).
	// +optional
	PodName string `json:"podName,omitempty"`
	// Namespace is the owner's namespace (empty for nodes).
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Subnet is the subnet the addresses come from.
	// +kubebuilder:validation:MinLength=1
	Subnet string `json:"subnet"`
	// AttachSubnets are the subnets of attachment networks.
	// +optional
	AttachSubnets []string `json:"attachSubnets,omitempty"`
	// NodeName is the node the owner runs on, when known.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// IPAddress is every address of the allocation, comma-separated, IPv4 first.
	// +optional
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="self == '' || (self.split(',').size() <= 2 && self.split(',').all(a, isIP(a)))",message="ipAddress must be one IP address or two comma-separated IP addresses"
	IPAddress string `json:"ipAddress,omitempty"`
	// V4IPAddress is the IPv4 address, if any.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == '' || (isIP(self) && ip(self).family() == 4)",message="v4IpAddress must be an IPv4 address"
	V4IPAddress string `json:"v4IpAddress,omitempty"`
	// V6IPAddress is the IPv6 address, if any.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == '' || (isIP(self) && ip(self).family() == 6)",message="v6IpAddress must be an IPv6 address"
	V6IPAddress string `json:"v6IpAddress,omitempty"`
	// AttachIPs are the addresses on the attachment networks.
	// +optional
	AttachIPs []string `json:"attachIps,omitempty"`
	// MacAddress is the interface's MAC.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$`
	MacAddress string `json:"macAddress,omitempty"`
	// AttachMacs are the MACs on the attachment networks.
	// +optional
	AttachMacs []string `json:"attachMacs,omitempty"`
	// ContainerID is the sandbox container ID, when known.
	// +optional
	ContainerID string `json:"containerID,omitempty"`
	// PodType is the owner's kind: empty for a pod, "VirtualMachine", "Node", ...
	// +optional
	PodType string `json:"podType,omitempty"`
}

// IP is one address allocation, named "<pod>.<namespace>" (with
// ".<provider>" appended for attachment networks, "node-<name>" for nodes).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=ovnip
// +kubebuilder:printcolumn:name="V4IP",type=string,JSONPath=`.spec.v4IpAddress`
// +kubebuilder:printcolumn:name="V6IP",type=string,JSONPath=`.spec.v6IpAddress`
// +kubebuilder:printcolumn:name="Mac",type=string,JSONPath=`.spec.macAddress`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.nodeName`
// +kubebuilder:printcolumn:name="Subnet",type=string,JSONPath=`.spec.subnet`
type IP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec IPSpec `json:"spec"`
}

// IPList is a list of IPs.
//
// +kubebuilder:object:root=true
type IPList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IP `json:"items"`
}

func init() {
	SchemeBuilder.Register(&IP{}, &IPList{})
}

// Values of IPSpec.PodType kvnet writes.
const (
	// PodTypeVM marks the addresses of a KubeVirt VM: the IP object is
	// named after and owned by the VM (or its VMI), not a launcher pod.
	PodTypeVM = "VirtualMachine"
	// PodTypeNode marks a node's join address.
	PodTypeNode = "Node"
)
