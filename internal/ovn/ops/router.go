package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
)

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// FindLogicalRouter returns the cached router named name, or ErrNotFound.
func FindLogicalRouter(c client.Client, name string) (*nbdb.LogicalRouter, error) {
	var found []nbdb.LogicalRouter
	// By the client index on name (NBClientModel).
	err := c.Where(&nbdb.LogicalRouter{Name: name}).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("list logical router %q: %w", name, err)
	}
	// A name the name index does not hold falls through to the owner
	// index in libovsdb's lookup: keep only rows of that name.
	found = slices.DeleteFunc(found, func(r nbdb.LogicalRouter) bool { return r.Name != name })
	if len(found) == 0 {
		return nil, fmt.Errorf("logical router %q: %w", name, ErrNotFound)
	}
	slices.SortFunc(found, func(a, b nbdb.LogicalRouter) int { return compareStr(a.UUID, b.UUID) })
	return &found[0], nil
}

// FindLogicalRouterPort returns the cached router port named name, or ErrNotFound.
func FindLogicalRouterPort(c client.Client, name string) (*nbdb.LogicalRouterPort, error) {
	lrp := &nbdb.LogicalRouterPort{Name: name}
	if err := c.Get(context.Background(), lrp); err != nil {
		return nil, fmt.Errorf("logical router port %q: %w", name, ErrNotFound)
	}
	return lrp, nil
}

// EnsureLogicalRouter returns the operations that make a router named
// want.Name exist with want's external_ids (merged into what is there).
func EnsureLogicalRouter(c client.Client, want *nbdb.LogicalRouter) ([]ovsdb.Operation, error) {
	have, err := FindLogicalRouter(c, want.Name)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	if have == nil {
		lr := &nbdb.LogicalRouter{UUID: newNamedUUID(), Name: want.Name, ExternalIDs: want.ExternalIDs, Options: want.Options}
		o, err := c.Create(lr)
		if err != nil {
			return nil, fmt.Errorf("create logical router %q: %w", want.Name, err)
		}
		return o, nil
	}
	if mapHas(have.ExternalIDs, want.ExternalIDs) && mapHas(have.Options, want.Options) {
		return nil, nil
	}
	upd := &nbdb.LogicalRouter{UUID: have.UUID, ExternalIDs: mergeMap(have.ExternalIDs, want.ExternalIDs), Options: mergeMap(have.Options, want.Options)}
	o, err := byUUID(c, upd).Update(upd, &upd.ExternalIDs, &upd.Options)
	if err != nil {
		return nil, fmt.Errorf("update logical router %q: %w", want.Name, err)
	}
	return o, nil
}

// EnsureLogicalRouterPort returns the operations that make the port exist on
// the existing router routerName with its desired networks, mac, options and
// external_ids. The router must already be in NB (ErrNotFound otherwise).
func EnsureLogicalRouterPort(c client.Client, routerName string, want *nbdb.LogicalRouterPort) ([]ovsdb.Operation, error) {
	lr, err := FindLogicalRouter(c, routerName)
	if err != nil {
		return nil, err
	}
	have, err := FindLogicalRouterPort(c, want.Name)
	if err != nil {
		p := *want
		p.UUID = newNamedUUID()
		ops, err := c.Create(&p)
		if err != nil {
			return nil, fmt.Errorf("create logical router port %q: %w", want.Name, err)
		}
		return appendRouterPortMutation(c, ops, lr, p.UUID, ovsdb.MutateOperationInsert)
	}
	var ops []ovsdb.Operation
	if !lrpEqual(have, want) {
		upd := *want
		upd.UUID = have.UUID
		o, err := byUUID(c, &upd).Update(&upd, &upd.Networks, &upd.MAC, &upd.Options, &upd.ExternalIDs)
		if err != nil {
			return nil, fmt.Errorf("update logical router port %q: %w", want.Name, err)
		}
		ops = append(ops, o...)
	}
	if !slices.Contains(lr.Ports, have.UUID) {
		return appendRouterPortMutation(c, ops, lr, have.UUID, ovsdb.MutateOperationInsert)
	}
	return ops, nil
}

func lrpEqual(have, want *nbdb.LogicalRouterPort) bool {
	return have.MAC == want.MAC && sameSet(have.Networks, want.Networks) &&
		mapsEqual(have.Options, want.Options) && mapsEqual(have.ExternalIDs, want.ExternalIDs)
}

func appendRouterPortMutation(c client.Client, ops []ovsdb.Operation, lr *nbdb.LogicalRouter, portUUID string, m ovsdb.Mutator) ([]ovsdb.Operation, error) {
	ref := &nbdb.LogicalRouter{UUID: lr.UUID}
	o, err := byUUID(c, ref).Mutate(ref, model.Mutation{Field: &ref.Ports, Mutator: m, Value: []string{portUUID}})
	if err != nil {
		return nil, fmt.Errorf("mutate ports of logical router %q: %w", lr.Name, err)
	}
	return append(ops, o...), nil
}

// DeleteLogicalRouterPorts returns the operations that remove the named
// router ports from whatever router holds them. Missing ports are skipped.
func DeleteLogicalRouterPorts(c client.Client, names ...string) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, name := range names {
		lrp, err := FindLogicalRouterPort(c, name)
		if err != nil {
			continue
		}
		var holders []nbdb.LogicalRouter
		err = c.WhereCache(func(lr *nbdb.LogicalRouter) bool { return slices.Contains(lr.Ports, lrp.UUID) }).List(context.Background(), &holders)
		if err != nil {
			return nil, fmt.Errorf("find router of port %q: %w", name, err)
		}
		for i := range holders {
			if ops, err = appendRouterPortMutation(c, ops, &holders[i], lrp.UUID, ovsdb.MutateOperationDelete); err != nil {
				return nil, err
			}
		}
		del, err := byUUID(c, &nbdb.LogicalRouterPort{UUID: lrp.UUID}).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete logical router port %q: %w", name, err)
		}
		ops = append(ops, del...)
	}
	return ops, nil
}

// DeleteLogicalRouter returns the operations that remove the router with the given UUID.
func DeleteLogicalRouter(c client.Client, uuid string) ([]ovsdb.Operation, error) {
	o, err := byUUID(c, &nbdb.LogicalRouter{UUID: uuid}).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete logical router %s: %w", uuid, err)
	}
	return o, nil
}

// OwnedLogicalRouters lists the cached routers kvnet owns with owner kind kind ("" = any).
func OwnedLogicalRouters(c client.Client, kind string) ([]nbdb.LogicalRouter, error) {
	var found []nbdb.LogicalRouter
	err := c.WhereCache(func(lr *nbdb.LogicalRouter) bool { return ownedBy(lr.ExternalIDs, kind) }).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("list owned logical routers: %w", err)
	}
	return found, nil
}

// OwnedLogicalRouterPorts lists the cached router ports kvnet owns with owner kind kind ("" = any).
func OwnedLogicalRouterPorts(c client.Client, kind string) ([]nbdb.LogicalRouterPort, error) {
	var found []nbdb.LogicalRouterPort
	err := c.WhereCache(func(p *nbdb.LogicalRouterPort) bool { return ownedBy(p.ExternalIDs, kind) }).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("list owned logical router ports: %w", err)
	}
	return found, nil
}
