package ovsport

import (
	"cmp"
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

// Interface external_ids keys shared with ovn-controller.
const (
	// IfaceIDKey binds an interface to the OVN logical switch port of that name.
	IfaceIDKey = "iface-id"
	// AttachedMACKey records the MAC of the device behind the interface.
	AttachedMACKey = "attached-mac"
	// OVNInstalledKey is set to "true" by ovn-controller once the flows of the
	// interface's logical port are installed.
	OVNInstalledKey = "ovn-installed"
)

// Port describes an OVS port with a single interface of the same name.
type Port struct {
	Bridge string
	Name   string
	// Type is the interface type: "" for an existing kernel device such as a
	// veth end, "internal" for a device OVS creates.
	Type string
	// MAC sets the MAC of an internal interface; ignored for other types.
	MAC string
	// MTURequest asks OVS to set the device MTU; 0 leaves it alone.
	MTURequest int
	// ExternalIDs are set on both the Port and the Interface row. Keys not
	// named here (such as ovn-installed) are left as they are.
	ExternalIDs map[string]string
}

// PortInfo is what FindPorts returns about a port.
type PortInfo struct {
	Name        string
	ExternalIDs map[string]string
}

// ErrNoBridge is returned when the bridge of a port does not exist.
var ErrNoBridge = errors.New("bridge does not exist")

// EnsurePort creates the port, or brings an existing port of that name up to
// spec in place (an in-place update does not make ovs-vswitchd re-create the
// device, so addresses on an internal port survive an agent restart).
func (c *Client) EnsurePort(ctx context.Context, p Port) error {
	br := &vswitch.Bridge{Name: p.Bridge}
	if err := c.ovs.Get(ctx, br); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return fmt.Errorf("plug port %s: %w: %s", p.Name, ErrNoBridge, p.Bridge)
		}
		return fmt.Errorf("look up bridge %s: %w", p.Bridge, err)
	}
	old := &vswitch.Port{Name: p.Name}
	switch err := c.ovs.Get(ctx, old); {
	case err == nil && slices.Contains(br.Ports, old.UUID) && len(old.Interfaces) == 1:
		return c.updatePort(ctx, old, p)
	case err == nil:
		// On another bridge or malformed: unplug it and plug anew.
		if err := c.DeletePort(ctx, p.Name); err != nil {
			return err
		}
	case !errors.Is(err, client.ErrNotFound):
		return fmt.Errorf("look up port %s: %w", p.Name, err)
	}
	return c.createPort(ctx, br, p)
}

func (c *Client) createPort(ctx context.Context, br *vswitch.Bridge, p Port) error {
	iface := &vswitch.Interface{
		UUID: "kvnetiface", Name: p.Name, Type: p.Type,
		ExternalIDs: maps.Clone(p.ExternalIDs),
	}
	if p.MAC != "" && p.Type == "internal" {
		iface.MAC = &p.MAC
	}
	if p.MTURequest > 0 {
		iface.MTURequest = &p.MTURequest
	}
	port := &vswitch.Port{
		UUID: "kvnetport", Name: p.Name, Interfaces: []string{iface.UUID},
		ExternalIDs: maps.Clone(p.ExternalIDs),
	}
	ops, err := c.ovs.Create(iface)
	if err != nil {
		return fmt.Errorf("build interface %s: %w", p.Name, err)
	}
	portOps, err := c.ovs.Create(port)
	if err != nil {
		return fmt.Errorf("build port %s: %w", p.Name, err)
	}
	ops = append(ops, portOps...)
	mut, err := c.ovs.Where(br).Mutate(br, model.Mutation{
		Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID},
	})
	if err != nil {
		return fmt.Errorf("build reference to port %s: %w", p.Name, err)
	}
	if err := c.transact(ctx, fmt.Sprintf("add port %s to %s", p.Name, p.Bridge), append(ops, mut...)); err != nil {
		return err
	}
	return c.waitFor(ctx, func() bool { return c.ovs.Get(ctx, &vswitch.Interface{Name: p.Name}) == nil })
}

func (c *Client) updatePort(ctx context.Context, port *vswitch.Port, p Port) error {
	iface := &vswitch.Interface{UUID: port.Interfaces[0]}
	if err := c.ovs.Get(ctx, iface); err != nil {
		return fmt.Errorf("look up interface of port %s: %w", p.Name, err)
	}
	var ops []ovsdb.Operation
	add := func(o []ovsdb.Operation, err error) error {
		ops = append(ops, o...)
		return err
	}
	var wantMAC *string
	if p.MAC != "" && p.Type == "internal" {
		wantMAC = &p.MAC
	}
	var wantMTU *int
	if p.MTURequest > 0 {
		wantMTU = &p.MTURequest
	}
	if iface.Type != p.Type || !equalPtr(iface.MAC, wantMAC) || !equalPtr(iface.MTURequest, wantMTU) {
		iface.Type, iface.MAC, iface.MTURequest = p.Type, wantMAC, wantMTU
		if err := add(c.ovs.Where(iface).Update(iface, &iface.Type, &iface.MAC, &iface.MTURequest)); err != nil {
			return fmt.Errorf("build update of interface %s: %w", p.Name, err)
		}
	}
	if err := add(c.mergeExternalIDs(iface, &iface.ExternalIDs, p.ExternalIDs)); err != nil {
		return fmt.Errorf("build external_ids of interface %s: %w", p.Name, err)
	}
	if err := add(c.mergeExternalIDs(port, &port.ExternalIDs, p.ExternalIDs)); err != nil {
		return fmt.Errorf("build external_ids of port %s: %w", p.Name, err)
	}
	if len(ops) == 0 {
		return nil
	}
	return c.transact(ctx, "update port "+p.Name, ops)
}

