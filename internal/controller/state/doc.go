// Package state holds what the kvnet controller's reconcilers share: the
// in-memory IPAM and a gate that opens once the IPAM has been rebuilt from
// the persisted Subnet, IPPool and IP objects. Reconcilers wait on the gate,
// so no allocation is made before every persisted one is known again (a
// restart with pods in place writes nothing, case B08).
package state
