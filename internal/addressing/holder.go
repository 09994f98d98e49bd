package addressing

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// Holder is who holds a pod's addresses and ports: the pod itself
// (PodHolder), or, for a KubeVirt launcher pod, its VM (VMHolder), so that
// every launcher pod of a VM binds the same port with the same address. It
// is plain data, built from objects the caller read once.
type Holder struct {
	// Kind is the owner kind recorded on the NB rows (ops.OwnerKindPod or
	// ops.OwnerKindVM).
	Kind string
	// Namespace and Name are the pod's, or the VM's.
	Namespace, Name string
	// Port names the primary NIC's port, IP object and IPAM owner;
	// attachments append ".<provider>" (AttachmentPortName).
	Port string
	// Key is the key holdings are tracked under and the work on one
	// holder is serialized by (PodKey, VMKey).
	Key string
	// IPOwner is the owner reference of the holder's IP objects, and
	// PodType their spec.podType ("" for a pod, kubeovnv1.PodTypeVM).
	IPOwner metav1.OwnerReference
	PodType string
	// Node is the node the holder runs on ("" while unscheduled).
	Node string
	// Held says what happens to what the holder holds already.
	Held HeldPolicy
}

// HeldPolicy is what a reconcile does with a holder's existing holdings.
type HeldPolicy int

const (
	// HeldAsRequested: the request decides; a holding that differs from a
	// static request fails it (an ordinary pod).
	HeldAsRequested HeldPolicy = iota
	// HeldReleased: holdings that differ from the request (another static
	// address, MAC or subnet) or belong to NICs no longer planned are
	// released first (a VM starting again after its template changed).
	HeldReleased
	// HeldPinned: what the holder holds wins over the request (another
	// launcher pod of a running VM, e.g. a migration target: the guest
	// keeps its address).
	HeldPinned
)

// PodHolder is the holder of an ordinary pod: it owns its port
// (PodPortName), IP objects and addresses.
func PodHolder(pod *corev1.Pod) Holder {
	return Holder{
		Kind: ops.OwnerKindPod, Namespace: pod.Namespace, Name: pod.Name,
		Port: PodPortName(pod.Name, pod.Namespace), Key: PodKey(pod.Namespace, pod.Name),
		IPOwner: metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, BlockOwnerDeletion: ptr.To(false)},
		Node:    pod.Spec.NodeName,
	}
}

// VMHolder is the holder of launcher pod p, whose VM's objects are vm (as
// read once by kubevirt.ReadFresh, p among its Pods): the VM, on the port
// VMPortName. It is false when the pod must be left alone: a launcher
// that ended (it needs no network and releases nothing, B09), the pod of a
// VMI that is gone or was replaced, or one whose VM is being deleted (the
// release follows).
func VMHolder(p *corev1.Pod, vm *kubevirt.Objects, keepVMIP bool) (Holder, bool) {
	if !kubevirt.Live(p) || vm.VMI == nil || !kubevirt.BelongsTo(p, vm.VMI) {
		return Holder{}, false
	}
	h, ok := VMIPHolder(p.Namespace, vm.VMI.Name, keepVMIP, vm.VM, vm.VMI)
	if !ok {
		return Holder{}, false
	}
	h.Held = HeldPinned
	if kubevirt.Restarts(p, vm.VMI, vm.Pods) {
		h.Held = HeldReleased
	}
	if h.Node == "" {
		h.Node = p.Spec.NodeName
	}
	return h, true
}

// VMIPHolder is the holder of the VM namespace/name's addresses given its
// VM and VMI (nil: none), on the node its VMI runs on; false when the
// VM's IP objects have no owner now (kubevirt.OwnerRef).
func VMIPHolder(namespace, name string, keepVMIP bool, vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance) (Holder, bool) {
	ref, ok := kubevirt.OwnerRef(keepVMIP, vm, vmi)
	if !ok {
		return Holder{}, false
	}
	node := ""
	if vmi != nil {
		node = vmi.Status.NodeName
	}
	return Holder{
		Kind: ops.OwnerKindVM, Namespace: namespace, Name: name,
		Port: VMPortName(name, namespace), Key: VMKey(namespace, name),
		IPOwner: ref, PodType: kubeovnv1.PodTypeVM, Node: node,
	}, true
}

