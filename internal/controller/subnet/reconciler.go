package subnet

import (
	"context"
	"errors"
	"fmt"
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
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

// EventRecorder is the part of client-go's events.EventRecorder used here.
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reconciler reconciles one Subnet.
type Reconciler struct {
	Client client.Client
	NB     libovsdb.Client
	Store  *state.Store
	// Resync, when set, re-queues objects whose NB rows vanished.
	Resync     *nbresync.Resyncer
	Recorder   EventRecorder
	DefaultVpc string

	usageThrottle throttle
}

// Reasons of conditions and events.
const (
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonCIDROverlap       = "CIDROverlap"
	ReasonNamespaceConflict = "NamespaceConflict"
	ReasonVpcNotReady       = "VpcNotReady"
	ReasonReconcileFailed   = "ReconcileFailed"
	ReasonReady             = "Ready"
)

// vpcRetry is how soon a subnet whose VPC router is missing is looked at again.
const vpcRetry = 2 * time.Second

// Reconcile brings one subnet's IPAM entry, NB rows and status in line with its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Store.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	var sn kubeovnv1.Subnet
	if err := r.Client.Get(ctx, req.NamespacedName, &sn); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.remove(ctx, req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get subnet: %w", err)
	}
	network, err := validation.ParseNetwork(&sn.Spec)
	if err != nil {
		return ctrl.Result{}, r.refuse(ctx, &sn, ReasonInvalidSpec, err)
	}
	var all kubeovnv1.SubnetList
	// Read-only: no deep copy of every subnet on every reconcile.
	if err := r.Client.List(ctx, &all, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list subnets: %w", err)
	}
	if err := validation.SubnetConflicts(&sn, all.Items, r.DefaultVpc); err != nil {
		reason := ReasonCIDROverlap
		if errors.Is(err, validation.ErrNamespaceBound) {
			reason = ReasonNamespaceConflict
		}
		if len(r.Store.IPAM.List(sn.Name)) == 0 {
			r.Store.IPAM.DeleteSubnet(sn.Name) // nobody may allocate from a refused subnet
		}
		return ctrl.Result{}, r.refuse(ctx, &sn, reason, err)
	}
	if patched, err := r.applyDefaults(ctx, &sn, network); patched || err != nil {
		return ctrl.Result{}, err // the update brings the subnet back
	}
	invalid, err := r.Store.IPAM.AddOrUpdateSubnet(addressing.SubnetConfig(&sn))
	if err != nil {
		return ctrl.Result{}, r.refuse(ctx, &sn, ReasonInvalidSpec, err)
	}
	if len(invalid) > 0 {
		r.Recorder.Eventf(&sn, nil, corev1.EventTypeWarning, "AddressesInvalidated", "Reconcile",
			"addresses of %d owners no longer fit the subnet: %v", len(invalid), invalid)
	}
	vpc := validation.VpcOf(&sn.Spec, r.DefaultVpc)
	if err := r.program(ctx, &sn, vpc, network); err != nil {
		if errors.Is(err, ops.ErrNotFound) {
			return ctrl.Result{RequeueAfter: vpcRetry}, r.setStatus(ctx, &sn, metav1.ConditionFalse, ReasonVpcNotReady, err.Error(), "")
		}
		_ = r.setStatus(ctx, &sn, metav1.ConditionFalse, ReasonReconcileFailed, err.Error(), err.Error())
		return ctrl.Result{}, err
	}
	st := r.readyStatus(&sn, metav1.ConditionTrue, ReasonReady, "logical switch and router port are in OVN", "")
	if wait := r.usageThrottle.wait(&sn, st); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil // coalesce usage updates during bursts
	}
	return ctrl.Result{}, r.patchStatus(ctx, &sn, st)
}

