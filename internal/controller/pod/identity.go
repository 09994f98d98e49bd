package pod

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Identity says who holds a pod's addresses and ports: the pod itself
// (PodIdentity), or, for a KubeVirt launcher pod, its VM (package vm), so
// that every launcher pod of a VM binds the same port with the same address.
type Identity struct {
	// Port names the primary NIC's port, IP object and IPAM owner;
	// attachments append ".<provider>".
	Port string
	// Key is the owner's object key: holdings are tracked under it and the
	// work on one key is serialized (Store.Lock).
	Key string
	// Owner is the owner recorded on the ports in NB; PortIDs are extra
	// external_ids.
	Owner   ops.Owner
	PortIDs map[string]string
	// IPMeta fills the owner fields of an IP object (owner references,
	// podName, namespace, podType, nodeName).
	IPMeta func(ip *kubeovnv1.IP)
	// Held says what happens to what the owner holds already.
	Held HeldPolicy
	// Place decides the ports' options and whether the pod may be routed.
	// It runs under the key's lock, right before the ports are written.
	Place func(ctx context.Context) (Placement, error)
	// Skip: leave the pod alone (a launcher pod whose VM is being deleted,
	// or one of a VMI that is gone).
	Skip bool
}

// HeldPolicy is what a reconcile does with an owner's existing holdings.
type HeldPolicy int

const (
	// HeldAsRequested: the request decides; a holding that differs from a
	// static request fails it (an ordinary pod).
	HeldAsRequested HeldPolicy = iota
	// HeldReleased: holdings that differ from the request (another static
	// address, MAC or subnet) or belong to NICs no longer planned are
	// released first (a VM starting again after its template changed).
	HeldReleased
	// HeldPinned: what the owner holds wins over the request (another
	// launcher pod of a running VM, e.g. a migration target: the guest
	// keeps its address).
	HeldPinned
)

// Placement is where a pod's ports are bound and whether the pod may use them.
type Placement struct {
	// Options are the ports' options (requested-chassis, ...).
	Options map[string]string
	// Route: write the annotations ending in routed=true.
	Route bool
	// Annotations are added to the pod with the routed ones.
	Annotations map[string]string
	// RequeueAfter asks for another reconcile (0: none).
	RequeueAfter time.Duration
}

// Identifier identifies the pods of one kind (KubeVirt launcher pods).
type Identifier interface {
	// Identify returns pod's identity, or nil when pod is not of its kind.
	Identify(ctx context.Context, pod *corev1.Pod) (*Identity, error)
}

// PodIdentity is the identity of an ordinary pod: it owns its port
// (named port), IP objects and addresses, and its port is requested on its
// node once it has one.
func PodIdentity(pod *corev1.Pod, port string) *Identity {
	key := PodKey(pod)
	node := pod.Spec.NodeName
	return &Identity{
		Port:    port,
		Key:     key,
		Owner:   ops.Owner{Kind: ops.OwnerKindPod, Key: key},
		PortIDs: map[string]string{ops.KeyPod: key},
		IPMeta: func(ip *kubeovnv1.IP) {
			ip.OwnerReferences = []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
				BlockOwnerDeletion: ptr.To(false),
			}}
			ip.Spec.PodName, ip.Spec.Namespace, ip.Spec.NodeName = pod.Name, pod.Namespace, node
		},
		Place: func(context.Context) (Placement, error) {
			return Placement{Options: NodeOptions(node), Route: true}, nil
		},
	}
}

// NodeOptions are the options of a port bound on node: requested-chassis,
// so that only that node's ovn-controller claims it even if a stale
// interface with the same iface-id lingers elsewhere (a pod recreated under
// its name on another node). None while the node is unknown.
func NodeOptions(node string) map[string]string {
	if node == "" {
		return nil
	}
	return map[string]string{"requested-chassis": node}
}

// IdentityPort is the port of one NIC of an identity's owner.
func IdentityPort(id *Identity, nic *NIC, a ipam.Allocation, options map[string]string) *nbdb.LogicalSwitchPort {
	p := PortRow(nic.Port, id.Owner, nic.Subnet.Name, a, id.PortIDs)
	p.Options = options
	if nic.MACOnlyPortSecurity {
		p.PortSecurity = []string{a.MAC}
	}
	return p
}

// IdentityIP is the IP object recording one NIC's allocation for id's owner.
func IdentityIP(id *Identity, nic *NIC, a ipam.Allocation) *kubeovnv1.IP {
	ip := &kubeovnv1.IP{
		ObjectMeta: metav1.ObjectMeta{Name: nic.Port, Labels: map[string]string{"ovn.kubernetes.io/subnet": nic.Subnet.Name}},
		Spec:       AllocationSpec(nic.Subnet.Name, a),
	}
	id.IPMeta(ip)
	return ip
}
