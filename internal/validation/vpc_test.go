package validation_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/validation"
)

func TestParseStaticRoute(t *testing.T) {
	for _, tc := range []struct {
		in                          kubeovnv1.StaticRoute
		prefix, hops, policy, table string
	}{
		{kubeovnv1.StaticRoute{CIDR: "0.0.0.0/0", NextHopIP: "10.0.1.254"}, "0.0.0.0/0", "10.0.1.254", "dst-ip", ""},
		{kubeovnv1.StaticRoute{CIDR: "172.31.0.0/24", NextHopIP: "10.0.1.253", Policy: "policySrc", RouteTable: "rtb1"}, "172.31.0.0/24", "10.0.1.253", "src-ip", "rtb1"},
		{kubeovnv1.StaticRoute{CIDR: "10.9.0.7", NextHopIP: "10.0.1.2", Policy: "policyDst"}, "10.9.0.7/32", "10.0.1.2", "dst-ip", ""},
		// ECMP: two next hops of the family; the other family's is ignored.
		{kubeovnv1.StaticRoute{CIDR: "10.8.0.0/16", NextHopIP: "10.0.1.2,10.0.1.3"}, "10.8.0.0/16", "10.0.1.2 10.0.1.3", "dst-ip", ""},
		{kubeovnv1.StaticRoute{CIDR: "FD00:8::/64", NextHopIP: "10.0.1.2,fd00:1::0002"}, "fd00:8::/64", "fd00:1::2", "dst-ip", ""},
	} {
		r, err := validation.ParseStaticRoute(&tc.in)
		if err != nil {
			t.Errorf("%+v: %v", tc.in, err)
			continue
		}
		var hops []string
		for _, h := range r.NextHops {
			hops = append(hops, h.String())
		}
		if r.Prefix.String() != tc.prefix || strings.Join(hops, " ") != tc.hops || r.Policy != tc.policy || r.RouteTable != tc.table {
			t.Errorf("%+v parsed as %+v", tc.in, r)
		}
	}
	for _, bad := range []kubeovnv1.StaticRoute{
		{CIDR: "10.0.0.5/24", NextHopIP: "10.0.1.1"}, // host bits
		{CIDR: "10.0.0.0/33", NextHopIP: "10.0.1.1"},
		{CIDR: "x", NextHopIP: "10.0.1.1"},
		{CIDR: "10.0.0.0/24", NextHopIP: "fd00::1"}, // no next hop of the family
		{CIDR: "10.0.0.0/24", NextHopIP: ""},
		{CIDR: "10.0.0.0/24", NextHopIP: "10.0.1.x"},
		{CIDR: "10.0.0.0/24", NextHopIP: "10.0.1.1", Policy: "policyWhatever"},
	} {
		if _, err := validation.ParseStaticRoute(&bad); !errors.Is(err, validation.ErrInvalidRoute) {
			t.Errorf("%+v: err = %v, want ErrInvalidRoute", bad, err)
		}
	}
}

func TestParsePolicyRoute(t *testing.T) {
	ok := []kubeovnv1.PolicyRoute{
		{Priority: 100, Match: "ip4.dst == 10.0.2.0/24", Action: "drop"},
		{Priority: 0, Match: "1", Action: "allow", NextHopIP: "10.0.1.9"}, // nextHopIP ignored but for reroute
		{Priority: 32767, Match: "ip4.src == 10.0.1.5", Action: "reroute", NextHopIP: "10.0.1.254,10.0.1.253"},
	}
	for i := range ok {
		p, err := validation.ParsePolicyRoute(&ok[i])
		if err != nil {
			t.Errorf("%+v: %v", ok[i], err)
		}
		if ok[i].Action != "reroute" && len(p.NextHops) != 0 || ok[i].Action == "reroute" && len(p.NextHops) != 2 {
			t.Errorf("%+v: next hops %v", ok[i], p.NextHops)
		}
	}
	for _, bad := range []kubeovnv1.PolicyRoute{
		{Priority: -1, Match: "1", Action: "drop"},
		{Priority: 32768, Match: "1", Action: "drop"},
		{Priority: 1, Match: "  ", Action: "drop"},
		{Priority: 1, Match: "1", Action: "accept"},
		{Priority: 1, Match: "1", Action: "reroute"},
		{Priority: 1, Match: "1", Action: "reroute", NextHopIP: "10.0.1.1,fd00::1"},
		{Priority: 1, Match: "1", Action: "reroute", NextHopIP: "nope"},
	} {
		if _, err := validation.ParsePolicyRoute(&bad); !errors.Is(err, validation.ErrInvalidRoute) {
			t.Errorf("%+v: err = %v, want ErrInvalidRoute", bad, err)
		}
	}
}

func TestVpcReportsEveryProblem(t *testing.T) {
	spec := &kubeovnv1.VpcSpec{
		StaticRoutes: []kubeovnv1.StaticRoute{{CIDR: "10.0.0.5/24", NextHopIP: "10.0.1.1"}, {CIDR: "0.0.0.0/0", NextHopIP: "10.0.1.254"}},
		PolicyRoutes: []kubeovnv1.PolicyRoute{
			{Priority: 1, Match: "1", Action: "reroute"},
			{Priority: 5, Match: "ip4", Action: "drop"}, {Priority: 5, Match: "ip4", Action: "allow"},
		},
	}
	err := validation.Vpc(spec)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"10.0.0.5/24", "reroute needs nextHopIP", "listed twice"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := validation.Vpc(&kubeovnv1.VpcSpec{StaticRoutes: spec.StaticRoutes[1:]}); err != nil {
		t.Errorf("valid spec refused: %v", err)
	}
}

