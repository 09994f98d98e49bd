// Package kubevirt is what kvnet's controller knows about KubeVirt objects,
// shared by the VM and migration reconcilers: a scheme that registers
// KubeVirt's Go types under kubevirt.io/v1 only, how a virt-launcher pod is
// recognised and keyed by its VM, and how to read one VM's objects
// (VirtualMachine, VirtualMachineInstance, its migrations and launcher pods)
// from the cache. It reads nothing but its arguments and the given reader.
package kubevirt
