// Package attachment parses the allocation annotations the kvnet controller
// writes on a pod (and on a node, for its join port) into the attachment the
// agent plugs: logical switch port, MAC, addresses with prefix lengths,
// gateways. It is pure and shared by the CNI server and the node bootstrap.
package attachment
