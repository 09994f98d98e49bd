// Package vpc reconciles Vpc objects. Each VPC is its own OVN logical router,
// named after it, holding exactly the static routes (spec.staticRoutes, with
// the route_table column for routeTable) and policies (spec.policyRoutes)
// the spec asks for: Build computes those rows purely, and the reconciler
// applies the difference against the rows this VPC owns (owner external_ids)
// in one transaction, so an unrelated update writes nothing (B30) and no
// implicit route competes with a user's (B29). A finalizer refuses the
// deletion of a VPC that still holds subnets (condition and event) and
// removes every NB row of an empty one.
package vpc
