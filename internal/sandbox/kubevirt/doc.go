// Package kubevirt is the sandbox's KubeVirt stand-in: a virt-controller
// that does what the network can see of KubeVirt, using KubeVirt's own API
// types (kubevirt.io/api) with controller-runtime.
//
//   - VirtualMachine → VirtualMachineInstance (same name, owned by the VM,
//     carrying the template's labels and annotations) following spec.running
//     or spec.runStrategy (Always, Halted, Manual, RerunOnFailure, Once);
//   - VirtualMachineInstance → one virt-launcher pod "virt-launcher-<vmi>-<5>"
//     labelled kubevirt.io=virt-launcher, kubevirt.io/created-by=<VMI UID>,
//     vm.kubevirt.io/name, annotated kubevirt.io/domain=<VMI name>, owned by
//     the VMI, with the VMI's labels and annotations and its Multus networks;
//   - VMI status: phase, nodeName, interfaces (IP from the pod, MAC read from
//     the pod's interface).
//
// Where it differs from KubeVirt: no QEMU runs; the "guest" is the launcher
// pod's network namespace, which holds the pod's address as a bridge-bound
// guest would. No webhooks validate the objects. Deleting the launcher pod
// fails the VMI, as in KubeVirt, and a VM that should run gets a new one.
package kubevirt
