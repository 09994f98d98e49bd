package pod

import (
	"context"
	"maps"
	"strings"

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
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

type ovsdbOp = ovsdb.Operation

// IndexIPs registers addressing.IndexIPByPod and IndexIPByVM with the
// manager's cache.
func IndexIPs(ctx context.Context, mgr ctrl.Manager) error {
	for index, key := range map[string]func(*kubeovnv1.IP) string{addressing.IndexIPByPod: addressing.IPPodKey, addressing.IndexIPByVM: addressing.IPVMKey} {
		err := mgr.GetFieldIndexer().IndexField(ctx, &kubeovnv1.IP{}, index, func(o client.Object) []string {
			if k := key(o.(*kubeovnv1.IP)); k != "" {
				return []string{k}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SetupWithManager registers the reconciler. Pod updates that change
// nothing kvnet reads (status, most metadata) are filtered out. Subnet and
// IPPool events re-queue the pods waiting for one (see waiters).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("pod").
		For(&corev1.Pod{}, builder.WithPredicates(relevant)).
		Watches(&kubeovnv1.Subnet{}, handler.EnqueueRequestsFromMapFunc(r.waiting.wake)).
		Watches(&kubeovnv1.IPPool{}, handler.EnqueueRequestsFromMapFunc(r.waiting.wake)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers})
	if r.Resync != nil {
		// A pod's ports vanished from NB: reconcile the pod; a VM's: its
		// launcher pods.
		owners := map[string]func(context.Context, string) []client.Object{
			ops.OwnerKindPod: nbresync.Named(func() client.Object { return &corev1.Pod{} }, true),
		}
		if r.VMs != nil {
			owners[ops.OwnerKindVM] = r.launcherPods
		}
		b = b.WatchesRawSource(r.Resync.Source("pod", nbresync.Feed{List: func() client.ObjectList { return &corev1.PodList{} }, Owners: owners}))
	}
	return b.Complete(r)
}

// launcherPods are the launcher pods of the VM "<namespace>/<name>".
func (r *Reconciler) launcherPods(ctx context.Context, key string) []client.Object {
	ns, name, ok := strings.Cut(key, "/")
	if !ok {
		return nil
	}
	vm, err := kubevirt.Read(ctx, r.Client, ns, name)
	if err != nil {
		return nil
	}
	out := make([]client.Object, len(vm.Pods))
	for i := range vm.Pods {
		out[i] = &vm.Pods[i]
	}
	return out
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
