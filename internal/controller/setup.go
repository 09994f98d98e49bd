package controller

import (
	"context"
	"fmt"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kvnet/kvnet/internal/controller/bootstrap"
	"github.com/kvnet/kvnet/internal/controller/ippool"
	"github.com/kvnet/kvnet/internal/controller/migration"
	"github.com/kvnet/kvnet/internal/controller/nbresync"
	"github.com/kvnet/kvnet/internal/controller/node"
	"github.com/kvnet/kvnet/internal/controller/pod"
	"github.com/kvnet/kvnet/internal/controller/repair"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/controller/subnet"
	"github.com/kvnet/kvnet/internal/controller/vm"
	"github.com/kvnet/kvnet/internal/controller/vpc"
	"github.com/kvnet/kvnet/internal/kubevirt"
)

// Options configure the controllers.
type Options struct {
	Defaults bootstrap.Defaults
	// KeepVMIP keeps a VM's address for the life of the VirtualMachine;
	// false releases it with the VMI.
	KeepVMIP bool
	// MigrationMode is how a VM's port is handed over in a live migration
	// ("" is multi-chassis; naive is for benchmarks only).
	MigrationMode migration.Mode
	// MigrationEventDelay holds back migration-driven port option changes
	// (benchmarks only: shows the loss does not depend on it).
	MigrationEventDelay time.Duration
	// RepairInterval is the period of the repair pass (default 1m).
	RepairInterval time.Duration
	// PodWorkers is the number of concurrent pod reconciles (default 4).
	PodWorkers int
	// SubnetWorkers and VpcWorkers are the numbers of concurrent subnet and
	// VPC reconciles (default 4 each).
	SubnetWorkers, VpcWorkers int
	// RetryAfter is how soon a transient pod failure is retried (default 5s).
	RetryAfter time.Duration
}

// Setup registers everything with mgr, using nb (connected) for OVN NB. It
// returns the shared store, whose gate opens once the IPAM is rebuilt.
func Setup(ctx context.Context, mgr ctrl.Manager, nb libovsdb.Client, opt Options) (*state.Store, error) {
	st := state.NewStore()
	if err := pod.IndexIPs(ctx, mgr); err != nil {
		return nil, fmt.Errorf("index ips: %w", err)
	}
	c, api := mgr.GetClient(), mgr.GetAPIReader()
	rec := mgr.GetEventRecorder("kvnet-controller")
	log := mgr.GetLogger()
	d := opt.Defaults
	live := &kubevirt.Liveness{Cache: c, API: api, KeepVMIP: opt.KeepVMIP}
	// All four are leader-only (NeedLeaderElection), like the reconcilers.
	repairer := &repair.Repairer{Client: c, APIReader: api, NB: nb, Store: st, Interval: opt.RepairInterval, Liveness: live, Log: log.WithName("repair")}
	resync := &nbresync.Resyncer{NB: nb, Client: mgr.GetCache(), Log: log.WithName("nb-resync")}
	runnables := []manager.Runnable{
		&state.Loader{Store: st, Reader: c, WaitForCacheSync: mgr.GetCache().WaitForCacheSync, Log: log.WithName("ipam-loader")},
		&bootstrap.Runnable{Client: c, Defaults: d, Log: log.WithName("bootstrap")},
		repairer,
		resync,
	}
	for _, r := range runnables {
		if err := mgr.Add(r); err != nil {
			return nil, err
		}
	}
	workers := orDefault(opt.PodWorkers, 4)
	if err := (&vpc.Reconciler{Client: c, NB: nb, Recorder: rec, Resync: resync, DefaultVpc: d.Vpc, DefaultSubnet: d.Subnet}).SetupWithManager(mgr, orDefault(opt.VpcWorkers, 4)); err != nil {
		return nil, fmt.Errorf("vpc controller: %w", err)
	}
	if err := (&subnet.Reconciler{Client: c, NB: nb, Store: st, Recorder: rec, Resync: resync, DefaultVpc: d.Vpc}).SetupWithManager(mgr, orDefault(opt.SubnetWorkers, 4)); err != nil {
		return nil, fmt.Errorf("subnet controller: %w", err)
	}
	if err := (&ippool.Reconciler{Client: c, Store: st, Recorder: rec}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("ippool controller: %w", err)
	}
	podR := &pod.Reconciler{Client: c, NB: nb, Store: st, Recorder: echoToVM(rec, api), Resync: resync, Liveness: live,
		DefaultSubnet: d.Subnet, JoinSubnet: d.JoinSubnet, RetryAfter: opt.RetryAfter, APIReader: api}
	if err := setupVMs(mgr, nb, st, opt, live, resync, podR, repairer, workers); err != nil {
		return nil, err
	}
	if err := podR.SetupWithManager(mgr, workers); err != nil {
		return nil, fmt.Errorf("pod controller: %w", err)
	}
	if err := (&node.Reconciler{Client: c, NB: nb, Store: st, Resync: resync, Recorder: rec, Liveness: live, JoinSubnet: d.JoinSubnet}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("node controller: %w", err)
	}
	return st, nil
}

// setupVMs wires KubeVirt VM support when the cluster serves KubeVirt's
// API: launcher pods held by their VM (pod.VMs), the VM reconciler
// (releases), the migration reconciler (port placement), and the repair
// pass's releases of VMs. Without KubeVirt, launcher-looking pods are
// ordinary pods.
func setupVMs(mgr ctrl.Manager, nb libovsdb.Client, st *state.Store, opt Options, live *kubevirt.Liveness,
	resync *nbresync.Resyncer, podR *pod.Reconciler, repairer *repair.Repairer, workers int) error {
	served, err := kubevirt.Served(mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	if !served {
		mgr.GetLogger().Info("KubeVirt API (kubevirt.io/v1) not served: VM support is off")
		return nil
	}
	c, api := mgr.GetClient(), mgr.GetAPIReader()
	mode := opt.MigrationMode
	if mode == "" {
		mode = migration.MultiChassis
	}
	placer := &migration.Placer{NB: nb, Mode: mode, Delay: opt.MigrationEventDelay}
	releaser := &vm.Releaser{Client: c, NB: nb, Store: st, Liveness: live, Placer: placer}
	repairer.VMs = releaser
	podR.VMs = &pod.VMs{Placer: placer, KeepVMIP: opt.KeepVMIP}
	if err := (&vm.Reconciler{Client: c, APIReader: api, Store: st, Releaser: releaser}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("vm controller: %w", err)
	}
	if err := (&migration.Reconciler{Client: c, Store: st, Placer: placer, Resync: resync}).SetupWithManager(mgr, workers); err != nil {
		return fmt.Errorf("migration controller: %w", err)
	}
	return nil
}

// orDefault is n, or def when n is not positive.
func orDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
