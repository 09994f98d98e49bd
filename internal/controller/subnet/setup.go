package subnet

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
)

// SetupWithManager registers the reconciler. IP objects and other subnets
// map to the subnets whose status or conflicts they change.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("subnet").
		For(&kubeovnv1.Subnet{}).
		Watches(&kubeovnv1.IP{}, handler.EnqueueRequestsFromMapFunc(ipToSubnets)).
		Watches(&kubeovnv1.Vpc{}, handler.EnqueueRequestsFromMapFunc(r.vpcToSubnets)).
		// Addresses released after their IP object was gone (the garbage
		// collector deleted it first) change the usage too.
		WatchesRawSource(source.Channel(r.Store.UsageEvents(), &handler.EnqueueRequestForObject{})).
		Complete(r)
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
