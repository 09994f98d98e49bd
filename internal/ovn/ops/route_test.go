package ops_test

import (
	"context"
	"sort"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

var vpcOwner = ops.Owner{Kind: ops.OwnerKindVpc, Key: "vpc-a"}

func route(prefix, nexthop, policy, table string, owner ops.Owner) *nbdb.LogicalRouterStaticRoute {
	r := &nbdb.LogicalRouterStaticRoute{IPPrefix: prefix, Nexthop: nexthop, RouteTable: table, ExternalIDs: ops.OwnerIDs(owner, nil)}
	if policy != "" {
		r.Policy = &policy
	}
	return r
}

func policy(prio int, match, action string, nexthops ...string) *nbdb.LogicalRouterPolicy {
	return &nbdb.LogicalRouterPolicy{Priority: prio, Match: match, Action: action, Nexthops: nexthops, ExternalIDs: ops.OwnerIDs(vpcOwner, nil)}
}

// uuids returns key -> UUID of every static route and policy in NB (any owner).
func uuids(t *testing.T, c client.Client) map[string]string {
	t.Helper()
	var srs []nbdb.LogicalRouterStaticRoute
	var pols []nbdb.LogicalRouterPolicy
	if err := c.List(context.Background(), &srs); err != nil {
		t.Fatal(err)
	}
	if err := c.List(context.Background(), &pols); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for i := range srs {
		m["route "+ops.StaticRouteKey(&srs[i])] = srs[i].UUID
	}
	for i := range pols {
		m["policy "+ops.RouterPolicyKey(&pols[i])] = pols[i].UUID
	}
	return m
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestStaticRoutesAndPoliciesOwnedRowsOnly: routes and policies are created
// with their router in one transaction, an identical ensure writes nothing,
// editing one route or policy touches only that row (every other UUID stays),
// and rows of another owner or of nobody on the same router survive all of it.
func TestStaticRoutesAndPoliciesOwnedRowsOnly(t *testing.T) {
	c := nbtest.Client(t, nbtest.Start(t))
	lr := &nbdb.LogicalRouter{Name: "vpc-a", ExternalIDs: ops.OwnerIDs(vpcOwner, nil)}
	want := []*nbdb.LogicalRouterStaticRoute{
		route("0.0.0.0/0", "10.0.1.254", "", "", vpcOwner),
		route("172.31.0.0/24", "10.0.1.253", "src-ip", "", vpcOwner),
		route("192.168.0.0/16", "10.0.1.252", "dst-ip", "rtb1", vpcOwner),
	}
	pols := []*nbdb.LogicalRouterPolicy{
		policy(100, "ip4.dst == 10.0.2.0/24", "drop"),
		policy(200, "ip4.src == 10.0.1.5", "reroute", "10.0.1.254"),
	}
	mustTransact(t, c, func() ([]ovsdbOp, error) {
		o, err := ops.EnsureLogicalRouter(c, lr)
		if err != nil {
			return nil, err
		}
		r, err := ops.EnsureStaticRoutes(c, "vpc-a", vpcOwner, want)
		if err != nil {
			return nil, err
		}
		p, err := ops.EnsureRouterPolicies(c, "vpc-a", vpcOwner, pols)
		return append(append(o, r...), p...), err
	})
	got, err := ops.FindLogicalRouter(c, "vpc-a")
	if err != nil || len(got.StaticRoutes) != 3 || len(got.Policies) != 2 {
		t.Fatalf("router = %+v, %v; want 3 routes and 2 policies", got, err)
	}
	// Rows kvnet does not own under this owner: another owner's route (a
	// future EIP route, B30) and a route an operator added by hand.
	other := route("172.31.0.50/32", "100.64.0.2", "", "", ops.Owner{Kind: "eip", Key: "ns/p1"})
	foreign := &nbdb.LogicalRouterStaticRoute{IPPrefix: "10.9.0.0/16", Nexthop: "10.0.1.9"}
	for _, r := range []*nbdb.LogicalRouterStaticRoute{other, foreign} {
		r := r
		mustTransact(t, c, func() ([]ovsdbOp, error) {
			o := ops.Owner{Kind: "eip", Key: "ns/p1"}
			if r == foreign {
				// No owner at all: insert it through the ops layer's mutation path by hand.
				row := *r
				row.UUID = "manual"
				cr, err := c.Create(&row)
				if err != nil {
					return nil, err
				}
				ref := &nbdb.LogicalRouter{UUID: got.UUID}
				mu, err := c.Where(ref).Mutate(ref, mutation(&ref.StaticRoutes, "manual"))
				return append(cr, mu...), err
			}
			return ops.EnsureStaticRoutes(c, "vpc-a", o, []*nbdb.LogicalRouterStaticRoute{r})
		})
	}
	before := uuids(t, c)
	if len(before) != 7 {
		t.Fatalf("rows = %v, want 5 routes and 2 policies", keys(before))
	}

	// An identical ensure writes nothing (B30: an unrelated Vpc update).
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureStaticRoutes(c, "vpc-a", vpcOwner, want) }); n != 0 {
		t.Fatalf("identical route ensure produced %d ops", n)
	}
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureRouterPolicies(c, "vpc-a", vpcOwner, pols) }); n != 0 {
		t.Fatalf("identical policy ensure produced %d ops", n)
	}

	// Edit one route (next hop) and remove another; change one policy's action.
	edited := []*nbdb.LogicalRouterStaticRoute{route("0.0.0.0/0", "10.0.1.250", "", "", vpcOwner), want[2]}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureStaticRoutes(c, "vpc-a", vpcOwner, edited) })
	pols2 := []*nbdb.LogicalRouterPolicy{policy(100, "ip4.dst == 10.0.2.0/24", "allow"), pols[1]}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureRouterPolicies(c, "vpc-a", vpcOwner, pols2) })
	after := uuids(t, c)
	for _, k := range []string{
		"route rtb1|dst-ip|192.168.0.0/16|10.0.1.252", "route |dst-ip|172.31.0.50/32|100.64.0.2", "route |dst-ip|10.9.0.0/16|10.0.1.9",
		"policy 100|ip4.dst == 10.0.2.0/24", "policy 200|ip4.src == 10.0.1.5",
	} {
		if before[k] == "" || after[k] != before[k] {
			t.Errorf("%s: UUID %q -> %q, want unchanged", k, before[k], after[k])
		}
	}
	if _, ok := after["route |dst-ip|0.0.0.0/0|10.0.1.254"]; ok {
		t.Error("old default route still there")
	}
	if _, ok := after["route |src-ip|172.31.0.0/24|10.0.1.253"]; ok {
		t.Error("removed src-ip route still there")
	}
	if _, ok := after["route |dst-ip|0.0.0.0/0|10.0.1.250"]; !ok {
		t.Errorf("edited route missing: %v", keys(after))
	}
	var p nbdb.LogicalRouterPolicy
	p.UUID = after["policy 100|ip4.dst == 10.0.2.0/24"]
	if err := c.Get(context.Background(), &p); err != nil || p.Action != "allow" {
		t.Errorf("policy 100 = %+v, %v; want action allow in place", p, err)
	}

	// Owner's rows all go; the others stay.
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureStaticRoutes(c, "vpc-a", vpcOwner, nil) })
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureRouterPolicies(c, "vpc-a", vpcOwner, nil) })
	left := uuids(t, c)
	if len(left) != 2 || left["route |dst-ip|172.31.0.50/32|100.64.0.2"] == "" || left["route |dst-ip|10.9.0.0/16|10.0.1.9"] == "" {
		t.Fatalf("after removing the owner's rows: %v", keys(left))
	}
	got, _ = ops.FindLogicalRouter(c, "vpc-a")
	if len(got.StaticRoutes) != 2 || len(got.Policies) != 0 {
		t.Fatalf("router sets = %v / %v", got.StaticRoutes, got.Policies)
	}
}

