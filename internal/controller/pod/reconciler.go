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
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/migration"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/kubevirt"
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
	DefaultSubnet string
	JoinSubnet    string
	// RetryAfter is how soon a transient failure is retried (default 5s).
	RetryAfter time.Duration
	// APIReader reads what the cache may not hold yet (an IP object or a
	// VM written a moment ago).
	APIReader client.Reader
	// Liveness judges the holder of an IP object of the same name held
	// by another claimant.
	Liveness *kubevirt.Liveness
	// VMs, when set (the cluster serves KubeVirt's API), makes a launcher
	// pod's VM the holder of its addresses and places the VM's ports.
	VMs *VMs
	// Resync, when set, re-queues pods whose NB rows vanished.
	Resync *nbresync.Resyncer

	waiting waiters
}

// VMs is what the pod reconciler needs for KubeVirt launcher pods.
type VMs struct {
	// Placer binds a VM's ports for live migration (shared with the
	// migration reconciler).
	Placer *migration.Placer
	// KeepVMIP keeps a VM's addresses for the life of the VirtualMachine.
	KeepVMIP bool
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
			_, err := Release(ctx, r.Client, r.NB, r.Store, ops.OwnerKindPod, req.Namespace, req.Name)
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, fmt.Errorf("get pod: %w", err)
	}
	if pod.Spec.HostNetwork || pod.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // a terminating pod keeps its address until it is gone
	}
	// A launcher pod's addresses are its VM's: every launcher pod of the
	// VM binds the same port, so the work is serialized on the VM's key.
	vmName := ""
	if r.VMs != nil {
		vmName = kubevirt.VMName(&pod)
	}
	lockKey := addressing.PodKey(pod.Namespace, pod.Name)
	if vmName != "" {
		if !kubevirt.Live(&pod) {
			return ctrl.Result{}, nil // a Failed launcher needs no network, and releases nothing (B09)
		}
		lockKey = addressing.VMKey(pod.Namespace, vmName)
	}
	unlock := r.Store.Lock(lockKey)
	defer unlock()
	holder := addressing.PodHolder(&pod)
	var vm *kubevirt.Objects // the VM's objects, read once, under its lock
	if vmName != "" {
		var err error
		if vm, err = kubevirt.ReadFresh(ctx, r.Client, r.APIReader, pod.Namespace, vmName, r.VMs.KeepVMIP, &pod); err != nil {
			return ctrl.Result{}, err
		}
		var ok bool
		if holder, ok = addressing.VMHolder(&pod, vm, r.VMs.KeepVMIP); !ok {
			return ctrl.Result{}, nil // a VMI gone or replaced, or a VM being deleted: the release follows
		}
	}
	in, err := r.inputs(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	nics, err := addressing.Plan(&pod, holder.Port, in)
	if err != nil {
		return r.fail(ctx, &pod, err)
	}
	if nics, err = r.applyHeld(ctx, &pod, &holder, nics, in); err != nil {
		if _, ok := errors.AsType[*addressing.PlanError](err); ok {
			return r.fail(ctx, &pod, err)
		}
		return ctrl.Result{}, err
	}
	r.waiting.remove(req.NamespacedName) // planned: it waits for no subnet or pool
	allocs, fresh, err := r.allocate(nics)
	if err != nil {
		return r.fail(ctx, &pod, err)
	}
	if err := r.persist(ctx, &holder, nics, allocs, fresh); err != nil {
		if _, ok := errors.AsType[*addressing.PlanError](err); ok {
			return r.fail(ctx, &pod, err)
		}
		return ctrl.Result{}, err
	}
	for i := range nics {
		r.Store.Track(holder.Key, nics[i].Request.Owner, nics[i].Request.Subnet)
	}
	place := migration.Placement{Options: addressing.NodeOptions(pod.Spec.NodeName), Route: true}
	if vm != nil {
		if place, err = r.VMs.Placer.PlaceLauncher(&pod, vm); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.program(ctx, &holder, nics, allocs, place.Options); err != nil {
		if _, ok := errors.AsType[*addressing.PlanError](err); ok {
			return r.fail(ctx, &pod, err)
		}
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
	want := addressing.DesiredAnnotations(nics, allocs)
	for k, v := range place.Annotations {
		want[k] = v
	}
	return ctrl.Result{RequeueAfter: place.RequeueAfter}, r.annotate(ctx, &pod, want)
}

// inputs lists the subnets, pools and VPCs a pod's plan reads. The lists
// share the cache's objects (no deep copy: every pod reconcile reads them
// all, and with 100 subnets the copies dominated a restart); Plan and what
// follows only read them.
func (r *Reconciler) inputs(ctx context.Context) (addressing.Inputs, error) {
	var subnets kubeovnv1.SubnetList
	if err := r.Client.List(ctx, &subnets, client.UnsafeDisableDeepCopy); err != nil {
		return addressing.Inputs{}, fmt.Errorf("list subnets: %w", err)
	}
	var pools kubeovnv1.IPPoolList
	if err := r.Client.List(ctx, &pools, client.UnsafeDisableDeepCopy); err != nil {
		return addressing.Inputs{}, fmt.Errorf("list ip pools: %w", err)
	}
	var vpcs kubeovnv1.VpcList
	if err := r.Client.List(ctx, &vpcs, client.UnsafeDisableDeepCopy); err != nil {
		return addressing.Inputs{}, fmt.Errorf("list vpcs: %w", err)
	}
	return addressing.Inputs{Subnets: subnets.Items, Pools: pools.Items, Vpcs: vpcs.Items, DefaultSubnet: r.DefaultSubnet, JoinSubnet: r.JoinSubnet}, nil
}

// allocate reserves every NIC's addresses at once (B12) and reports which
// NICs were not held before this attempt.
func (r *Reconciler) allocate(nics []addressing.NIC) ([]ipam.Allocation, []bool, error) {
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
			result = addressing.Reason(err)
		}
		if fresh[i] {
			metrics.Allocations.WithLabelValues(reqs[i].Subnet, result).Inc()
		}
	}
	return allocs, fresh, err
}

