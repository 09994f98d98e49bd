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

// Owned child rows (static routes and policies of a router, ACLs of a
// switch) are reconciled the same way: the parent's rows that carry the
// owner's external_ids are matched by key with the wanted rows; a wanted row
// without a match is created and added to the parent's set, a matched row
// whose other columns differ is updated in place (same UUID), and an owned
// row nobody wants is removed from the set and deleted. Rows of any other
// owner, or of nobody, are never read, changed or deleted.

// IsOwner reports whether ids mark a kvnet row owned by exactly o.
func IsOwner(ids map[string]string, o Owner) bool {
	got, ok := OwnerOf(ids)
	return ok && got == o
}

// childSync describes one table of owned child rows.
type childSync[T any] struct {
	table  string
	uuid   func(*T) *string
	key    func(*T) string
	same   func(have, want *T) bool
	update func(c client.Client, have, want *T) ([]ovsdb.Operation, error)
}

// plan is the diff of one set of owned child rows.
type plan[T any] struct {
	create []*T
	update [][2]*T // have, want
	remove []*T
}

// diff matches have and want by key. Wanted rows with a key seen before are
// duplicates and dropped; owned rows beyond the first with a key are removed.
func (s childSync[T]) diff(have []T, want []*T) plan[T] {
	var p plan[T]
	byKey := make(map[string]*T, len(have))
	for i := range have {
		h := &have[i]
		k := s.key(h)
		if _, dup := byKey[k]; dup {
			p.remove = append(p.remove, h)
			continue
		}
		byKey[k] = h
	}
	seen := make(map[string]bool, len(want))
	for _, w := range want {
		k := s.key(w)
		if seen[k] {
			continue
		}
		seen[k] = true
		h, ok := byKey[k]
		switch {
		case !ok:
			p.create = append(p.create, w)
		case !s.same(h, w):
			p.update = append(p.update, [2]*T{h, w})
		}
		delete(byKey, k)
	}
	for _, h := range byKey {
		p.remove = append(p.remove, h)
	}
	// Map iteration order is random; keep the operations deterministic.
	slices.SortFunc(p.remove, func(a, b *T) int { return compareStr(*s.uuid(a), *s.uuid(b)) })
	return p
}

// ops turns the diff into operations. mutate adds (or removes) UUIDs to (or
// from) the parent's set column.
func (s childSync[T]) ops(c client.Client, p plan[T], mutate func(ovsdb.Mutator, []string) ([]ovsdb.Operation, error)) ([]ovsdb.Operation, error) {
	var out, added []string
	var ops []ovsdb.Operation
	for _, w := range p.create {
		row := *w
		*s.uuid(&row) = newNamedUUID()
		o, err := c.Create(any(&row).(model.Model))
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", s.table, err)
		}
		ops = append(ops, o...)
		added = append(added, *s.uuid(&row))
	}
	for _, hw := range p.update {
		o, err := s.update(c, hw[0], hw[1])
		if err != nil {
			return nil, err
		}
		ops = append(ops, o...)
	}
	for _, h := range p.remove {
		out = append(out, *s.uuid(h))
	}
	if len(added) > 0 {
		o, err := mutate(ovsdb.MutateOperationInsert, added)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o...)
	}
	if len(out) > 0 {
		o, err := mutate(ovsdb.MutateOperationDelete, out)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o...)
		for _, h := range p.remove {
			row := new(T)
			*s.uuid(row) = *s.uuid(h)
			o, err := byUUID(c, any(row).(model.Model)).Delete()
			if err != nil {
				return nil, fmt.Errorf("delete %s %s: %w", s.table, *s.uuid(h), err)
			}
			ops = append(ops, o...)
		}
	}
	return ops, nil
}

// cachedChildren lists the cached rows of T whose UUID is in set and that
// owner owns.
func cachedChildren[T any](c client.Client, set []string, uuid func(*T) *string, ids func(*T) map[string]string, owner Owner) ([]T, error) {
	var found []T
	if len(set) == 0 {
		return nil, nil
	}
	err := c.WhereCache(func(r *T) bool { return slices.Contains(set, *uuid(r)) && IsOwner(ids(r), owner) }).List(context.Background(), &found)
	if err != nil {
		return nil, fmt.Errorf("list owned rows: %w", err)
	}
	return found, nil
}

