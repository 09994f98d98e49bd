package kube

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

func waitSynced(t *testing.T, synced func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), synced) {
		t.Fatal("cache did not sync")
	}
}

func TestPodsGetAndChanged(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1",
			Annotations: map[string]string{"a": "1"}, Labels: map[string]string{"l": "x"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "big"}}},
	}
	cs := fake.NewClientset(pod)
	pods := NewPods(cs, "n1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pods.Run(ctx)
	waitSynced(t, pods.HasSynced)

	got, ok := pods.Get("default", "web")
	if !ok || got.UID != "u1" || got.Annotations["a"] != "1" || got.Labels["l"] != "x" {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	changed := pods.Changed("default", "web")
	other := pods.Changed("default", "other")
	pod.Annotations = map[string]string{"a": "2"}
	if _, err := cs.CoreV1().Pods("default").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification")
	}
	select {
	case <-other:
		t.Fatal("another pod's waiter woke up")
	default:
	}
	if got, _ := pods.Get("default", "web"); got.Annotations["a"] != "2" {
		t.Fatalf("after update: %+v", got)
	}
	// The cache keeps metadata only.
	obj, _, _ := pods.informer.GetStore().GetByKey("default/web")
	if len(obj.(*corev1.Pod).Spec.Containers) != 0 {
		t.Fatal("pod spec kept in the cache")
	}
}

func subnet(name, cidr, vpc string, disableGWCheck bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubeovn.io/v1", "kind": "Subnet",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"cidrBlock": cidr, "vpc": vpc, "disableGatewayCheck": disableGWCheck},
	}}
	return u
}

func TestNodeView(t *testing.T) {
	nodeObj := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{"k": "v"}}}
	cs := fake.NewClientset(nodeObj)
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{SubnetGVR: "SubnetList"},
		subnet("ovn-default", "10.16.0.0/16, fd00:10:16::/112", "", false),
		subnet("quiet", "10.20.0.0/16", "ovn-cluster", true))
	v := NewNodeView(cs, dyn, "n1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	waitSynced(t, v.HasSynced)

	if ann, ok := v.NodeAnnotations(); !ok || ann["k"] != "v" {
		t.Fatalf("node annotations = %v, %v", ann, ok)
	}
	subnets := v.Subnets()
	if len(subnets) != 2 {
		t.Fatalf("subnets = %+v", subnets)
	}
	for _, s := range subnets {
		if s.Name == "ovn-default" && (len(s.CIDRs) != 2 || s.CIDRs[1].String() != "fd00:10:16::/112") {
			t.Fatalf("ovn-default = %+v", s)
		}
	}
	if v.GatewayCheckDisabled("ovn-default") || !v.GatewayCheckDisabled("quiet") || v.GatewayCheckDisabled("nope") {
		t.Fatal("GatewayCheckDisabled wrong")
	}
	changed := v.Changed()
	if _, err := dyn.Resource(SubnetGVR).Create(ctx, subnet("new", "10.30.0.0/16", "", false), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification for a new subnet")
	}
}
