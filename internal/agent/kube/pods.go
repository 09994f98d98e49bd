package kube

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kvnet/kvnet/internal/agent/cniserver"
)

// Pods is an informer-backed view of the pods bound to one node.
type Pods struct {
	informer cache.SharedIndexInformer
	notify   *notifier
}

var _ cniserver.Pods = (*Pods)(nil)

// NewPods watches the pods whose spec.nodeName is nodeName. Call Run.
func NewPods(cs kubernetes.Interface, nodeName string) *Pods {
	selector := fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return cs.CoreV1().Pods(metav1.NamespaceAll).Watch(ctx, o)
		},
	}
	p := &Pods{
		informer: cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, cs), &corev1.Pod{}, 0, cache.Indexers{}),
		notify:   newNotifier(),
	}
	_ = p.informer.SetTransform(stripPod)
	_, _ = p.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.changed,
		UpdateFunc: func(_, obj any) { p.changed(obj) },
		DeleteFunc: p.changed,
	})
	return p
}

// Run runs the informer until ctx ends.
func (p *Pods) Run(ctx context.Context) { p.informer.RunWithContext(ctx) }

// HasSynced reports whether the initial list is in the cache.
func (p *Pods) HasSynced() bool { return p.informer.HasSynced() }

func (p *Pods) changed(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		p.notify.fire(tomb.Key)
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		p.notify.fire(key)
	}
}

// Get returns the cached pod.
func (p *Pods) Get(namespace, name string) (*cniserver.Pod, bool) {
	obj, ok, err := p.informer.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, false
	}
	return &cniserver.Pod{
		Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID),
		Annotations: maps.Clone(pod.Annotations), Labels: maps.Clone(pod.Labels),
	}, true
}

// Changed returns a channel closed at the next change of that pod.
func (p *Pods) Changed(namespace, name string) <-chan struct{} {
	return p.notify.wait(namespace + "/" + name)
}

// stripPod keeps only what the agent reads, so a node with many pods costs
// little memory.
func stripPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
		Labels: pod.Labels, Annotations: pod.Annotations,
	}}, nil
}
