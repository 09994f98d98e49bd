package bench

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// APIWrite is one change to an object the controller writes, as observed
// through a watch.
type APIWrite struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	Key  string    `json:"key"`
	Op   string    `json:"op"` // add, update, delete
}

// String is a short line for the report.
func (w APIWrite) String() string { return fmt.Sprintf("%s %s %s", w.Op, w.Kind, w.Key) }

// controllerWrittenResources are the resources kvnet-controller writes:
// pods (annotations), nodes (annotations), its CRDs, and events. Leases
// (leader election renewals) are left out on purpose.
var controllerWrittenResources = []struct {
	gvr  schema.GroupVersionResource
	kind string
}{
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod"},
	{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "Node"},
	{schema.GroupVersionResource{Version: "v1", Resource: "events"}, "Event"},
	{schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "ips"}, "IP"},
	{schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "subnets"}, "Subnet"},
	{schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "ippools"}, "IPPool"},
	{schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "vpcs"}, "Vpc"},
}

// apiWatch records writes to controllerWrittenResources once armed.
type apiWatch struct {
	armed  atomic.Bool
	mu     sync.Mutex
	writes []APIWrite
	stop   chan struct{}
}

// watchAPIWrites starts informers on every resource the controller writes
// and returns once they have synced (the initial listing is not a write).
// Node changes count only when annotations, labels or spec change (the
// kubelet stand-ins renew node status on their own); events count only when
// kvnet-controller reported them.
func watchAPIWrites(ctx context.Context, rc *rest.Config) (*apiWatch, error) {
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	w := &apiWatch{stop: make(chan struct{})}
	f := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	var synced []cache.InformerSynced
	for _, r := range controllerWrittenResources {
		kind := r.kind
		inf := f.ForResource(r.gvr).Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) { w.record(kind, "add", nil, o) },
			UpdateFunc: func(old, o any) {
				w.record(kind, "update", old, o)
			},
			DeleteFunc: func(o any) { w.record(kind, "delete", nil, o) },
		}); err != nil {
			return nil, err
		}
		synced = append(synced, inf.HasSynced)
	}
	f.Start(w.stop)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		close(w.stop)
		return nil, fmt.Errorf("API watches did not sync: %w", ctx.Err())
	}
	return w, nil
}

func (w *apiWatch) record(kind, op string, old, o any) {
	if !w.armed.Load() {
		return
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		if d, isTomb := o.(cache.DeletedFinalStateUnknown); isTomb {
			u, ok = d.Obj.(*unstructured.Unstructured)
		}
		if !ok {
			return
		}
	}
	if op == "update" {
		ou, _ := old.(*unstructured.Unstructured)
		if ou != nil && ou.GetResourceVersion() == u.GetResourceVersion() {
			return // a re-list, not a write
		}
		if kind == "Node" && ou != nil && reflect.DeepEqual(ou.GetAnnotations(), u.GetAnnotations()) &&
			reflect.DeepEqual(ou.GetLabels(), u.GetLabels()) && reflect.DeepEqual(ou.Object["spec"], u.Object["spec"]) {
			return
		}
	}
	if kind == "Event" {
		src, _, _ := unstructured.NestedString(u.Object, "source", "component")
		rep, _, _ := unstructured.NestedString(u.Object, "reportingComponent")
		if src != "kvnet-controller" && rep != "kvnet-controller" {
			return
		}
	}
	key := u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		key = ns + "/" + key
	}
	w.mu.Lock()
	w.writes = append(w.writes, APIWrite{At: time.Now(), Kind: kind, Key: key, Op: op})
	w.mu.Unlock()
}

// Arm starts recording.
func (w *apiWatch) Arm() { w.armed.Store(true) }

// Since returns the writes observed at or after t.
func (w *apiWatch) Since(t time.Time) []APIWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []APIWrite
	for _, x := range w.writes {
		if !x.At.Before(t) {
			out = append(out, x)
		}
	}
	return out
}

// Stop ends the informers.
func (w *apiWatch) Stop() { close(w.stop) }
