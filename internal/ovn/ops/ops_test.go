package ops_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

func mustTransact(t *testing.T, c client.Client, build func() ([]ovsdbOp, error)) int {
	t.Helper()
	o, err := build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if err := ops.Transact(context.Background(), c, o); err != nil {
		t.Fatalf("transact: %v", err)
	}
	return len(o)
}

func subnetSwitch(name string) (*nbdb.LogicalSwitch, *nbdb.LogicalSwitchPort) {
	owner := ops.Owner{Kind: ops.OwnerKindSubnet, Key: name}
	ls := &nbdb.LogicalSwitch{Name: name, OtherConfig: map[string]string{"subnet": "10.16.0.0/16"}, ExternalIDs: ops.OwnerIDs(owner, nil)}
	rp := &nbdb.LogicalSwitchPort{Name: name + "-r", Type: "router", Addresses: []string{"router"},
		Options: map[string]string{"router-port": "r-" + name}, ExternalIDs: ops.OwnerIDs(owner, nil)}
	return ls, rp
}

func podPort(name, addr string) *nbdb.LogicalSwitchPort {
	return &nbdb.LogicalSwitchPort{Name: name, Addresses: []string{addr}, PortSecurity: []string{addr},
		ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindPod, Key: "ns/" + name}, map[string]string{ops.KeyPod: "ns/" + name})}
}

func TestEnsureSwitchIsIdempotent(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	ls, rp := subnetSwitch("s1")
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, ls, rp) }); n == 0 {
		t.Fatal("first ensure produced no ops")
	}
	before := nbtest.Dump(t, c)
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, ls, rp) }); n != 0 {
		t.Fatalf("second ensure produced %d ops, want 0", n)
	}
	if after := nbtest.Dump(t, c); after != before {
		t.Fatalf("NB changed:\n%s\n%s", before, after)
	}
	got, err := ops.FindLogicalSwitch(c, "s1")
	if err != nil || len(got.Ports) != 1 {
		t.Fatalf("switch = %+v, %v; want one port", got, err)
	}
}

func TestEnsurePortsUpdateAndDelete(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	ls, rp := subnetSwitch("s1")
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, ls, rp) })
	p := podPort("p1.ns", "0a:00:00:00:00:01 10.16.0.2")
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitchPortsOn(c, "s1", p) })
	p.Addresses = []string{"0a:00:00:00:00:01 10.16.0.3"}
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitchPortsOn(c, "s1", p) }); n != 1 {
		t.Fatalf("update produced %d ops, want 1 (update only)", n)
	}
	got, err := ops.FindLogicalSwitchPort(c, "p1.ns")
	if err != nil || got.Addresses[0] != "0a:00:00:00:00:01 10.16.0.3" {
		t.Fatalf("port = %+v, %v", got, err)
	}
	owned, _ := ops.OwnedLogicalSwitchPorts(c, ops.OwnerKindPod)
	if len(owned) != 1 {
		t.Fatalf("owned pod ports = %d, want 1", len(owned))
	}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.DeleteLogicalSwitchPorts(c, "p1.ns", "missing") })
	if _, err := ops.FindLogicalSwitchPort(c, "p1.ns"); !errors.Is(err, ops.ErrNotFound) {
		t.Fatalf("port still there: %v", err)
	}
	sw, _ := ops.FindLogicalSwitch(c, "s1")
	if len(sw.Ports) != 1 {
		t.Fatalf("switch ports = %v, want only the router port", sw.Ports)
	}
}

func TestPortMovesBetweenSwitches(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	a, _ := subnetSwitch("a")
	b, _ := subnetSwitch("b")
	p := podPort("p.ns", "0a:00:00:00:00:01 10.16.0.2")
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, a, p) })
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, b, p) })
	sa, _ := ops.FindLogicalSwitch(c, "a")
	sb, _ := ops.FindLogicalSwitch(c, "b")
	if len(sa.Ports) != 0 || len(sb.Ports) != 1 {
		t.Fatalf("a=%v b=%v: port did not move", sa.Ports, sb.Ports)
	}
}

