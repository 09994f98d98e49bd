// Package repair is the controller's garbage collector, separate from the
// reconcilers: at start (once the IPAM is rebuilt) and then periodically it
// removes IP objects whose pod or node no longer exists, releasing their
// addresses (B08), releases VMs that are gone (their IP objects and ports
// stay while the VM exists, whatever its pods do: B09, B14), and deletes NB
// rows marked vendor=kvnet whose owner no
// longer exists. Rows without vendor=kvnet are never touched. Before
// deleting anything it asks the API server directly (not the cache) whether
// the owner is really gone.
package repair
