package validation_test

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/validation"
)

func TestB05_MalformedCIDRBlockIsRefused(t *testing.T) {
	for _, tc := range []struct{ cidr, protocol string }{
		{"10.20.0.0/33", ""}, {"10.20.0/24", ""}, {"10.20.0.0", ""}, {"fd00::/129", ""}, {"", ""},
		{"10.20.0.0/24,10.21.0.0/24", "IPv4"}, {"10.20.0.0/24,10.21.0.0/24", ""},
		{"10.20.0.0/24", "IPv6"}, {"10.20.0.0/24", "Dual"}, {"10.20.0.0/24,fd00::/120", "IPv4"},
	} {
		spec := &kubeovnv1.SubnetSpec{CIDRBlock: tc.cidr, Protocol: tc.protocol}
		if err := validation.Subnet(spec); err == nil {
			t.Errorf("cidrBlock %q protocol %q accepted", tc.cidr, tc.protocol)
		}
		if _, err := validation.ParseNetwork(spec); err == nil {
			t.Errorf("ParseNetwork(%q) did not fail", tc.cidr)
		}
	}
}

func TestB02_GatewayNetworkBroadcastOrOutsideIsRefused(t *testing.T) {
	for _, gw := range []string{"192.168.50.0", "192.168.50.255", "192.168.51.1", "fd00::1", "x"} {
		spec := &kubeovnv1.SubnetSpec{CIDRBlock: "192.168.50.0/24", Gateway: gw}
		if err := validation.Subnet(spec); err == nil {
			t.Errorf("gateway %q accepted", gw)
		}
	}
	spec := &kubeovnv1.SubnetSpec{CIDRBlock: "fd00:10::/120", Gateway: "fd00:10::"}
	if err := validation.Subnet(spec); err == nil {
		t.Error("IPv6 all-zeros gateway accepted")
	}
	for _, gw := range []string{"192.168.50.1", "192.168.50.254"} {
		spec := &kubeovnv1.SubnetSpec{CIDRBlock: "192.168.50.0/24", Gateway: gw}
		if err := validation.Subnet(spec); err != nil {
			t.Errorf("gateway %q refused: %v", gw, err)
		}
	}
}

func TestB01_GatewayInAnyTextualFormIsOneAddress(t *testing.T) {
	for _, gw := range []string{"10.10.0.1,fd00:10::1", "10.10.0.1,FD00:10::1", "10.10.0.1,fd00:0010::0001", "fd00:10:0:0:0:0:0:1,10.10.0.1"} {
		spec := &kubeovnv1.SubnetSpec{CIDRBlock: "10.10.0.0/24,fd00:10::/120", Gateway: gw, Protocol: "Dual"}
		n, err := validation.ParseNetwork(spec)
		if err != nil {
			t.Fatalf("gateway %q: %v", gw, err)
		}
		if got := n.GatewayString(); got != "10.10.0.1,fd00:10::1" {
			t.Errorf("gateway %q parsed as %q", gw, got)
		}
		if n.Protocol() != "Dual" || n.CIDRString() != "10.10.0.0/24,fd00:10::/120" {
			t.Errorf("network = %+v", n)
		}
	}
}

