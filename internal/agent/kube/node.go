package kube

import (
	"context"
	"maps"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kvnet/kvnet/internal/agent/cniserver"
	"github.com/kvnet/kvnet/internal/agent/node"
)

// SubnetGVR is Kube-OVN's Subnet resource.
var SubnetGVR = schema.GroupVersionResource{Group: "kubeovn.io", Version: "v1", Resource: "subnets"}

// NodeView watches this node and all Subnets.
type NodeView struct {
	nodeName string
	nodes    cache.SharedIndexInformer
	subnets  cache.SharedIndexInformer
	notify   *notifier
}

var (
	_ node.Source             = (*NodeView)(nil)
	_ cniserver.GatewayPolicy = (*NodeView)(nil)
)

// NewNodeView builds the informers; call Run.
func NewNodeView(cs kubernetes.Interface, dyn dynamic.Interface, nodeName string) *NodeView {
	selector := fields.OneTermEqualSelector("metadata.name", nodeName).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return cs.CoreV1().Nodes().List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return cs.CoreV1().Nodes().Watch(ctx, o)
		},
	}
	v := &NodeView{
		nodeName: nodeName,
		nodes:    cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, cs), &corev1.Node{}, 0, cache.Indexers{}),
		subnets:  dynamicinformer.NewFilteredDynamicInformer(dyn, SubnetGVR, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer(),
		notify:   newNotifier(),
	}
	_ = v.nodes.SetTransform(stripNode)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { v.notify.fire("") },
		UpdateFunc: func(any, any) { v.notify.fire("") },
		DeleteFunc: func(any) { v.notify.fire("") },
	}
	_, _ = v.nodes.AddEventHandler(handler)
	_, _ = v.subnets.AddEventHandler(handler)
	return v
}

// Run runs both informers until ctx ends.
func (v *NodeView) Run(ctx context.Context) {
	go v.subnets.RunWithContext(ctx)
	v.nodes.RunWithContext(ctx)
}

// HasSynced reports whether both caches hold their initial lists.
func (v *NodeView) HasSynced() bool { return v.nodes.HasSynced() && v.subnets.HasSynced() }

// NodeAnnotations returns this node's annotations.
func (v *NodeView) NodeAnnotations() (map[string]string, bool) {
	obj, ok, err := v.nodes.GetStore().GetByKey(v.nodeName)
	if err != nil || !ok {
		return nil, false
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return nil, false
	}
	return maps.Clone(n.Annotations), true
}

// Subnets returns all Subnets with parsable CIDRs.
func (v *NodeView) Subnets() []node.Subnet {
	var out []node.Subnet
	for _, obj := range v.subnets.GetStore().List() {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		out = append(out, subnetOf(u))
	}
	return out
}

// Changed returns a channel closed at the next change of the node or a subnet.
func (v *NodeView) Changed() <-chan struct{} { return v.notify.wait("") }

// GatewayCheckDisabled reports a Subnet's spec.disableGatewayCheck.
func (v *NodeView) GatewayCheckDisabled(subnet string) bool {
	obj, ok, err := v.subnets.GetStore().GetByKey(subnet)
	if err != nil || !ok {
		return false
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return false
	}
	disabled, _, _ := unstructured.NestedBool(u.Object, "spec", "disableGatewayCheck")
	return disabled
}

func subnetOf(u *unstructured.Unstructured) node.Subnet {
	s := node.Subnet{Name: u.GetName()}
	s.VPC, _, _ = unstructured.NestedString(u.Object, "spec", "vpc")
	block, _, _ := unstructured.NestedString(u.Object, "spec", "cidrBlock")
	for _, part := range strings.Split(block, ",") {
		if p, err := netip.ParsePrefix(strings.TrimSpace(part)); err == nil {
			s.CIDRs = append(s.CIDRs, p.Masked())
		}
	}
	return s
}

func stripNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, Annotations: n.Annotations,
	}}, nil
}
