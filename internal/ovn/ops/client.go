package ops

import (
	"context"
	"fmt"
	"github.com/ovn-kubernetes/libovsdb/model"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
)

// NewNBClient returns an OVN Northbound client for addr ("unix:/path" or
// "tcp:host:port"; several comma-separated endpoints are tried in turn). It
// does no I/O: call ConnectNB. The client reconnects by itself and
// re-establishes its monitors; transactions block while it is disconnected.
func NewNBClient(addr string, log logr.Logger) (client.Client, error) {
	dbModel, err := NBClientModel()
	if err != nil {
		return nil, err
	}
	bo := backoff.NewExponentialBackOff()
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0 // retry forever
	opts := []client.Option{
		client.WithReconnect(10*time.Second, bo),
		client.WithLogger(&log),
	}
	for _, ep := range splitEndpoints(addr) {
		opts = append(opts, client.WithEndpoint(ep))
	}
	c, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("nb client for %q: %w", addr, err)
	}
	return c, nil
}

// ConnectNB connects c and monitors the tables kvnet reads, so that the
// builders of this package find those rows in the client's cache.
func ConnectNB(ctx context.Context, c client.Client) error {
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("connect nb: %w", err)
	}
	m := c.NewMonitor(
		client.WithTable(&nbdb.LogicalSwitch{}),
		client.WithTable(&nbdb.LogicalSwitchPort{}),
		client.WithTable(&nbdb.LogicalRouter{}),
		client.WithTable(&nbdb.LogicalRouterPort{}),
		client.WithTable(&nbdb.LogicalRouterStaticRoute{}),
		client.WithTable(&nbdb.LogicalRouterPolicy{}),
		client.WithTable(&nbdb.ACL{}),
	)
	if _, err := c.Monitor(ctx, m); err != nil {
		return fmt.Errorf("monitor nb: %w", err)
	}
	return nil
}

func splitEndpoints(addr string) []string {
	var eps []string
	for _, ep := range strings.Split(addr, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}

// NBClientModel is the NB client model kvnet uses: every table, plus
// client-side indexes
//   - on the names of logical switches and routers (OVN's schema has none
//     there, names need not be unique), so looking one up by name is a map
//     lookup, not a scan of the table for every pod;
//   - on the owner external_ids (KeyOwnerKind, KeyOwner) of every table
//     kvnet writes, so the rows of one owner are found without a scan
//     (OwnedBy). The name index comes first where both exist: libovsdb
//     answers a lookup from the first index the model matches.
func NBClientModel() (model.ClientDBModel, error) {
	dbModel, err := nbdb.FullDatabaseModel()
	if err != nil {
		return model.ClientDBModel{}, fmt.Errorf("nb model: %w", err)
	}
	byName := model.ClientIndex{Columns: []model.ColumnKey{{Column: "name"}}}
	kind, owner := KeyOwnerKind, KeyOwner
	byOwner := model.ClientIndex{Columns: []model.ColumnKey{{Column: "external_ids", Key: kind}, {Column: "external_ids", Key: owner}}}
	dbModel.SetIndexes(map[string][]model.ClientIndex{
		nbdb.LogicalSwitchTable:            {byName, byOwner},
		nbdb.LogicalRouterTable:            {byName, byOwner},
		nbdb.LogicalSwitchPortTable:        {byOwner},
		nbdb.LogicalRouterPortTable:        {byOwner},
		nbdb.LogicalRouterStaticRouteTable: {byOwner},
		nbdb.LogicalRouterPolicyTable:      {byOwner},
		nbdb.ACLTable:                      {byOwner},
	})
	return dbModel, nil
}