// Owner is the owner recorded on the holder's NB rows.
func (h *Holder) Owner() ops.Owner {
	return ops.Owner{Kind: h.Kind, Key: h.Namespace + "/" + h.Name}
}

// LogicalSwitchPort is the port of one NIC of the holder, bound by options.
func (h *Holder) LogicalSwitchPort(nic *NIC, a ipam.Allocation, options map[string]string) *nbdb.LogicalSwitchPort {
	p := PortRow(nic.Port, h.Owner(), nic.Subnet.Name, a, map[string]string{ops.KeyPod: h.Namespace + "/" + h.Name})
	p.Options = options
	if nic.MACOnlyPortSecurity {
		p.PortSecurity = []string{a.MAC}
	}
	return p
}

// IP is the IP object recording one NIC's allocation for the holder.
func (h *Holder) IP(nic *NIC, a ipam.Allocation) *kubeovnv1.IP {
	return h.IPRecord(nic.Port, nic.Subnet.Name, a)
}

// IPRecord is the IP object name recording the holder's allocation a in
// subnet (IP, and a kept address whose object vanished).
func (h *Holder) IPRecord(name, subnet string, a ipam.Allocation) *kubeovnv1.IP {
	ip := &kubeovnv1.IP{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{SubnetLabel: subnet}},
		Spec:       AllocationSpec(subnet, a),
	}
	h.SetIPOwner(ip)
	return ip
}

// SetIPOwner fills the owner fields of an IP object of the holder (owner
// reference, podName, namespace, podType, nodeName).
func (h *Holder) SetIPOwner(ip *kubeovnv1.IP) {
	ip.OwnerReferences = []metav1.OwnerReference{h.IPOwner}
	ip.Spec.PodName, ip.Spec.Namespace, ip.Spec.PodType, ip.Spec.NodeName = h.Name, h.Namespace, h.PodType, h.Node
}

// Holds reports whether the IP object ip records an address of this
// holder (same podType, namespace and podName), as opposed to another
// claimant of the same name: a pod and a VM both called "web" in one
// namespace share the name "web.<ns>".
func (h *Holder) Holds(ip *kubeovnv1.IP) bool {
	return ip.Spec.PodType == h.PodType && ip.Spec.Namespace == h.Namespace && ip.Spec.PodName == h.Name
}

// SubnetLabel is the label of an IP object naming its subnet.
const SubnetLabel = "ovn.kubernetes.io/subnet"

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

// Matches reports whether the holding in subnet satisfies nic's request.
func Matches(nic *NIC, subnet string, held ipam.Allocation) bool {
	if subnet != nic.Subnet.Name {
		return false
	}
	if mac := nic.Request.MAC; mac != "" && !strings.EqualFold(mac, held.MAC) {
		return false
	}
	for _, s := range nic.Request.IPs {
		for _, part := range strings.Split(s, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil || !slices.Contains(held.IPs, a.Unmap()) {
				return false
			}
		}
	}
	return true
}

// Pin turns nic into a request for exactly what is held in subnet.
func Pin(nic NIC, subnet string, held ipam.Allocation, in Inputs) (NIC, error) {
	if subnet != nic.Subnet.Name {
		sn := findSubnet(in.Subnets, subnet)
		if sn == nil {
			return NIC{}, Errorf("SubnetNotFound", true, "subnet %q holding %s does not exist", subnet, nic.Request.Owner)
		}
		network, err := validation.ParseNetwork(&sn.Spec)
		if err != nil {
			return NIC{}, Errorf("SubnetNotReady", true, "subnet %q is invalid: %w", sn.Name, err)
		}
		nic.Subnet, nic.Network = sn, network
	}
	nic.Request = ipam.Request{Subnet: subnet, Owner: nic.Request.Owner, IPs: []string{held.IPString()}, MAC: held.MAC}
	return nic, nil
}
