package vm

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/controller/kubevirt"
	"github.com/kvnet/kvnet/internal/controller/migration"
	"github.com/kvnet/kvnet/internal/controller/pod"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// unplacedRetry is how soon a scheduled launcher pod whose port is not
// placed on its node yet is looked at again (the migration object may lag
// in the cache, or a benchmark delay holds the change back).
const unplacedRetry = 200 * time.Millisecond

// Identifier identifies virt-launcher pods for the pod reconciler.
type Identifier struct {
	// Client reads the cache; APIReader covers a VM or VMI the cache has
	// not seen yet.
	Client    client.Reader
	APIReader client.Reader
	Placer    *migration.Placer
	KeepVMIP  bool
}

// Identify returns the identity of a launcher pod (its VM's), one that
// says Skip for a launcher pod that must be left alone, and nil for any
// other pod.
func (x *Identifier) Identify(ctx context.Context, p *corev1.Pod) (*pod.Identity, error) {
	name := kubevirt.VMName(p)
	if name == "" {
		return nil, nil
	}
	skip := &pod.Identity{Skip: true}
	if !kubevirt.Live(p) {
		return skip, nil // a Failed launcher needs no network, and releases nothing (B09)
	}
	ns := p.Namespace
	vm, vmi, err := getVM(ctx, x.Client, ns, name)
	if err == nil && (vmi == nil || vm == nil && x.KeepVMIP) && x.APIReader != nil {
		vm, vmi, err = getVM(ctx, x.APIReader, ns, name)
	}
	if err != nil {
		return nil, err
	}
	if vmi == nil || !kubevirt.BelongsTo(p, vmi) {
		return skip, nil // the pod of a VMI that is gone or replaced
	}
	ref, ok := OwnerRef(x.KeepVMIP, vm, vmi)
	if !ok {
		return skip, nil // its VM is being deleted: the release follows
	}
	var pods corev1.PodList
	if err := x.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{kubevirtv1.AppLabel: "virt-launcher"}); err != nil {
		return nil, err
	}
	held := pod.HeldPinned
	if restarts(p, vmi, pods.Items) {
		held = pod.HeldReleased
	}
	key := ns + "/" + name
	node := vmi.Status.NodeName
	if node == "" {
		node = p.Spec.NodeName
	}
	return &pod.Identity{
		Port:    annotations.VMPortName(name, ns),
		Key:     state.VMKey(ns, name),
		Owner:   ops.Owner{Kind: ops.OwnerKindVM, Key: key},
		PortIDs: map[string]string{ops.KeyPod: key},
		IPMeta:  func(ip *kubeovnv1.IP) { SetIPOwner(ip, ref, ns, name, node) },
		Held:    held,
		Place:   func(ctx context.Context) (pod.Placement, error) { return x.place(ctx, p, vmi) },
	}, nil
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

// SetIPOwner fills the owner fields of an IP object of the VM namespace/name.
func SetIPOwner(ip *kubeovnv1.IP, ref metav1.OwnerReference, namespace, name, node string) {
	ip.OwnerReferences = []metav1.OwnerReference{ref}
	ip.Spec.PodName, ip.Spec.Namespace, ip.Spec.PodType, ip.Spec.NodeName = name, namespace, state.PodTypeVM, node
}

// restarts reports whether p starts its VM afresh: not a migration
// target, and no other live launcher pod of the same VMI runs the guest.
func restarts(p *corev1.Pod, vmi *kubevirtv1.VirtualMachineInstance, pods []corev1.Pod) bool {
	if kubevirt.MigrationUID(p) != "" {
		return false
	}
	for i := range pods {
		q := &pods[i]
		if q.UID != p.UID && kubevirt.VMName(q) == vmi.Name && kubevirt.Live(q) && kubevirt.BelongsTo(q, vmi) {
			return false
		}
	}
	return true
}

// place computes the binding of the VM's ports, as the migration
// reconciler does, and lets p be routed only once its port is requested on
// p's node (so the agent's wait for ovn-installed succeeds there).
func (x *Identifier) place(ctx context.Context, p *corev1.Pod, vmi *kubevirtv1.VirtualMachineInstance) (pod.Placement, error) {
	name := vmi.Name
	objs, err := kubevirt.Read(ctx, x.Client, p.Namespace, name)
	if err != nil {
		return pod.Placement{}, err
	}
	if objs.VMI == nil || objs.VMI.UID != vmi.UID {
		objs.VMI = vmi // the cache has not caught up
	}
	if i := slices.IndexFunc(objs.Pods, func(q corev1.Pod) bool { return q.UID == p.UID }); i >= 0 {
		objs.Pods[i] = *p
	} else {
		objs.Pods = append(objs.Pods, *p)
	}
	b := migration.Desired(migration.Inputs{VMI: objs.VMI, Migrations: objs.Migrations, Pods: objs.Pods, Mode: x.Placer.Mode})
	ports, err := x.Placer.Ports(p.Namespace, name)
	if err != nil {
		return pod.Placement{}, err
	}
	opts, retry := x.Placer.Options(state.VMKey(p.Namespace, name), b,
		x.Placer.CurrentOptions(annotations.VMPortName(name, p.Namespace), ports))
	node := p.Spec.NodeName
	pl := pod.Placement{Options: opts, Route: node != "" && slices.Contains(migration.ChassisOf(opts), node), RequeueAfter: retry}
	if x.Placer.Mode == migration.Naive && node != "" && b.Migration != "" && kubevirt.MigrationUID(p) == b.Migration && b.Target == node {
		// Naive hand-over: the port stays on the source until the
		// migration succeeds, so the target never sees ovn-installed.
		pl.Route, pl.Annotations = true, map[string]string{annotations.SkipOVNInstalled: "true"}
	}
	if !pl.Route && node != "" && (pl.RequeueAfter == 0 || pl.RequeueAfter > unplacedRetry) {
		pl.RequeueAfter = unplacedRetry
	}
	return pl, nil
}
