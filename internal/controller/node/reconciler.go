package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// Reconciler reconciles one Node.
type Reconciler struct {
	Client client.Client
	NB     libovsdb.Client
	Store  *state.Store
	// Resync, when set, re-queues objects whose NB rows vanished.
	Resync     *nbresync.Resyncer
	JoinSubnet string
	// Recorder reports a join port name held by another claimant.
	Recorder interface {
		Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
	}
	// Liveness judges that claimant.
	Liveness *kubevirt.Liveness
}

// DesiredIP is the IP object of a node's join address, owned by the node.
func DesiredIP(n *corev1.Node, subnet string, a ipam.Allocation) *kubeovnv1.IP {
	ip := &kubeovnv1.IP{
		ObjectMeta: metav1.ObjectMeta{
			Name:   addressing.NodePortName(n.Name),
			Labels: map[string]string{addressing.SubnetLabel: subnet},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID, BlockOwnerDeletion: ptr.To(false),
			}},
		},
		Spec: addressing.AllocationSpec(subnet, a),
	}
	ip.Spec.PodName, ip.Spec.NodeName, ip.Spec.PodType = n.Name, n.Name, kubeovnv1.PodTypeNode
	return ip
}

// DesiredPort is the node's join port.
func DesiredPort(name, subnet string, a ipam.Allocation) *nbdb.LogicalSwitchPort {
	return addressing.PortRow(addressing.NodePortName(name), ops.Owner{Kind: ops.OwnerKindNode, Key: name}, subnet, a, nil)
}

// Reconcile allocates, records and programs a node's join port, or removes it.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Store.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	var n corev1.Node
	if err := r.Client.Get(ctx, req.NamespacedName, &n); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, Release(ctx, r.Client, r.NB, r.Store, r.JoinSubnet, req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get node: %w", err)
	}
	var join kubeovnv1.Subnet
	if err := r.Client.Get(ctx, client.ObjectKey{Name: r.JoinSubnet}, &join); err != nil {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, client.IgnoreNotFound(err)
	}
	network, err := validation.ParseNetwork(&join.Spec)
	if err != nil {
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil // the subnet reconciler reports it
	}
	port := addressing.NodePortName(n.Name)
	a, err := r.Store.IPAM.Allocate(ipam.Request{Subnet: r.JoinSubnet, Owner: port, IPs: nonEmpty(n.Annotations[annotations.IPAddress]), MAC: n.Annotations[annotations.MACAddress]})
	if errors.Is(err, ipam.ErrNoSuchSubnet) {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("allocate join address of node %q: %w", n.Name, err)
	}
	if err := r.ensureIP(ctx, DesiredIP(&n, r.JoinSubnet, a)); err != nil {
		if pe, ok := errors.AsType[*addressing.PlanError](err); ok && r.Recorder != nil {
			r.Recorder.Eventf(&n, nil, corev1.EventTypeWarning, pe.Reason, "AllocateIP", "%s", err.Error())
			return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	o, err := ops.EnsureLogicalSwitchPortsOn(r.NB, r.JoinSubnet, DesiredPort(n.Name, r.JoinSubnet, a))
	if errors.Is(err, ops.ErrNotFound) {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	start := time.Now()
	err = ops.Transact(ctx, r.NB, o)
	metrics.ObserveNB("node", start, err)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("join port of node %q: %w", n.Name, err)
	}
	return ctrl.Result{}, r.annotate(ctx, &n, addressing.AllocationAnnotations(addressing.ProviderOVN, r.JoinSubnet, port, network, a, true))
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func (r *Reconciler) ensureIP(ctx context.Context, want *kubeovnv1.IP) error {
	var have kubeovnv1.IP
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), &have)
	if apierrors.IsNotFound(err) {
		return client.IgnoreAlreadyExists(r.Client.Create(ctx, want))
	}
	if err != nil {
		return fmt.Errorf("get ip %q: %w", want.Name, err)
	}
	if have.Spec.PodType != kubeovnv1.PodTypeNode && have.Spec.PodName != "" && r.Liveness != nil {
		// "node-<node>" is also the name of pod "node-<x>" in namespace
		// <y> when the node is called "<x>.<y>": never take it over.
		h, err := r.Liveness.IPHolder(ctx, &have)
		if err != nil {
			return err
		}
		if h.State == kubevirt.HolderAlive || h.State == kubevirt.HolderLeaving {
			return addressing.Errorf("NameConflict", true, "join port and IP object %q are held by %s/%s: "+
				"kvnet gives no two holders one port", want.Name, have.Spec.Namespace, have.Spec.PodName)
		}
	}
	if equality.Semantic.DeepEqual(have.Spec, want.Spec) && equality.Semantic.DeepEqual(have.OwnerReferences, want.OwnerReferences) {
		return nil
	}
	upd := have.DeepCopy()
	upd.Spec, upd.OwnerReferences, upd.Labels = want.Spec, want.OwnerReferences, want.Labels
	if err := r.Client.Update(ctx, upd); err != nil {
		return fmt.Errorf("update ip %q: %w", want.Name, err)
	}
	return nil
}

func (r *Reconciler) annotate(ctx context.Context, n *corev1.Node, want map[string]string) error {
	upd := n.DeepCopy()
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range want {
		if upd.Annotations[k] != v {
			upd.Annotations[k], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	if err := r.Client.Patch(ctx, upd, client.MergeFrom(n)); err != nil {
		return fmt.Errorf("annotate node %q: %w", n.Name, err)
	}
	return nil
}

// Release removes a node's join port, address and IP object.
func Release(ctx context.Context, c client.Client, nb libovsdb.Client, st *state.Store, joinSubnet, name string) error {
	port := addressing.NodePortName(name)
	del, err := ops.DeleteLogicalSwitchPorts(nb, port)
	if err != nil {
		return err
	}
	if err := ops.Transact(ctx, nb, del); err != nil {
		return fmt.Errorf("delete join port of node %q: %w", name, err)
	}
	subnet := joinSubnet
	var ip kubeovnv1.IP
	if err := c.Get(ctx, client.ObjectKey{Name: port}, &ip); err == nil {
		subnet = ip.Spec.Subnet
		if err := client.IgnoreNotFound(c.Delete(ctx, &ip)); err != nil {
			return fmt.Errorf("delete ip %q: %w", port, err)
		}
	}
	st.Release(name, port, subnet) // nodes' holdings are not tracked: name is no tracked key
	return nil
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).Named("node").
		For(&corev1.Node{}, builder.WithPredicates(predicate.Funcs{
			// Heartbeats change status only; kvnet reads annotations.
			UpdateFunc: func(e event.UpdateEvent) bool {
				return !maps.Equal(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()) || e.ObjectOld.GetUID() != e.ObjectNew.GetUID()
			},
		}))
	if r.Resync != nil {
		b = b.WatchesRawSource(r.Resync.Source("node", nbresync.Own[corev1.Node, *corev1.Node, corev1.NodeList](ops.OwnerKindNode)))
	}
	return b.Complete(r)
}
