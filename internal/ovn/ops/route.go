package ops

import (
	"fmt"
	"strconv"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
)

// StaticRouteKey identifies a static route: route table, policy (dst-ip when
// unset), prefix and next hop. Routes with the same table, policy and prefix
// but different next hops are ECMP paths.
func StaticRouteKey(r *nbdb.LogicalRouterStaticRoute) string {
	policy := nbdb.LogicalRouterStaticRoutePolicyDstIP
	if r.Policy != nil && *r.Policy != "" {
		policy = *r.Policy
	}
	return r.RouteTable + "|" + policy + "|" + r.IPPrefix + "|" + r.Nexthop
}

// RouterPolicyKey identifies a router policy: OVN treats priority and match
// as the policy's identity.
func RouterPolicyKey(p *nbdb.LogicalRouterPolicy) string {
	return strconv.Itoa(p.Priority) + "|" + p.Match
}

var staticRoutes = childSync[nbdb.LogicalRouterStaticRoute]{
	table: nbdb.LogicalRouterStaticRouteTable,
	uuid:  func(r *nbdb.LogicalRouterStaticRoute) *string { return &r.UUID },
	key:   StaticRouteKey,
	same: func(h, w *nbdb.LogicalRouterStaticRoute) bool {
		return mapsEqual(h.ExternalIDs, w.ExternalIDs) && mapsEqual(h.Options, w.Options)
	},
	update: func(c client.Client, h, w *nbdb.LogicalRouterStaticRoute) ([]ovsdb.Operation, error) {
		upd := &nbdb.LogicalRouterStaticRoute{UUID: h.UUID, ExternalIDs: w.ExternalIDs, Options: w.Options}
		o, err := byUUID(c, upd).Update(upd, &upd.ExternalIDs, &upd.Options)
		if err != nil {
			return nil, fmt.Errorf("update static route %s: %w", h.UUID, err)
		}
		return o, nil
	},
}

var routerPolicies = childSync[nbdb.LogicalRouterPolicy]{
	table: nbdb.LogicalRouterPolicyTable,
	uuid:  func(p *nbdb.LogicalRouterPolicy) *string { return &p.UUID },
	key:   RouterPolicyKey,
	same: func(h, w *nbdb.LogicalRouterPolicy) bool {
		return h.Action == w.Action && sameSet(h.Nexthops, w.Nexthops) && optEqual(h.Nexthop, w.Nexthop) &&
			mapsEqual(h.Options, w.Options) && mapsEqual(h.ExternalIDs, w.ExternalIDs)
	},
	update: func(c client.Client, h, w *nbdb.LogicalRouterPolicy) ([]ovsdb.Operation, error) {
		upd := *w
		upd.UUID = h.UUID
		o, err := byUUID(c, &upd).Update(&upd, &upd.Action, &upd.Nexthops, &upd.Nexthop, &upd.Options, &upd.ExternalIDs)
		if err != nil {
			return nil, fmt.Errorf("update router policy %s: %w", h.UUID, err)
		}
		return o, nil
	},
}

func optEqual(a, b *string) bool {
	if a == nil || b == nil {
		return (a == nil || *a == "") && (b == nil || *b == "")
	}
	return *a == *b
}

// routerSetMutation returns a function that inserts UUIDs into, or deletes
// them from, a set column of the router named name. The router is selected
// by name in the transaction itself, so a router created earlier in the same
// transaction is found.
func routerSetMutation(c client.Client, name string, column func(*nbdb.LogicalRouter) *[]string) func(ovsdb.Mutator, []string) ([]ovsdb.Operation, error) {
	return func(m ovsdb.Mutator, uuids []string) ([]ovsdb.Operation, error) {
		lr := &nbdb.LogicalRouter{}
		cond := model.Condition{Field: &lr.Name, Function: ovsdb.ConditionEqual, Value: name}
		o, err := c.WhereAll(lr, cond).Mutate(lr, model.Mutation{Field: column(lr), Mutator: m, Value: uuids})
		if err != nil {
			return nil, fmt.Errorf("mutate logical router %q: %w", name, err)
		}
		return o, nil
	}
}

// routerSets returns the cached router's static routes and policies (none
// when the router is not in the cache yet).
func routerSets(c client.Client, name string) (routes, policies []string, err error) {
	lr, err := FindLogicalRouter(c, name)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	return lr.StaticRoutes, lr.Policies, nil
}

// OwnedStaticRoutes lists the cached static routes of router name that owner owns.
func OwnedStaticRoutes(c client.Client, router string, owner Owner) ([]nbdb.LogicalRouterStaticRoute, error) {
	set, _, err := routerSets(c, router)
	if err != nil {
		return nil, err
	}
	return cachedChildren(c, set, staticRoutes.uuid, func(r *nbdb.LogicalRouterStaticRoute) map[string]string { return r.ExternalIDs }, owner)
}

// OwnedRouterPolicies lists the cached policies of router name that owner owns.
func OwnedRouterPolicies(c client.Client, router string, owner Owner) ([]nbdb.LogicalRouterPolicy, error) {
	_, set, err := routerSets(c, router)
	if err != nil {
		return nil, err
	}
	return cachedChildren(c, set, routerPolicies.uuid, func(p *nbdb.LogicalRouterPolicy) map[string]string { return p.ExternalIDs }, owner)
}

// EnsureStaticRoutes returns the operations that make owner's static routes
// on router exactly want (see the owned-rows contract above). Every wanted
// row must carry owner's external_ids. A router not in the cache yet (created
// in the same transaction) has no routes.
func EnsureStaticRoutes(c client.Client, router string, owner Owner, want []*nbdb.LogicalRouterStaticRoute) ([]ovsdb.Operation, error) {
	if err := checkOwned(owner, len(want), func(i int) map[string]string { return want[i].ExternalIDs }); err != nil {
		return nil, err
	}
	have, err := OwnedStaticRoutes(c, router, owner)
	if err != nil {
		return nil, err
	}
	return staticRoutes.ops(c, staticRoutes.diff(have, want),
		routerSetMutation(c, router, func(lr *nbdb.LogicalRouter) *[]string { return &lr.StaticRoutes }))
}

// EnsureRouterPolicies returns the operations that make owner's policies on
// router exactly want (see the owned-rows contract above).
func EnsureRouterPolicies(c client.Client, router string, owner Owner, want []*nbdb.LogicalRouterPolicy) ([]ovsdb.Operation, error) {
	if err := checkOwned(owner, len(want), func(i int) map[string]string { return want[i].ExternalIDs }); err != nil {
		return nil, err
	}
	have, err := OwnedRouterPolicies(c, router, owner)
	if err != nil {
		return nil, err
	}
	return routerPolicies.ops(c, routerPolicies.diff(have, want),
		routerSetMutation(c, router, func(lr *nbdb.LogicalRouter) *[]string { return &lr.Policies }))
}

// checkOwned refuses wanted rows without owner's external_ids: they would be
// created and then never found again as owner's, and so leak.
func checkOwned(owner Owner, n int, ids func(int) map[string]string) error {
	for i := 0; i < n; i++ {
		if !IsOwner(ids(i), owner) {
			return fmt.Errorf("row %d does not carry the external_ids of owner %s/%s", i, owner.Kind, owner.Key)
		}
	}
	return nil
}
