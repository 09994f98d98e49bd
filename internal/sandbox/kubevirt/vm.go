package kubevirt

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// vmReconciler keeps a VM's VMI in line with its run strategy.
type vmReconciler struct {
	client.Client
	recorder record.EventRecorder
}

// runStrategy resolves spec.running / spec.runStrategy (running: true means
// Always, false Halted; absent both means Halted). Manual and Once are
// accepted and never start or stop anything by themselves here (the
// start/stop subresources they rely on are not served by the stand-in).
func runStrategy(vm *kubevirtv1.VirtualMachine) kubevirtv1.VirtualMachineRunStrategy {
	if vm.Spec.RunStrategy != nil {
		return *vm.Spec.RunStrategy
	}
	if vm.Spec.Running != nil && *vm.Spec.Running {
		return kubevirtv1.RunStrategyAlways
	}
	return kubevirtv1.RunStrategyHalted
}

func finished(vmi *kubevirtv1.VirtualMachineInstance) bool {
	return vmi.Status.Phase == kubevirtv1.Failed || vmi.Status.Phase == kubevirtv1.Succeeded
}

func (r *vmReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	vm := &kubevirtv1.VirtualMachine{}
	if err := r.Get(ctx, req.NamespacedName, vm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if vm.DeletionTimestamp != nil || vm.Spec.Template == nil {
		return ctrl.Result{}, nil
	}
	vmi := &kubevirtv1.VirtualMachineInstance{}
	err := r.Get(ctx, req.NamespacedName, vmi)
	if apierrors.IsNotFound(err) {
		vmi = nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	if vmi != nil && !metav1.IsControlledBy(vmi, vm) {
		return ctrl.Result{}, nil
	}
	strategy := runStrategy(vm)
	switch {
	case vmi != nil && vmi.DeletionTimestamp != nil:
		// Wait for it to go; the VMI watch brings us back.
	case vmi == nil && (strategy == kubevirtv1.RunStrategyAlways || strategy == kubevirtv1.RunStrategyRerunOnFailure):
		if err := r.createVMI(ctx, vm); err != nil {
			return ctrl.Result{}, err
		}
	case vmi != nil && strategy == kubevirtv1.RunStrategyHalted:
		if err := r.deleteVMI(ctx, vm, vmi, "Stopped"); err != nil {
			return ctrl.Result{}, err
		}
	case vmi != nil && finished(vmi) && (strategy == kubevirtv1.RunStrategyAlways ||
		(strategy == kubevirtv1.RunStrategyRerunOnFailure && vmi.Status.Phase == kubevirtv1.Failed)):
		// Restart: the old VMI goes, the next pass creates a new one.
		if err := r.deleteVMI(ctx, vm, vmi, "Restarting"); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, r.updateStatus(ctx, vm, vmi, strategy)
}

func (r *vmReconciler) createVMI(ctx context.Context, vm *kubevirtv1.VirtualMachine) error {
	t := vm.Spec.Template
	vmi := &kubevirtv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{
			Name: vm.Name, Namespace: vm.Namespace,
			Labels: copyMap(t.ObjectMeta.Labels), Annotations: copyMap(t.ObjectMeta.Annotations),
		},
		Spec: *t.Spec.DeepCopy(),
	}
	if err := controllerutil.SetControllerReference(vm, vmi, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, vmi); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create VMI %s/%s: %w", vm.Namespace, vm.Name, err)
	}
	r.recorder.Eventf(vm, corev1.EventTypeNormal, "SuccessfulCreate", "Started the virtual machine by creating the new virtual machine instance %s", vmi.Name)
	return nil
}

func (r *vmReconciler) deleteVMI(ctx context.Context, vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance, why string) error {
	err := r.Delete(ctx, vmi, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &vmi.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete VMI %s/%s: %w", vmi.Namespace, vmi.Name, err)
	}
	r.recorder.Eventf(vm, corev1.EventTypeNormal, "SuccessfulDelete", "%s the virtual machine by deleting the virtual machine instance %s", why, vmi.UID)
	return nil
}

func (r *vmReconciler) updateStatus(ctx context.Context, vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance, strategy kubevirtv1.VirtualMachineRunStrategy) error {
	st := vm.Status.DeepCopy()
	st.Created = vmi != nil
	st.Ready = vmi != nil && vmi.Status.Phase == kubevirtv1.Running
	switch {
	case vmi == nil:
		st.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
	case vmi.DeletionTimestamp != nil:
		st.PrintableStatus = kubevirtv1.VirtualMachineStatusStopping
	case vmi.Status.Phase == kubevirtv1.Running:
		st.PrintableStatus = kubevirtv1.VirtualMachineStatusRunning
	case finished(vmi):
		st.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
	default:
		st.PrintableStatus = kubevirtv1.VirtualMachineStatusStarting
	}
	st.RunStrategy = strategy
	if equalJSON(st, &vm.Status) {
		return nil
	}
	vm.Status = *st
	return client.IgnoreNotFound(r.Status().Update(ctx, vm))
}
