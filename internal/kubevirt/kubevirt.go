package kubevirt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/annotations"
)

// GroupVersion is the KubeVirt API version kvnet reads (v1alpha3 objects
// are served as v1 too).
var GroupVersion = kubevirtv1.GroupVersion

// AddToScheme registers KubeVirt's VM, VMI and migration types under
// kubevirt.io/v1 only. kubevirt.io/api registers the same Go types for
// v1alpha3 as well, which leaves a client unable to tell which version a
// Go type stands for.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(kubevirtv1.GroupVersion,
		&kubevirtv1.VirtualMachine{}, &kubevirtv1.VirtualMachineList{},
		&kubevirtv1.VirtualMachineInstance{}, &kubevirtv1.VirtualMachineInstanceList{},
		&kubevirtv1.VirtualMachineInstanceMigration{}, &kubevirtv1.VirtualMachineInstanceMigrationList{},
	)
	metav1.AddToGroupVersion(s, kubevirtv1.GroupVersion)
	return nil
}

// Served reports whether the cluster serves KubeVirt's VirtualMachine kind
// (KubeVirt, or the sandbox's stand-in, is installed).
func Served(m meta.RESTMapper) (bool, error) {
	_, err := m.RESTMapping(schema.GroupKind{Group: kubevirtv1.GroupVersion.Group, Kind: "VirtualMachine"}, kubevirtv1.GroupVersion.Version)
	switch {
	case err == nil:
		return true, nil
	case meta.IsNoMatchError(err):
		return false, nil
	}
	return false, fmt.Errorf("look up kubevirt.io/v1 VirtualMachine: %w", err)
}

// VMName returns the name of the VM (== VMI) a virt-launcher pod runs, or
// "" when the pod is not a launcher. The kubevirt.io/domain annotation is
// the reliable key; vm.kubevirt.io/name holds a sanitised hostname.
func VMName(pod *corev1.Pod) string {
	if pod.Labels[kubevirtv1.AppLabel] != "virt-launcher" {
		return ""
	}
	return strings.TrimSpace(pod.Annotations[annotations.KubeVirtDomain])
}

// IsLauncher reports whether pod is a virt-launcher pod kvnet keys by its VM.
func IsLauncher(pod *corev1.Pod) bool { return VMName(pod) != "" }

// MigrationUID is the UID of the migration a launcher pod was created as
// the target of ("" for a pod created to start the VMI). The label stays
// after the migration succeeds, when the pod is the VMI's only launcher.
func MigrationUID(pod *corev1.Pod) string { return pod.Labels[kubevirtv1.MigrationJobLabel] }

// Live reports whether a pod may still run a guest: not being deleted and
// not in a final phase (launcher pods never restart).
func Live(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// BelongsTo reports whether pod was created for vmi (label
// kubevirt.io/created-by). A pod without the label is taken to belong.
func BelongsTo(pod *corev1.Pod, vmi *kubevirtv1.VirtualMachineInstance) bool {
	by := pod.Labels[kubevirtv1.CreatedByLabel]
	return by == "" || by == string(vmi.UID)
}

// Final reports whether a migration no longer runs: succeeded, failed, or
// being deleted (KubeVirt aborts a migration whose object is deleted).
func Final(m *kubevirtv1.VirtualMachineInstanceMigration) bool {
	return m.IsFinal() || m.DeletionTimestamp != nil
}

// ControlledByVM reports whether vmi was created by a VirtualMachine.
func ControlledByVM(vmi *kubevirtv1.VirtualMachineInstance) bool {
	ref := metav1.GetControllerOf(vmi)
	return ref != nil && ref.Kind == "VirtualMachine"
}

// Objects are one VM's objects as the cache holds them.
type Objects struct {
	VM  *kubevirtv1.VirtualMachine         // nil: none
	VMI *kubevirtv1.VirtualMachineInstance // nil: none
	// Migrations of the VMI (by spec.vmiName), any phase.
	Migrations []kubevirtv1.VirtualMachineInstanceMigration
	// Pods are the launcher pods of the VM (by kubevirt.io/domain), any VMI.
	Pods []corev1.Pod
}

// Read reads the VM namespace/name's objects from r. A missing VM or VMI
// is nil, not an error.
func Read(ctx context.Context, r client.Reader, namespace, name string) (*Objects, error) {
	o := &Objects{}
	key := client.ObjectKey{Namespace: namespace, Name: name}
	vm := &kubevirtv1.VirtualMachine{}
	if err := r.Get(ctx, key, vm); err == nil {
		o.VM = vm
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get vm %s: %w", key, err)
	}
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := r.Get(ctx, key, vmi); err == nil {
		o.VMI = vmi
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get vmi %s: %w", key, err)
	}
	var ms kubevirtv1.VirtualMachineInstanceMigrationList
	if err := r.List(ctx, &ms, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list migrations in %s: %w", namespace, err)
	}
	for i := range ms.Items {
		if ms.Items[i].Spec.VMIName == name {
			o.Migrations = append(o.Migrations, ms.Items[i])
		}
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{kubevirtv1.AppLabel: "virt-launcher"}); err != nil {
		return nil, fmt.Errorf("list launcher pods in %s: %w", namespace, err)
	}
	for i := range pods.Items {
		if VMName(&pods.Items[i]) == name {
			o.Pods = append(o.Pods, pods.Items[i])
		}
	}
	return o, nil
}

// IsMigrationTarget reports whether a launcher pod was created as the
// target of a live migration (label kubevirt.io/migrationJobUID): it runs
// a guest that already holds its addresses.
func IsMigrationTarget(pod *corev1.Pod) bool { return MigrationUID(pod) != "" }

// Restarts reports whether launcher pod p starts its VM afresh: not a
// migration target, and no other live launcher pod of the same VMI (in
// pods, the VM's launcher pods) runs the guest. A VM that starts afresh
// may change its addresses to what its template asks for now; any other
// launcher pod gets exactly what the VM holds.
func Restarts(p *corev1.Pod, vmi *kubevirtv1.VirtualMachineInstance, pods []corev1.Pod) bool {
	if IsMigrationTarget(p) {
		return false
	}
	for i := range pods {
		q := &pods[i]
		if q.UID != p.UID && VMName(q) == vmi.Name && Live(q) && BelongsTo(q, vmi) {
			return false
		}
	}
	return true
}

// ReadFresh is Read from cache, read again from api when the cache misses
// an object a live launcher pod implies (the VMI; the VM while keepVMIP):
// the cache may not have seen a create yet. pod, when not nil, replaces its
// stale copy in Pods (or is added): the caller holds the newest version.
func ReadFresh(ctx context.Context, cache, api client.Reader, namespace, name string, keepVMIP bool, pod *corev1.Pod) (*Objects, error) {
	o, err := Read(ctx, cache, namespace, name)
	if err != nil {
		return nil, err
	}
	if (o.VMI == nil || o.VM == nil && keepVMIP) && api != nil {
		vm, vmi, err := GetVM(ctx, api, namespace, name)
		if err != nil {
			return nil, err
		}
		o.VM, o.VMI = vm, vmi
	}
	if pod != nil {
		if i := slices.IndexFunc(o.Pods, func(q corev1.Pod) bool { return q.UID == pod.UID }); i >= 0 {
			o.Pods[i] = *pod
		} else {
			o.Pods = append(o.Pods, *pod)
		}
	}
	return o, nil
}
