package pod

import (
	"context"
	"errors"
	"fmt"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// EventRecorder is the part of client-go's events.EventRecorder used here.
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reconciler reconciles one pod.
type Reconciler struct {
	Client        client.Client
	NB            libovsdb.Client
	Store         *state.Store
	Recorder      EventRecorder
	PortName      PortNamer
	DefaultSubnet string
	JoinSubnet    string
	// RetryAfter is how soon a transient failure is retried (default 5s).
	RetryAfter time.Duration
	// Launchers, when set, identifies pods owned by something else than
	// themselves (KubeVirt launcher pods, keyed by their VM).
	Launchers Identifier
	// APIReader, when set, reads an IP object the cache does not hold yet.
	APIReader client.Reader

	waiting waiters
}

// Reconcile gives a live pod its addresses, IP objects, ports and
// annotations, and releases them once the pod is gone.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Store.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	var pod corev1.Pod
	if err := r.Client.Get(ctx, req.NamespacedName, &pod); err != nil {
		if apierrors.IsNotFound(err) {
			r.waiting.remove(req.NamespacedName)
			// A launcher pod holds nothing under its own key: its VM does.
			return ctrl.Result{}, Release(ctx, r.Client, r.NB, r.Store, req.Namespace+"/"+req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get pod: %w", err)
	}
	if pod.Spec.HostNetwork || pod.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // a terminating pod keeps its address until it is gone
	}
	id, err := r.identify(ctx, &pod)
	if err != nil || id.Skip {
		return ctrl.Result{}, err
	}
	unlock := r.Store.Lock(id.Key)
	defer unlock()
	in, err := r.inputs(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	nics, err := Plan(&pod, id.Port, in)
	if err != nil {
		return r.fail(ctx, &pod, err)
	}
	if nics, err = r.applyHeld(ctx, &pod, id, nics, in); err != nil {
		if _, ok := errors.AsType[*PlanError](err); ok {
			return r.fail(ctx, &pod, err)
		}
		return ctrl.Result{}, err
	}
	r.waiting.remove(req.NamespacedName) // planned: it waits for no subnet or pool
	allocs, fresh, err := r.allocate(nics)
	if err != nil {
		return r.fail(ctx, &pod, err)
	}
	if err := r.persist(ctx, id, nics, allocs, fresh); err != nil {
		return ctrl.Result{}, err
	}
	for i := range nics {
		r.Store.Track(id.Key, nics[i].Request.Owner, nics[i].Request.Subnet)
	}
	place, err := id.Place(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.program(ctx, id, nics, allocs, place.Options); err != nil {
		if errors.Is(err, ops.ErrNotFound) {
			// The subnet's switch is not in NB yet (subnet reconcile pending, or NB wiped).
			log.FromContext(ctx).V(1).Info("waiting for logical switch", "error", err.Error())
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err // the IP objects are committed: a retry reuses the addresses
	}
	if !place.Route {
		log.FromContext(ctx).V(1).Info("port not placed on the pod's node yet", "options", place.Options)
		return ctrl.Result{RequeueAfter: place.RequeueAfter}, nil
	}
	want := DesiredAnnotations(nics, allocs)
	for k, v := range place.Annotations {
		want[k] = v
	}
	return ctrl.Result{RequeueAfter: place.RequeueAfter}, r.annotate(ctx, &pod, want)
}

// identify returns who owns the pod's addresses: its launcher identity, or itself.
func (r *Reconciler) identify(ctx context.Context, pod *corev1.Pod) (*Identity, error) {
	if r.Launchers != nil {
		id, err := r.Launchers.Identify(ctx, pod)
		if err != nil || id != nil {
			return id, err
		}
	}
	return PodIdentity(pod, r.portName(pod)), nil
}

func (r *Reconciler) portName(pod *corev1.Pod) string {
	if r.PortName != nil {
		return r.PortName(pod)
	}
	return DefaultPortName(pod)
}

// inputs lists the subnets, pools and VPCs a pod's plan reads. The lists
// share the cache's objects (no deep copy: every pod reconcile reads them
// all, and with 100 subnets the copies dominated a restart); Plan and what
// follows only read them.
func (r *Reconciler) inputs(ctx context.Context) (Inputs, error) {
	var subnets kubeovnv1.SubnetList
	if err := r.Client.List(ctx, &subnets, client.UnsafeDisableDeepCopy); err != nil {
		return Inputs{}, fmt.Errorf("list subnets: %w", err)
	}
	var pools kubeovnv1.IPPoolList
	if err := r.Client.List(ctx, &pools, client.UnsafeDisableDeepCopy); err != nil {
		return Inputs{}, fmt.Errorf("list ip pools: %w", err)
	}
	var vpcs kubeovnv1.VpcList
	if err := r.Client.List(ctx, &vpcs, client.UnsafeDisableDeepCopy); err != nil {
		return Inputs{}, fmt.Errorf("list vpcs: %w", err)
	}
	return Inputs{Subnets: subnets.Items, Pools: pools.Items, Vpcs: vpcs.Items, DefaultSubnet: r.DefaultSubnet, JoinSubnet: r.JoinSubnet}, nil
}

// allocate reserves every NIC's addresses at once (B12) and reports which
// NICs were not held before this attempt.
func (r *Reconciler) allocate(nics []NIC) ([]ipam.Allocation, []bool, error) {
	reqs := make([]ipam.Request, len(nics))
	fresh := make([]bool, len(nics))
	for i := range nics {
		reqs[i] = nics[i].Request
		_, held := r.Store.IPAM.Lookup(reqs[i].Subnet, reqs[i].Owner)
		fresh[i] = !held
	}
	allocs, err := r.Store.IPAM.AllocateAll(reqs)
	for i := range reqs {
		result := "ok"
		if err != nil {
			result = Reason(err)
		}
		if fresh[i] {
			metrics.Allocations.WithLabelValues(reqs[i].Subnet, result).Inc()
		}
	}
	return allocs, fresh, err
}

// persist creates or updates one IP object per NIC. If that fails, what
// this attempt reserved or created is undone, so a retry starts clean.
func (r *Reconciler) persist(ctx context.Context, id *Identity, nics []NIC, allocs []ipam.Allocation, fresh []bool) error {
	var created []*kubeovnv1.IP
	for i := range nics {
		want := IdentityIP(id, &nics[i], allocs[i])
		ok, err := r.ensureIP(ctx, want)
		if err == nil {
			if ok {
				created = append(created, want)
			}
			continue
		}
		for _, ip := range created {
			_ = client.IgnoreNotFound(r.Client.Delete(ctx, ip))
		}
		for j := range nics {
			if fresh[j] {
				r.Store.IPAM.Release(nics[j].Request.Subnet, nics[j].Request.Owner)
			}
		}
		return err
	}
	return nil
}

// ensureIP creates want or updates the existing object to it; it reports
// whether it created the object.
func (r *Reconciler) ensureIP(ctx context.Context, want *kubeovnv1.IP) (bool, error) {
	var have kubeovnv1.IP
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), &have)
	if apierrors.IsNotFound(err) {
		err = r.Client.Create(ctx, want)
		if err == nil {
			return true, nil
		}
		if !apierrors.IsAlreadyExists(err) || r.APIReader == nil {
			return false, fmt.Errorf("create ip %q: %w", want.Name, err)
		}
		// Written a moment ago (another launcher pod of the same VM) and
		// not in the cache yet: read it from the API server.
		err = r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), &have)
	}
	if err != nil {
		return false, fmt.Errorf("get ip %q: %w", want.Name, err)
	}
	if equality.Semantic.DeepEqual(have.Spec, want.Spec) &&
		equality.Semantic.DeepEqual(have.OwnerReferences, want.OwnerReferences) &&
		equality.Semantic.DeepEqual(have.Labels, want.Labels) {
		return false, nil
	}
	upd := have.DeepCopy()
	upd.Spec, upd.OwnerReferences, upd.Labels = want.Spec, want.OwnerReferences, want.Labels
	if err := r.Client.Update(ctx, upd); err != nil {
		return false, fmt.Errorf("update ip %q: %w", want.Name, err)
	}
	if have.Spec.Subnet != want.Spec.Subnet {
		// A pod recreated under the same name on another subnet: the old holding is stale.
		r.Store.IPAM.Release(have.Spec.Subnet, have.Name)
	}
	return false, nil
}