func TestEnsureRefusesRowsWithoutOwner(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	r := route("0.0.0.0/0", "10.0.0.1", "", "", ops.Owner{Kind: ops.OwnerKindVpc, Key: "other"})
	if _, err := ops.EnsureStaticRoutes(c, "vpc-a", vpcOwner, []*nbdb.LogicalRouterStaticRoute{r}); err == nil {
		t.Fatal("a row of another owner was accepted")
	}
}

func TestSwitchACLsOwnedRowsOnly(t *testing.T) {
	c := nbtest.Client(t, nbtest.Start(t))
	owner := ops.Owner{Kind: ops.OwnerKindSubnet, Key: "s1"}
	ls, rp := subnetSwitch("s1")
	acl := func(prio int, match, action string) *nbdb.ACL {
		return &nbdb.ACL{Direction: "to-lport", Priority: prio, Match: match, Action: action, ExternalIDs: ops.OwnerIDs(owner, nil)}
	}
	want := []*nbdb.ACL{acl(3000, "ip4.src == 10.16.0.0/16", "allow-related"), acl(2900, "ip4.dst == 10.16.0.0/16", "drop")}
	mustTransact(t, c, func() ([]ovsdbOp, error) {
		o, err := ops.EnsureLogicalSwitch(c, ls, rp)
		if err != nil {
			return nil, err
		}
		a, err := ops.EnsureSwitchACLs(c, "s1", owner, want)
		return append(o, a...), err
	})
	sw, _ := ops.FindLogicalSwitch(c, "s1")
	if len(sw.ACLs) != 2 {
		t.Fatalf("switch acls = %v", sw.ACLs)
	}
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureSwitchACLs(c, "s1", owner, want) }); n != 0 {
		t.Fatalf("identical ensure produced %d ops", n)
	}
	kept, _ := ops.OwnedSwitchACLs(c, "s1", owner)
	mustTransact(t, c, func() ([]ovsdbOp, error) {
		return ops.EnsureSwitchACLs(c, "s1", owner, append(want[:1:1], acl(3000, "ip4.src == 10.17.0.0/16", "allow-related")))
	})
	now, _ := ops.OwnedSwitchACLs(c, "s1", owner)
	if len(now) != 2 {
		t.Fatalf("acls = %+v", now)
	}
	for _, a := range kept {
		if a.Match == "ip4.src == 10.16.0.0/16" && !hasUUID(now, a.UUID) {
			t.Error("unchanged ACL was replaced")
		}
	}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureSwitchACLs(c, "s1", owner, nil) })
	var all []nbdb.ACL
	if err := c.List(context.Background(), &all); err != nil {
		t.Fatal(err)
	}
	sw, err := ops.FindLogicalSwitch(c, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.ACLs) != 0 || len(all) != 0 {
		t.Fatalf("acls left: switch %v, table %d rows", sw.ACLs, len(all))
	}
}

func hasUUID(acls []nbdb.ACL, u string) bool {
	for _, a := range acls {
		if a.UUID == u {
			return true
		}
	}
	return false
}

func mutation(field *[]string, uuid string) model.Mutation {
	return model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: []string{uuid}}
}
