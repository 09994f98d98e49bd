package vpc

import (
	"context"
	"slices"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// SetupWithManager registers the reconciler. Subnets map to their VPC (its
// status lists them, and a VPC being deleted waits for them); a Vpc maps to
// the other Vpcs sharing one of its namespaces (namespace conflicts).
//
// workers is the number of concurrent reconciles.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("vpc").
		For(&kubeovnv1.Vpc{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Watches(&kubeovnv1.Subnet{}, handler.EnqueueRequestsFromMapFunc(r.subnetToVpc)).
		Watches(&kubeovnv1.Vpc{}, handler.EnqueueRequestsFromMapFunc(r.vpcToNamespaceSharers))
	if r.Resync != nil {
		b = b.WatchesRawSource(r.Resync.Source("vpc", nbresync.Own[kubeovnv1.Vpc, *kubeovnv1.Vpc, kubeovnv1.VpcList](ops.OwnerKindVpc)))
	}
	return b.Complete(r)
}

func (r *Reconciler) subnetToVpc(_ context.Context, o client.Object) []reconcile.Request {
	s, ok := o.(*kubeovnv1.Subnet)
	if !ok {
		return nil
	}
	name := s.Spec.Vpc
	if name == "" {
		name = r.DefaultVpc
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
}

func (r *Reconciler) vpcToNamespaceSharers(ctx context.Context, o client.Object) []reconcile.Request {
	v, ok := o.(*kubeovnv1.Vpc)
	if !ok || len(v.Spec.Namespaces) == 0 {
		return nil
	}
	var all kubeovnv1.VpcList
	if err := r.Client.List(ctx, &all); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range all.Items {
		other := &all.Items[i]
		if other.Name != v.Name && slices.ContainsFunc(other.Spec.Namespaces, func(ns string) bool { return slices.Contains(v.Spec.Namespaces, ns) }) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: other.Name}})
		}
	}
	return reqs
}
