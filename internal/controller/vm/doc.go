// Package vm gives KubeVirt VMs their addresses for life.
//
// A virt-launcher pod (label kubevirt.io=virt-launcher, annotation
// kubevirt.io/domain=<VMI name>) is addressed by its VM, not by itself:
// port, IP object and IPAM owner are "<vm>.<namespace>" (attachments add
// ".<provider>"), so every launcher pod of the VM (after a restart, on
// another node, or a migration target next to its source) binds the same
// port with the same address and MAC (B19). The rules are
// addressing.VMHolder's; the pod reconciler writes the ports.
//
// The IP objects are owned by the VirtualMachine (a VMI without a VM: the
// VMI; with --keep-vm-ip=false: the VMI), so deleting the VM cascades
// through Kubernetes' garbage collector even while kvnet is down (B15).
// Whether a VM key still holds its addresses is one rule
// (kubevirt.Liveness.VMAlive): with
// --keep-vm-ip the VM exists, or a VMI without a VM does; without it the
// VMI exists. Launcher pods going away (stop, restart, deletion, a Failed
// pod, another node) never release anything (B09), and the repair pass
// treats VM-owned IP objects and ports as live by the same rule (B14).
// When the rule says gone, Releaser removes ports, holdings and IP objects
// once (pod.Release); it runs from the Reconciler (VM, VMI and IP object
// events) and from the repair pass.
//
// A VM that starts again (a launcher pod that is not a migration target,
// with no other live launcher pod) gives up addresses its new template no
// longer asks for; any other launcher pod gets exactly what the VM holds.
package vm
