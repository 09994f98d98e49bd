package vpc

import (
	"errors"
	"strings"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// Desired is the NB state of one VPC: its router and exactly the routes and
// policies its spec asks for. Nothing implicit is added (B29): no route of a
// subnet towards its own gateway, no default route.
type Desired struct {
	Router   *nbdb.LogicalRouter
	Routes   []*nbdb.LogicalRouterStaticRoute
	Policies []*nbdb.LogicalRouterPolicy
}

// Owner is the owner of every NB row of VPC name.
func Owner(name string) ops.Owner { return ops.Owner{Kind: ops.OwnerKindVpc, Key: name} }

// DesiredRouter is the NB router of VPC name.
func DesiredRouter(name string) *nbdb.LogicalRouter {
	return &nbdb.LogicalRouter{
		Name:        name,
		ExternalIDs: ops.OwnerIDs(Owner(name), nil),
	}
}

// Build computes the NB rows of vpc. Entries that cannot be programmed are
// left out and returned as one joined error (the rest is still programmed).
// Rows come out in spec order; equal entries (same key) appear once.
func Build(vpc *kubeovnv1.Vpc) (Desired, error) {
	d := Desired{Router: DesiredRouter(vpc.Name)}
	ids := func() map[string]string { return ops.OwnerIDs(Owner(vpc.Name), nil) }
	var errs []error
	for i := range vpc.Spec.StaticRoutes {
		r, err := validation.ParseStaticRoute(&vpc.Spec.StaticRoutes[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, hop := range r.NextHops {
			policy := r.Policy
			d.Routes = append(d.Routes, &nbdb.LogicalRouterStaticRoute{
				IPPrefix:    r.Prefix.String(),
				Nexthop:     hop.String(),
				Policy:      &policy,
				RouteTable:  r.RouteTable,
				ExternalIDs: ids(),
			})
		}
	}
	seen := map[string]bool{}
	for i := range vpc.Spec.PolicyRoutes {
		p, err := validation.ParsePolicyRoute(&vpc.Spec.PolicyRoutes[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		row := &nbdb.LogicalRouterPolicy{Priority: p.Priority, Match: p.Match, Action: p.Action, ExternalIDs: ids()}
		for _, h := range p.NextHops {
			row.Nexthops = append(row.Nexthops, h.String())
		}
		if k := ops.RouterPolicyKey(row); !seen[k] {
			seen[k] = true
			d.Policies = append(d.Policies, row)
		} else {
			errs = append(errs, errors.New("policy route "+k+" is listed twice; the first is used"))
		}
	}
	d.Routes = dedupRoutes(d.Routes)
	return d, errors.Join(errs...)
}

func dedupRoutes(rs []*nbdb.LogicalRouterStaticRoute) []*nbdb.LogicalRouterStaticRoute {
	seen := map[string]bool{}
	out := rs[:0]
	for _, r := range rs {
		if k := ops.StaticRouteKey(r); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// message flattens a joined error into one line for a condition or event.
func message(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
