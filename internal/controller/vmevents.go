package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/controller/pod"
	"github.com/kvnet/kvnet/internal/kubevirt"
)

// vmEchoRecorder passes every event on, and repeats each Warning about a
// KubeVirt launcher pod on the pod's VirtualMachine (or, when the VM cannot
// be read, its VirtualMachineInstance): a VM's owner looks at
// `kubectl describe vm`, not at a launcher pod whose name they never chose,
// so an address conflict or a refused subnet must show up there too.
type vmEchoRecorder struct {
	pod.EventRecorder
	reader client.Reader // live reads: VMs are not in the manager's cache
}

func echoToVM(rec pod.EventRecorder, reader client.Reader) pod.EventRecorder {
	return &vmEchoRecorder{EventRecorder: rec, reader: reader}
}

func (r *vmEchoRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
	p, ok := regarding.(*corev1.Pod)
	if !ok || eventtype != corev1.EventTypeWarning {
		return
	}
	if ref := r.vmRef(p); ref != nil {
		r.EventRecorder.Eventf(ref, p, eventtype, reason, action, note, args...)
	}
}

// vmRef returns a reference to the VM of a launcher pod, or nil.
func (r *vmEchoRecorder) vmRef(p *corev1.Pod) *corev1.ObjectReference {
	name := kubevirt.VMName(p)
	if name == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	vm := &metav1.PartialObjectMetadata{}
	vm.SetGroupVersionKind(schema.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"})
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, vm); err == nil {
		return &corev1.ObjectReference{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine",
			Namespace: vm.Namespace, Name: vm.Name, UID: vm.UID, ResourceVersion: vm.ResourceVersion}
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "VirtualMachineInstance" {
			return &corev1.ObjectReference{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: p.Namespace, Name: o.Name, UID: o.UID}
		}
	}
	return nil
}
