package attachment

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/kvnet/kvnet/internal/annotations"
)

func annotated(overrides map[string]string) map[string]string {
	ann := map[string]string{
		annotations.Allocated:     "true",
		annotations.Routed:        "true",
		annotations.IPAddress:     "10.16.0.5",
		annotations.MACAddress:    "0a:58:0a:10:00:05",
		annotations.CIDR:          "10.16.0.0/16",
		annotations.Gateway:       "10.16.0.1",
		annotations.LogicalSwitch: "ovn-default",
		annotations.PortName:      "web.default",
	}
	for k, v := range overrides {
		if v == "" {
			delete(ann, k)
		} else {
			ann[k] = v
		}
	}
	return ann
}

func TestParseAttachmentIPv4(t *testing.T) {
	att, err := Parse(annotated(nil))
	if err != nil {
		t.Fatal(err)
	}
	if att.PortName != "web.default" || att.LogicalSwitch != "ovn-default" || att.MAC.String() != "0a:58:0a:10:00:05" {
		t.Fatalf("attachment = %+v", att)
	}
	if len(att.Addresses) != 1 || att.Addresses[0] != netip.MustParsePrefix("10.16.0.5/16") {
		t.Fatalf("addresses = %v", att.Addresses)
	}
	if len(att.Gateways) != 1 || att.Gateways[0] != netip.MustParseAddr("10.16.0.1") {
		t.Fatalf("gateways = %v", att.Gateways)
	}
}

func TestParseAttachmentDualStackCanonicalAndOrdered(t *testing.T) {
	att, err := Parse(annotated(map[string]string{
		annotations.IPAddress: "FD00:10:16:0:0:0:0:5, 10.16.0.5",
		annotations.CIDR:      "10.16.0.0/16,fd00:10:16::/112",
		annotations.Gateway:   "10.16.0.1,fd00:10:16::1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.16.0.5/16"), netip.MustParsePrefix("fd00:10:16::5/112")}
	if len(att.Addresses) != 2 || att.Addresses[0] != want[0] || att.Addresses[1] != want[1] {
		t.Fatalf("addresses = %v, want %v", att.Addresses, want)
	}
	if len(att.Gateways) != 2 || !att.Gateways[0].Is4() || !att.Gateways[1].Is6() {
		t.Fatalf("gateways = %v", att.Gateways)
	}
}

func TestParseAttachmentNotReady(t *testing.T) {
	for _, key := range []string{annotations.Allocated, annotations.Routed} {
		_, err := Parse(annotated(map[string]string{key: ""}))
		if !errors.Is(err, ErrNotAnnotated) || !strings.Contains(err.Error(), key) {
			t.Errorf("without %s: err = %v, want not-annotated naming it", key, err)
		}
	}
}

func TestParseAttachmentRejectsBadValues(t *testing.T) {
	cases := map[string]map[string]string{
		"no port name":       {annotations.PortName: ""},
		"bad mac":            {annotations.MACAddress: "zz"},
		"multicast mac":      {annotations.MACAddress: "01:00:5e:00:00:01"},
		"bad ip":             {annotations.IPAddress: "10.16.0.500"},
		"no ip":              {annotations.IPAddress: ""},
		"ip outside cidr":    {annotations.IPAddress: "10.17.0.5"},
		"two of one family":  {annotations.IPAddress: "10.16.0.5,10.16.0.6"},
		"bad cidr":           {annotations.CIDR: "10.16.0.0/33"},
		"bad gateway":        {annotations.Gateway: "nope"},
		"three addresses":    {annotations.IPAddress: "10.16.0.5,fd00::5,10.16.0.6"},
		"v6 ip with v4 cidr": {annotations.IPAddress: "fd00::5"},
	}
	for name, override := range cases {
		att, err := Parse(annotated(override))
		if err == nil || errors.Is(err, ErrNotAnnotated) {
			t.Errorf("%s: got %+v, %v; want a permanent error", name, att, err)
		}
	}
}

func TestIsMigrationTarget(t *testing.T) {
	if IsMigrationTarget(map[string]string{"kubevirt.io": "virt-launcher"}) {
		t.Error("ordinary launcher pod taken for a migration target")
	}
	if !IsMigrationTarget(map[string]string{annotations.KubeVirtMigrationJobUID: "1234"}) {
		t.Error("migration target not recognized")
	}
}