func vpc(name string, age int, ns ...string) kubeovnv1.Vpc {
	return kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+age), 0))},
		Spec: kubeovnv1.VpcSpec{Namespaces: ns}}
}

func vpcSubnet(name, vpc string, age int, mod func(*kubeovnv1.SubnetSpec)) kubeovnv1.Subnet {
	s := kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+age), 0))},
		Spec: kubeovnv1.SubnetSpec{CIDRBlock: "10.0.1.0/24", Vpc: vpc}}
	if mod != nil {
		mod(&s.Spec)
	}
	return s
}

// TestSubnetForNamespace: a namespace bound to a VPC gets that VPC's
// subnets (Subnet.spec.namespaces choosing among them, then the VPC's
// default subnet, then one open to every namespace), never another VPC's;
// namespaces bound to no VPC keep the default VPC's rules.
func TestSubnetForNamespace(t *testing.T) {
	def := vpc("ovn-cluster", 0)
	def.Status.Default = true
	vpcs := []kubeovnv1.Vpc{def, vpc("tenant-a", 1, "ns-a", "ns-a2", "ns-a3"), vpc("tenant-b", 2, "ns-b"), vpc("tenant-b2", 3, "ns-b"), vpc("empty", 4, "ns-e")}
	subnets := []kubeovnv1.Subnet{
		vpcSubnet("ovn-default", "ovn-cluster", 0, func(s *kubeovnv1.SubnetSpec) { s.Default = true }),
		vpcSubnet("join", "ovn-cluster", 0, nil),
		vpcSubnet("a-open", "tenant-a", 1, nil),
		vpcSubnet("a-default", "tenant-a", 2, func(s *kubeovnv1.SubnetSpec) { s.Default = true }),
		vpcSubnet("a-ns2", "tenant-a", 3, func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"ns-a2"} }),
		vpcSubnet("b-open", "tenant-b", 1, nil),
		vpcSubnet("b2-open", "tenant-b2", 0, nil),
		// A tenant subnet marked default must not become the cluster's default.
		vpcSubnet("b-default", "tenant-b", 0, func(s *kubeovnv1.SubnetSpec) { s.Default = true; s.Provider = "ovn" }),
		// Binds ns-a3 but lives in another VPC than the one ns-a3 is bound to.
		vpcSubnet("elsewhere", "tenant-b", 5, func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"ns-a3", "ns-x"} }),
		vpcSubnet("attach", "tenant-a", 0, func(s *kubeovnv1.SubnetSpec) { s.Provider = "net1.ns-a.ovn"; s.Default = true }),
	}
	for ns, want := range map[string]string{
		"ns-a":  "a-default", // the VPC's default subnet beats its open one
		"ns-a2": "a-ns2",     // a subnet listing the namespace beats both
		"ns-a3": "a-default", // a subnet of another VPC is never picked
		"ns-b":  "b-default", // the older VPC listing ns-b wins
		"ns-x":  "elsewhere", // no VPC binding: Subnet.spec.namespaces as before
		"other": "ovn-default",
	} {
		got, err := validation.SubnetForNamespace(subnets, vpcs, ns, "ovn-default")
		if err != nil || got.Name != want {
			t.Errorf("namespace %s: got %v, %v; want %s", ns, name(got), err, want)
		}
	}
	if got, err := validation.SubnetForNamespace(subnets, vpcs, "ns-e", "ovn-default"); !errors.Is(err, validation.ErrNoSubnet) {
		t.Errorf("namespace of a VPC without subnets: got %v, %v; want ErrNoSubnet", name(got), err)
	}
	if got, err := validation.SubnetForNamespace(subnets[2:], nil, "other", "ovn-default"); !errors.Is(err, validation.ErrNoSubnet) {
		t.Errorf("no default subnet: got %v, %v", name(got), err)
	}
}

func name(s *kubeovnv1.Subnet) string {
	if s == nil {
		return "<nil>"
	}
	return s.Name
}

func TestVpcNamespaceRules(t *testing.T) {
	def := vpc("ovn-cluster", 0, "ns-a") // listing a namespace in the default VPC locks nobody out
	def.Status.Default = true
	vpcs := []kubeovnv1.Vpc{def, vpc("tenant-a", 1, "ns-a"), vpc("open", 2)}
	for _, tc := range []struct {
		vpc, ns string
		ok      bool
	}{
		{"tenant-a", "ns-a", true}, {"tenant-a", "ns-b", false}, {"open", "ns-b", true},
		{"ovn-cluster", "ns-b", true}, {"", "ns-b", true}, {"missing", "ns-b", true},
	} {
		err := validation.NamespaceMayUseVpc(vpcs, tc.vpc, tc.ns)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, validation.ErrVpcNamespaceNotAllowed) {
			t.Errorf("vpc %q namespace %q: err = %v", tc.vpc, tc.ns, err)
		}
	}
	younger := vpc("tenant-a2", 5, "ns-c", "ns-a")
	if err := validation.VpcConflicts(&younger, append(vpcs, younger)); !errors.Is(err, validation.ErrVpcNamespaceBound) {
		t.Errorf("younger VPC sharing ns-a: err = %v", err)
	}
	if err := validation.VpcConflicts(&vpcs[1], append(vpcs, younger)); err == nil || !strings.Contains(err.Error(), "ovn-cluster") {
		t.Errorf("tenant-a shares ns-a with the older default VPC: err = %v", err)
	}
	if v := validation.VpcOfNamespace(append(vpcs, younger), "ns-c"); v == nil || v.Name != "tenant-a2" {
		t.Errorf("VpcOfNamespace(ns-c) = %v", v)
	}
}
