// Package cniapi is the contract between the kvnet-cni shim and the node
// agent: the network configuration the shim reads, the request it forwards
// over the agent's unix socket (HTTP, one POST per CNI call), the response,
// and kvnet's plugin-specific CNI error codes. It is small on purpose: the
// shim links only this package and the CNI library.
package cniapi