func TestDefaultGatewayAndProtocol(t *testing.T) {
	n, err := validation.ParseNetwork(&kubeovnv1.SubnetSpec{CIDRBlock: "fd00:10::/120,10.10.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if n.GatewayString() != "10.10.0.1,fd00:10::1" || n.CIDRString() != "10.10.0.0/24,fd00:10::/120" || n.Protocol() != "Dual" {
		t.Fatalf("network = %s %s %s", n.CIDRString(), n.GatewayString(), n.Protocol())
	}
}

func TestB06_ExcludeIPsRangesAreChecked(t *testing.T) {
	good := &kubeovnv1.SubnetSpec{CIDRBlock: "10.0.6.0/24", Gateway: "10.0.6.1",
		ExcludeIPs: []string{"10.0.6.1", "10.0.6.2", "10.0.6.20..10.0.6.255"}}
	if err := validation.Subnet(good); err != nil {
		t.Fatalf("B06 subnet refused: %v", err)
	}
	for _, ex := range []string{"10.0.6.30..10.0.6.20", "10.0.6.250..10.0.7.3", "10.0.7.1", "10.0.6.1..fd00::1", "10.0.6.x"} {
		spec := &kubeovnv1.SubnetSpec{CIDRBlock: "10.0.6.0/24", ExcludeIPs: []string{ex}}
		if err := validation.Subnet(spec); err == nil {
			t.Errorf("excludeIps %q accepted", ex)
		}
	}
}

func TestB06d_NamespaceRestriction(t *testing.T) {
	spec := &kubeovnv1.SubnetSpec{CIDRBlock: "10.0.6.0/24", Namespaces: []string{"ns-a"}}
	if err := validation.NamespaceMayUse(spec, "ns-b"); !errors.Is(err, validation.ErrNamespaceNotAllowed) {
		t.Fatalf("ns-b: err = %v", err)
	}
	if err := validation.NamespaceMayUse(spec, "ns-a"); err != nil {
		t.Fatalf("ns-a: %v", err)
	}
	if err := validation.NamespaceMayUse(&kubeovnv1.SubnetSpec{CIDRBlock: "10.0.7.0/24"}, "any"); err != nil {
		t.Fatalf("unrestricted subnet: %v", err)
	}
}

func subnet(name string, age int, cidr, vpc string, ns ...string) kubeovnv1.Subnet {
	return kubeovnv1.Subnet{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+age), 0))},
		Spec:       kubeovnv1.SubnetSpec{CIDRBlock: cidr, Vpc: vpc, Namespaces: ns},
	}
}

func TestB04_OverlapAndNamespaceBoundTwice(t *testing.T) {
	s1 := subnet("s1", 0, "10.66.0.0/16", "", "ns-a")
	all := []kubeovnv1.Subnet{s1,
		subnet("s2", 1, "10.66.0.0/16", "", "ns-a"),
		subnet("s3", 2, "10.66.128.0/17", "ovn-cluster"),
		subnet("s4", 3, "10.66.0.0/16", "other-vpc"),
		subnet("s5", 4, "10.67.0.0/16", "", "ns-a"),
		subnet("s6", 5, "10.68.0.0/16,fd00:66::/64", ""),
		subnet("s7", 6, "10.69.0.0/16,fd00:66::/80", ""),
	}
	want := map[string]error{
		"s1": nil, "s2": validation.ErrCIDROverlap, "s3": validation.ErrCIDROverlap, "s4": nil,
		"s5": validation.ErrNamespaceBound, "s6": nil, "s7": validation.ErrCIDROverlap,
	}
	for i := range all {
		err := validation.SubnetConflicts(&all[i], all, "ovn-cluster")
		if w := want[all[i].Name]; (w == nil && err != nil) || (w != nil && !errors.Is(err, w)) {
			t.Errorf("%s: err = %v, want %v", all[i].Name, err, w)
		}
	}
	// The older subnet keeps working whatever the order of the list.
	if err := validation.SubnetConflicts(&s1, []kubeovnv1.Subnet{all[1], s1}, "ovn-cluster"); err != nil {
		t.Errorf("s1 refused because of a younger subnet: %v", err)
	}
	// A broken older subnet holds nothing and blocks nothing.
	bad := subnet("bad", -1, "10.66.0.0/33", "")
	if err := validation.SubnetConflicts(&s1, []kubeovnv1.Subnet{bad}, "ovn-cluster"); err != nil {
		t.Errorf("s1 refused because of a malformed subnet: %v", err)
	}
	if err := validation.SubnetConflicts(&bad, all, "ovn-cluster"); !errors.Is(err, ipam.ErrInvalid) {
		t.Errorf("malformed subnet: err = %v", err)
	}
}
