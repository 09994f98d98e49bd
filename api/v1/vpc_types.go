package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Static route policies.
const (
	PolicySrc = "policySrc"
	PolicyDst = "policyDst"
)

// StaticRoute is a route on the VPC's logical router.
type StaticRoute struct {
	// CIDR is the destination (or, with policy policySrc, the source) prefix.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) || isIP(self)",message="cidr must be a CIDR or an IP address"
	CIDR string `json:"cidr"`
	// NextHopIP is the gateway address.
	// +kubebuilder:validation:MaxLength=80
	// +kubebuilder:validation:XValidation:rule="self.split(',').size() <= 2 && self.split(',').all(a, isIP(a))",message="nextHopIP must be IP addresses"
	NextHopIP string `json:"nextHopIP"`
	// Policy matches the destination (policyDst, default) or the source (policySrc).
	// +optional
	// +kubebuilder:validation:Enum=policySrc;policyDst
	Policy string `json:"policy,omitempty"`
	// RouteTable is the router's route table; empty is the main table.
	// +optional
	RouteTable string `json:"routeTable,omitempty"`
}

// PolicyRoute is a logical router policy.
type PolicyRoute struct {
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32767
	Priority int32 `json:"priority"`
	// Match is an OVN match expression.
	// +kubebuilder:validation:MinLength=1
	Match string `json:"match"`
	// +kubebuilder:validation:Enum=allow;drop;reroute
	Action string `json:"action"`
	// NextHopIP is required for reroute.
	// +optional
	// +kubebuilder:validation:MaxLength=100
	NextHopIP string `json:"nextHopIP,omitempty"`
}

// VpcSpec is the desired state of a Vpc.
type VpcSpec struct {
	// Namespaces bound to the VPC.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=256
	StaticRoutes []StaticRoute `json:"staticRoutes,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:XValidation:rule="self.action != 'reroute' || (has(self.nextHopIP) && self.nextHopIP != '')",message="reroute needs nextHopIP"
	PolicyRoutes []PolicyRoute `json:"policyRoutes,omitempty"`
	// EnableExternal connects the VPC to the external network.
	// +optional
	EnableExternal bool `json:"enableExternal,omitempty"`
}

// VpcStatus is the observed state of a Vpc.
type VpcStatus struct {
	// Router is the OVN logical router's name.
	// +optional
	Router string `json:"router,omitempty"`
	// Subnets in the VPC.
	// +optional
	Subnets []string `json:"subnets,omitempty"`
	// Default is true for the cluster's default VPC.
	// +optional
	Default bool `json:"default,omitempty"`
	// DefaultLogicalSwitch is the VPC's default subnet.
	// +optional
	DefaultLogicalSwitch string `json:"defaultLogicalSwitch,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Vpc is an isolated routing domain: an OVN logical router and its subnets.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="EnableExternal",type=boolean,JSONPath=`.spec.enableExternal`
// +kubebuilder:printcolumn:name="Default",type=boolean,JSONPath=`.status.default`
// +kubebuilder:printcolumn:name="Subnets",type=string,JSONPath=`.status.subnets`
type Vpc struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VpcSpec   `json:"spec,omitempty"`
	Status VpcStatus `json:"status,omitempty"`
}

// VpcList is a list of Vpcs.
//
// +kubebuilder:object:root=true
type VpcList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Vpc `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Vpc{}, &VpcList{})
}
