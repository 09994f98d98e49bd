package ovsport

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/server"

	"github.com/kvnet/kvnet/internal/ovn/vswitch"
)

// newTestClient serves the real vswitch schema from libovsdb's in-memory
// OVSDB server and connects a Client to it.
func newTestClient(t *testing.T) *Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "kvt-ovsport-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	clientModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	dbModel, errs := model.NewDatabaseModel(vswitch.Schema(), clientModel)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	log := logr.Discard()
	db := inmemory.NewDatabase(map[string]model.ClientDBModel{"Open_vSwitch": clientModel}, &log)
	srv, err := server.NewOvsdbServer(db, &log, dbModel)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "db.sock")
	go func() { _ = srv.Serve("unix", sock) }()
	t.Cleanup(srv.Close)
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("in-memory OVSDB server not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, "unix:"+sock, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureBridgeCreatesRootAndBridgeOnce(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	for range 2 {
		if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
			t.Fatal(err)
		}
	}
	var bridges []vswitch.Bridge
	if err := c.ovs.List(ctx, &bridges); err != nil {
		t.Fatal(err)
	}
	if len(bridges) != 1 || bridges[0].DatapathType != "netdev" || *bridges[0].FailMode != "secure" {
		t.Fatalf("bridges = %+v, want one netdev secure br-int", bridges)
	}
	root := c.cachedRoot()
	if root == nil || len(root.Bridges) != 1 || root.Bridges[0] != bridges[0].UUID {
		t.Fatalf("Open_vSwitch row %+v does not reference br-int", root)
	}
	// A bridge with the wrong datapath is corrected in place.
	if err := c.EnsureBridge(ctx, "br-int", "system"); err != nil {
		t.Fatal(err)
	}
	err := c.waitFor(ctx, func() bool {
		br := &vswitch.Bridge{Name: "br-int"}
		return c.ovs.Get(ctx, br) == nil && br.DatapathType == "system" && br.UUID == bridges[0].UUID
	})
	if err != nil {
		t.Fatalf("bridge not updated in place: %v", err)
	}
}

func TestSetExternalIDsMergesAndRemoves(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.SetExternalIDs(ctx, map[string]string{"system-id": "n1", "ovn-remote": "unix:/x"}); err != nil {
		t.Fatal(err)
	}
	waitIDs(t, c, map[string]string{"system-id": "n1", "ovn-remote": "unix:/x"})
	if err := c.SetExternalIDs(ctx, map[string]string{"system-id": "n2", "ovn-remote": "", "ovn-encap-ip": "1.2.3.4"}); err != nil {
		t.Fatal(err)
	}
	waitIDs(t, c, map[string]string{"system-id": "n2", "ovn-encap-ip": "1.2.3.4"})
}

func waitIDs(t *testing.T, c *Client, want map[string]string) {
	t.Helper()
	ctx := testCtx(t)
	err := c.waitFor(ctx, func() bool {
		got := c.ExternalIDs()
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("external_ids = %v, want %v", c.ExternalIDs(), want)
	}
}

func TestPortLifecycle(t *testing.T) {
	c := newTestClient(t)
	ctx := testCtx(t)
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{IfaceIDKey: "p1.default", "kvnet.io/container-id": "abc"}
	spec := Port{Bridge: "br-int", Name: "abc_h", ExternalIDs: ids}
	if err := c.EnsurePort(ctx, spec); err != nil {
		t.Fatal(err)
	}
	iface, ok := c.Interface(ctx, "abc_h")
	if !ok || iface.ExternalIDs[IfaceIDKey] != "p1.default" {
		t.Fatalf("interface after create: %+v", iface)
	}

	// ovn-controller marks the port; WaitInstalled wakes up.
	done := make(chan error, 1)
	go func() { done <- c.WaitInstalled(ctx, "abc_h") }()
	markInstalled(t, c, iface)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Re-ensuring with a changed iface-id keeps the row and ovn-installed.
	spec.ExternalIDs = map[string]string{IfaceIDKey: "p2.default", "kvnet.io/container-id": "abc"}
	if err := c.EnsurePort(ctx, spec); err != nil {
		t.Fatal(err)
	}
	err := c.waitFor(ctx, func() bool {
		i, ok := c.Interface(ctx, "abc_h")
		return ok && i.UUID == iface.UUID && i.ExternalIDs[IfaceIDKey] == "p2.default" && i.ExternalIDs[OVNInstalledKey] == "true"
	})
	if err != nil {
		i, _ := c.Interface(ctx, "abc_h")
		t.Fatalf("interface after update: %+v", i)
	}

	found, err := c.FindPorts(ctx, map[string]string{"kvnet.io/container-id": "abc"})
	if err != nil || len(found) != 1 || found[0].Name != "abc_h" {
		t.Fatalf("FindPorts = %v, %v", found, err)
	}
	for range 2 { // idempotent
		if err := c.DeletePort(ctx, "abc_h"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.Interface(ctx, "abc_h"); ok {
		t.Fatal("interface row left behind after DeletePort")
	}
	br := &vswitch.Bridge{Name: "br-int"}
	if err := c.ovs.Get(ctx, br); err != nil || len(br.Ports) != 0 {
		t.Fatalf("bridge ports after delete = %v (%v)", br.Ports, err)
	}
}

func markInstalled(t *testing.T, c *Client, iface *vswitch.Interface) {
	t.Helper()
	ops, err := c.ovs.Where(iface).Mutate(iface, model.Mutation{
		Field: &iface.ExternalIDs, Mutator: ovsdb.MutateOperationInsert,
		Value: map[string]string{OVNInstalledKey: "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.transact(testCtx(t), "mark installed", ops); err != nil {
		t.Fatal(err)
	}
}

func TestWaitInstalledTimeoutSaysWhatIsMissing(t *testing.T) {
	c := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.WaitInstalled(ctx, "nope_h")
	if err == nil || !strings.Contains(err.Error(), "not in the Open_vSwitch database") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnsurePortWithoutBridge(t *testing.T) {
	c := newTestClient(t)
	err := c.EnsurePort(testCtx(t), Port{Bridge: "br-missing", Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "bridge does not exist") {
		t.Fatalf("err = %v", err)
	}
}
