package node

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/kvnet/kvnet/internal/agent/attachment"
	"github.com/kvnet/kvnet/internal/agent/netconf"
	"github.com/kvnet/kvnet/internal/annotations"
)

func joinAttachment(t *testing.T, ips, cidrs, gws string) *attachment.Attachment {
	t.Helper()
	att, err := attachment.Parse(map[string]string{
		annotations.Allocated: "true", annotations.Routed: "true",
		annotations.IPAddress: ips, annotations.CIDR: cidrs, annotations.Gateway: gws,
		annotations.MACAddress: "0a:58:64:40:00:02", annotations.LogicalSwitch: "join",
		annotations.PortName: "node-n1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return att
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func TestDesiredRoutes(t *testing.T) {
	join := joinAttachment(t, "100.64.0.2,fd00:100:64::2", "100.64.0.0/16,fd00:100:64::/112", "100.64.0.1,fd00:100:64::1")
	subnets := []Subnet{
		{Name: "join", CIDRs: pfx("100.64.0.0/16")},
		{Name: "ovn-default", CIDRs: pfx("10.16.0.0/16", "fd00:10:16::/112"), VPC: ""},
		{Name: "other", CIDRs: pfx("10.17.0.0/16"), VPC: "ovn-cluster"},
		{Name: "tenant", CIDRs: pfx("10.18.0.0/16"), VPC: "vpc-a"},
		{Name: "alias-of-join", CIDRs: pfx("100.64.1.0/24")},
		{Name: "dup", CIDRs: pfx("10.17.0.0/16")},
	}
	v4, v6 := netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("fd00:100:64::1")
	want := []netconf.Route{
		{Dst: netip.MustParsePrefix("10.16.0.0/16"), Via: v4},
		{Dst: netip.MustParsePrefix("10.17.0.0/16"), Via: v4},
		{Dst: netip.MustParsePrefix("fd00:10:16::/112"), Via: v6},
	}
	if got := DesiredRoutes(join, subnets); !reflect.DeepEqual(got, want) {
		t.Fatalf("routes = %v, want %v", got, want)
	}
	// A v4-only join network gets no v6 routes.
	join4 := joinAttachment(t, "100.64.0.2", "100.64.0.0/16", "100.64.0.1")
	if got := DesiredRoutes(join4, subnets); len(got) != 2 {
		t.Fatalf("v4-only join: routes = %v", got)
	}
}

func TestOVNExternalIDs(t *testing.T) {
	if ids := ovnExternalIDs(BootstrapConfig{NodeName: "n1", Bridge: "br-int"}); ids != nil {
		t.Fatalf("without ovn-remote: %v", ids)
	}
	ids := ovnExternalIDs(BootstrapConfig{NodeName: "n1", Bridge: "br-int", DatapathType: "netdev",
		OVNRemote: "tcp:10.0.0.1:6642", EncapIP: "10.0.0.2", EncapType: "geneve"})
	want := map[string]string{"ovn-remote": "tcp:10.0.0.1:6642", "system-id": "n1", "ovn-bridge": "br-int",
		"ovn-encap-ip": "10.0.0.2", "ovn-encap-type": "geneve", "ovn-bridge-datapath-type": "netdev"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids = %v", ids)
	}
}
