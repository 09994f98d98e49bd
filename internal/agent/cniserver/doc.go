// Package cniserver is the agent's side of CNI: it serves the root-only unix
// socket the kvnet-cni shim forwards to, and carries out ADD, DEL, CHECK, GC
// and STATUS for the pods of this node.
//
// ADD waits (bounded) until the controller has allocated the pod's address
// and created its logical switch port (annotations allocated and routed),
// creates the veth pair, plugs the host end into br-int with the port's
// iface-id, waits for ovn-controller's ovn-installed mark, optionally checks
// that the pod reaches its gateway (never for a KubeVirt migration target,
// whose port is not yet active on this chassis), and returns a CNI result.
// A migration target the controller marks kvnet.io/skip-ovn-installed (the
// benchmark-only naive hand-over keeps its port on the source chassis) is
// not waited for, in ADD or CHECK; the mark means nothing on other pods.
// DEL is idempotent and needs no Kubernetes object. Errors are classified
// once, at Handle, into CNI error codes.
package cniserver
