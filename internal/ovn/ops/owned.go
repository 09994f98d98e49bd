package ops

import (
	"context"
	"fmt"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
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
			o, err := c.Where(any(row).(model.Model)).Delete()
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
