// Command kvnet-agent is kvnet's node agent (one per node, in the node's
// network namespace): it bootstraps br-int and the node's join interface,
// and serves the CNI socket the kvnet-cni plugin forwards to.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kvnet/kvnet/internal/agent"
	"github.com/kvnet/kvnet/internal/agent/cniapi"
)

func main() {
	cfg, level, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := agent.Run(ctx, cfg, log); err != nil && ctx.Err() == nil {
		log.Error("kvnet agent failed", "err", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (agent.Config, slog.Level, error) {
	hostname, _ := os.Hostname()
	nodeName := os.Getenv("NODE_NAME")
	if nodeName == "" {
		nodeName = hostname
	}
	var cfg agent.Config
	var level slog.Level
	fs := flag.NewFlagSet("kvnet-agent", flag.ContinueOnError)
	fs.StringVar(&cfg.NodeName, "node-name", nodeName, "name of this node's Node object ($NODE_NAME, else the hostname)")
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig file; empty: in-cluster service account")
	fs.StringVar(&cfg.OVSDB, "ovs-db", "unix:/var/run/openvswitch/db.sock", "Open_vSwitch database endpoint")
	fs.StringVar(&cfg.CNISocket, "cni-socket", cniapi.DefaultSocket, "unix socket the kvnet-cni plugin talks to")
	fs.StringVar(&cfg.Bridge, "bridge", "br-int", "OVN integration bridge")
	fs.IntVar(&cfg.MTU, "mtu", 1400, "MTU of pod interfaces and ovn0 (leave room for the geneve header)")
	fs.BoolVar(&cfg.NetdevDatapath, "netdev-datapath", true,
		"userspace datapath: br-int datapath_type=netdev and tx offload off on pod veths; false: kernel datapath")
	fs.DurationVar(&cfg.WaitTimeout, "wait-timeout", 30*time.Second,
		"bound of each wait in CNI ADD: controller annotations, ovn-installed, gateway reply")
	fs.BoolVar(&cfg.GatewayCheck, "gateway-check", true,
		"ping the gateway from a new pod before ADD returns (never for KubeVirt migration targets)")
	fs.StringVar(&cfg.OVNRemote, "ovn-remote", "",
		"OVN southbound DB for ovn-controller; when set, the agent writes ovn-remote, ovn-encap-*, system-id, ovn-bridge-datapath-type")
	fs.StringVar(&cfg.EncapIP, "encap-ip", "", "tunnel endpoint address of this node (ovn-encap-ip)")
	fs.StringVar(&cfg.EncapType, "encap-type", "geneve", "tunnel type (ovn-encap-type)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-bind-address", "0", "address for Prometheus metrics, e.g. :9476; 0 turns them off")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log level: DEBUG, INFO, WARN, ERROR")
	if err := fs.Parse(args); err != nil {
		return cfg, level, err
	}
	switch {
	case cfg.NodeName == "":
		return cfg, level, fmt.Errorf("--node-name is required")
	case cfg.MTU < 576 || cfg.MTU > 65535:
		return cfg, level, fmt.Errorf("--mtu %d out of range", cfg.MTU)
	case cfg.WaitTimeout <= 0:
		return cfg, level, fmt.Errorf("--wait-timeout must be positive")
	case fs.NArg() > 0:
		return cfg, level, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, level, nil
}
