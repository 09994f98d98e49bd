package kubevirt

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// Sandbox-only knobs on a VirtualMachineInstanceMigration (not KubeVirt API).
const (
	// AnnoFailMigration "true" makes the migration fail once the target is
	// ready, to test rollback.
	AnnoFailMigration = "kvnet.io/sandbox-fail-migration"
	// AnnoCopyDuration (a Go duration, default 300ms) is how long the
	// "memory copy" between TargetReady and the cut-over lasts.
	AnnoCopyDuration = "kvnet.io/sandbox-copy-duration"
)

// migrationReconciler runs VirtualMachineInstanceMigrations through
// KubeVirt's phases: Pending → Scheduling → Scheduled → PreparingTarget →
// TargetReady → Running → Succeeded, or Failed.
type migrationReconciler struct {
	client.Client
	reader   client.Reader
	recorder record.EventRecorder
	sb       sandbox.Config
}

func (r *migrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	m := &kubevirtv1.VirtualMachineInstanceMigration{}
	if err := r.reader.Get(ctx, req.NamespacedName, m); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if m.IsFinal() || m.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := r.reader.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Spec.VMIName}, vmi); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.fail(ctx, m, nil, "VMI "+m.Spec.VMIName+" does not exist")
		}
		return ctrl.Result{}, err
	}
	if vmi.Status.Phase != kubevirtv1.Running {
		if finished(vmi) {
			return ctrl.Result{}, r.fail(ctx, m, nil, "VMI is not running")
		}
		return ctrl.Result{RequeueAfter: 500 * time.Millisecond}, nil
	}
	if ms := vmi.Status.MigrationState; ms != nil && ms.MigrationUID != m.UID && !ms.Completed && !ms.Failed {
		return ctrl.Result{RequeueAfter: 500 * time.Millisecond}, nil // another migration of this VMI runs
	}
	pods, err := (&vmiReconciler{reader: r.reader}).launcherPods(ctx, vmi)
	if err != nil {
		return ctrl.Result{}, err
	}
	var source, target *corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Labels[kubevirtv1.MigrationJobLabel] == string(m.UID) {
			target = p
		} else if p.Spec.NodeName == vmi.Status.NodeName && p.DeletionTimestamp == nil && source == nil {
			source = p
		}
	}
	switch m.Status.Phase {
	case kubevirtv1.MigrationPhaseUnset, kubevirtv1.MigrationPending:
		return r.start(ctx, m, vmi, source, target)
	case kubevirtv1.MigrationScheduling:
		if target == nil {
			return ctrl.Result{}, r.fail(ctx, m, vmi, "target pod disappeared")
		}
		if target.Spec.NodeName == "" {
			return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return ctrl.Result{Requeue: true}, r.advance(ctx, m, vmi, kubevirtv1.MigrationScheduled, func(ms *kubevirtv1.VirtualMachineInstanceMigrationState) {
			ms.TargetNode, ms.TargetPod = target.Spec.NodeName, target.Name
		})
	case kubevirtv1.MigrationScheduled:
		return ctrl.Result{Requeue: true}, r.advance(ctx, m, vmi, kubevirtv1.MigrationPreparingTarget, nil)
	case kubevirtv1.MigrationPreparingTarget:
		return r.prepareTarget(ctx, m, vmi, target)
	case kubevirtv1.MigrationTargetReady:
		if m.Annotations[AnnoFailMigration] == "true" {
			return ctrl.Result{}, r.fail(ctx, m, vmi, "failed on purpose ("+AnnoFailMigration+")")
		}
		now := metav1.Now()
		return ctrl.Result{Requeue: true}, r.advance(ctx, m, vmi, kubevirtv1.MigrationRunning, func(ms *kubevirtv1.VirtualMachineInstanceMigrationState) {
			ms.StartTimestamp = &now
		})
	case kubevirtv1.MigrationRunning:
		return r.cutOver(ctx, m, vmi, source, target)
	}
	return ctrl.Result{}, nil
}

