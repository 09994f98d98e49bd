package vpc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// Finalizer keeps a Vpc until it holds no subnet and its NB rows are gone.
const Finalizer = "kvnet.io/vpc-cleanup"

// Reasons of conditions and events.
const (
	ReasonReady             = "Ready"
	ReasonValid             = "Valid"
	ReasonInvalidRoutes     = "InvalidRoutes"
	ReasonNamespaceConflict = "NamespaceConflict"
	ReasonSubnetsRemain     = "SubnetsRemain"
	ReasonReconcileFailed   = "ReconcileFailed"
)

// EventRecorder is the part of client-go's events.EventRecorder used here.
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reconciler reconciles one Vpc.
type Reconciler struct {
	Client   client.Client
	NB       libovsdb.Client
	Recorder EventRecorder
	// Resync, when set, re-queues objects whose NB rows vanished.
	Resync        *nbresync.Resyncer
	DefaultVpc    string
	DefaultSubnet string
}

// Reconcile programs the VPC's router, routes and policies, or, for a Vpc
// being deleted, refuses while it holds subnets and then removes its rows.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var vpc kubeovnv1.Vpc
	if err := r.Client.Get(ctx, req.NamespacedName, &vpc); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.remove(ctx, req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get vpc: %w", err)
	}
	subnets, err := r.subnetsOf(ctx, &vpc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if vpc.DeletionTimestamp != nil {
		return ctrl.Result{}, r.finalize(ctx, &vpc, subnets)
	}
	if !controllerutil.ContainsFinalizer(&vpc, Finalizer) {
		orig := vpc.DeepCopy()
		controllerutil.AddFinalizer(&vpc, Finalizer)
		if err := r.Client.Patch(ctx, &vpc, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}
	d, invalid := Build(&vpc)
	st := r.baseStatus(&vpc, subnets)
	r.validate(ctx, &vpc, st, invalid)
	if err := r.program(ctx, vpc.Name, d); err != nil {
		setCond(st, vpc.Generation, kubeovnv1.ConditionReady, metav1.ConditionFalse, ReasonReconcileFailed, err.Error())
		_ = r.patchStatus(ctx, &vpc, st)
		return ctrl.Result{}, err
	}
	msg := fmt.Sprintf("logical router with %d static routes and %d policies is in OVN", len(d.Routes), len(d.Policies))
	setCond(st, vpc.Generation, kubeovnv1.ConditionReady, metav1.ConditionTrue, ReasonReady, msg)
	return ctrl.Result{}, r.patchStatus(ctx, &vpc, st)
}

// validate records spec problems: invalid routes (left out, the rest is
// programmed) and namespaces bound to an older VPC. An event is sent when
// the problem first appears.
func (r *Reconciler) validate(ctx context.Context, vpc *kubeovnv1.Vpc, st *kubeovnv1.VpcStatus, invalid error) {
	reason, msg := ReasonValid, "spec is valid"
	if invalid != nil {
		reason, msg = ReasonInvalidRoutes, "entries left out: "+message(invalid)
	} else {
		var all kubeovnv1.VpcList
		if err := r.Client.List(ctx, &all); err == nil {
			if err := validation.VpcConflicts(vpc, all.Items); err != nil {
				reason, msg = ReasonNamespaceConflict, err.Error()+"; its pods use the older VPC"
			}
		}
	}
	if reason == ReasonValid {
		setCond(st, vpc.Generation, kubeovnv1.ConditionValidated, metav1.ConditionTrue, reason, msg)
		return
	}
	old := meta.FindStatusCondition(vpc.Status.Conditions, kubeovnv1.ConditionValidated)
	if old == nil || old.Status != metav1.ConditionFalse || old.Message != msg {
		log.FromContext(ctx).Info("vpc spec problem", "vpc", vpc.Name, "reason", reason, "message", msg)
		r.Recorder.Eventf(vpc, nil, corev1.EventTypeWarning, reason, "Validate", "%s", msg)
	}
	setCond(st, vpc.Generation, kubeovnv1.ConditionValidated, metav1.ConditionFalse, reason, msg)
}

// program applies the router, routes and policies in one transaction. Only
// rows owned by this VPC are compared, so rows of other owners on the same
// router (NAT, EIP routes) and rows added by hand are never touched (B30).
func (r *Reconciler) program(ctx context.Context, name string, d Desired) error {
	owner := Owner(name)
	batch, err := ops.EnsureLogicalRouter(r.NB, d.Router)
	if err != nil {
		return err
	}
	routes, err := ops.EnsureStaticRoutes(r.NB, name, owner, d.Routes)
	if err != nil {
		return err
	}
	policies, err := ops.EnsureRouterPolicies(r.NB, name, owner, d.Policies)
	if err != nil {
		return err
	}
	batch = append(append(batch, routes...), policies...)
	start := time.Now()
	err = ops.Transact(ctx, r.NB, batch)
	metrics.ObserveNB("vpc", start, err)
	if err != nil {
		return fmt.Errorf("program vpc %q: %w", name, err)
	}
	if len(batch) > 0 {
		log.FromContext(ctx).V(1).Info("vpc programmed", "vpc", name, "ops", len(batch))
	}
	return nil
}

// finalize refuses the deletion of a VPC that holds subnets (condition and
// event; the subnet watch brings the VPC back when one goes), then removes
// every NB row of the VPC and the finalizer.
func (r *Reconciler) finalize(ctx context.Context, vpc *kubeovnv1.Vpc, subnets []kubeovnv1.Subnet) error {
	if !controllerutil.ContainsFinalizer(vpc, Finalizer) {
		return nil
	}
	if len(subnets) > 0 {
		msg := fmt.Sprintf("VPC %q still holds subnets %s: delete them first; the VPC is deleted once it holds none",
			vpc.Name, strings.Join(names(subnets), ", "))
		st := r.baseStatus(vpc, subnets)
		old := meta.FindStatusCondition(vpc.Status.Conditions, kubeovnv1.ConditionReady)
		if old == nil || old.Reason != ReasonSubnetsRemain || old.Message != msg {
			r.Recorder.Eventf(vpc, nil, corev1.EventTypeWarning, ReasonSubnetsRemain, "Delete", "%s", msg)
		}
		setCond(st, vpc.Generation, kubeovnv1.ConditionReady, metav1.ConditionFalse, ReasonSubnetsRemain, msg)
		return r.patchStatus(ctx, vpc, st)
	}
	if err := r.remove(ctx, vpc.Name); err != nil {
		return err
	}
	orig := vpc.DeepCopy()
	controllerutil.RemoveFinalizer(vpc, Finalizer)
	if err := r.Client.Patch(ctx, vpc, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	log.FromContext(ctx).Info("vpc removed", "vpc", vpc.Name)
	return nil
}

// remove deletes the VPC's routes, policies and router. Ports of subnets
// still attached go with the router (OVSDB garbage-collects them).
func (r *Reconciler) remove(ctx context.Context, name string) error {
	owner := Owner(name)
	batch, err := ops.EnsureStaticRoutes(r.NB, name, owner, nil)
	if err != nil {
		return err
	}
	policies, err := ops.EnsureRouterPolicies(r.NB, name, owner, nil)
	if err != nil {
		return err
	}
	batch = append(batch, policies...)
	routers, err := ops.OwnedBy[nbdb.LogicalRouter](r.NB, owner)
	if err != nil {
		return err
	}
	for _, lr := range routers {
		o, err := ops.DeleteLogicalRouter(r.NB, lr.UUID)
		if err != nil {
			return err
		}
		batch = append(batch, o...)
	}
	start := time.Now()
	err = ops.Transact(ctx, r.NB, batch)
	metrics.ObserveNB("vpc", start, err)
	if err != nil {
		return fmt.Errorf("remove vpc %q: %w", name, err)
	}
	return nil
}

// subnetsOf lists the subnets in vpc, sorted by name.
func (r *Reconciler) subnetsOf(ctx context.Context, vpc *kubeovnv1.Vpc) ([]kubeovnv1.Subnet, error) {
	var all kubeovnv1.SubnetList
	if err := r.Client.List(ctx, &all); err != nil {
		return nil, fmt.Errorf("list subnets: %w", err)
	}
	var in []kubeovnv1.Subnet
	for i := range all.Items {
		if validation.VpcOf(&all.Items[i].Spec, r.DefaultVpc) == vpc.Name {
			in = append(in, all.Items[i])
		}
	}
	slices.SortFunc(in, func(a, b kubeovnv1.Subnet) int { return strings.Compare(a.Name, b.Name) })
	return in, nil
}

func names(subnets []kubeovnv1.Subnet) []string {
	out := make([]string, len(subnets))
	for i := range subnets {
		out[i] = subnets[i].Name
	}
	return out
}

// baseStatus is the status without conditions changed: router, subnets,
// default flag and default subnet (the controller's for the default VPC,
// else the oldest subnet of the VPC with spec.default).
func (r *Reconciler) baseStatus(vpc *kubeovnv1.Vpc, subnets []kubeovnv1.Subnet) *kubeovnv1.VpcStatus {
	st := vpc.Status.DeepCopy()
	st.Router = vpc.Name
	st.Default = vpc.Name == r.DefaultVpc
	st.Subnets = names(subnets)
	st.DefaultLogicalSwitch = ""
	if st.Default {
		st.DefaultLogicalSwitch = r.DefaultSubnet
	} else {
		var best *kubeovnv1.Subnet
		for i := range subnets {
			s := &subnets[i]
			if s.Spec.Default && (best == nil || s.CreationTimestamp.Before(&best.CreationTimestamp)) {
				best = s
			}
		}
		if best != nil {
			st.DefaultLogicalSwitch = best.Name
		}
	}
	return st
}

func (r *Reconciler) patchStatus(ctx context.Context, vpc *kubeovnv1.Vpc, st *kubeovnv1.VpcStatus) error {
	if equality.Semantic.DeepEqual(&vpc.Status, st) {
		return nil
	}
	want := vpc.DeepCopy()
	want.Status = *st
	if err := r.Client.Status().Patch(ctx, want, client.MergeFrom(vpc)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch vpc status: %w", err)
	}
	return nil
}

func setCond(st *kubeovnv1.VpcStatus, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen,
	})
}
