// Package kubelet is the sandbox's kubelet stand-in: one process per node
// that registers the Node and keeps it Ready (status heartbeat and Lease),
// and for every pod bound to the node does what a container runtime does for
// the network: creates a network namespace, calls the CNI plugins found in the
// node's CNI config dir through libcni from inside the node's network
// namespace (ADD, CHECK, DEL with the standard K8S_POD_* CNI_ARGS), writes
// the pod's status, retries a failed ADD with back-off and records the CNI
// error as a pod event, and runs DEL when the pod goes away. No containers
// are run: a pod is its network namespace.
//
// The process also forwards 127.0.0.1:<apiserver port> inside the node's
// namespace to the real apiserver on the host's loopback, so node-local
// components (kvnet-agent) reach the API exactly as they would on a node.
package kubelet