// program creates or updates every NIC's port in one transaction.
func (r *Reconciler) program(ctx context.Context, id *Identity, nics []NIC, allocs []ipam.Allocation, options map[string]string) error {
	var batch []ovsdbOp
	for i := range nics {
		if !nics[i].HasPort {
			continue
		}
		o, err := ops.EnsureLogicalSwitchPortsOn(r.NB, nics[i].Subnet.Name, IdentityPort(id, &nics[i], allocs[i], options))
		if err != nil {
			return fmt.Errorf("ports of %s: %w", id.Owner.Key, err)
		}
		batch = append(batch, o...)
	}
	start := time.Now()
	err := ops.Transact(ctx, r.NB, batch)
	metrics.ObserveNB("pod", start, err)
	if err != nil {
		return fmt.Errorf("ports of %s: %w", id.Owner.Key, err)
	}
	return nil
}

// annotate merges want into the pod's annotations when anything differs.
func (r *Reconciler) annotate(ctx context.Context, pod *corev1.Pod, want map[string]string) error {
	differs := false
	for k, v := range want {
		if pod.Annotations[k] != v {
			differs = true
			break
		}
	}
	if !differs {
		return nil
	}
	upd := pod.DeepCopy()
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	for k, v := range want {
		upd.Annotations[k] = v
	}
	if err := r.Client.Patch(ctx, upd, client.MergeFrom(pod)); err != nil {
		return fmt.Errorf("annotate pod %s: %w", PodKey(pod), err)
	}
	log.FromContext(ctx).V(1).Info("pod addressed", "annotations", want)
	return nil
}