// start records the source, creates the target pod (same VMI, labelled with
// the migration's UID, kept off the source node) and enters Scheduling.
func (r *migrationReconciler) start(ctx context.Context, m *kubevirtv1.VirtualMachineInstanceMigration, vmi *kubevirtv1.VirtualMachineInstance, source, target *corev1.Pod) (ctrl.Result, error) {
	if source == nil {
		return ctrl.Result{}, r.fail(ctx, m, vmi, "no running source pod")
	}
	if target == nil {
		pod := LauncherPod(vmi, map[string]string{kubevirtv1.MigrationJobLabel: string(m.UID)})
		pod.Annotations[kubevirtv1.MigrationJobNameAnnotation] = m.Name
		pod.Spec.Affinity = awayFrom(pod.Spec.Affinity, vmi.Status.NodeName)
		if err := controllerutil.SetControllerReference(vmi, pod, r.Scheme()); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.Create(ctx, pod); err != nil {
			return ctrl.Result{}, fmt.Errorf("create migration target pod: %w", err)
		}
		r.recorder.Eventf(m, corev1.EventTypeNormal, "SuccessfulCreate", "Created migration target pod %s", pod.Name)
	}
	return ctrl.Result{Requeue: true}, r.advance(ctx, m, vmi, kubevirtv1.MigrationScheduling, func(ms *kubevirtv1.VirtualMachineInstanceMigrationState) {
		ms.SourceNode, ms.SourcePod, ms.Mode = vmi.Status.NodeName, source.Name, kubevirtv1.MigrationPreCopy
	})
}

// awayFrom adds a required node affinity that keeps the target off node.
func awayFrom(a *corev1.Affinity, node string) *corev1.Affinity {
	a = a.DeepCopy()
	if a == nil {
		a = &corev1.Affinity{}
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	req := corev1.NodeSelectorRequirement{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpNotIn, Values: []string{node}}
	sel := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if sel == nil || len(sel.NodeSelectorTerms) == 0 {
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req}}}}
		return a
	}
	for i := range sel.NodeSelectorTerms {
		sel.NodeSelectorTerms[i].MatchExpressions = append(sel.NodeSelectorTerms[i].MatchExpressions, req)
	}
	return a
}

