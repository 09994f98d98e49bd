package kubevirt

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
)

// Liveness decides whether an owner of addresses still holds them. It is
// the only place that rule is written: the reconcilers release on it, the
// repair pass collects on it and the admission webhook judges conflicts
// on it.
type Liveness struct {
	// Cache answers for live owners; API confirms before an owner is
	// called gone (a cache may lag a create).
	Cache, API client.Reader
	// KeepVMIP keeps a VM's addresses for the life of the VirtualMachine
	// (kvnet-controller --keep-vm-ip); false releases them with the VMI.
	KeepVMIP bool
}

// VMAlive reports whether the VM namespace/name keeps its addresses: with
// KeepVMIP while the VirtualMachine exists (running or stopped) or, for a
// VMI created without a VM, while the VMI exists; otherwise while the VMI
// exists. An object being deleted no longer counts. "Gone" is confirmed
// against the API server.
func (l *Liveness) VMAlive(ctx context.Context, namespace, name string) (bool, error) {
	vm, vmi, err := GetVM(ctx, l.Cache, namespace, name)
	if err != nil {
		return false, err
	}
	if alive := VMAliveBy(l.KeepVMIP, vm, vmi); alive || l.API == nil {
		return alive, nil
	}
	if vm, vmi, err = GetVM(ctx, l.API, namespace, name); err != nil {
		return false, err
	}
	return VMAliveBy(l.KeepVMIP, vm, vmi), nil
}

// VMAliveBy is the rule of VMAlive on the objects found (nil: none).
func VMAliveBy(keep bool, vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance) bool {
	vmiUp := vmi != nil && vmi.DeletionTimestamp == nil
	if !keep {
		return vmiUp
	}
	if vm != nil {
		return vm.DeletionTimestamp == nil
	}
	return vmiUp && !ControlledByVM(vmi)
}

// HolderState is what became of the owner an IP object names.
type HolderState int

const (
	// HolderAlive: the owner holds the addresses.
	HolderAlive HolderState = iota
	// HolderLeaving: the owner is being deleted; its addresses are
	// released once it is gone.
	HolderLeaving
	// HolderReplaced: an object of the same name but another UID took the
	// owner's place; it takes the IP object over (same name).
	HolderReplaced
	// HolderGone: no owner exists; the addresses may be released.
	HolderGone
)

// Holder is the verdict on an IP object's owner.
type Holder struct {
	State HolderState
	// Why says what became of it, for messages ("" while alive).
	Why string
}

// IPHolder judges the owner an IP object names (spec podType, podName,
// namespace and the owner references kvnet writes): a pod, a KubeVirt VM
// (VMAlive) or a node. An IP object that names no owner kvnet knows (a
// reservation without podName, a kind from elsewhere) is alive: nothing
// releases what no rule covers. Pods and nodes are read from the cache,
// and a miss is confirmed against the API server.
func (l *Liveness) IPHolder(ctx context.Context, ip *kubeovnv1.IP) (Holder, error) {
	s := &ip.Spec
	switch {
	case s.PodType == kubeovnv1.PodTypeVM && s.Namespace != "" && s.PodName != "":
		alive, err := l.VMAlive(ctx, s.Namespace, s.PodName)
		if err != nil || alive {
			return Holder{}, err
		}
		kind := "VirtualMachineInstance"
		if l.KeepVMIP {
			kind = "VirtualMachine"
		}
		return Holder{State: HolderGone, Why: "whose " + kind + " is gone"}, nil
	case s.PodType == kubeovnv1.PodTypeNode && s.PodName != "":
		return l.objectHolder(ctx, ip, &corev1.Node{}, client.ObjectKey{Name: s.PodName}, "Node", "node")
	case s.PodType == "" && s.Namespace != "" && s.PodName != "":
		return l.objectHolder(ctx, ip, &corev1.Pod{}, client.ObjectKey{Namespace: s.Namespace, Name: s.PodName}, "Pod", "pod")
	}
	return Holder{}, nil
}

func (l *Liveness) objectHolder(ctx context.Context, ip *kubeovnv1.IP, obj client.Object, key client.ObjectKey, kind, what string) (Holder, error) {
	err := l.Cache.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && l.API != nil {
		err = l.API.Get(ctx, key, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return Holder{State: HolderGone, Why: "whose " + what + " is gone"}, nil
	case err != nil:
		return Holder{}, fmt.Errorf("get %s %s: %w", what, key, err)
	case !ownedBy(ip, kind, obj.GetUID()):
		return Holder{State: HolderReplaced, Why: "whose " + what + " was replaced"}, nil
	case obj.GetDeletionTimestamp() != nil:
		return Holder{State: HolderLeaving, Why: "whose " + what + " is being deleted"}, nil
	}
	return Holder{}, nil
}

// ownedBy reports whether ip's owner reference of kind (if it has one)
// names uid.
func ownedBy(ip *kubeovnv1.IP, kind string, uid types.UID) bool {
	for _, r := range ip.OwnerReferences {
		if r.Kind == kind {
			return r.UID == uid
		}
	}
	return true
}

// OwnerRef is the owner of a VM's IP objects: the VirtualMachine, or a VMI
// created without one (with keepVMIP false: the VMI). It is false while
// the owner is being deleted or when the VMI belongs to another VM object.
func OwnerRef(keepVMIP bool, vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance) (metav1.OwnerReference, bool) {
	ref := func(kind string, o metav1.Object) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: kubevirtv1.GroupVersion.String(), Kind: kind, Name: o.GetName(),
			UID: o.GetUID(), BlockOwnerDeletion: ptr.To(false)}
	}
	if vmi != nil {
		if c := metav1.GetControllerOf(vmi); c != nil && c.Kind == "VirtualMachine" && (vm == nil || vm.UID != c.UID) {
			return metav1.OwnerReference{}, false // its VM is gone or was replaced
		}
	}
	switch {
	case !keepVMIP || vm == nil:
		if vmi == nil || vmi.DeletionTimestamp != nil {
			return metav1.OwnerReference{}, false
		}
		return ref("VirtualMachineInstance", vmi), true
	case vm.DeletionTimestamp != nil:
		return metav1.OwnerReference{}, false
	}
	return ref("VirtualMachine", vm), true
}

// GetVM reads the VM and VMI namespace/name from r (nil: none).
func GetVM(ctx context.Context, r client.Reader, namespace, name string) (*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineInstance, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	vm := &kubevirtv1.VirtualMachine{}
	if err := r.Get(ctx, key, vm); apierrors.IsNotFound(err) {
		vm = nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("get vm %s: %w", key, err)
	}
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := r.Get(ctx, key, vmi); apierrors.IsNotFound(err) {
		vmi = nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("get vmi %s: %w", key, err)
	}
	return vm, vmi, nil
}