// fail reports a failed plan or allocation on the pod: a Warning event,
// no port, and a retry only when the cause may go away by itself.
func (r *Reconciler) fail(ctx context.Context, pod *corev1.Pod, err error) (ctrl.Result, error) {
	reason := Reason(err)
	if waitReasons[reason] {
		r.waiting.add(client.ObjectKeyFromObject(pod))
	}
	log.FromContext(ctx).Info("pod not addressed", "reason", reason, "error", err.Error())
	if reason != "SubnetNotReady" && reason != "IPPoolNotReady" {
		// Waiting for a subnet or pool being set up (first start) is not news.
		r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, reason, "AllocateIP", "%s", err.Error())
	}
	if Transient(err) {
		retry := r.RetryAfter
		if retry == 0 {
			retry = 5 * time.Second
		}
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	return ctrl.Result{}, nil
}

// Reason maps an error to an event reason.
func Reason(err error) string {
	var pe *PlanError
	switch {
	case errors.As(err, &pe):
		return pe.Reason
	case errors.Is(err, ipam.ErrGateway):
		return "IPIsGateway"
	case errors.Is(err, ipam.ErrMACConflict):
		return "MACConflict"
	case errors.Is(err, ipam.ErrConflict):
		return "IPConflict"
	case errors.Is(err, ipam.ErrReserved):
		return "IPReserved"
	case errors.Is(err, ipam.ErrOutOfRange):
		return "IPOutOfRange"
	case errors.Is(err, ipam.ErrNoAvailable):
		return "NoAvailableAddress"
	case errors.Is(err, ipam.ErrNoSuchSubnet):
		return "SubnetNotReady"
	case errors.Is(err, ipam.ErrNoSuchPool):
		return "IPPoolNotReady"
	case errors.Is(err, ipam.ErrInvalid):
		return "InvalidIPRequest"
	}
	return "AllocationFailed"
}

// Transient reports whether a failure may resolve without the pod
// changing: a holder going away (B08), addresses freed, a subnet or pool
// becoming ready. Malformed or forbidden requests are not retried.
func Transient(err error) bool {
	var pe *PlanError
	if errors.As(err, &pe) {
		return pe.Transient
	}
	return errors.Is(err, ipam.ErrConflict) || errors.Is(err, ipam.ErrMACConflict) ||
		errors.Is(err, ipam.ErrNoAvailable) || errors.Is(err, ipam.ErrNoSuchSubnet) ||
		errors.Is(err, ipam.ErrNoSuchPool)
}
