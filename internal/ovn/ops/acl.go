package ops

import (
	"fmt"
	"strconv"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
)

// ACLKey identifies an ACL of a switch: direction, priority and match.
func ACLKey(a *nbdb.ACL) string {
	return a.Direction + "|" + strconv.Itoa(a.Priority) + "|" + a.Match
}

var switchACLs = childSync[nbdb.ACL]{
	table: nbdb.ACLTable,
	uuid:  func(a *nbdb.ACL) *string { return &a.UUID },
	key:   ACLKey,
	same: func(h, w *nbdb.ACL) bool {
		return h.Action == w.Action && optEqual(h.Name, w.Name) && h.Log == w.Log &&
			mapsEqual(h.Options, w.Options) && mapsEqual(h.ExternalIDs, w.ExternalIDs)
	},
	update: func(c client.Client, h, w *nbdb.ACL) ([]ovsdb.Operation, error) {
		upd := *w
		upd.UUID = h.UUID
		o, err := byUUID(c, &upd).Update(&upd, &upd.Action, &upd.Name, &upd.Log, &upd.Options, &upd.ExternalIDs)
		if err != nil {
			return nil, fmt.Errorf("update acl %s: %w", h.UUID, err)
		}
		return o, nil
	},
}

// OwnedSwitchACLs lists the cached ACLs of switch name that owner owns.
func OwnedSwitchACLs(c client.Client, name string, owner Owner) ([]nbdb.ACL, error) {
	ls, err := FindLogicalSwitch(c, name)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return cachedChildren(c, ls.ACLs, switchACLs.uuid, func(a *nbdb.ACL) map[string]string { return a.ExternalIDs }, owner)
}

// EnsureSwitchACLs returns the operations that make owner's ACLs on the
// switch named name exactly want (see the owned-rows contract in owned.go).
// The switch is selected by name inside the transaction, so it may be
// created earlier in the same transaction.
func EnsureSwitchACLs(c client.Client, name string, owner Owner, want []*nbdb.ACL) ([]ovsdb.Operation, error) {
	if err := checkOwned(owner, len(want), func(i int) map[string]string { return want[i].ExternalIDs }); err != nil {
		return nil, err
	}
	have, err := OwnedSwitchACLs(c, name, owner)
	if err != nil {
		return nil, err
	}
	mutate := func(m ovsdb.Mutator, uuids []string) ([]ovsdb.Operation, error) {
		ls := &nbdb.LogicalSwitch{}
		cond := model.Condition{Field: &ls.Name, Function: ovsdb.ConditionEqual, Value: name}
		o, err := c.WhereAll(ls, cond).Mutate(ls, model.Mutation{Field: &ls.ACLs, Mutator: m, Value: uuids})
		if err != nil {
			return nil, fmt.Errorf("mutate acls of logical switch %q: %w", name, err)
		}
		return o, nil
	}
	return switchACLs.ops(c, switchACLs.diff(have, want), mutate)
}
