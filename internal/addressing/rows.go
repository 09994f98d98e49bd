package addressing

import (
	"strings"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// PortRow is the logical switch port of an allocation: addresses and
// port_security "MAC IPv4 [IPv6]", owner external_ids plus extra.
func PortRow(name string, owner ops.Owner, subnet string, a ipam.Allocation, extra map[string]string) *nbdb.LogicalSwitchPort {
	addr := strings.Join(append([]string{a.MAC}, strings.Split(a.IPString(), ",")...), " ")
	ids := map[string]string{ops.KeySubnet: subnet}
	for k, v := range extra {
		ids[k] = v
	}
	return &nbdb.LogicalSwitchPort{
		Name:         name,
		Addresses:    []string{addr},
		PortSecurity: []string{addr},
		ExternalIDs:  ops.OwnerIDs(owner, ids),
	}
}

// AllocationSpec fills the address fields of an IP spec from an allocation.
func AllocationSpec(subnet string, a ipam.Allocation) kubeovnv1.IPSpec {
	s := kubeovnv1.IPSpec{Subnet: subnet, IPAddress: a.IPString(), MacAddress: a.MAC}
	for _, ip := range a.IPs {
		if ip.Is4() {
			s.V4IPAddress = ip.String()
		} else {
			s.V6IPAddress = ip.String()
		}
	}
	return s
}

// AllocationAnnotations are the annotations describing one allocation, for
// provider's keys; routed is added once the port exists.
func AllocationAnnotations(provider, subnet, port string, n validation.Network, a ipam.Allocation, routed bool) map[string]string {
	m := map[string]string{
		Key(provider, annotations.Allocated):     "true",
		Key(provider, annotations.IPAddress):     a.IPString(),
		Key(provider, annotations.MACAddress):    a.MAC,
		Key(provider, annotations.CIDR):          n.CIDRString(),
		Key(provider, annotations.Gateway):       n.GatewayString(),
		Key(provider, annotations.LogicalSwitch): subnet,
		Key(provider, annotations.PortName):      port,
	}
	if routed {
		m[Key(provider, annotations.Routed)] = "true"
	}
	return m
}

// DesiredAnnotations are the annotations of all NICs of a pod once its ports exist.
func DesiredAnnotations(nics []NIC, allocs []ipam.Allocation) map[string]string {
	out := map[string]string{}
	for i := range nics {
		for k, v := range AllocationAnnotations(nics[i].Provider, nics[i].Subnet.Name, nics[i].Port, nics[i].Network, allocs[i], nics[i].HasPort) {
			out[k] = v
		}
	}
	return out
}
