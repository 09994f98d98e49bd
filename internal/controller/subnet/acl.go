package subnet

import (
	"net/netip"
	"strings"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// Priorities of a private subnet's ACLs: the allows must beat the drop.
const (
	PriorityPrivateAllow = 3000
	PriorityPrivateDrop  = 2900
)

// ACLs are the ACLs of a private subnet's switch (none for a subnet that is
// not private). Traffic delivered to the subnet's ports (to-lport) is
// dropped unless its source is the subnet itself or one of allowSubnets.
// The allows are allow-related, which makes the switch stateful: replies to
// connections the subnet's pods open elsewhere come back.
func ACLs(name string, n validation.Network, spec *kubeovnv1.SubnetSpec) []*nbdb.ACL {
	if !spec.Private {
		return nil
	}
	ids := ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindSubnet, Key: name}, map[string]string{ops.KeySubnet: name})
	acl := func(prio int, match, action string) *nbdb.ACL {
		return &nbdb.ACL{Direction: nbdb.ACLDirectionToLport, Priority: prio, Match: match, Action: action, ExternalIDs: ids}
	}
	var out []*nbdb.ACL
	for _, c := range n.CIDRs {
		ip := family(c.Addr())
		out = append(out, acl(PriorityPrivateAllow, ip+".src == "+c.String(), nbdb.ACLActionAllowRelated))
		for _, a := range spec.AllowSubnets {
			p, err := netip.ParsePrefix(strings.TrimSpace(a))
			if err != nil || p.Addr().Is4() != c.Addr().Is4() {
				continue // the CRD admits CIDRs only; the other family's entries belong to the other CIDR
			}
			out = append(out, acl(PriorityPrivateAllow, ip+".src == "+p.Masked().String(), nbdb.ACLActionAllowRelated))
		}
		out = append(out, acl(PriorityPrivateDrop, ip+".dst == "+c.String(), nbdb.ACLActionDrop))
	}
	return out
}

// RouterPortOptions are the options of the subnet's router port: the route
// table its traffic is routed by (OVN's route_table option), if any.
func RouterPortOptions(spec *kubeovnv1.SubnetSpec) map[string]string {
	if t := strings.TrimSpace(spec.RouteTable); t != "" {
		return map[string]string{"route_table": t}
	}
	return nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "ip4"
	}
	return "ip6"
}
