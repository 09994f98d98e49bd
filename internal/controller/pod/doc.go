// Package pod reconciles pods into addresses and OVN ports: the one writer
// of a pod's, and of a KubeVirt VM's, logical switch ports.
//
// Reconcile, for a pod that is not host-networked:
//
//  1. Who holds the pod's addresses: the pod (addressing.PodHolder), or,
//     for a launcher pod when KubeVirt is served, its VM: the VM's objects
//     are read once under the VM's lock (kubevirt.ReadFresh) and
//     addressing.VMHolder turns them into the holder.
//  2. addressing.Plan works out the NICs from annotations, subnets, pools
//     and VPCs; applyHeld reconciles them with what the holder holds
//     already (addressing.HeldPolicy).
//  3. Every NIC is allocated at once (all or nothing, B12), one IP object
//     per NIC is persisted, the holdings are tracked in the store.
//  4. Placement: an ordinary pod's ports are requested on its node; a VM's
//     are bound by migration.Placer.PlaceLauncher (live migration).
//  5. The ports are written in one transaction, and the pod annotations
//     end with routed=true, which the node agent waits for.
//
// A pod that is gone releases its addresses, IP objects and ports
// (Release); the repair pass catches pods deleted while the controller was
// down (B08). A VM's release is the vm package's (it outlives its pods).
package pod
