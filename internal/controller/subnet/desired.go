package subnet

import (
	"crypto/sha256"
	"net"
	"strconv"

	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// GatewayMAC derives the router port's MAC from the VPC and subnet names. It
// is the same on every node and across controller restarts or an NB wipe,
// so a guest's ARP entry for its gateway stays valid through live migration
// (B25). Locally administered, unicast.
func GatewayMAC(vpc, subnet string) string {
	sum := sha256.Sum256([]byte("kvnet-gateway/" + vpc + "/" + subnet))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = (mac[0] | 0x02) &^ 0x01
	return mac.String()
}

// Desired is the NB state of one subnet.
type Desired struct {
	Switch           *nbdb.LogicalSwitch
	SwitchRouterPort *nbdb.LogicalSwitchPort
	RouterPort       *nbdb.LogicalRouterPort
}

// Build computes the NB rows of subnet name in vpc with network n.
func Build(name, vpc string, n validation.Network) Desired {
	owner := ops.Owner{Kind: ops.OwnerKindSubnet, Key: name}
	other := map[string]string{}
	networks := make([]string, 0, len(n.CIDRs))
	for i, p := range n.CIDRs {
		networks = append(networks, n.Gateways[i].String()+"/"+strconv.Itoa(p.Bits()))
		switch {
		case p.Addr().Is4():
			other["subnet"] = p.String()
		case p.Bits() == 64:
			// northd's IPv6 prefix option only takes /64 prefixes.
			other["ipv6_prefix"] = p.Addr().String()
		}
	}
	lrpName := addressing.RouterPortName(vpc, name)
	return Desired{
		Switch: &nbdb.LogicalSwitch{
			Name:        addressing.LogicalSwitchName(name),
			OtherConfig: other,
			ExternalIDs: ops.OwnerIDs(owner, map[string]string{ops.KeyVpc: vpc}),
		},
		SwitchRouterPort: &nbdb.LogicalSwitchPort{
			Name:        addressing.SwitchRouterPortName(vpc, name),
			Type:        "router",
			Addresses:   []string{"router"},
			Options:     map[string]string{"router-port": lrpName},
			ExternalIDs: ops.OwnerIDs(owner, map[string]string{ops.KeyVpc: vpc, ops.KeySubnet: name}),
		},
		RouterPort: &nbdb.LogicalRouterPort{
			Name:        lrpName,
			MAC:         GatewayMAC(vpc, name),
			Networks:    networks,
			ExternalIDs: ops.OwnerIDs(owner, map[string]string{ops.KeyVpc: vpc, ops.KeySubnet: name}),
		},
	}
}
