// Package nbresync notices when OVN NB loses rows kvnet owns while the
// controller runs (rows destroyed by hand, or the database replaced by an
// empty one) and has the owners reconciled again, so NB converges back
// without waiting for an object event or a restart.
//
// It hooks the controllers as they are registered with the manager (see
// Resyncer.Manager) and feeds each a source.Channel of GenericEvents:
//   - a deleted kvnet row (cache delete event) enqueues its owner;
//   - a reconnection to NB, or a Ready Subnet/Vpc whose switch/router is
//     missing from NB (level check), enqueues every pod, subnet, VPC, node
//     and VM placement (a full resync).
//
// Reconcilers are level-based, so an extra reconcile is harmless.
package nbresync
