package ops

// External-ID keys and values that mark the rows kvnet owns. The node agent
// and the tests use the same constants.
const (
	// KeyVendor is set to VendorKvnet on every row kvnet writes.
	KeyVendor = "vendor"
	// VendorKvnet is the value of KeyVendor.
	VendorKvnet = "kvnet"
	// KeyOwnerKind names the kind of the row's owner (OwnerKind* values).
	KeyOwnerKind = "kvnet.io/owner-kind"
	// KeyOwner is the owner's key: a name for cluster-scoped owners
	// (subnet, vpc, node), "<namespace>/<name>" for namespaced ones (pod, vm).
	KeyOwner = "kvnet.io/owner"
	// KeyPod is "<namespace>/<name>" of the pod a port belongs to (Kube-OVN's "pod").
	KeyPod = "pod"
	// KeySubnet names the subnet a switch port or router port belongs to.
	KeySubnet = "kvnet.io/subnet"
	// KeyVpc names the VPC a switch or router port belongs to.
	KeyVpc = "kvnet.io/vpc"
)

// Owner kinds.
const (
	OwnerKindSubnet = "subnet"
	OwnerKindPod    = "pod"
	OwnerKindVM     = "vm"
	OwnerKindNode   = "node"
	OwnerKindVpc    = "vpc"
)

// Owner identifies the Kubernetes object a row belongs to.
type Owner struct {
	Kind string
	Key  string
}

// OwnerIDs returns the external_ids of a row owned by o, with extra keys merged in.
func OwnerIDs(o Owner, extra map[string]string) map[string]string {
	ids := make(map[string]string, 3+len(extra))
	for k, v := range extra {
		ids[k] = v
	}
	ids[KeyVendor] = VendorKvnet
	ids[KeyOwnerKind] = o.Kind
	ids[KeyOwner] = o.Key
	return ids
}

// OwnerOf returns the owner recorded in ids, and false if the row is not kvnet's.
func OwnerOf(ids map[string]string) (Owner, bool) {
	if ids[KeyVendor] != VendorKvnet {
		return Owner{}, false
	}
	return Owner{Kind: ids[KeyOwnerKind], Key: ids[KeyOwner]}, true
}

// ownedBy reports whether ids mark a kvnet row of the given kind ("" = any kind).
func ownedBy(ids map[string]string, kind string) bool {
	o, ok := OwnerOf(ids)
	return ok && (kind == "" || o.Kind == kind)
}
