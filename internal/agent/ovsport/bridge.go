package ovsport

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/kvnet/kvnet/internal/ovn/vswitch"
)

// OwnerKey marks OVS rows the agent created (value OwnerAgent).
const (
	OwnerKey   = "kvnet.io/owner"
	OwnerAgent = "kvnet-agent"
)

// root returns the single Open_vSwitch row, creating it when the database is
// fresh (ovs-vsctl init does the same). The Open_vSwitch table allows one row,
// so two racing creators cannot both win.
func (c *Client) root(ctx context.Context) (*vswitch.OpenvSwitch, error) {
	if row := c.cachedRoot(); row != nil {
		return row, nil
	}
	ops, err := c.ovs.Create(&vswitch.OpenvSwitch{UUID: "kvnetroot"})
	if err != nil {
		return nil, fmt.Errorf("build Open_vSwitch row: %w", err)
	}
	if err := c.transact(ctx, "create Open_vSwitch row", ops); err != nil {
		if row := c.cachedRoot(); row != nil {
			return row, nil
		}
		return nil, err
	}
	var row *vswitch.OpenvSwitch
	err = c.waitFor(ctx, func() bool { row = c.cachedRoot(); return row != nil })
	if err != nil {
		return nil, fmt.Errorf("wait for the Open_vSwitch row: %w", err)
	}
	return row, nil
}

func (c *Client) cachedRoot() *vswitch.OpenvSwitch {
	var rows []vswitch.OpenvSwitch
	if err := c.ovs.List(context.Background(), &rows); err != nil || len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// SetExternalIDs sets the given keys in the Open_vSwitch row's external_ids
// (ovn-remote, ovn-encap-ip, system-id, ...), leaving other keys alone. A key
// with an empty value is removed.
func (c *Client) SetExternalIDs(ctx context.Context, ids map[string]string) error {
	row, err := c.root(ctx)
	if err != nil {
		return err
	}
	set := map[string]string{}
	var del []string
	for k, v := range ids {
		cur, ok := row.ExternalIDs[k]
		if (v == "" && !ok) || (v != "" && ok && cur == v) {
			continue
		}
		del = append(del, k)
		if v != "" {
			set[k] = v
		}
	}
	if len(del) == 0 {
		return nil
	}
	slices.Sort(del)
	mutations := []model.Mutation{{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: del}}
	if len(set) > 0 {
		mutations = append(mutations, model.Mutation{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: set})
	}
	ops, err := c.ovs.Where(row).Mutate(row, mutations...)
	if err != nil {
		return fmt.Errorf("build external_ids mutation: %w", err)
	}
	return c.transact(ctx, fmt.Sprintf("set Open_vSwitch external_ids %v", slices.Sorted(maps.Keys(ids))), ops)
}

// ExternalIDs returns a copy of the Open_vSwitch row's external_ids.
func (c *Client) ExternalIDs() map[string]string {
	if row := c.cachedRoot(); row != nil {
		return maps.Clone(row.ExternalIDs)
	}
	return nil
}

// EnsureBridge makes sure bridge name exists with the given datapath type
// ("netdev" or "system") and fail_mode secure, so that nothing but
// ovn-controller's flows forwards traffic on it.
func (c *Client) EnsureBridge(ctx context.Context, name, datapathType string) error {
	secure := vswitch.BridgeFailModeSecure
	br := &vswitch.Bridge{Name: name}
	err := c.ovs.Get(ctx, br)
	switch {
	case err == nil:
		if br.DatapathType == datapathType && br.FailMode != nil && *br.FailMode == secure {
			return nil
		}
		br.DatapathType, br.FailMode = datapathType, &secure
		ops, err := c.ovs.Where(br).Update(br, &br.DatapathType, &br.FailMode)
		if err != nil {
			return fmt.Errorf("build update of bridge %s: %w", name, err)
		}
		return c.transact(ctx, "update bridge "+name, ops)
	case !errors.Is(err, client.ErrNotFound):
		return fmt.Errorf("look up bridge %s: %w", name, err)
	}
	root, err := c.root(ctx)
	if err != nil {
		return err
	}
	br = &vswitch.Bridge{
		UUID: "kvnetbridge", Name: name, DatapathType: datapathType, FailMode: &secure,
		ExternalIDs: map[string]string{OwnerKey: OwnerAgent},
	}
	ops, err := c.ovs.Create(br)
	if err != nil {
		return fmt.Errorf("build bridge %s: %w", name, err)
	}
	mut, err := c.ovs.Where(root).Mutate(root, model.Mutation{
		Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{br.UUID},
	})
	if err != nil {
		return fmt.Errorf("build bridge %s reference: %w", name, err)
	}
	if err := c.transact(ctx, "create bridge "+name, append(ops, mut...)); err != nil {
		return err
	}
	return c.waitFor(ctx, func() bool { return c.ovs.Get(ctx, &vswitch.Bridge{Name: name}) == nil })
}
