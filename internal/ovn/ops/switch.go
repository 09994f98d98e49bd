package ops

import (
	"context"
	"fmt"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
)

// FindLogicalSwitch returns the cached switch named name, or ErrNotFound.
func FindLogicalSwitch(c client.Client, name string) (*nbdb.LogicalSwitch, error) {
	var found []nbdb.LogicalSwitch
	// By the client index on name (NBClientModel).
	err := c.Where(&nbdb.LogicalSwitch{Name: name}).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("list logical switch %q: %w", name, err)
	}
	// A name the name index does not hold falls through to the owner
	// index in libovsdb's lookup: keep only rows of that name.
	found = slices.DeleteFunc(found, func(r nbdb.LogicalSwitch) bool { return r.Name != name })
	if len(found) == 0 {
		return nil, fmt.Errorf("logical switch %q: %w", name, ErrNotFound)
	}
	slices.SortFunc(found, func(a, b nbdb.LogicalSwitch) int { return compareStr(a.UUID, b.UUID) })
	return &found[0], nil
}

// FindLogicalSwitchPort returns the cached switch port named name, or ErrNotFound.
func FindLogicalSwitchPort(c client.Client, name string) (*nbdb.LogicalSwitchPort, error) {
	lsp := &nbdb.LogicalSwitchPort{Name: name}
	if err := c.Get(context.Background(), lsp); err != nil {
		return nil, fmt.Errorf("logical switch port %q: %w", name, ErrNotFound)
	}
	return lsp, nil
}

// EnsureLogicalSwitch returns the operations that make a switch named
// want.Name exist with want's other_config and external_ids (merged into
// what is there), holding the given ports with their desired columns.
// It returns no operations when everything already matches.
func EnsureLogicalSwitch(c client.Client, want *nbdb.LogicalSwitch, ports ...*nbdb.LogicalSwitchPort) ([]ovsdb.Operation, error) {
	have, err := FindLogicalSwitch(c, want.Name)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	if have == nil {
		ls := &nbdb.LogicalSwitch{
			UUID: newNamedUUID(), Name: want.Name,
			OtherConfig: want.OtherConfig, ExternalIDs: want.ExternalIDs,
		}
		portOps, uuids, err := ensurePorts(c, ls, ports)
		if err != nil {
			return nil, err
		}
		ls.Ports = uuids
		create, err := c.Create(ls)
		if err != nil {
			return nil, fmt.Errorf("create logical switch %q: %w", want.Name, err)
		}
		return append(portOps, create...), nil
	}
	var ops []ovsdb.Operation
	if !mapHas(have.OtherConfig, want.OtherConfig) || !mapHas(have.ExternalIDs, want.ExternalIDs) {
		upd := &nbdb.LogicalSwitch{
			UUID:        have.UUID,
			OtherConfig: mergeMap(have.OtherConfig, want.OtherConfig),
			ExternalIDs: mergeMap(have.ExternalIDs, want.ExternalIDs),
		}
		o, err := byUUID(c, upd).Update(upd, &upd.OtherConfig, &upd.ExternalIDs)
		if err != nil {
			return nil, fmt.Errorf("update logical switch %q: %w", want.Name, err)
		}
		ops = append(ops, o...)
	}
	portOps, err := EnsureLogicalSwitchPorts(c, have, ports...)
	if err != nil {
		return nil, err
	}
	return append(ops, portOps...), nil
}

// EnsureLogicalSwitchPorts returns the operations that make each port exist
// on the existing switch ls with its desired columns (type, options,
// addresses, port_security, external_ids). A port found on another switch is
// moved.
func EnsureLogicalSwitchPorts(c client.Client, ls *nbdb.LogicalSwitch, ports ...*nbdb.LogicalSwitchPort) ([]ovsdb.Operation, error) {
	ops, uuids, err := ensurePorts(c, ls, ports)
	if err != nil {
		return nil, err
	}
	var attach []string
	for _, u := range uuids {
		if !slices.Contains(ls.Ports, u) {
			attach = append(attach, u)
		}
	}
	if len(attach) > 0 {
		ref := &nbdb.LogicalSwitch{UUID: ls.UUID}
		o, err := byUUID(c, ref).Mutate(ref, model.Mutation{Field: &ref.Ports, Mutator: ovsdb.MutateOperationInsert, Value: attach})
		if err != nil {
			return nil, fmt.Errorf("attach ports to logical switch %q: %w", ls.Name, err)
		}
		ops = append(ops, o...)
	}
	return ops, nil
}

// EnsureLogicalSwitchPortsOn is EnsureLogicalSwitchPorts for a switch given by name.
func EnsureLogicalSwitchPortsOn(c client.Client, switchName string, ports ...*nbdb.LogicalSwitchPort) ([]ovsdb.Operation, error) {
	ls, err := FindLogicalSwitch(c, switchName)
	if err != nil {
		return nil, err
	}
	return EnsureLogicalSwitchPorts(c, ls, ports...)
}

