package subnet

import (
	"testing"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

func TestBuildDualStack(t *testing.T) {
	n, err := validation.ParseNetwork(&kubeovnv1.SubnetSpec{CIDRBlock: "fd00:10::/64,10.10.0.0/24", Gateway: "10.10.0.254,FD00:10::1"})
	if err != nil {
		t.Fatal(err)
	}
	d := Build("s1", "vpc1", n)
	if d.Switch.Name != "s1" || d.Switch.OtherConfig["subnet"] != "10.10.0.0/24" || d.Switch.OtherConfig["ipv6_prefix"] != "fd00:10::" {
		t.Errorf("switch = %+v", d.Switch)
	}
	if d.RouterPort.Name != "lrp:vpc1:s1" || len(d.RouterPort.Networks) != 2 ||
		d.RouterPort.Networks[0] != "10.10.0.254/24" || d.RouterPort.Networks[1] != "fd00:10::1/64" {
		t.Errorf("router port = %+v", d.RouterPort)
	}
	if d.SwitchRouterPort.Name != "lsp:vpc1:s1" || d.SwitchRouterPort.Type != "router" ||
		d.SwitchRouterPort.Options["router-port"] != "lrp:vpc1:s1" || d.SwitchRouterPort.Addresses[0] != "router" {
		t.Errorf("switch router port = %+v", d.SwitchRouterPort)
	}
	for _, ids := range []map[string]string{d.Switch.ExternalIDs, d.RouterPort.ExternalIDs, d.SwitchRouterPort.ExternalIDs} {
		if o, ok := ops.OwnerOf(ids); !ok || o.Kind != ops.OwnerKindSubnet || o.Key != "s1" || ids[ops.KeyVpc] != "vpc1" {
			t.Errorf("external_ids = %v", ids)
		}
	}
}

func TestBuildIPv6NonSlash64HasNoPrefixOption(t *testing.T) {
	n, err := validation.ParseNetwork(&kubeovnv1.SubnetSpec{CIDRBlock: "fd00:10::/120"})
	if err != nil {
		t.Fatal(err)
	}
	d := Build("s6", "v", n)
	if _, ok := d.Switch.OtherConfig["ipv6_prefix"]; ok || len(d.Switch.OtherConfig) != 0 {
		t.Errorf("other_config = %v", d.Switch.OtherConfig)
	}
}

func TestGatewayMACIsStableUnicastAndLocal(t *testing.T) {
	a, b := GatewayMAC("ovn-cluster", "s1"), GatewayMAC("ovn-cluster", "s1")
	if a != b {
		t.Fatalf("MAC not deterministic: %s %s", a, b)
	}
	if GatewayMAC("ovn-cluster", "s2") == a {
		t.Fatal("two subnets share a gateway MAC")
	}
	first := a[:2]
	var x uint8
	for _, c := range first {
		x <<= 4
		switch {
		case c >= '0' && c <= '9':
			x |= uint8(c - '0')
		default:
			x |= uint8(c-'a') + 10
		}
	}
	if x&1 != 0 || x&2 == 0 {
		t.Fatalf("MAC %s is not locally administered unicast", a)
	}
}