// mergeExternalIDs builds a mutation that sets the wanted keys of a row's
// external_ids and keeps the others, or nothing when they are already set.
func (c *Client) mergeExternalIDs(row model.Model, field *map[string]string, want map[string]string) ([]ovsdb.Operation, error) {
	var keys []string
	for k, v := range want {
		if cur, ok := (*field)[k]; !ok || cur != v {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	set := make(map[string]string, len(keys))
	for _, k := range keys {
		set[k] = want[k]
	}
	return c.ovs.Where(row).Mutate(row,
		model.Mutation{Field: field, Mutator: ovsdb.MutateOperationDelete, Value: keys},
		model.Mutation{Field: field, Mutator: ovsdb.MutateOperationInsert, Value: set},
	)
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// DeletePort unplugs the port of that name from every bridge holding it. The
// Port and Interface rows go with their last reference. A missing port is
// not an error.
func (c *Client) DeletePort(ctx context.Context, name string) error {
	port := &vswitch.Port{Name: name}
	if err := c.ovs.Get(ctx, port); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("look up port %s: %w", name, err)
	}
	var bridges []vswitch.Bridge
	err := c.ovs.WhereCache(func(b *vswitch.Bridge) bool { return slices.Contains(b.Ports, port.UUID) }).List(ctx, &bridges)
	if err != nil {
		return fmt.Errorf("find bridge of port %s: %w", name, err)
	}
	var ops []ovsdb.Operation
	for i := range bridges {
		br := &bridges[i]
		mut, err := c.ovs.Where(br).Mutate(br, model.Mutation{
			Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{port.UUID},
		})
		if err != nil {
			return fmt.Errorf("build removal of port %s: %w", name, err)
		}
		ops = append(ops, mut...)
	}
	if len(ops) > 0 {
		if err := c.transact(ctx, "delete port "+name, ops); err != nil {
			return err
		}
	}
	return c.waitFor(ctx, func() bool {
		return errors.Is(c.ovs.Get(ctx, &vswitch.Port{Name: name}), client.ErrNotFound)
	})
}

// FindPorts returns the ports whose external_ids contain every key/value of match.
func (c *Client) FindPorts(ctx context.Context, match map[string]string) ([]PortInfo, error) {
	var ports []vswitch.Port
	err := c.ovs.WhereCache(func(p *vswitch.Port) bool {
		for k, v := range match {
			if p.ExternalIDs[k] != v {
				return false
			}
		}
		return true
	}).List(ctx, &ports)
	if err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	out := make([]PortInfo, 0, len(ports))
	for _, p := range ports {
		out = append(out, PortInfo{Name: p.Name, ExternalIDs: maps.Clone(p.ExternalIDs)})
	}
	slices.SortFunc(out, func(a, b PortInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Interface returns the cached Interface row of that name.
func (c *Client) Interface(ctx context.Context, name string) (*vswitch.Interface, bool) {
	iface := &vswitch.Interface{Name: name}
	if err := c.ovs.Get(ctx, iface); err != nil {
		return nil, false
	}
	return iface, true
}

// WaitInstalled blocks until ovn-controller marks interface name
// ovn-installed, or ctx ends; the error then says what the interface looked
// like (missing, OVS error, not yet installed).
func (c *Client) WaitInstalled(ctx context.Context, name string) error {
	var last *vswitch.Interface
	err := c.waitFor(ctx, func() bool {
		iface, ok := c.Interface(ctx, name)
		last = iface
		return ok && iface.ExternalIDs[OVNInstalledKey] == "true"
	})
	if err == nil {
		return nil
	}
	switch {
	case last == nil:
		return fmt.Errorf("interface %s is not in the Open_vSwitch database: %w", name, err)
	case last.Error != nil && *last.Error != "":
		return fmt.Errorf("interface %s has OVS error %q: %w", name, *last.Error, err)
	default:
		return fmt.Errorf("ovn-controller has not marked interface %s (iface-id %q) %s: %w",
			name, last.ExternalIDs[IfaceIDKey], OVNInstalledKey, err)
	}
}
