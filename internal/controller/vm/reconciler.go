package vm

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/kubevirt"
)

// Reconciler keeps one VM's addresses (request key: the VM's namespace and
// name): released once the VM is gone (VM, VMI or IP object events, so a
// VM deleted while stopped is seen too, B15), else persisted: an IP object
// that vanished while the VM keeps its address is written again, so the
// address survives a controller restart.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Store     *state.Store
	Releaser  *Releaser
}

// Reconcile releases a gone VM, or restores its IP objects.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Store.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	released, err := r.Releaser.ReleaseIfGone(ctx, req.Namespace, req.Name)
	if err != nil || released {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.restore(ctx, req.Namespace, req.Name)
}

// restore writes back the IP object of each address the VM holds (tracked
// in the store) whose object is gone, and keeps the objects' nodeName on
// the node the VM runs on (it changes with a migration).
func (r *Reconciler) restore(ctx context.Context, namespace, name string) error {
	key := addressing.VMKey(namespace, name)
	defer r.Store.Lock(key)()
	tracked := r.Store.Tracked(key)
	if len(tracked) == 0 {
		return nil
	}
	vm, vmi, err := kubevirt.GetVM(ctx, r.Client, namespace, name)
	if err != nil {
		return err
	}
	holder, ok := addressing.VMIPHolder(namespace, name, r.Releaser.Liveness.KeepVMIP, vm, vmi)
	if !ok {
		return nil
	}
	node := holder.Node
	for owner, subnet := range tracked {
		a, held := r.Store.IPAM.Lookup(subnet, owner)
		if !held {
			continue
		}
		var have kubeovnv1.IP
		if r.Client.Get(ctx, client.ObjectKey{Name: owner}, &have) == nil {
			if node == "" || have.Spec.NodeName == node {
				continue // the usual case, answered by the cache
			}
			upd := have.DeepCopy()
			upd.Spec.NodeName = node
			if err := r.Client.Patch(ctx, upd, client.MergeFrom(&have)); err != nil {
				return fmt.Errorf("update node of ip %q: %w", owner, err)
			}
			continue
		}
		err := r.APIReader.Get(ctx, client.ObjectKey{Name: owner}, &kubeovnv1.IP{})
		if !apierrors.IsNotFound(err) {
			if err != nil {
				return fmt.Errorf("get ip %q: %w", owner, err)
			}
			continue
		}
		ip := holder.IPRecord(owner, subnet, a)
		if err := r.Client.Create(ctx, ip); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("restore ip %q: %w", owner, err)
		}
		log.FromContext(ctx).Info("restored the IP object of a kept address", "ip", owner, "address", a.IPString())
	}
	return nil
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	// No NB resync feed: a VM's ports are written by the pod reconciler
	// (its launcher pods) and placed by the migration reconciler.
	return ctrl.NewControllerManagedBy(mgr).
		Named("vm").
		For(&kubevirtv1.VirtualMachine{}).
		Watches(&kubevirtv1.VirtualMachineInstance{}, &handler.EnqueueRequestForObject{}).
		Watches(&kubeovnv1.IP{}, handler.EnqueueRequestsFromMapFunc(ipToVM)).
		Complete(r)
}

func ipToVM(_ context.Context, o client.Object) []reconcile.Request {
	ip, ok := o.(*kubeovnv1.IP)
	if !ok || addressing.IPVMKey(ip) == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ip.Spec.Namespace, Name: ip.Spec.PodName}}}
}
