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
	"github.com/kvnet/kvnet/internal/controller/node"
	"github.com/kvnet/kvnet/internal/controller/pod"
	"github.com/kvnet/kvnet/internal/controller/repair"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/controller/subnet"
	"github.com/kvnet/kvnet/internal/controller/vpc"
)

// Options configure the controllers.
type Options struct {
	Defaults bootstrap.Defaults
	// KeepVMIP is accepted now; VM address keeping comes with the VM issue.
	KeepVMIP bool
	// RepairInterval is the period of the repair pass (default 1m).
	RepairInterval time.Duration
	// PodWorkers is the number of concurrent pod reconciles (default 4).
	PodWorkers int
	// RetryAfter is how soon a transient pod failure is retried (default 5s).
	RetryAfter time.Duration
	// PortName names pod ports (default pod.DefaultPortName).
	PortName pod.PortNamer
}

// Setup registers everything with mgr, using nb (connected) for OVN NB. It
// returns the shared store, whose gate opens once the IPAM is rebuilt.
func Setup(ctx context.Context, mgr ctrl.Manager, nb libovsdb.Client, opt Options) (*state.Store, error) {
	st := state.NewStore()
	if err := pod.IndexIPs(ctx, mgr); err != nil {
		return nil, fmt.Errorf("index ips: %w", err)
	}
	c := mgr.GetClient()
	rec := mgr.GetEventRecorder("kvnet-controller")
	log := mgr.GetLogger()
	d := opt.Defaults
	// All three are leader-only (NeedLeaderElection), like the reconcilers.
	runnables := []manager.Runnable{
		&state.Loader{Store: st, Reader: c, WaitForCacheSync: mgr.GetCache().WaitForCacheSync, Log: log.WithName("ipam-loader")},
		&bootstrap.Runnable{Client: c, Defaults: d, Log: log.WithName("bootstrap")},
		&repair.Repairer{Client: c, APIReader: mgr.GetAPIReader(), NB: nb, Store: st, Interval: opt.RepairInterval, Log: log.WithName("repair")},
	}
	for _, r := range runnables {
		if err := mgr.Add(r); err != nil {
			return nil, err
		}
	}
	workers := opt.PodWorkers
	if workers <= 0 {
		workers = 4
	}
	if err := (&vpc.Reconciler{Client: c, NB: nb, DefaultVpc: d.Vpc, DefaultSubnet: d.Subnet}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("vpc controller: %w", err)
	}
	if err := (&subnet.Reconciler{Client: c, NB: nb, Store: st, Recorder: rec, DefaultVpc: d.Vpc}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("subnet controller: %w", err)
	}
	if err := (&ippool.Reconciler{Client: c, Store: st, Recorder: rec}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("ippool controller: %w", err)
	}
	podR := &pod.Reconciler{Client: c, NB: nb, Store: st, Recorder: echoToVM(rec, mgr.GetAPIReader()), PortName: opt.PortName,
		DefaultSubnet: d.Subnet, JoinSubnet: d.JoinSubnet, RetryAfter: opt.RetryAfter}
	if err := podR.SetupWithManager(mgr, workers); err != nil {
		return nil, fmt.Errorf("pod controller: %w", err)
	}
	if err := (&node.Reconciler{Client: c, NB: nb, Store: st, JoinSubnet: d.JoinSubnet}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("node controller: %w", err)
	}
	return st, nil
}