// prepareTarget waits for the target pod's network (its CNI ADD returned and
// the pod runs), then marks the target ready as virt-handler does.
func (r *migrationReconciler) prepareTarget(ctx context.Context, m *kubevirtv1.VirtualMachineInstanceMigration, vmi *kubevirtv1.VirtualMachineInstance, target *corev1.Pod) (ctrl.Result, error) {
	switch {
	case target == nil || target.Status.Phase == corev1.PodFailed:
		return ctrl.Result{}, r.fail(ctx, m, vmi, "target pod failed or disappeared")
	case target.Status.Phase != corev1.PodRunning:
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	now := metav1.Now()
	patch := client.MergeFrom(target.DeepCopy())
	target.Annotations[kubevirtv1.MigrationTargetReadyTimestamp] = now.UTC().Format(time.RFC3339)
	if err := r.Patch(ctx, target, patch); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{Requeue: true}, r.advance(ctx, m, vmi, kubevirtv1.MigrationTargetReady, func(ms *kubevirtv1.VirtualMachineInstanceMigrationState) {
		ms.TargetNodeDomainReadyTimestamp = &now
		ms.TargetNodeDomainDetected = true
	})
}

// cutOver ends the memory copy: the source guest stops, the target guest
// announces itself with RARP, the VMI moves to the target node, the
// migration succeeds and the source pod is deleted.
func (r *migrationReconciler) cutOver(ctx context.Context, m *kubevirtv1.VirtualMachineInstanceMigration, vmi *kubevirtv1.VirtualMachineInstance, source, target *corev1.Pod) (ctrl.Result, error) {
	copyFor := 300 * time.Millisecond
	if d, err := time.ParseDuration(m.Annotations[AnnoCopyDuration]); err == nil {
		copyFor = d
	}
	if ms := m.Status.MigrationState; ms != nil && ms.StartTimestamp != nil {
		if left := copyFor - time.Since(ms.StartTimestamp.Time); left > 0 {
			return ctrl.Result{RequeueAfter: left}, nil
		}
	}
	if target == nil {
		return ctrl.Result{}, r.fail(ctx, m, vmi, "target pod disappeared")
	}
	if source != nil {
		if err := pauseGuest(podNetnsPath(r.sb, source)); err != nil {
			klog.ErrorS(err, "pause source guest", "pod", source.Name)
		}
	}
	if err := announceGuest(podNetnsPath(r.sb, target), nil); err != nil {
		return ctrl.Result{}, r.fail(ctx, m, vmi, err.Error())
	}
	klog.InfoS("cut-over: source guest paused, target announced with RARP", "migration", klog.KObj(m), "source", vmi.Status.NodeName, "target", target.Spec.NodeName)
	now := metav1.Now()
	if err := r.advance(ctx, m, vmi, kubevirtv1.MigrationSucceeded, func(ms *kubevirtv1.VirtualMachineInstanceMigrationState) {
		ms.Completed, ms.EndTimestamp = true, &now
	}); err != nil {
		return ctrl.Result{}, err
	}
	r.recorder.Eventf(m, corev1.EventTypeNormal, "Succeeded", "Migrated %s from %s to %s", vmi.Name, vmi.Status.NodeName, target.Spec.NodeName)
	if source != nil {
		if err := r.Delete(ctx, source, client.Preconditions{UID: &source.UID}); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// fail ends the migration: the target pod goes, the VMI stays on the source.
func (r *migrationReconciler) fail(ctx context.Context, m *kubevirtv1.VirtualMachineInstanceMigration, vmi *kubevirtv1.VirtualMachineInstance, reason string) error {
	r.recorder.Eventf(m, corev1.EventTypeWarning, "Failed", "Migration failed: %s", reason)
	if vmi != nil {
		pods, err := (&vmiReconciler{reader: r.reader}).launcherPods(ctx, vmi)
		if err != nil {
			return err
		}
		for i := range pods {
			if pods[i].Labels[kubevirtv1.MigrationJobLabel] == string(m.UID) {
				if err := r.Delete(ctx, &pods[i]); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
	}
	now := metav1.Now()
	return r.advance(ctx, m, vmi, kubevirtv1.MigrationFailed, func(ms *kubevirtv1.VirtualMachineInstanceMigrationState) {
		ms.Failed, ms.FailureReason, ms.EndTimestamp = true, reason, &now
	})
}

// advance moves the migration to phase, applying edit to its migration
// state, and mirrors that state into the VMI's status (and, on success, the
// VMI's node).
func (r *migrationReconciler) advance(ctx context.Context, m *kubevirtv1.VirtualMachineInstanceMigration, vmi *kubevirtv1.VirtualMachineInstance,
	phase kubevirtv1.VirtualMachineInstanceMigrationPhase, edit func(*kubevirtv1.VirtualMachineInstanceMigrationState)) error {
	ms := m.Status.MigrationState.DeepCopy()
	if ms == nil {
		ms = &kubevirtv1.VirtualMachineInstanceMigrationState{MigrationUID: m.UID}
	}
	if edit != nil {
		edit(ms)
	}
	if vmi != nil {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur := &kubevirtv1.VirtualMachineInstance{}
			if err := r.reader.Get(ctx, client.ObjectKeyFromObject(vmi), cur); err != nil {
				return err
			}
			cur.Status.MigrationState = ms.DeepCopy()
			if phase == kubevirtv1.MigrationSucceeded {
				cur.Status.NodeName = ms.TargetNode
			}
			return r.Status().Update(ctx, cur)
		}); err != nil {
			return fmt.Errorf("update VMI migration state: %w", err)
		}
	}
	m.Status.Phase = phase
	m.Status.MigrationState = ms
	m.Status.PhaseTransitionTimestamps = append(m.Status.PhaseTransitionTimestamps, kubevirtv1.VirtualMachineInstanceMigrationPhaseTransitionTimestamp{
		Phase: phase, PhaseTransitionTimestamp: metav1.Now()})
	return r.Status().Update(ctx, m)
}
