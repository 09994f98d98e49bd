// Package migration places a VM's logical switch ports on chassis: the
// port options requested-chassis and activation-strategy are derived state,
// computed by one pure function (Desired) from the VMI, its non-final
// VirtualMachineInstanceMigrations and the VM's launcher pods, and applied
// by whichever reconcile runs: the pod reconciler for a launcher pod (see
// package vm) or this package's Reconciler, which watches migrations, VMIs
// and launcher pods, so an event on any of them converges.
//
//   - no migration: requested-chassis=<node the VM runs on>;
//   - a running migration whose target pod has a node, in any phase from
//     Pending on (B20): requested-chassis=<source>,<target> and
//     activation-strategy=rarp, so OVN binds the port on both chassis and
//     the target takes over when the guest's RARP arrives (no lost packet,
//     B23); until the target's node is known the source stays and the
//     reconcile is requeued;
//   - succeeded: the VMI runs on the target, so only the target; failed:
//     only the source. Final migrations are ignored, so replaying one
//     changes nothing, and a restarted controller computes the same options.
//
// The target pod's routed=true is written only once the port carries its
// node, so the node agent's wait for ovn-installed succeeds there (OVN
// installs the additional chassis before activation).
//
// Two benchmark-only knobs exist: a delay for migration-driven option
// changes (to show the loss does not depend on control-plane latency), and a
// naive mode that keeps a single chassis and moves it when the migration
// succeeds, for comparison.
package migration