// ensurePorts creates or updates each port and returns the ops and the
// port UUIDs (named for new ports) ls must hold. A port attached to a
// different switch is detached from it.
func ensurePorts(c client.Client, ls *nbdb.LogicalSwitch, ports []*nbdb.LogicalSwitchPort) ([]ovsdb.Operation, []string, error) {
	var ops []ovsdb.Operation
	uuids := make([]string, 0, len(ports))
	for _, want := range ports {
		have, err := FindLogicalSwitchPort(c, want.Name)
		if err != nil {
			p := *want
			p.UUID = newNamedUUID()
			o, err := c.Create(&p)
			if err != nil {
				return nil, nil, fmt.Errorf("create logical switch port %q: %w", want.Name, err)
			}
			ops = append(ops, o...)
			uuids = append(uuids, p.UUID)
			continue
		}
		uuids = append(uuids, have.UUID)
		if !lspEqual(have, want) {
			upd := *want
			upd.UUID = have.UUID
			o, err := byUUID(c, &upd).Update(&upd, &upd.Type, &upd.Options, &upd.Addresses, &upd.PortSecurity, &upd.ExternalIDs)
			if err != nil {
				return nil, nil, fmt.Errorf("update logical switch port %q: %w", want.Name, err)
			}
			ops = append(ops, o...)
		}
		if slices.Contains(ls.Ports, have.UUID) {
			// Already on ls, so on no other switch: kvnet attaches a port
			// in the same transaction that detaches it elsewhere. This
			// skips a scan of every switch for every pod (a restart with
			// 10,000 pods spent a sixth of its CPU there).
			continue
		}
		detach, err := detachPortFromOthers(c, have.UUID, ls.UUID)
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, detach...)
	}
	return ops, uuids, nil
}

func lspEqual(have, want *nbdb.LogicalSwitchPort) bool {
	return have.Type == want.Type &&
		mapsEqual(have.Options, want.Options) &&
		mapsEqual(have.ExternalIDs, want.ExternalIDs) &&
		sameSet(have.Addresses, want.Addresses) &&
		sameSet(have.PortSecurity, want.PortSecurity)
}

func mapsEqual(a, b map[string]string) bool { return len(a) == len(b) && mapHas(a, b) }

// switchesHolding returns the cached switches whose ports include portUUID.
func switchesHolding(c client.Client, portUUID string) ([]nbdb.LogicalSwitch, error) {
	var found []nbdb.LogicalSwitch
	err := c.WhereCache(func(ls *nbdb.LogicalSwitch) bool { return slices.Contains(ls.Ports, portUUID) }).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("find switch of port %s: %w", portUUID, err)
	}
	return found, nil
}

func detachPortFromOthers(c client.Client, portUUID, keepSwitch string) ([]ovsdb.Operation, error) {
	holders, err := switchesHolding(c, portUUID)
	if err != nil {
		return nil, err
	}
	var ops []ovsdb.Operation
	for _, ls := range holders {
		if ls.UUID == keepSwitch {
			continue
		}
		ref := &nbdb.LogicalSwitch{UUID: ls.UUID}
		o, err := byUUID(c, ref).Mutate(ref, model.Mutation{Field: &ref.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{portUUID}})
		if err != nil {
			return nil, fmt.Errorf("detach port from logical switch %q: %w", ls.Name, err)
		}
		ops = append(ops, o...)
	}
	return ops, nil
}

// DeleteLogicalSwitchPorts returns the operations that remove the named
// ports (detached from whatever switch holds them). Missing ports are skipped.
func DeleteLogicalSwitchPorts(c client.Client, names ...string) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, name := range names {
		lsp, err := FindLogicalSwitchPort(c, name)
		if err != nil {
			continue
		}
		detach, err := detachPortFromOthers(c, lsp.UUID, "")
		if err != nil {
			return nil, err
		}
		ops = append(ops, detach...)
		del, err := byUUID(c, &nbdb.LogicalSwitchPort{UUID: lsp.UUID}).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete logical switch port %q: %w", name, err)
		}
		ops = append(ops, del...)
	}
	return ops, nil
}

// DeleteLogicalSwitch returns the operations that remove the switch with the
// given UUID; OVSDB garbage-collects its ports with it.
func DeleteLogicalSwitch(c client.Client, uuid string) ([]ovsdb.Operation, error) {
	o, err := byUUID(c, &nbdb.LogicalSwitch{UUID: uuid}).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete logical switch %s: %w", uuid, err)
	}
	return o, nil
}

// OwnedLogicalSwitches lists the cached switches kvnet owns with owner kind
// kind ("" = any kind).
func OwnedLogicalSwitches(c client.Client, kind string) ([]nbdb.LogicalSwitch, error) {
	var found []nbdb.LogicalSwitch
	err := c.WhereCache(func(ls *nbdb.LogicalSwitch) bool { return ownedBy(ls.ExternalIDs, kind) }).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("list owned logical switches: %w", err)
	}
	return found, nil
}

// OwnedLogicalSwitchPorts lists the cached switch ports kvnet owns with
// owner kind kind ("" = any kind).
func OwnedLogicalSwitchPorts(c client.Client, kind string) ([]nbdb.LogicalSwitchPort, error) {
	var found []nbdb.LogicalSwitchPort
	err := c.WhereCache(func(p *nbdb.LogicalSwitchPort) bool { return ownedBy(p.ExternalIDs, kind) }).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("list owned logical switch ports: %w", err)
	}
	return found, nil
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SetLogicalSwitchPortOptions returns the operation that replaces the
// options of the existing port named name (none when they already match).
func SetLogicalSwitchPortOptions(c client.Client, name string, options map[string]string) ([]ovsdb.Operation, error) {
	have, err := FindLogicalSwitchPort(c, name)
	if err != nil {
		return nil, err
	}
	if mapsEqual(have.Options, options) {
		return nil, nil
	}
	upd := &nbdb.LogicalSwitchPort{UUID: have.UUID, Options: options}
	if upd.Options == nil {
		upd.Options = map[string]string{}
	}
	o, err := byUUID(c, upd).Update(upd, &upd.Options)
	if err != nil {
		return nil, fmt.Errorf("set options of logical switch port %q: %w", name, err)
	}
	return o, nil
}
