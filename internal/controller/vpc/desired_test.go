package vpc

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

func routeKeys(d Desired) []string {
	var out []string
	for _, r := range d.Routes {
		out = append(out, ops.StaticRouteKey(r))
	}
	for _, p := range d.Policies {
		out = append(out, ops.RouterPolicyKey(p)+"|"+p.Action+"|"+strings.Join(p.Nexthops, ","))
	}
	return out
}

// TestBuildExactlyTheUsersRoutes: the rows are the spec's routes and
// policies in spec order and nothing else (B29: no implicit route of a
// subnet towards its own gateway), each owned by the VPC.
func TestBuildExactlyTheUsersRoutes(t *testing.T) {
	v := &kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: "vpc-r"}, Spec: kubeovnv1.VpcSpec{
		StaticRoutes: []kubeovnv1.StaticRoute{
			{CIDR: "0.0.0.0/0", NextHopIP: "10.0.0.254", Policy: kubeovnv1.PolicyDst},
			{CIDR: "172.31.0.0/24", NextHopIP: "10.0.0.253", Policy: kubeovnv1.PolicySrc, RouteTable: "rtb1"},
			{CIDR: "10.8.0.0/16", NextHopIP: "10.0.0.2,10.0.0.3"},
			{CIDR: "0.0.0.0/0", NextHopIP: "10.0.0.254"}, // the first one again
		},
		PolicyRoutes: []kubeovnv1.PolicyRoute{
			{Priority: 11, Match: "ip4.src == 10.0.0.0/24 && ip4.dst == 10.0.0.250", Action: "drop"},
			{Priority: 10, Match: "ip4.src == 10.0.0.0/24", Action: "reroute", NextHopIP: "10.0.0.252"},
		},
	}}
	d, err := Build(v)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"|dst-ip|0.0.0.0/0|10.0.0.254", "rtb1|src-ip|172.31.0.0/24|10.0.0.253",
		"|dst-ip|10.8.0.0/16|10.0.0.2", "|dst-ip|10.8.0.0/16|10.0.0.3",
		"11|ip4.src == 10.0.0.0/24 && ip4.dst == 10.0.0.250|drop|", "10|ip4.src == 10.0.0.0/24|reroute|10.0.0.252",
	}
	if got := routeKeys(d); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range d.Routes {
		if !ops.IsOwner(r.ExternalIDs, Owner("vpc-r")) {
			t.Errorf("route %s not owned by the VPC: %v", ops.StaticRouteKey(r), r.ExternalIDs)
		}
	}
	for _, p := range d.Policies {
		if !ops.IsOwner(p.ExternalIDs, Owner("vpc-r")) {
			t.Errorf("policy %s not owned by the VPC: %v", ops.RouterPolicyKey(p), p.ExternalIDs)
		}
	}
	if d.Router.Name != "vpc-r" || !ops.IsOwner(d.Router.ExternalIDs, Owner("vpc-r")) {
		t.Errorf("router = %+v", d.Router)
	}
	empty, err := Build(&kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: "e"}})
	if err != nil || len(empty.Routes) != 0 || len(empty.Policies) != 0 {
		t.Errorf("a VPC without routes got %d routes, %d policies (%v)", len(empty.Routes), len(empty.Policies), err)
	}
}

// TestBuildLeavesOutInvalidEntries: a bad entry is reported and left out;
// the others are still programmed.
func TestBuildLeavesOutInvalidEntries(t *testing.T) {
	v := &kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: "v"}, Spec: kubeovnv1.VpcSpec{
		StaticRoutes: []kubeovnv1.StaticRoute{{CIDR: "10.0.0.5/24", NextHopIP: "10.0.0.1"}, {CIDR: "10.9.0.0/16", NextHopIP: "10.0.0.9"}},
		PolicyRoutes: []kubeovnv1.PolicyRoute{
			{Priority: 1, Match: "ip4", Action: "reroute"}, {Priority: 2, Match: "ip4", Action: "drop"}, {Priority: 2, Match: "ip4", Action: "allow"},
		},
	}}
	d, err := Build(v)
	if err == nil || !strings.Contains(err.Error(), "10.0.0.5/24") || !strings.Contains(err.Error(), "reroute needs nextHopIP") ||
		!strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("err = %v", err)
	}
	if got := routeKeys(d); strings.Join(got, " / ") != "|dst-ip|10.9.0.0/16|10.0.0.9 / 2|ip4|drop|" {
		t.Fatalf("rows = %v", got)
	}
	if m := message(err); strings.Contains(m, "\n") {
		t.Errorf("message has newlines: %q", m)
	}
}
