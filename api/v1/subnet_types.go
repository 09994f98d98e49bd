package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The CEL rules below guard themselves with isCIDR/isIP before calling cidr()/ip(),
// so a malformed value yields the syntax rule's message, not an evaluation error.
// They index the (at most two) comma-separated parts instead of looping over
// them: the apiserver's cost estimator assumes split() may return one element
// per character, and nested loops would exceed the CRD's CEL budget.
// IPv4 broadcast: with x = int(o0)*2^24 + int(o1)*2^16 + int(o2)*2^8 + int(o3), x is
// the broadcast address of its /p block when x % 2^(32-p) == 2^(32-p) - 1; the
// literal list maps p to 2^(32-p) (CEL has no bit operations or exponentiation).
// IP inequality is written !(a == b): the cost estimator prices == on IPs as O(1)
// but not !=.

// SubnetSpec is the desired state of a Subnet: one OVN logical switch in a VPC.
//
// +kubebuilder:validation:XValidation:rule="!has(self.protocol) || !(self.cidrBlock.split(',').size() <= 2 && isCIDR(self.cidrBlock.split(',')[0]) && (self.cidrBlock.split(',').size() == 1 || isCIDR(self.cidrBlock.split(',')[1]))) || (self.protocol == 'Dual' ? self.cidrBlock.split(',').size() == 2 : (self.cidrBlock.split(',').size() == 1 && cidr(self.cidrBlock.split(',')[0]).ip().family() == (self.protocol == 'IPv4' ? 4 : 6)))",message="protocol does not match cidrBlock: IPv4 and IPv6 need exactly one CIDR of that family, Dual needs one of each"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || !(self.cidrBlock.split(',').size() <= 2 && isCIDR(self.cidrBlock.split(',')[0]) && (self.cidrBlock.split(',').size() == 1 || isCIDR(self.cidrBlock.split(',')[1]))) || !(self.gateway.split(',').size() <= 2 && isIP(self.gateway.split(',')[0]) && (self.gateway.split(',').size() == 1 || isIP(self.gateway.split(',')[1]))) || (self.gateway.split(',').size() == self.cidrBlock.split(',').size() && (cidr(self.cidrBlock.split(',')[0]).containsIP(self.gateway.split(',')[0]) || (self.cidrBlock.split(',').size() == 2 && cidr(self.cidrBlock.split(',')[1]).containsIP(self.gateway.split(',')[0]))) && (self.gateway.split(',').size() == 1 || (cidr(self.cidrBlock.split(',')[0]).containsIP(self.gateway.split(',')[1]) || (self.cidrBlock.split(',').size() == 2 && cidr(self.cidrBlock.split(',')[1]).containsIP(self.gateway.split(',')[1])))))",message="gateway must hold one address inside each CIDR of cidrBlock"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || !(self.cidrBlock.split(',').size() <= 2 && isCIDR(self.cidrBlock.split(',')[0]) && (self.cidrBlock.split(',').size() == 1 || isCIDR(self.cidrBlock.split(',')[1]))) || !(self.gateway.split(',').size() <= 2 && isIP(self.gateway.split(',')[0]) && (self.gateway.split(',').size() == 1 || isIP(self.gateway.split(',')[1]))) || ((!cidr(self.cidrBlock.split(',')[0]).containsIP(self.gateway.split(',')[0]) || cidr(self.cidrBlock.split(',')[0]).prefixLength() >= (ip(self.gateway.split(',')[0]).family() == 4 ? 31 : 127) || !(cidr(self.cidrBlock.split(',')[0]).masked().ip() == ip(self.gateway.split(',')[0]))) && (self.cidrBlock.split(',').size() == 1 || (!cidr(self.cidrBlock.split(',')[1]).containsIP(self.gateway.split(',')[0]) || cidr(self.cidrBlock.split(',')[1]).prefixLength() >= (ip(self.gateway.split(',')[0]).family() == 4 ? 31 : 127) || !(cidr(self.cidrBlock.split(',')[1]).masked().ip() == ip(self.gateway.split(',')[0])))) && (self.gateway.split(',').size() == 1 || ((!cidr(self.cidrBlock.split(',')[0]).containsIP(self.gateway.split(',')[1]) || cidr(self.cidrBlock.split(',')[0]).prefixLength() >= (ip(self.gateway.split(',')[1]).family() == 4 ? 31 : 127) || !(cidr(self.cidrBlock.split(',')[0]).masked().ip() == ip(self.gateway.split(',')[1]))) && (self.cidrBlock.split(',').size() == 1 || (!cidr(self.cidrBlock.split(',')[1]).containsIP(self.gateway.split(',')[1]) || cidr(self.cidrBlock.split(',')[1]).prefixLength() >= (ip(self.gateway.split(',')[1]).family() == 4 ? 31 : 127) || !(cidr(self.cidrBlock.split(',')[1]).masked().ip() == ip(self.gateway.split(',')[1])))))))",message="gateway must not be the network address of its CIDR"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || !(self.cidrBlock.split(',').size() <= 2 && isCIDR(self.cidrBlock.split(',')[0]) && (self.cidrBlock.split(',').size() == 1 || isCIDR(self.cidrBlock.split(',')[1]))) || !(self.gateway.split(',').size() <= 2 && isIP(self.gateway.split(',')[0]) && (self.gateway.split(',').size() == 1 || isIP(self.gateway.split(',')[1]))) || ((ip(self.gateway.split(',')[0]).family() != 4 || !cidr(self.cidrBlock.split(',')[0]).containsIP(self.gateway.split(',')[0]) || cidr(self.cidrBlock.split(',')[0]).prefixLength() >= 31 || (int(self.gateway.split(',')[0].split('.')[0]) * 16777216 + int(self.gateway.split(',')[0].split('.')[1]) * 65536 + int(self.gateway.split(',')[0].split('.')[2]) * 256 + int(self.gateway.split(',')[0].split('.')[3])) % [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[0]).prefixLength()] != [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[0]).prefixLength()] - 1) && (self.cidrBlock.split(',').size() == 1 || (ip(self.gateway.split(',')[0]).family() != 4 || !cidr(self.cidrBlock.split(',')[1]).containsIP(self.gateway.split(',')[0]) || cidr(self.cidrBlock.split(',')[1]).prefixLength() >= 31 || (int(self.gateway.split(',')[0].split('.')[0]) * 16777216 + int(self.gateway.split(',')[0].split('.')[1]) * 65536 + int(self.gateway.split(',')[0].split('.')[2]) * 256 + int(self.gateway.split(',')[0].split('.')[3])) % [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[1]).prefixLength()] != [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[1]).prefixLength()] - 1)) && (self.gateway.split(',').size() == 1 || ((ip(self.gateway.split(',')[1]).family() != 4 || !cidr(self.cidrBlock.split(',')[0]).containsIP(self.gateway.split(',')[1]) || cidr(self.cidrBlock.split(',')[0]).prefixLength() >= 31 || (int(self.gateway.split(',')[1].split('.')[0]) * 16777216 + int(self.gateway.split(',')[1].split('.')[1]) * 65536 + int(self.gateway.split(',')[1].split('.')[2]) * 256 + int(self.gateway.split(',')[1].split('.')[3])) % [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[0]).prefixLength()] != [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[0]).prefixLength()] - 1) && (self.cidrBlock.split(',').size() == 1 || (ip(self.gateway.split(',')[1]).family() != 4 || !cidr(self.cidrBlock.split(',')[1]).containsIP(self.gateway.split(',')[1]) || cidr(self.cidrBlock.split(',')[1]).prefixLength() >= 31 || (int(self.gateway.split(',')[1].split('.')[0]) * 16777216 + int(self.gateway.split(',')[1].split('.')[1]) * 65536 + int(self.gateway.split(',')[1].split('.')[2]) * 256 + int(self.gateway.split(',')[1].split('.')[3])) % [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[1]).prefixLength()] != [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.cidrBlock.split(',')[1]).prefixLength()] - 1)))))",message="gateway must not be the broadcast address of its IPv4 CIDR"
// +kubebuilder:validation:XValidation:rule="!has(self.excludeIps) || !(self.cidrBlock.split(',').size() <= 2 && isCIDR(self.cidrBlock.split(',')[0]) && (self.cidrBlock.split(',').size() == 1 || isCIDR(self.cidrBlock.split(',')[1]))) || self.excludeIps.all(e, e.split('..').size() > 2 || !isIP(e.split('..')[0]) || (e.split('..').size() == 2 && !isIP(e.split('..')[1])) || ((cidr(self.cidrBlock.split(',')[0]).containsIP(e.split('..')[0]) || (self.cidrBlock.split(',').size() == 2 && cidr(self.cidrBlock.split(',')[1]).containsIP(e.split('..')[0]))) && (e.split('..').size() == 1 || (cidr(self.cidrBlock.split(',')[0]).containsIP(e.split('..')[1]) || (self.cidrBlock.split(',').size() == 2 && cidr(self.cidrBlock.split(',')[1]).containsIP(e.split('..')[1]))))))",message="every excludeIps address must lie inside cidrBlock"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.vpc) || size(oldSelf.vpc) == 0 || (has(self.vpc) && self.vpc == oldSelf.vpc)",message="vpc is immutable once set: moving a subnet would strand the addresses in use"
type SubnetSpec struct {
	// CIDRBlock is the subnet's network: one CIDR, or an IPv4 and an IPv6 CIDR
	// separated by a comma for dual-stack. Immutable: addresses in use would be stranded.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=90
	// +kubebuilder:validation:XValidation:rule="self.split(',').size() <= 2 && self.split(',').all(c, isCIDR(c))",message="cidrBlock must be one CIDR or two comma-separated CIDRs, e.g. 10.16.0.0/16 or 10.16.0.0/16,fd00:10:16::/64"
	// +kubebuilder:validation:XValidation:rule="!self.split(',').all(c, isCIDR(c)) || self.split(',').all(c, cidr(c).masked() == cidr(c))",message="cidrBlock must name network addresses: no host bits may be set after the prefix"
	// +kubebuilder:validation:XValidation:rule="self.split(',').size() != 2 || !self.split(',').all(c, isCIDR(c)) || cidr(self.split(',')[0]).ip().family() != cidr(self.split(',')[1]).ip().family()",message="a dual-stack cidrBlock needs one IPv4 and one IPv6 CIDR"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cidrBlock is immutable: delete and recreate the subnet"
	CIDRBlock string `json:"cidrBlock"`

	// Gateway is the router address of each family, comma-separated in the
	// order of cidrBlock. Defaults to the first host address of each CIDR.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	// +kubebuilder:validation:XValidation:rule="self.split(',').size() <= 2 && self.split(',').all(g, isIP(g))",message="gateway must be one IP address or two comma-separated IP addresses"
	Gateway string `json:"gateway,omitempty"`

	// ExcludeIPs are addresses never handed out by dynamic allocation: single
	// addresses or inclusive ranges "a..b". The gateway is always excluded.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:XValidation:rule="self.split('..').size() <= 2 && self.split('..').all(a, isIP(a))",message="excludeIps entries must be an IP address or a range a..b"
	// +kubebuilder:validation:items:XValidation:rule="self.split('..').size() != 2 || !self.split('..').all(a, isIP(a)) || ip(self.split('..')[0]).family() == ip(self.split('..')[1]).family()",message="both ends of an excludeIps range must be of the same family"
	ExcludeIPs []string `json:"excludeIps,omitempty"`

	// Protocol is IPv4, IPv6 or Dual; derived from cidrBlock when absent.
	// +optional
	// +kubebuilder:validation:Enum=IPv4;IPv6;Dual
	Protocol string `json:"protocol,omitempty"`

	// Namespaces bound to this subnet: their pods get addresses here, and a
	// subnet with namespaces cannot be used by pods of other namespaces.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	Namespaces []string `json:"namespaces,omitempty"`

	// Default marks the subnet used by namespaces bound to no subnet.
	// +optional
	Default bool `json:"default,omitempty"`

	// Vpc is the VPC (logical router) the subnet belongs to; defaults to the
	// controller's default VPC. Immutable once set.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Vpc string `json:"vpc,omitempty"`

	// RouteTable is the route table of the VPC router that routes the
	// subnet's traffic: the VPC's static routes with that routeTable. Empty
	// is the main table.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	RouteTable string `json:"routeTable,omitempty"`

	// Provider is "ovn" for the default network, or "<nad>.<namespace>.ovn"
	// for a Multus attachment network.
	// +optional
	Provider string `json:"provider,omitempty"`

	// Private blocks traffic from other subnets except those in AllowSubnets.
	// +optional
	Private bool `json:"private,omitempty"`

	// AllowSubnets are CIDRs allowed to reach a private subnet.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="allowSubnets entries must be CIDRs"
	AllowSubnets []string `json:"allowSubnets,omitempty"`

	// GatewayType is distributed (each node routes) or centralized.
	// +optional
	// +kubebuilder:validation:Enum=distributed;centralized
	GatewayType string `json:"gatewayType,omitempty"`

	// NatOutgoing masquerades traffic leaving the cluster.
	// +optional
	NatOutgoing bool `json:"natOutgoing,omitempty"`

	// DisableGatewayCheck skips the agent's gateway reachability check.
	// +optional
	DisableGatewayCheck bool `json:"disableGatewayCheck,omitempty"`
}

