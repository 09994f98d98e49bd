package subnet

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// SetupWithManager registers the reconciler with workers concurrent
// reconciles. IP objects map to the subnets whose usage they change; a Vpc
// maps to its subnets only when its spec or its readiness changes (not on
// every status write, which lists the subnets and so follows each of them).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("subnet").
		For(&kubeovnv1.Subnet{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Watches(&kubeovnv1.IP{}, handler.EnqueueRequestsFromMapFunc(ipToSubnets)).
		Watches(&kubeovnv1.Vpc{}, handler.EnqueueRequestsFromMapFunc(r.vpcToSubnets),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, vpcReadinessChanged()))).
		// Addresses released after their IP object was gone (the garbage
		// collector deleted it first) change the usage too.
		WatchesRawSource(source.Channel(r.Store.UsageEvents(), &handler.EnqueueRequestForObject{}))
	if r.Resync != nil {
		b = b.WatchesRawSource(r.Resync.Source("subnet", nbresync.Own[kubeovnv1.Subnet, *kubeovnv1.Subnet, kubeovnv1.SubnetList](ops.OwnerKindSubnet)))
	}
	return b.Complete(r)
}

// vpcReadinessChanged passes creations, deletions and updates that change
// a Vpc's Ready condition (its router appeared or went).
func vpcReadinessChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*kubeovnv1.Vpc)
		n, ok2 := e.ObjectNew.(*kubeovnv1.Vpc)
		if !ok1 || !ok2 {
			return true
		}
		return meta.IsStatusConditionTrue(o.Status.Conditions, kubeovnv1.ConditionReady) !=
			meta.IsStatusConditionTrue(n.Status.Conditions, kubeovnv1.ConditionReady)
	}}
}

func ipToSubnets(_ context.Context, o client.Object) []reconcile.Request {
	ip, ok := o.(*kubeovnv1.IP)
	if !ok {
		return nil
	}
	reqs := []reconcile.Request{{NamespacedName: client.ObjectKey{Name: ip.Spec.Subnet}}}
	for _, s := range ip.Spec.AttachSubnets {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: s}})
	}
	return reqs
}

func (r *Reconciler) vpcToSubnets(ctx context.Context, o client.Object) []reconcile.Request {
	var subnets kubeovnv1.SubnetList
	if err := r.Client.List(ctx, &subnets); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range subnets.Items {
		s := &subnets.Items[i]
		if s.Spec.Vpc == o.GetName() || (s.Spec.Vpc == "" && o.GetName() == r.DefaultVpc) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: s.Name}})
		}
	}
	return reqs
}
