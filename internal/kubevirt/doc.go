// Package kubevirt is kvnet's one view of KubeVirt objects, shared by the
// controller's reconcilers, the admission webhook, NB resync and the
// repair pass:
//
//   - a scheme that registers KubeVirt's Go types under kubevirt.io/v1 only;
//   - which VM a virt-launcher pod runs (VMName: the kubevirt.io/domain
//     annotation on a pod labelled kubevirt.io=virt-launcher; never the
//     vm.kubevirt.io/name label, which holds a sanitised hostname);
//   - whether a launcher pod is a migration target (IsMigrationTarget) or
//     starts its VM afresh (Restarts);
//   - how to read one VM's objects once (Read, ReadFresh);
//   - whether a VM, or the holder named by an IP object, still holds its
//     addresses (Liveness).
//
// It reads nothing but its arguments and the readers it is given.
package kubevirt
