package nbtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/server"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Server starts an in-memory NB server on a unix socket in a temp dir and
// returns its address ("unix:/...."); it is closed when the test ends.
func Server(t testing.TB) string {
	t.Helper()
	clientModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		t.Fatalf("nb model: %v", err)
	}
	dbModel, errs := model.NewDatabaseModel(nbdb.Schema(), clientModel)
	if len(errs) > 0 {
		t.Fatalf("nb database model: %v", errs)
	}
	log := logr.Discard()
	db := inmemory.NewDatabase(map[string]model.ClientDBModel{nbdb.Schema().Name: clientModel}, &log)
	srv, err := server.NewOvsdbServer(db, &log, dbModel)
	if err != nil {
		t.Fatalf("ovsdb server: %v", err)
	}
	dir, err := os.MkdirTemp("", "kvnet-nb")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "nb.sock")
	go func() { _ = srv.Serve("unix", sock) }()
	t.Cleanup(func() { srv.Close(); _ = os.RemoveAll(dir) })
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("in-memory ovsdb server not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "unix:" + sock
}

// Client connects a monitoring NB client (ops.NewNBClient + ops.ConnectNB) to addr.
func Client(t testing.TB, addr string) client.Client {
	t.Helper()
	c, err := ops.NewNBClient(addr, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ops.ConnectNB(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Dump returns a stable textual form of the rows kvnet cares about, for
// comparing NB before and after an action.
func Dump(t testing.TB, c client.Client) string {
	t.Helper()
	ctx := context.Background()
	var (
		lss  []nbdb.LogicalSwitch
		lsps []nbdb.LogicalSwitchPort
		lrs  []nbdb.LogicalRouter
		lrps []nbdb.LogicalRouterPort
		srs  []nbdb.LogicalRouterStaticRoute
		pols []nbdb.LogicalRouterPolicy
		acls []nbdb.ACL
	)
	for _, l := range []any{&lss, &lsps, &lrs, &lrps, &srs, &pols, &acls} {
		if err := c.List(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("%+v\n%+v\n%+v\n%+v\n%+v\n%+v\n%+v", sorted(lss), sorted(lsps), sorted(lrs), sorted(lrps),
		sorted(srs), sorted(pols), sorted(acls))
}
