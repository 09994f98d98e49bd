package ovsport

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/kvnet/kvnet/internal/ovn/vswitch"
)

// Client is a connection to the node's Open_vSwitch database with a cache of
// the rows the agent reads. It is safe for concurrent use.
type Client struct {
	ovs client.Client
	log logr.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every cache update
}

// Connect dials the Open_vSwitch database at endpoint (e.g.
// "unix:/var/run/openvswitch/db.sock"), starts monitoring the tables the
// agent needs and returns once the initial contents are cached. The client
// reconnects on its own when the database restarts.
func Connect(ctx context.Context, endpoint string, log logr.Logger) (*Client, error) {
	dbModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("build Open_vSwitch model: %w", err)
	}
	ovs, err := client.NewOVSDBClient(dbModel,
		client.WithEndpoint(endpoint),
		client.WithLogger(&log),
		client.WithReconnect(10*time.Second, &constantBackoff{interval: 500 * time.Millisecond}),
	)
	if err != nil {
		return nil, fmt.Errorf("create OVSDB client for %s: %w", endpoint, err)
	}
	if err := ovs.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect to Open_vSwitch database %s: %w", endpoint, err)
	}
	c := &Client{ovs: ovs, log: log, changed: make(chan struct{})}
	ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { c.notify() },
		UpdateFunc: func(string, model.Model, model.Model) { c.notify() },
		DeleteFunc: func(string, model.Model) { c.notify() },
	})
	if _, err := ovs.Monitor(ctx, newMonitor(ovs)); err != nil {
		ovs.Close()
		return nil, fmt.Errorf("monitor Open_vSwitch database %s: %w", endpoint, err)
	}
	return c, nil
}

// newMonitor limits the cache to the columns the agent reads, so counters
// that ovs-vswitchd rewrites every few seconds (statistics) cause no traffic.
func newMonitor(ovs client.Client) *client.Monitor {
	ovsRow := &vswitch.OpenvSwitch{}
	br := &vswitch.Bridge{}
	port := &vswitch.Port{}
	iface := &vswitch.Interface{}
	return ovs.NewMonitor(
		client.WithTable(ovsRow, &ovsRow.UUID, &ovsRow.Bridges, &ovsRow.ExternalIDs, &ovsRow.OVSVersion),
		client.WithTable(br, &br.UUID, &br.Name, &br.Ports, &br.DatapathType, &br.FailMode, &br.ExternalIDs),
		client.WithTable(port, &port.UUID, &port.Name, &port.Interfaces, &port.ExternalIDs),
		client.WithTable(iface, &iface.UUID, &iface.Name, &iface.Type, &iface.ExternalIDs,
			&iface.Ofport, &iface.Error, &iface.MAC, &iface.MTURequest),
	)
}

// Close disconnects from the database.
func (c *Client) Close() { c.ovs.Close() }

// Connected reports whether the database connection is up.
func (c *Client) Connected() bool { return c.ovs.Connected() }

func (c *Client) notify() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// changes returns a channel closed at the next cache update. Take it before
// reading the cache so no update between the read and the wait is missed.
func (c *Client) changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// transact commits ops in one transaction and turns per-operation errors
// into one Go error.
func (c *Client) transact(ctx context.Context, what string, ops []ovsdb.Operation) error {
	results, err := c.ovs.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("%s: transact: %w", what, err)
	}
	if _, err := ovsdb.CheckOperationResults(results, ops); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// waitFor blocks until cond holds on the cache or ctx ends.
func (c *Client) waitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := c.changes()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// constantBackoff satisfies libovsdb's reconnect back-off (cenkalti's
// backoff.BackOff) without pulling that module into go.mod.
type constantBackoff struct{ interval time.Duration }

func (b *constantBackoff) NextBackOff() time.Duration { return b.interval }
func (b *constantBackoff) Reset()                     {}
