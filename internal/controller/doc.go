// Package controller wires kvnet's reconcilers, the IPAM loader, the
// default-object bootstrap and the repair pass into a controller-runtime
// manager. Each resource's reconciler lives in its own subpackage; this
// package only assembles them (used by cmd/kvnet-controller and the
// integration tests).
package controller