// OwnedRow is a generated NB model with external_ids kvnet writes.
type OwnedRow interface {
	nbdb.LogicalSwitch | nbdb.LogicalSwitchPort | nbdb.LogicalRouter | nbdb.LogicalRouterPort |
		nbdb.LogicalRouterStaticRoute | nbdb.LogicalRouterPolicy | nbdb.ACL
}

// ownedModel is what the generated (-extended) models of OwnedRow have.
type ownedModel[T any] interface {
	*T
	model.Model
	GetUUID() string
	GetExternalIDs() map[string]string
}

// OwnedBy lists the cached rows of T that owner owns, through the owner
// index of NBClientModel: a map lookup, not a scan of the table. The
// result is sorted by UUID.
func OwnedBy[T OwnedRow, PT ownedModel[T]](c client.Client, owner Owner) ([]T, error) {
	probe := PT(new(T))
	setExternalIDs(probe, OwnerIDs(owner, nil))
	var found []T
	if err := c.Where(probe).List(context.Background(), &found); err != nil {
		return nil, fmt.Errorf("list rows of %s %s: %w", owner.Kind, owner.Key, err)
	}
	out := found[:0]
	for i := range found {
		if IsOwner(PT(&found[i]).GetExternalIDs(), owner) {
			out = append(out, found[i])
		}
	}
	if len(out) < len(found) {
		// An index before the owner index matched the probe (a row with an
		// empty name): answer by a scan rather than miss owned rows.
		out = nil
		err := c.WhereCache(func(r *T) bool { return IsOwner(PT(r).GetExternalIDs(), owner) }).List(context.Background(), &out)
		if err != nil {
			return nil, fmt.Errorf("list rows of %s %s: %w", owner.Kind, owner.Key, err)
		}
	}
	slices.SortFunc(out, func(a, b T) int { return compareStr(PT(&a).GetUUID(), PT(&b).GetUUID()) })
	return out, nil
}

// setExternalIDs sets the external_ids of an OwnedRow (the generated
// models have getters only).
func setExternalIDs(m model.Model, ids map[string]string) {
	switch r := m.(type) {
	case *nbdb.LogicalSwitch:
		r.ExternalIDs = ids
	case *nbdb.LogicalSwitchPort:
		r.ExternalIDs = ids
	case *nbdb.LogicalRouter:
		r.ExternalIDs = ids
	case *nbdb.LogicalRouterPort:
		r.ExternalIDs = ids
	case *nbdb.LogicalRouterStaticRoute:
		r.ExternalIDs = ids
	case *nbdb.LogicalRouterPolicy:
		r.ExternalIDs = ids
	case *nbdb.ACL:
		r.ExternalIDs = ids
	}
}

// byUUID is the conditional API for the one row whose UUID m carries, by
// an explicit _uuid condition. libovsdb's Where(m) looks m up in the cache
// first, and when its UUID is not there (a row deleted meanwhile, a named
// UUID) falls through to the table's indexes, where the owner index of a
// probe without owner external_ids matches every row kvnet does not own:
// an update or delete would hit them. An explicit condition never does.
func byUUID(c client.Client, m model.Model) client.ConditionalAPI {
	var field *string
	switch r := m.(type) {
	case *nbdb.LogicalSwitch:
		field = &r.UUID
	case *nbdb.LogicalSwitchPort:
		field = &r.UUID
	case *nbdb.LogicalRouter:
		field = &r.UUID
	case *nbdb.LogicalRouterPort:
		field = &r.UUID
	case *nbdb.LogicalRouterStaticRoute:
		field = &r.UUID
	case *nbdb.LogicalRouterPolicy:
		field = &r.UUID
	case *nbdb.ACL:
		field = &r.UUID
	default:
		panic(fmt.Sprintf("ops.byUUID: %T has no owner index", m))
	}
	if *field == "" {
		panic(fmt.Sprintf("ops.byUUID: %T without a UUID", m))
	}
	return c.WhereAll(m, model.Condition{Field: field, Function: ovsdb.ConditionEqual, Value: *field})
}
