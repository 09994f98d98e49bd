package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPPoolSpec is a set of addresses of one subnet reserved for the pods that
// name the pool (annotation ovn.kubernetes.io/ip_pool) or run in its namespaces.
type IPPoolSpec struct {
	// Subnet the pool's addresses belong to. Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="subnet is immutable"
	Subnet string `json:"subnet"`
	// Namespaces whose pods allocate from this pool.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`
	// IPs are single addresses, ranges "a..b" or CIDRs.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || (self.split('..').size() <= 2 && self.split('..').all(a, isIP(a)))",message="ips entries must be an IP address, a range a..b or a CIDR"
	IPs []string `json:"ips"`
}

// IPPoolStatus is the observed state of an IPPool.
type IPPoolStatus struct {
	// +optional
	V4AvailableIPs float64 `json:"v4AvailableIPs"`
	// +optional
	V4AvailableIPRange string `json:"v4AvailableIPRange,omitempty"`
	// +optional
	V4UsingIPs float64 `json:"v4UsingIPs"`
	// +optional
	V4UsingIPRange string `json:"v4UsingIPRange,omitempty"`
	// +optional
	V6AvailableIPs float64 `json:"v6AvailableIPs"`
	// +optional
	V6AvailableIPRange string `json:"v6AvailableIPRange,omitempty"`
	// +optional
	V6UsingIPs float64 `json:"v6UsingIPs"`
	// +optional
	V6UsingIPRange string `json:"v6UsingIPRange,omitempty"`
	// Conditions: Ready, Validated, Error.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IPPool is a named set of addresses within a subnet.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ippool
// +kubebuilder:printcolumn:name="Subnet",type=string,JSONPath=`.spec.subnet`
// +kubebuilder:printcolumn:name="IPs",type=string,JSONPath=`.spec.ips`
// +kubebuilder:printcolumn:name="V4Used",type=number,JSONPath=`.status.v4UsingIPs`
// +kubebuilder:printcolumn:name="V4Available",type=number,JSONPath=`.status.v4AvailableIPs`
// +kubebuilder:printcolumn:name="V6Used",type=number,JSONPath=`.status.v6UsingIPs`
// +kubebuilder:printcolumn:name="V6Available",type=number,JSONPath=`.status.v6AvailableIPs`
type IPPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IPPoolSpec   `json:"spec"`
	Status IPPoolStatus `json:"status,omitempty"`
}

// IPPoolList is a list of IPPools.
//
// +kubebuilder:object:root=true
type IPPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPPool `json:"items"`
}

func init() {
	SchemeBuilder.Register(&IPPool{}, &IPPoolList{})
}
