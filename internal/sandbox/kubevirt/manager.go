package kubevirt

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// Run serves the KubeVirt stand-in against the sandbox until ctx ends.
func Run(ctx context.Context, cfg sandbox.Config) error {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig())
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 100, 200
	scheme, err := NewScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("virtualmachine").
		For(&kubevirtv1.VirtualMachine{}).Owns(&kubevirtv1.VirtualMachineInstance{}).
		Complete(&vmReconciler{Client: mgr.GetClient(), recorder: mgr.GetEventRecorderFor("virtualmachine-controller")}); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("virtualmachineinstance").
		For(&kubevirtv1.VirtualMachineInstance{}).Owns(&corev1.Pod{}).
		Complete(&vmiReconciler{Client: mgr.GetClient(), reader: mgr.GetAPIReader(),
			recorder: mgr.GetEventRecorderFor("virtualmachineinstance-controller"), sb: cfg}); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("migration").
		For(&kubevirtv1.VirtualMachineInstanceMigration{}).
		Complete(&migrationReconciler{Client: mgr.GetClient(), reader: mgr.GetAPIReader(),
			recorder: mgr.GetEventRecorderFor("migration-controller"), sb: cfg}); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
