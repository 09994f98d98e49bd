// Package agent wires the kvnet node agent together: the Open_vSwitch
// connection, the node bootstrap, the Kubernetes caches, the join-network
// reconcile and the CNI server. The parts live in the subpackages; this
// package only starts them in order and keeps them running.
package agent
