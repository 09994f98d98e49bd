package ippool

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ipam"
)

// EventRecorder is the part of client-go's events.EventRecorder used here.
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reconciler reconciles one IPPool.
type Reconciler struct {
	Client client.Client
	Store  *state.Store
	// Recorder, when set, gets a Warning event when a pool is refused.
	Recorder EventRecorder
}

// Reconcile loads the pool into the IPAM and records its usage.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Store.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	var p kubeovnv1.IPPool
	if err := r.Client.Get(ctx, req.NamespacedName, &p); err != nil {
		if apierrors.IsNotFound(err) {
			if sub, ok := r.Store.PoolSubnet(req.Name); ok {
				r.Store.IPAM.DeletePool(sub, req.Name)
				r.Store.SetPoolSubnet(req.Name, "")
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get ip pool: %w", err)
	}
	err := r.Store.IPAM.AddOrUpdatePool(p.Spec.Subnet, p.Name, p.Spec.IPs)
	switch {
	case errors.Is(err, ipam.ErrNoSuchSubnet):
		return ctrl.Result{RequeueAfter: 2 * time.Second}, r.setStatus(ctx, &p, metav1.ConditionTrue, metav1.ConditionFalse, "SubnetNotReady", err.Error())
	case err != nil:
		if r.Recorder != nil && !meta.IsStatusConditionFalse(p.Status.Conditions, kubeovnv1.ConditionValidated) {
			r.Recorder.Eventf(&p, nil, corev1.EventTypeWarning, "InvalidSpec", "Validate", "%s", err.Error())
		}
		return ctrl.Result{}, r.setStatus(ctx, &p, metav1.ConditionFalse, metav1.ConditionFalse, "InvalidSpec", err.Error())
	}
	r.Store.SetPoolSubnet(p.Name, p.Spec.Subnet)
	return ctrl.Result{}, r.setStatus(ctx, &p, metav1.ConditionTrue, metav1.ConditionTrue, "Ready", "pool is loaded")
}

func (r *Reconciler) setStatus(ctx context.Context, p *kubeovnv1.IPPool, valid, ready metav1.ConditionStatus, reason, msg string) error {
	st := p.Status.DeepCopy()
	if u, err := r.Store.IPAM.PoolUsage(p.Spec.Subnet, p.Name); err == nil {
		st.V4UsingIPs, st.V6UsingIPs = float64(u.V4Using), float64(u.V6Using)
		st.V4AvailableIPs, st.V6AvailableIPs = u.V4Available.Float64(), u.V6Available.Float64()
		st.V4UsingIPRange, st.V6UsingIPRange = u.V4UsingRange, u.V6UsingRange
		st.V4AvailableIPRange, st.V6AvailableIPRange = u.V4AvailableRange, u.V6AvailableRange
	}
	vReason := "Valid"
	if valid == metav1.ConditionFalse {
		vReason = reason
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kubeovnv1.ConditionValidated, Status: valid, Reason: vReason, Message: msg, ObservedGeneration: p.Generation})
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: kubeovnv1.ConditionReady, Status: ready, Reason: reason, Message: msg, ObservedGeneration: p.Generation})
	if equality.Semantic.DeepEqual(&p.Status, st) {
		return nil
	}
	want := p.DeepCopy()
	want.Status = *st
	if err := r.Client.Status().Patch(ctx, want, client.MergeFrom(p)); err != nil {
		return fmt.Errorf("patch ip pool status: %w", err)
	}
	return nil
}

// SetupWithManager registers the reconciler; IP objects map to the pools of their subnet.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("ippool").
		For(&kubeovnv1.IPPool{}).
		Watches(&kubeovnv1.IP{}, handler.EnqueueRequestsFromMapFunc(r.ipToPools)).
		Complete(r)
}

func (r *Reconciler) ipToPools(ctx context.Context, o client.Object) []reconcile.Request {
	ip, ok := o.(*kubeovnv1.IP)
	if !ok {
		return nil
	}
	var pools kubeovnv1.IPPoolList
	if err := r.Client.List(ctx, &pools); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range pools.Items {
		if pools.Items[i].Spec.Subnet == ip.Spec.Subnet {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: pools.Items[i].Name}})
		}
	}
	return reqs
}