func TestRouterAndPorts(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	lr := &nbdb.LogicalRouter{Name: "ovn-cluster", ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindVpc, Key: "ovn-cluster"}, nil)}
	if _, err := ops.EnsureLogicalRouterPort(c, "ovn-cluster", &nbdb.LogicalRouterPort{Name: "x"}); !errors.Is(err, ops.ErrNotFound) {
		t.Fatalf("port on missing router: err = %v, want ErrNotFound", err)
	}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalRouter(c, lr) })
	lrp := &nbdb.LogicalRouterPort{Name: "ovn-cluster-s1", MAC: "0a:00:00:00:00:ff", Networks: []string{"10.16.0.1/16"},
		ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindSubnet, Key: "s1"}, nil)}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalRouterPort(c, "ovn-cluster", lrp) })
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalRouterPort(c, "ovn-cluster", lrp) }); n != 0 {
		t.Fatalf("second ensure produced %d ops", n)
	}
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalRouter(c, lr) }); n != 0 {
		t.Fatalf("second router ensure produced %d ops", n)
	}
	r, _ := ops.FindLogicalRouter(c, "ovn-cluster")
	if len(r.Ports) != 1 {
		t.Fatalf("router ports = %v", r.Ports)
	}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.DeleteLogicalRouterPorts(c, "ovn-cluster-s1") })
	r, _ = ops.FindLogicalRouter(c, "ovn-cluster")
	if len(r.Ports) != 0 {
		t.Fatalf("router ports after delete = %v", r.Ports)
	}
}

func TestOwnedIgnoresForeignRows(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	foreign := &nbdb.LogicalSwitch{Name: "theirs", ExternalIDs: map[string]string{"vendor": "someone-else"}}
	mine, _ := subnetSwitch("mine")
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, foreign) })
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, mine) })
	owned, err := ops.OwnedLogicalSwitches(c, "")
	if err != nil || len(owned) != 1 || owned[0].Name != "mine" {
		t.Fatalf("owned = %+v, %v", owned, err)
	}
	if o, ok := ops.OwnerOf(owned[0].ExternalIDs); !ok || o.Kind != ops.OwnerKindSubnet || o.Key != "mine" {
		t.Fatalf("owner = %+v %v", o, ok)
	}
}

func TestTransactReportsOperationErrors(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	ls, _ := subnetSwitch("s1")
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, ls) })
	// Two ports with the same (indexed) name in one batch violate the index.
	o1, _ := ops.EnsureLogicalSwitchPortsOn(c, "s1", podPort("dup", "0a:00:00:00:00:01 10.16.0.2"))
	o2, _ := ops.EnsureLogicalSwitchPortsOn(c, "s1", podPort("dup", "0a:00:00:00:00:02 10.16.0.3"))
	if err := ops.Transact(context.Background(), c, append(o1, o2...)); err == nil {
		t.Fatal("duplicate port names committed without error")
	}
	if _, err := ops.FindLogicalSwitchPort(c, "dup"); err == nil {
		t.Fatal("failed transaction left a port behind")
	}
}

// TestRealOVSDBServer runs the idempotence check against a real
// ovsdb-server when one is installed (else the in-memory one again).
func TestRealOVSDBServer(t *testing.T) {
	c := nbtest.Client(t, nbtest.Start(t))
	ls, rp := subnetSwitch("s1")
	mustTransact(t, c, func() ([]ovsdbOp, error) {
		return ops.EnsureLogicalSwitch(c, ls, rp, podPort("p.ns", "0a:00:00:00:00:01 10.16.0.2"))
	})
	before := nbtest.Dump(t, c)
	if n := mustTransact(t, c, func() ([]ovsdbOp, error) {
		return ops.EnsureLogicalSwitch(c, ls, rp, podPort("p.ns", "0a:00:00:00:00:01 10.16.0.2"))
	}); n != 0 {
		t.Fatalf("second ensure produced %d ops", n)
	}
	if after := nbtest.Dump(t, c); after != before {
		t.Fatalf("NB changed:\n%s\n%s", before, after)
	}
}