// program applies the subnet's desired NB rows in one transaction: switch,
// router port (with its route table) and the ACLs of a private subnet.
func (r *Reconciler) program(ctx context.Context, sn *kubeovnv1.Subnet, vpc string, n validation.Network) error {
	name := sn.Name
	d := Build(name, vpc, n)
	d.RouterPort.Options = RouterPortOptions(&sn.Spec)
	swOps, err := ops.EnsureLogicalSwitch(r.NB, d.Switch, d.SwitchRouterPort)
	if err != nil {
		return err
	}
	rpOps, err := ops.EnsureLogicalRouterPort(r.NB, vpc, d.RouterPort)
	if err != nil {
		return err
	}
	aclOps, err := ops.EnsureSwitchACLs(r.NB, name, ops.Owner{Kind: ops.OwnerKindSubnet, Key: name}, ACLs(name, n, &sn.Spec))
	if err != nil {
		return err
	}
	staleOps, err := r.staleRouterPorts(d)
	if err != nil {
		return err
	}
	start := time.Now()
	err = ops.Transact(ctx, r.NB, append(append(append(swOps, rpOps...), aclOps...), staleOps...))
	metrics.ObserveNB("subnet", start, err)
	if err != nil {
		return fmt.Errorf("program subnet %q: %w", name, err)
	}
	return nil
}

// staleRouterPorts deletes, in the subnet's transaction, the router ports
// it owns under a name it no longer uses: those of an earlier kvnet
// ("<vpc>-<subnet>", "<subnet>-<vpc>", which could collide, see
// addressing.RouterPortName). The new ports carry the same MAC and
// networks, so the gateway the pods know does not change.
func (r *Reconciler) staleRouterPorts(d Desired) ([]ovsdbOp, error) {
	owner, _ := ops.OwnerOf(d.RouterPort.ExternalIDs)
	lsps, err := ops.OwnedBy[nbdb.LogicalSwitchPort](r.NB, owner)
	if err != nil {
		return nil, err
	}
	var oldLSPs, oldLRPs []string
	for _, p := range lsps {
		if p.Name != d.SwitchRouterPort.Name {
			oldLSPs = append(oldLSPs, p.Name)
		}
	}
	lrps, err := ops.OwnedBy[nbdb.LogicalRouterPort](r.NB, owner)
	if err != nil {
		return nil, err
	}
	for _, p := range lrps {
		if p.Name != d.RouterPort.Name {
			oldLRPs = append(oldLRPs, p.Name)
		}
	}
	if len(oldLSPs)+len(oldLRPs) == 0 {
		return nil, nil
	}
	del, err := ops.DeleteLogicalSwitchPorts(r.NB, oldLSPs...)
	if err != nil {
		return nil, err
	}
	delR, err := ops.DeleteLogicalRouterPorts(r.NB, oldLRPs...)
	if err != nil {
		return nil, err
	}
	return append(del, delR...), nil
}

// remove deletes what a deleted subnet owned in NB and in the IPAM.
func (r *Reconciler) remove(ctx context.Context, name string) error {
	var batch []ovsdbOp
	owner := ops.Owner{Kind: ops.OwnerKindSubnet, Key: name}
	switches, err := ops.OwnedBy[nbdb.LogicalSwitch](r.NB, owner)
	if err != nil {
		return err
	}
	for _, ls := range switches {
		o, err := ops.DeleteLogicalSwitch(r.NB, ls.UUID)
		if err != nil {
			return err
		}
		batch = append(batch, o...)
	}
	lrps, err := ops.OwnedBy[nbdb.LogicalRouterPort](r.NB, owner)
	if err != nil {
		return err
	}
	for _, p := range lrps {
		o, err := ops.DeleteLogicalRouterPorts(r.NB, p.Name)
		if err != nil {
			return err
		}
		batch = append(batch, o...)
	}
	start := time.Now()
	err = ops.Transact(ctx, r.NB, batch)
	metrics.ObserveNB("subnet", start, err)
	if err != nil {
		return fmt.Errorf("remove subnet %q: %w", name, err)
	}
	r.Store.IPAM.DeleteSubnet(name)
	log.FromContext(ctx).Info("subnet removed", "subnet", name)
	return nil
}

