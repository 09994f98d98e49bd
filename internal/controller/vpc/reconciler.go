package vpc

import (
	"context"
	"fmt"
	"slices"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Reconciler reconciles one Vpc.
type Reconciler struct {
	Client        client.Client
	NB            libovsdb.Client
	DefaultVpc    string
	DefaultSubnet string
}

// DesiredRouter is the NB router of VPC name.
func DesiredRouter(name string) *nbdb.LogicalRouter {
	return &nbdb.LogicalRouter{
		Name:        name,
		ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindVpc, Key: name}, nil),
	}
}

// Reconcile ensures the VPC's router exists and its status is current.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var vpc kubeovnv1.Vpc
	if err := r.Client.Get(ctx, req.NamespacedName, &vpc); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.remove(ctx, req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get vpc: %w", err)
	}
	o, err := ops.EnsureLogicalRouter(r.NB, DesiredRouter(vpc.Name))
	if err != nil {
		return ctrl.Result{}, err
	}
	start := time.Now()
	err = ops.Transact(ctx, r.NB, o)
	metrics.ObserveNB("vpc", start, err)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("program vpc %q: %w", vpc.Name, err)
	}
	return ctrl.Result{}, r.setStatus(ctx, &vpc)
}

func (r *Reconciler) remove(ctx context.Context, name string) error {
	routers, err := ops.OwnedLogicalRouters(r.NB, ops.OwnerKindVpc)
	if err != nil {
		return err
	}
	var batch []ovsdbOp
	for _, lr := range routers {
		if lr.ExternalIDs[ops.KeyOwner] == name {
			o, err := ops.DeleteLogicalRouter(r.NB, lr.UUID)
			if err != nil {
				return err
			}
			batch = append(batch, o...)
		}
	}
	if err := ops.Transact(ctx, r.NB, batch); err != nil {
		return fmt.Errorf("remove vpc %q: %w", name, err)
	}
	return nil
}

func (r *Reconciler) setStatus(ctx context.Context, vpc *kubeovnv1.Vpc) error {
	var subnets kubeovnv1.SubnetList
	if err := r.Client.List(ctx, &subnets); err != nil {
		return fmt.Errorf("list subnets: %w", err)
	}
	st := vpc.Status.DeepCopy()
	st.Router = vpc.Name
	st.Default = vpc.Name == r.DefaultVpc
	st.Subnets = nil
	for i := range subnets.Items {
		s := &subnets.Items[i]
		if s.Spec.Vpc == vpc.Name || (s.Spec.Vpc == "" && st.Default) {
			st.Subnets = append(st.Subnets, s.Name)
		}
	}
	slices.Sort(st.Subnets)
	if st.Default {
		st.DefaultLogicalSwitch = r.DefaultSubnet
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: kubeovnv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready",
		Message: "logical router is in OVN", ObservedGeneration: vpc.Generation,
	})
	if equality.Semantic.DeepEqual(&vpc.Status, st) {
		return nil
	}
	want := vpc.DeepCopy()
	want.Status = *st
	if err := r.Client.Status().Patch(ctx, want, client.MergeFrom(vpc)); err != nil {
		return fmt.Errorf("patch vpc status: %w", err)
	}
	return nil
}

// SetupWithManager registers the reconciler; subnets map to their VPC.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("vpc").
		For(&kubeovnv1.Vpc{}).
		Watches(&kubeovnv1.Subnet{}, handler.EnqueueRequestsFromMapFunc(r.subnetToVpc)).
		Complete(r)
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
