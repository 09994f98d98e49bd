package migration

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Reconciler keeps the binding of one VM's ports (request key: the VM's
// namespace and name) in line with its VMI, migrations and launcher pods.
type Reconciler struct {
	Client client.Client
	Store  *state.Store
	Placer *Placer
	// Resync, when set, re-queues objects whose NB rows vanished.
	Resync *nbresync.Resyncer
}

// Reconcile applies the VM's binding to the ports it has.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Store.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	defer r.Store.Lock(addressing.VMKey(req.Namespace, req.Name))()
	objs, err := kubevirt.Read(ctx, r.Client, req.Namespace, req.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	b, retry, err := r.Placer.Apply(ctx, req.Namespace, req.Name, objs)
	if err != nil {
		return ctrl.Result{}, err
	}
	if b.Migration != "" {
		log.FromContext(ctx).V(1).Info("vm ports placed", "chassis", b.Chassis, "activation", b.Activation,
			"migration", b.Migration, "target", b.Target, "pending", b.Pending)
	}
	return ctrl.Result{RequeueAfter: retry}, nil
}

// SetupWithManager registers the reconciler: migrations, VMIs and
// launcher pods all map to their VM's key.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("vm-placement").
		Watches(&kubevirtv1.VirtualMachineInstanceMigration{}, handler.EnqueueRequestsFromMapFunc(migrationToVM)).
		Watches(&kubevirtv1.VirtualMachineInstance{}, &handler.EnqueueRequestForObject{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(launcherToVM), builder.WithPredicates(launcherChanges)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers})
	if r.Resync != nil {
		// A VM's port vanished from NB: the pod reconciler writes it again
		// from the launcher pods; this one places it (request key: the VM).
		b = b.WatchesRawSource(r.Resync.Source("vm-placement", nbresync.Feed{
			List: func() client.ObjectList { return &kubevirtv1.VirtualMachineInstanceList{} },
			Owners: map[string]func(context.Context, string) []client.Object{
				ops.OwnerKindVM: nbresync.Named(func() client.Object { return &kubevirtv1.VirtualMachineInstance{} }, true)},
		}))
	}
	return b.Complete(r)
}

func migrationToVM(_ context.Context, o client.Object) []reconcile.Request {
	m, ok := o.(*kubevirtv1.VirtualMachineInstanceMigration)
	if !ok || m.Spec.VMIName == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.VMIName}}}
}

func launcherToVM(_ context.Context, o client.Object) []reconcile.Request {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return nil
	}
	if name := kubevirt.VMName(p); name != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: p.Namespace, Name: name}}}
	}
	return nil
}

// launcherChanges passes launcher pod events that can move a binding: a
// pod appearing or going, getting a node, ending, or being deleted.
var launcherChanges = predicate.Funcs{
	CreateFunc:  func(e event.CreateEvent) bool { return kubevirt.IsLauncher(e.Object.(*corev1.Pod)) },
	DeleteFunc:  func(e event.DeleteEvent) bool { return isLauncherObj(e.Object) },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*corev1.Pod), e.ObjectNew.(*corev1.Pod)
		return kubevirt.IsLauncher(n) && (o.Spec.NodeName != n.Spec.NodeName || kubevirt.Live(o) != kubevirt.Live(n))
	},
}

func isLauncherObj(o client.Object) bool {
	p, ok := o.(*corev1.Pod)
	return ok && kubevirt.IsLauncher(p)
}
