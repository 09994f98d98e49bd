// Package sandbox brings up kvnet's own test bed and embedded default: a real
// Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler built from the Kubernetes Go modules) on loopback, OVN
// central, and N nodes, each a network namespace with its own ovsdb-server,
// ovs-vswitchd (userspace datapath) and ovn-controller, joined by geneve
// tunnels over an underlay bridge; a kubelet stand-in per node
// (package kubelet) that calls the real CNI plugin through libcni; and
// kvnet's controller and agents.
//
// Every process the sandbox starts is recorded by PID in the state
// directory, and every namespace and link it makes carries the "kvs-" prefix,
// so Down removes exactly what Up made and Up after a crash starts clean.
// Facts behind the layout (pitfalls of the userspace datapath, ports, build
// pins) are in docs/architecture.md and shared/design/SANDBOX-NOTES.md.
package sandbox
