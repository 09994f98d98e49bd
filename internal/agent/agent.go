package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"

	"github.com/kvnet/kvnet/internal/agent/cniserver"
	"github.com/kvnet/kvnet/internal/agent/kube"
	"github.com/kvnet/kvnet/internal/agent/node"
	"github.com/kvnet/kvnet/internal/agent/ovsport"
)

// Config is the agent's configuration (the command-line flags).
type Config struct {
	NodeName   string
	Kubeconfig string
	// OVSDB is the Open_vSwitch database endpoint, e.g. unix:/var/run/openvswitch/db.sock.
	OVSDB     string
	CNISocket string
	Bridge    string
	MTU       int
	// NetdevDatapath selects the userspace datapath (br-int datapath_type
	// netdev, tx offload off on pod veths); false selects the kernel datapath.
	NetdevDatapath bool
	WaitTimeout    time.Duration
	GatewayCheck   bool
	OVNRemote      string
	EncapIP        string
	EncapType      string
	// MetricsAddr serves Prometheus metrics; "" or "0" turns them off.
	MetricsAddr string
}

// JoinLink is the node's interface on the join network.
const JoinLink = "ovn0"

// Run starts the agent and blocks until ctx ends or a part fails for good.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	ovs, err := connectOVS(ctx, cfg.OVSDB, log)
	if err != nil {
		return err
	}
	defer ovs.Close()
	bootCfg := node.BootstrapConfig{NodeName: cfg.NodeName, Bridge: cfg.Bridge, DatapathType: datapathType(cfg),
		OVNRemote: cfg.OVNRemote, EncapIP: cfg.EncapIP, EncapType: cfg.EncapType}
	if err := retry(ctx, log, "node bootstrap", func() error { return node.Bootstrap(ctx, bootCfg, ovs) }); err != nil {
		return err
	}
	clients, err := kube.NewClients(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	pods := kube.NewPods(clients.Kube, cfg.NodeName)
	view := kube.NewNodeView(clients.Kube, clients.Dynamic, cfg.NodeName)
	join := node.NewJoin(node.JoinConfig{Bridge: cfg.Bridge, LinkName: JoinLink, MTU: cfg.MTU,
		Resync: time.Minute, LinkWait: 10 * time.Second}, ovs, view, log.With("component", "join"))

	metrics := newMetrics()
	handler := cniserver.NewHandler(cniserver.Config{
		NodeName: cfg.NodeName, Bridge: cfg.Bridge, MTU: cfg.MTU, NetdevDatapath: cfg.NetdevDatapath,
		WaitTimeout: cfg.WaitTimeout, GatewayCheck: cfg.GatewayCheck, Observe: metrics.observe,
	}, pods, ovs, cniserver.Kernel{}, view, readiness(ovs, pods), log.With("component", "cni"))
	listener, err := cniserver.Listen(cfg.CNISocket)
	if err != nil {
		return err
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { pods.Run(ctx); return nil })
	g.Go(func() error { view.Run(ctx); return nil })
	g.Go(func() error { join.Run(ctx); return nil })
	g.Go(func() error { return cniserver.Serve(ctx, listener, handler) })
	if cfg.MetricsAddr != "" && cfg.MetricsAddr != "0" {
		g.Go(func() error { return serveMetrics(ctx, cfg.MetricsAddr, metrics) })
	}
	log.Info("kvnet agent running", "node", cfg.NodeName, "cniSocket", cfg.CNISocket, "ovsdb", cfg.OVSDB,
		"datapath", datapathType(cfg), "mtu", cfg.MTU)
	return g.Wait()
}

func datapathType(cfg Config) string {
	if cfg.NetdevDatapath {
		return "netdev"
	}
	return "system"
}

// connectOVS retries until the database answers: the agent may start before
// ovsdb-server.
func connectOVS(ctx context.Context, endpoint string, log *slog.Logger) (*ovsport.Client, error) {
	var ovs *ovsport.Client
	err := retry(ctx, log, "connect to Open_vSwitch", func() error {
		c, err := ovsport.Connect(ctx, endpoint, logr.FromSlogHandler(log.With("component", "libovsdb").Handler()))
		ovs = c
		return err
	})
	return ovs, err
}

// readiness answers CNI STATUS: ready once OVS is connected and the pod
// cache holds its initial list.
func readiness(ovs *ovsport.Client, pods *kube.Pods) func() error {
	return func() error {
		switch {
		case !ovs.Connected():
			return errors.New("not connected to the Open_vSwitch database")
		case !pods.HasSynced():
			return errors.New("pod cache not synced with the API server yet")
		}
		return nil
	}
}

// retry runs f until it succeeds or ctx ends, pausing one second between
// attempts and logging each failure.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		log.Error(what+" failed, retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, errors.Join(ctx.Err(), err))
		case <-time.After(time.Second):
		}
	}
}

func serveMetrics(ctx context.Context, addr string, m *metrics) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{Handler: m.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}