// persist creates or updates one IP object per NIC. If that fails, what
// this attempt reserved or created is undone, so a retry starts clean.
func (r *Reconciler) persist(ctx context.Context, h *addressing.Holder, nics []addressing.NIC, allocs []ipam.Allocation, fresh []bool) error {
	var created []*kubeovnv1.IP
	for i := range nics {
		want := h.IP(&nics[i], allocs[i])
		ok, err := r.ensureIP(ctx, h, want)
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
				r.Store.Release(h.Key, nics[j].Request.Owner, nics[j].Request.Subnet)
			}
		}
		return err
	}
	return nil
}

// ensureIP creates want or updates the existing object to it; it reports
// whether it created the object. An object of that name recording another
// live holder (a pod and a VM both called "web" in one namespace claim
// "web.<ns>") is never taken over: that is a NameConflict for h.
func (r *Reconciler) ensureIP(ctx context.Context, h *addressing.Holder, want *kubeovnv1.IP) (bool, error) {
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
	if !h.Holds(&have) && have.Spec.PodName != "" {
		other, err := r.Liveness.IPHolder(ctx, &have)
		if err != nil {
			return false, err
		}
		if other.State == kubevirt.HolderAlive || other.State == kubevirt.HolderLeaving {
			return false, addressing.Errorf("NameConflict", true, "port and IP object %q are held by %s %s/%s; "+
				"kvnet gives no two holders one port: rename one of them", want.Name, holderKind(&have), have.Spec.Namespace, have.Spec.PodName)
		}
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
		r.Store.Release(h.Key, have.Name, have.Spec.Subnet)
	}
	return false, nil
}

// holderKind names the kind of an IP object's holder, for messages.
func holderKind(ip *kubeovnv1.IP) string {
	if ip.Spec.PodType == "" {
		return "pod"
	}
	return ip.Spec.PodType
}

// program creates or updates every NIC's port in one transaction.
func (r *Reconciler) program(ctx context.Context, h *addressing.Holder, nics []addressing.NIC, allocs []ipam.Allocation, options map[string]string) error {
	var batch []ovsdbOp
	for i := range nics {
		if !nics[i].HasPort {
			continue
		}
		if have, err := ops.FindLogicalSwitchPort(r.NB, nics[i].Port); err == nil {
			if o, ok := ops.OwnerOf(have.ExternalIDs); ok && o != h.Owner() {
				return addressing.Errorf("NameConflict", true, "port %q is held by %s %s: kvnet gives no two holders one port",
					nics[i].Port, o.Kind, o.Key)
			}
		}
		o, err := ops.EnsureLogicalSwitchPortsOn(r.NB, nics[i].Subnet.Name, h.LogicalSwitchPort(&nics[i], allocs[i], options))
		if err != nil {
			return fmt.Errorf("ports of %s: %w", h.Owner().Key, err)
		}
		batch = append(batch, o...)
	}
	start := time.Now()
	err := ops.Transact(ctx, r.NB, batch)
	metrics.ObserveNB("pod", start, err)
	if err != nil {
		return fmt.Errorf("ports of %s: %w", h.Owner().Key, err)
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
		return fmt.Errorf("annotate pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	log.FromContext(ctx).V(1).Info("pod addressed", "annotations", want)
	return nil
}

// fail reports a failed plan or allocation on the pod: a Warning event,
// no port, and a retry only when the cause may go away by itself.
func (r *Reconciler) fail(ctx context.Context, pod *corev1.Pod, err error) (ctrl.Result, error) {
	reason := addressing.Reason(err)
	if addressing.WaitReasons[reason] {
		r.waiting.add(client.ObjectKeyFromObject(pod))
	}
	log.FromContext(ctx).Info("pod not addressed", "reason", reason, "error", err.Error())
	if reason != "SubnetNotReady" && reason != "IPPoolNotReady" {
		// Waiting for a subnet or pool being set up (first start) is not news.
		r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, reason, "AllocateIP", "%s", err.Error())
	}
	if addressing.Transient(err) {
		retry := r.RetryAfter
		if retry == 0 {
			retry = 5 * time.Second
		}
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	return ctrl.Result{}, nil
}