// applyDefaults writes the derived protocol, gateway, vpc and provider into
// the spec, as Kube-OVN users expect to see them. It reports whether it patched.
func (r *Reconciler) applyDefaults(ctx context.Context, sn *kubeovnv1.Subnet, n validation.Network) (bool, error) {
	want := sn.DeepCopy()
	s := &want.Spec
	if s.Protocol == "" {
		s.Protocol = n.Protocol()
	}
	if s.Gateway == "" {
		s.Gateway = n.GatewayString()
	}
	if s.Vpc == "" {
		s.Vpc = r.DefaultVpc
	}
	if s.Provider == "" {
		s.Provider = "ovn"
	}
	if s.GatewayType == "" {
		s.GatewayType = "distributed"
	}
	if equality.Semantic.DeepEqual(sn.Spec, want.Spec) {
		return false, nil
	}
	if err := r.Client.Patch(ctx, want, client.MergeFrom(sn)); err != nil {
		return true, fmt.Errorf("default subnet spec: %w", err)
	}
	return true, nil
}

// refuse records a spec problem: condition, event, and no retry (the spec must change).
func (r *Reconciler) refuse(ctx context.Context, sn *kubeovnv1.Subnet, reason string, cause error) error {
	log.FromContext(ctx).Info("subnet refused", "subnet", sn.Name, "reason", reason, "error", cause.Error())
	if !meta.IsStatusConditionFalse(sn.Status.Conditions, kubeovnv1.ConditionValidated) {
		r.Recorder.Eventf(sn, nil, corev1.EventTypeWarning, reason, "Validate", "%s", cause.Error())
	}
	st := sn.Status.DeepCopy()
	setCond(st, sn.Generation, kubeovnv1.ConditionValidated, metav1.ConditionFalse, reason, cause.Error())
	setCond(st, sn.Generation, kubeovnv1.ConditionReady, metav1.ConditionFalse, reason, cause.Error())
	setCond(st, sn.Generation, kubeovnv1.ConditionError, metav1.ConditionFalse, reason, "")
	return r.patchStatus(ctx, sn, st)
}

// setStatus records a validated subnet's readiness and IPAM usage.
func (r *Reconciler) setStatus(ctx context.Context, sn *kubeovnv1.Subnet, ready metav1.ConditionStatus, reason, msg, errMsg string) error {
	return r.patchStatus(ctx, sn, r.readyStatus(sn, ready, reason, msg, errMsg))
}

// readyStatus is the status of a validated subnet: readiness and IPAM usage.
func (r *Reconciler) readyStatus(sn *kubeovnv1.Subnet, ready metav1.ConditionStatus, reason, msg, errMsg string) *kubeovnv1.SubnetStatus {
	st := sn.Status.DeepCopy()
	if u, err := r.Store.IPAM.Usage(sn.Name); err == nil {
		st.V4UsingIPs, st.V6UsingIPs = float64(u.V4Using), float64(u.V6Using)
		st.V4AvailableIPs, st.V6AvailableIPs = u.V4Available.Float64(), u.V6Available.Float64()
		st.V4UsingIPRange, st.V6UsingIPRange = u.V4UsingRange, u.V6UsingRange
		st.V4AvailableIPRange, st.V6AvailableIPRange = u.V4AvailableRange, u.V6AvailableRange
	}
	setCond(st, sn.Generation, kubeovnv1.ConditionValidated, metav1.ConditionTrue, "Valid", "spec is valid")
	setCond(st, sn.Generation, kubeovnv1.ConditionReady, ready, reason, msg)
	errStatus := metav1.ConditionFalse
	if errMsg != "" {
		errStatus = metav1.ConditionTrue
	}
	setCond(st, sn.Generation, kubeovnv1.ConditionError, errStatus, reason, errMsg)
	st.ObservedGeneration = sn.Generation
	return st
}

func (r *Reconciler) patchStatus(ctx context.Context, sn *kubeovnv1.Subnet, st *kubeovnv1.SubnetStatus) error {
	st.ObservedGeneration = sn.Generation
	if equality.Semantic.DeepEqual(&sn.Status, st) {
		return nil
	}
	want := sn.DeepCopy()
	want.Status = *st
	if err := r.Client.Status().Patch(ctx, want, client.MergeFrom(sn)); err != nil {
		return fmt.Errorf("patch subnet status: %w", err)
	}
	return nil
}

func setCond(st *kubeovnv1.SubnetStatus, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen,
	})
}
