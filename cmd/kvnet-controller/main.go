package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller"
	"github.com/kvnet/kvnet/internal/controller/bootstrap"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

type flags struct {
	nbAddr, metricsAddr, probeAddr, pprofAddr, leaderNS string
	leaderElect, keepVMIP                               bool
	repairInterval                                      time.Duration
	apiQPS                                              float64
	apiBurst                                            int
	podWorkers                                          int
	subnetWorkers                                       int
	vpcWorkers                                          int
	defaults                                            bootstrap.Defaults
	excludeIPs                                          string
	webhook                                             webhookFlags
	migration                                           migrationFlags
}

func parseFlags() *flags {
	f := &flags{}
	flag.StringVar(&f.nbAddr, "ovn-nb-addr", "unix:/var/run/ovn/ovnnb_db.sock", "OVN northbound database: unix:/path or tcp:host:port (comma-separated for several)")
	flag.StringVar(&f.defaults.Vpc, "default-vpc", "ovn-cluster", "name of the default VPC (its OVN logical router)")
	flag.StringVar(&f.defaults.Subnet, "default-subnet", "ovn-default", "name of the default subnet")
	flag.StringVar(&f.defaults.CIDR, "default-cidr", "10.16.0.0/16", "CIDR(s) of the default subnet")
	flag.StringVar(&f.defaults.Gw, "default-gateway", "10.16.0.1", "gateway(s) of the default subnet")
	flag.StringVar(&f.excludeIPs, "default-exclude-ips", "", "excludeIps of the default subnet, comma-separated (a or a..b)")
	flag.StringVar(&f.defaults.JoinSubnet, "join-subnet", "join", "name of the join subnet (node ovn0 addresses)")
	flag.StringVar(&f.defaults.JoinCIDR, "join-cidr", "100.64.0.0/16", "CIDR(s) of the join subnet")
	flag.StringVar(&f.defaults.JoinGw, "join-gateway", "", "gateway(s) of the join subnet (default: first address)")
	flag.BoolVar(&f.keepVMIP, "keep-vm-ip", true, "keep a VM's address for the life of the VirtualMachine; false releases it with the VMI")
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", ":18080", "metrics endpoint address; 0 disables")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":18081", "health probe address; 0 disables")
	flag.StringVar(&f.pprofAddr, "pprof-bind-address", "", "net/http/pprof endpoint address (profiling); empty disables")
	flag.BoolVar(&f.leaderElect, "leader-elect", true, "use leader election (one active controller)")
	flag.StringVar(&f.leaderNS, "leader-elect-namespace", "kube-system", "namespace of the leader election lease")
	flag.DurationVar(&f.repairInterval, "repair-interval", time.Minute, "period of the repair (garbage collection) pass")
	flag.IntVar(&f.podWorkers, "pod-workers", 32, "concurrent pod reconciles (each mostly waits on the API server and NB)")
	flag.IntVar(&f.subnetWorkers, "subnet-workers", 8, "concurrent subnet reconciles")
	flag.IntVar(&f.vpcWorkers, "vpc-workers", 4, "concurrent VPC reconciles")
	flag.Float64Var(&f.apiQPS, "kube-api-qps", 200, "sustained requests per second to the Kubernetes API (client-side limit)")
	flag.IntVar(&f.apiBurst, "kube-api-burst", 400, "request burst to the Kubernetes API (client-side limit)")
	f.webhook.bind(flag.CommandLine)
	f.migration.bind(flag.CommandLine)
	return f
}

func main() {
	f := parseFlags()
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("kvnet-controller")
	if err := run(ctrl.SetupSignalHandler(), f, log); err != nil {
		log.Error(err, "controller failed")
		os.Exit(1)
	}
}

func run(ctx context.Context, f *flags, log logr.Logger) error {
	for _, e := range strings.Split(f.excludeIPs, ",") {
		if e = strings.TrimSpace(e); e != "" {
			f.defaults.ExcludeIPs = append(f.defaults.ExcludeIPs, e)
		}
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := kubeovnv1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := kubevirt.AddToScheme(scheme); err != nil {
		return err
	}
	mode, err := f.migration.parse()
	if err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	// client-go's default (5/s, controller-runtime raises it to 20/s) caps
	// pod addressing at a few pods per second: each pod costs an IP object
	// write and an annotation patch.
	cfg.QPS, cfg.Burst = float32(f.apiQPS), f.apiBurst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:  f.probeAddr,
		PprofBindAddress:        f.pprofAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        "kvnet-controller.kubeovn.io",
		LeaderElectionNamespace: f.leaderNS,
		// A new leader must not act on the old leader's in-flight state.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	nb, err := connectNB(ctx, f.nbAddr, log)
	if err != nil {
		return err
	}
	defer nb.Close()
	if _, err := controller.Setup(ctx, mgr, nb, controller.Options{
		Defaults: f.defaults, KeepVMIP: f.keepVMIP, RepairInterval: f.repairInterval, PodWorkers: f.podWorkers,
		SubnetWorkers: f.subnetWorkers, VpcWorkers: f.vpcWorkers,
		MigrationMode: mode, MigrationEventDelay: f.migration.eventDelay,
	}); err != nil {
		return err
	}
	if err := setupWebhook(ctx, mgr, f.webhook, f.defaults, f.keepVMIP); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", func(*http.Request) error { return nil }); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ovn-nb", func(*http.Request) error {
		if !nb.Connected() {
			return errors.New("not connected to OVN NB")
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("starting", "nb", f.nbAddr, "defaultSubnet", f.defaults.Subnet, "joinSubnet", f.defaults.JoinSubnet)
	return mgr.Start(ctx)
}

// connectNB connects to NB, retrying until it answers or ctx ends.
func connectNB(ctx context.Context, addr string, log logr.Logger) (libovsdb.Client, error) {
	for {
		nb, err := ops.NewNBClient(addr, log.WithName("nb"))
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = ops.ConnectNB(cctx, nb)
		cancel()
		if err == nil {
			return nb, nil
		}
		nb.Close()
		log.Info("waiting for OVN NB", "addr", addr, "error", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
