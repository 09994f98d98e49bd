package webhook_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
)

func mkSubnet(name, cidr, gw string, nss []string, excl ...string) *kubeovnv1.Subnet {
	return &kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kubeovnv1.SubnetSpec{CIDRBlock: cidr, Gateway: gw, Namespaces: nss, ExcludeIPs: excl}}
}

func mkPod(ns, name string, ann, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
	}
}

// staticPod asks for addr in subnet through the Kube-OVN annotations.
func staticPod(ns, name, subnet, addr string) *corev1.Pod {
	return mkPod(ns, name, map[string]string{annotations.LogicalSwitch: subnet, annotations.IPAddress: addr}, nil)
}

// mkIP is the IP object the controller would persist for an owner.
func mkIP(name, subnet, ns, owner, podType, addr, mac string, ownerUID types.UID) *kubeovnv1.IP {
	ip := &kubeovnv1.IP{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kubeovnv1.IPSpec{Subnet: subnet, Namespace: ns, PodName: owner, PodType: podType, IPAddress: addr, MacAddress: mac}}
	for _, a := range strings.Split(addr, ",") {
		if strings.Contains(a, ":") {
			ip.Spec.V6IPAddress = a
		} else if a != "" {
			ip.Spec.V4IPAddress = a
		}
	}
	if ownerUID != "" {
		ip.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: owner, UID: ownerUID}}
	}
	return ip
}

func mkNamespace(t *testing.T, name string) string {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return name
}

// create creates objects that must be admitted, and waits until the
// webhook's cache holds them (the webhook reads pods and IPs from it).
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
		waitCached(t, o)
	}
}

func waitCached(t *testing.T, o client.Object) {
	t.Helper()
	if _, ok := o.(*unstructured.Unstructured); ok {
		return // not cached by the webhook (VMs are read live)
	}
	probe := o.DeepCopyObject().(client.Object)
	deadline := time.Now().Add(10 * time.Second)
	for cached.Get(context.Background(), client.ObjectKeyFromObject(o), probe) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached the webhook's cache", o.GetName())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refusedBy checks that err is a refusal by the named webhook (or, with
// hook "", by anything in the API server: CEL, OpenAPI or a webhook) whose
// message holds every want, case-insensitively.
func refusedBy(t *testing.T, err error, hook string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a refusal mentioning %q", want)
	}
	msg := err.Error()
	if hook != "" && !strings.Contains(msg, `admission webhook "`+hook+`" denied the request`) {
		t.Fatalf("refused, but not by webhook %s: %v", hook, err)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			t.Fatalf("refusal does not mention %q: %v", w, err)
		}
	}
}

func createErr(o client.Object) error { return k8s.Create(context.Background(), o) }

// warningsOf runs f and returns the API server warnings it produced.
func warningsOf(f func()) []string {
	n := warns.count()
	f()
	return warns.since(n)
}

// vm builds a KubeVirt VirtualMachine (apiVersion kubevirt.io/<version>)
// whose template carries ann.
func vm(version, ns, name string, ann map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubevirt.io/" + version, "kind": "VirtualMachine",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec": map[string]any{"runStrategy": "Always", "template": map[string]any{
			"metadata": map[string]any{"annotations": toAny(ann)},
			"spec":     map[string]any{"domain": map[string]any{"devices": map[string]any{}}},
		}},
	}}
	return u
}

// vmi builds a VirtualMachineInstance carrying ann.
func vmi(ns, name string, ann map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
		"metadata": map[string]any{"namespace": ns, "name": name, "annotations": toAny(ann)},
		"spec":     map[string]any{"domain": map[string]any{"devices": map[string]any{}}},
	}}
	return u
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// review builds an admission request for calling a handler directly.
func review(t *testing.T, op admissionv1.Operation, kind string, obj, old k8sruntime.Object) admission.Request {
	t.Helper()
	raw := func(o k8sruntime.Object) k8sruntime.RawExtension {
		if o == nil {
			return k8sruntime.RawExtension{}
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return k8sruntime.RawExtension{Raw: b}
	}
	mo, _ := obj.(metav1.Object)
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "test", Operation: op, Kind: metav1.GroupVersionKind{Group: "kubeovn.io", Version: "v1", Kind: kind},
		Name: mo.GetName(), Namespace: mo.GetNamespace(), Object: raw(obj), OldObject: raw(old),
	}}
}

func sleep() { time.Sleep(20 * time.Millisecond) }