// Switches are found by name through the client index (NBClientModel),
// which follows renames, and among several switches of one name (OVN does
// not forbid it) the lowest UUID is the one found, every time.
func TestFindLogicalSwitchByNameIndex(t *testing.T) {
	c := nbtest.Client(t, nbtest.Server(t))
	ctx := context.Background()
	for range 2 {
		o, err := c.Create(&nbdb.LogicalSwitch{UUID: "new", Name: "dup"})
		if err != nil {
			t.Fatal(err)
		}
		if err := ops.Transact(ctx, c, o); err != nil {
			t.Fatal(err)
		}
	}
	var all []nbdb.LogicalSwitch
	if err := c.List(ctx, &all); err != nil || len(all) != 2 {
		t.Fatalf("switches %v, %v", all, err)
	}
	lowest := min(all[0].UUID, all[1].UUID)
	got, err := ops.FindLogicalSwitch(c, "dup")
	if err != nil || got.UUID != lowest {
		t.Fatalf("found %+v, %v; want %s", got, err, lowest)
	}
	ren := &nbdb.LogicalSwitch{UUID: lowest, Name: "renamed"}
	o, err := c.Where(ren).Update(ren, &ren.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := ops.Transact(ctx, c, o); err != nil {
		t.Fatal(err)
	}
	if got, err := ops.FindLogicalSwitch(c, "renamed"); err != nil || got.UUID != lowest {
		t.Errorf("after rename: %+v, %v", got, err)
	}
	if got, err := ops.FindLogicalSwitch(c, "dup"); err != nil || got.UUID == lowest {
		t.Errorf("the other dup: %+v, %v", got, err)
	}
	if _, err := ops.FindLogicalSwitch(c, "none"); !errors.Is(err, ops.ErrNotFound) {
		t.Errorf("missing switch: %v, want ErrNotFound", err)
	}
}

// Rows of one owner are found through the owner index, which follows
// updates of external_ids and deletions; rows of other owners, of another
// kind with the same key, and foreign rows are not returned, also when a
// row with an empty name makes the name index match first.
func TestOwnedByIndex(t *testing.T) {
	c := nbtest.Client(t, nbtest.Start(t))
	ls, _ := subnetSwitch("s1")
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitch(c, ls) })
	pod := ops.Owner{Kind: ops.OwnerKindPod, Key: "ns/web"}
	vm := ops.Owner{Kind: ops.OwnerKindVM, Key: "ns/web"} // same key, other kind
	port := func(name string, o ops.Owner) *nbdb.LogicalSwitchPort {
		return &nbdb.LogicalSwitchPort{Name: name, ExternalIDs: ops.OwnerIDs(o, nil)}
	}
	mustTransact(t, c, func() ([]ovsdbOp, error) {
		return ops.EnsureLogicalSwitchPortsOn(c, "s1", port("web.ns", pod), port("web.ns.net1.ns.ovn", pod), port("vm.ns", vm),
			&nbdb.LogicalSwitchPort{Name: "theirs", ExternalIDs: map[string]string{"pod": "ns/web"}})
	})
	names := func(o ops.Owner) []string {
		t.Helper()
		rows, err := ops.OwnedBy[nbdb.LogicalSwitchPort](c, o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names(pod); !slices.Equal(got, []string{"web.ns", "web.ns.net1.ns.ovn"}) {
		t.Errorf("pod's ports = %v", got)
	}
	if got := names(vm); !slices.Equal(got, []string{"vm.ns"}) {
		t.Errorf("vm's ports = %v", got)
	}
	// An empty-named switch port: the schema's name index answers the
	// probe first; the result must still be the owner's rows.
	mustTransact(t, c, func() ([]ovsdbOp, error) {
		return ops.EnsureLogicalSwitchPortsOn(c, "s1", &nbdb.LogicalSwitchPort{Name: "", Addresses: []string{"unknown"}})
	})
	if p, err := ops.FindLogicalSwitchPort(c, ""); err != nil {
		t.Fatalf("no empty-named port: %v", err)
	} else if len(p.ExternalIDs) != 0 {
		t.Fatalf("empty-named port has owner ids: %v", p.ExternalIDs)
	}
	if got := names(pod); !slices.Equal(got, []string{"web.ns", "web.ns.net1.ns.ovn"}) {
		t.Errorf("with an empty-named port: pod's ports = %v", got)
	}
	// Re-owned: the index follows the update.
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.EnsureLogicalSwitchPortsOn(c, "s1", port("web.ns", vm)) })
	if got := names(pod); !slices.Equal(got, []string{"web.ns.net1.ns.ovn"}) {
		t.Errorf("after re-owning web.ns: pod's ports = %v", got)
	}
	if got := names(vm); !slices.Equal(got, []string{"vm.ns", "web.ns"}) {
		t.Errorf("after re-owning web.ns: vm's ports = %v", got)
	}
	mustTransact(t, c, func() ([]ovsdbOp, error) { return ops.DeleteLogicalSwitchPorts(c, "vm.ns") })
	if got := names(vm); !slices.Equal(got, []string{"web.ns"}) {
		t.Errorf("after deleting vm.ns: vm's ports = %v", got)
	}
}