// SubnetStatus is the observed state of a Subnet.
type SubnetStatus struct {
	// V4AvailableIPs is the number of IPv4 addresses dynamic allocation can still hand out.
	// +optional
	V4AvailableIPs float64 `json:"v4availableIPs"`
	// V4UsingIPs is the number of IPv4 addresses in use.
	// +optional
	V4UsingIPs float64 `json:"v4usingIPs"`
	// V6AvailableIPs is the number of IPv6 addresses dynamic allocation can still hand out.
	// +optional
	V6AvailableIPs float64 `json:"v6availableIPs"`
	// V6UsingIPs is the number of IPv6 addresses in use.
	// +optional
	V6UsingIPs float64 `json:"v6usingIPs"`
	// V4UsingIPRange lists the IPv4 addresses in use as ranges.
	// +optional
	V4UsingIPRange string `json:"v4usingIPrange,omitempty"`
	// V4AvailableIPRange lists the free IPv4 addresses as ranges.
	// +optional
	V4AvailableIPRange string `json:"v4availableIPrange,omitempty"`
	// V6UsingIPRange lists the IPv6 addresses in use as ranges.
	// +optional
	V6UsingIPRange string `json:"v6usingIPrange,omitempty"`
	// V6AvailableIPRange lists the free IPv6 addresses as ranges.
	// +optional
	V6AvailableIPRange string `json:"v6availableIPrange,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Validated, Error.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Subnet is an IP network in a VPC, implemented as an OVN logical switch.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Vpc",type=string,JSONPath=`.spec.vpc`
// +kubebuilder:printcolumn:name="Protocol",type=string,JSONPath=`.spec.protocol`
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.cidrBlock`
// +kubebuilder:printcolumn:name="Private",type=boolean,JSONPath=`.spec.private`
// +kubebuilder:printcolumn:name="NAT",type=boolean,JSONPath=`.spec.natOutgoing`
// +kubebuilder:printcolumn:name="Default",type=boolean,JSONPath=`.spec.default`
// +kubebuilder:printcolumn:name="GatewayType",type=string,JSONPath=`.spec.gatewayType`
// +kubebuilder:printcolumn:name="V4Used",type=number,JSONPath=`.status.v4usingIPs`
// +kubebuilder:printcolumn:name="V4Available",type=number,JSONPath=`.status.v4availableIPs`
// +kubebuilder:printcolumn:name="V6Used",type=number,JSONPath=`.status.v6usingIPs`
// +kubebuilder:printcolumn:name="V6Available",type=number,JSONPath=`.status.v6availableIPs`
// +kubebuilder:printcolumn:name="ExcludeIPs",type=string,JSONPath=`.spec.excludeIps`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="subnet names are at most 63 characters: every IP object carries its subnet's name in the label ovn.kubernetes.io/subnet, and label values are at most 63 characters"
type Subnet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SubnetSpec   `json:"spec"`
	Status SubnetStatus `json:"status,omitempty"`
}

// SubnetList is a list of Subnets.
//
// +kubebuilder:object:root=true
type SubnetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Subnet `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Subnet{}, &SubnetList{})
}
