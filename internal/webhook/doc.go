// Package webhook is kvnet's validating admission webhook, served by
// kvnet-controller over TLS with controller-runtime's webhook server.
//
// The CRD schemas (OpenAPI + CEL) check each object on its own. This
// package adds the rules that span objects, which a schema cannot see:
//
//   - Subnet: the CIDR must not overlap another subnet of the same VPC (the
//     same CIDR in another VPC is fine), and a namespace may be bound to one
//     subnet only (B04); a new gateway must not be an address in use. The
//     per-object rules are checked again with the IPAM's own parsers (B02,
//     B05, B06a), so what admission accepts is what the IPAM accepts.
//   - IPPool: every entry parses, lies inside its subnet and overlaps no
//     other pool of that subnet; a pool may not serve a namespace its subnet
//     refuses.
//   - Pod (create) and KubeVirt VirtualMachine / VirtualMachineInstance:
//     the ovn.kubernetes.io/* annotations (and their "<provider>." forms)
//     are planned exactly as the pod controller plans them (pod.Plan), then
//     the static request is tried against a throw-away IPAM holding only the
//     subnet: a malformed value, an address outside the CIDR, the gateway in
//     any textual form (B01), a reserved address, or a subnet the namespace
//     may not use (B06d) is refused. Finally every static address and MAC is
//     looked up among the IP objects of the subnet: one held by a live owner
//     other than the requester is refused. KubeVirt migration target pods
//     (label kubevirt.io/migrationJobUID) are exempt, and so are pods and
//     VMIs of a VM that already holds the address (its IP object
//     "<vm>.<namespace>", or a launcher pod of the same VM). A holder that
//     is gone or terminating is not a conflict: the controller hands the
//     address over once it is released, and the response carries a warning.
//
// Updates that leave the checked fields unchanged are always allowed, so an
// object stored before a rule existed can still get finalizers, labels or
// status. Deletes are never intercepted.
//
// What admission cannot know (two requests racing for one address, a
// webhook outage under failurePolicy Ignore, later changes) is caught by the
// controllers, which record a status condition on the Subnet or IPPool and
// a Warning event on the pod (and its VM). See docs/validation.md.
package webhook
