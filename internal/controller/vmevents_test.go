package controller

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/annotations"
)

type sentEvent struct {
	regarding *corev1.ObjectReference
	pod       string
	kind      string
	note      string
}

type eventLog struct{ events []sentEvent }

func (l *eventLog) Eventf(regarding, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	e := sentEvent{kind: eventtype + "/" + reason, note: fmt.Sprintf(note, args...)}
	switch o := regarding.(type) {
	case *corev1.ObjectReference:
		e.regarding = o
	case *corev1.Pod:
		e.pod = o.Name
	}
	l.events = append(l.events, e)
}

// vmReader knows one VM, kv/vm-a.
type vmReader struct{ client.Reader }

func (vmReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if key.Namespace == "kv" && key.Name == "vm-a" {
		obj.SetName("vm-a")
		obj.SetNamespace("kv")
		obj.SetUID("uid-vm-a")
		return nil
	}
	return apierrors.NewNotFound(schema.GroupResource{Group: "kubevirt.io", Resource: "virtualmachines"}, key.Name)
}

func TestLauncherWarningsAreRepeatedOnTheVM(t *testing.T) {
	log := &eventLog{}
	rec := echoToVM(log, vmReader{})
	launcher := func(vm string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kv", Name: "virt-launcher-" + vm + "-abcde",
			Labels:          map[string]string{"kubevirt.io": "virt-launcher"},
			Annotations:     map[string]string{annotations.KubeVirtDomain: vm},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: vm, UID: types.UID("uid-vmi-" + vm)}}}}
	}
	rec.Eventf(launcher("vm-a"), nil, corev1.EventTypeWarning, "IPConflict", "AllocateIP", "%s is held by %s", "10.0.0.5", "x")
	rec.Eventf(launcher("vm-a"), nil, corev1.EventTypeNormal, "Allocated", "AllocateIP", "ok")
	rec.Eventf(launcher("vmi-only"), nil, corev1.EventTypeWarning, "IPIsGateway", "AllocateIP", "gateway")
	rec.Eventf(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kv", Name: "plain"}}, nil, corev1.EventTypeWarning, "IPConflict", "AllocateIP", "conflict")

	want := []string{
		"pod virt-launcher-vm-a-abcde Warning/IPConflict 10.0.0.5 is held by x",
		"VirtualMachine kv/vm-a uid-vm-a Warning/IPConflict 10.0.0.5 is held by x",
		"pod virt-launcher-vm-a-abcde Normal/Allocated ok",
		"pod virt-launcher-vmi-only-abcde Warning/IPIsGateway gateway",
		"VirtualMachineInstance kv/vmi-only uid-vmi-vmi-only Warning/IPIsGateway gateway",
		"pod plain Warning/IPConflict conflict",
	}
	if len(log.events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(log.events), len(want), log.events)
	}
	for i, e := range log.events {
		got := "pod " + e.pod + " " + e.kind + " " + e.note
		if e.regarding != nil {
			got = fmt.Sprintf("%s %s/%s %s %s %s", e.regarding.Kind, e.regarding.Namespace, e.regarding.Name, e.regarding.UID, e.kind, e.note)
		}
		if got != want[i] {
			t.Errorf("event %d: %q, want %q", i, got, want[i])
		}
	}
}
