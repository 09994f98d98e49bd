package pod

import (
	"context"
	"maps"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
)

type ovsdbOp = ovsdb.Operation

// IndexIPs registers IndexIPByPod with the manager's cache.
func IndexIPs(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &kubeovnv1.IP{}, IndexIPByPod, func(o client.Object) []string {
		if k := IPPodKey(o.(*kubeovnv1.IP)); k != "" {
			return []string{k}
		}
		return nil
	})
}

// SetupWithManager registers the reconciler. Pod updates that change
// nothing kvnet reads (status, most metadata) are filtered out. Subnet and
// IPPool events re-queue the pods waiting for one (see waiters).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("pod").
		For(&corev1.Pod{}, builder.WithPredicates(relevant)).
		Watches(&kubeovnv1.Subnet{}, handler.EnqueueRequestsFromMapFunc(r.waiting.wake)).
		Watches(&kubeovnv1.IPPool{}, handler.EnqueueRequestsFromMapFunc(r.waiting.wake)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

var relevant = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*corev1.Pod), e.ObjectNew.(*corev1.Pod)
		return o.Spec.NodeName != n.Spec.NodeName ||
			!maps.Equal(o.Annotations, n.Annotations) ||
			(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) ||
			o.UID != n.UID
	},
}
