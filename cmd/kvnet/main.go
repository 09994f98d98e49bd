// Command kvnet is kvnet's command line: the sandbox (a real Kubernetes
// control plane and a multi-node OVN fabric on one machine, with kvnet in it)
// and debugging tools.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kvnet/kvnet/internal/probe"
	"github.com/kvnet/kvnet/internal/sandbox"
	"github.com/kvnet/kvnet/internal/sandbox/kubelet"
	"github.com/kvnet/kvnet/internal/sandbox/kubevirt"
)

func main() {
	ctrllog.SetLogger(ctrlLogger(os.Args[1:]))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "kvnet:", err)
		os.Exit(1)
	}
}

// ctrlLogger is the logger for controller-runtime's root logger, which the
// sandbox's clients and the KubeVirt stand-in's manager log through. Unset,
// controller-runtime prints a "log.SetLogger(...) was never called" stack
// trace on the first log call 30 s after start (the first run of make
// sandbox showed it). Everything logs through klog, like the rest of the CLI,
// except chaos, whose report on stderr stays free of client noise.
func ctrlLogger(args []string) logr.Logger {
	if len(args) > 0 && args[0] == "chaos" {
		return logr.Discard()
	}
	return klog.NewKlogr()
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{Use: "kvnet", Short: "kvnet: a Kubernetes network for virtual machines", SilenceUsage: true}
	root.AddCommand(sandboxCmd(), probeCmd(), benchCmd(), chaosCmd())
	return root
}

// repoDir finds the kvnet source tree: the parent of the directory holding
// this binary (bin/kvnet), or the working directory.
func repoDir() string {
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(filepath.Dir(exe))
		if _, err := os.Stat(filepath.Join(d, "hack", "k8s", "go.mod")); err == nil {
			return d
		}
	}
	wd, _ := os.Getwd()
	return wd
}

func probeCmd() *cobra.Command {
	var dst string
	var interval, duration, linger time.Duration
	cmd := &cobra.Command{Use: "probe --dst ADDRESS", Short: "send ICMP echo probes at a fixed interval and report loss, duplicates and the longest gap as JSON",
		Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
			addr, err := netip.ParseAddr(dst)
			if err != nil {
				return fmt.Errorf("--dst: %w", err)
			}
			res, err := probe.ICMP(c.Context(), addr, interval, duration, linger)
			if err != nil {
				return err
			}
			return json.NewEncoder(os.Stdout).Encode(res)
		}}
	cmd.Flags().StringVar(&dst, "dst", "", "address to probe")
	cmd.Flags().DurationVar(&interval, "interval", 10*time.Millisecond, "time between probes")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "how long to probe (SIGTERM ends early)")
	cmd.Flags().DurationVar(&linger, "linger", time.Second, "how long to wait for late replies")
	return cmd
}

func logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func sandboxCmd() *cobra.Command {
	cfg := sandbox.DefaultConfig(repoDir())
	cmd := &cobra.Command{Use: "sandbox", Short: "run kvnet on a sandbox cluster on this machine",
		PersistentPreRun: func(c *cobra.Command, _ []string) {
			// --id without --state-dir: that sandbox's own default directory.
			if c.Flags().Changed("id") && !c.Flags().Changed("state-dir") && os.Getenv("KVNET_SANDBOX_DIR") == "" {
				def := sandbox.DefaultConfig(cfg.RepoDir)
				cfg.StateDir = def.StateDir
				if cfg.ID != 0 {
					cfg.StateDir = fmt.Sprintf("/var/lib/kvnet-sandbox-%d", cfg.ID)
				}
			}
		}}
	cmd.PersistentFlags().StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "sandbox state directory (env KVNET_SANDBOX_DIR)")
	cmd.PersistentFlags().IntVar(&cfg.ID, "id", cfg.ID, "sandbox number 0-9, to run several on one machine (env KVNET_SANDBOX_ID)")
	up := &cobra.Command{Use: "up", Short: "bring the sandbox up (taking down a previous one)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("the sandbox needs root (network namespaces, OVS)")
			}
			return sandbox.Up(c.Context(), cfg, logf)
		}}
	up.Flags().IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "number of nodes")
	up.Flags().StringVar(&cfg.Network, "network", cfg.Network, `pod network: "kvnet" or "bridge" (reference plugins only)`)
	up.Flags().BoolVar(&cfg.SkipInstall, "skip-install", false, "do not install missing Debian packages")
	up.Flags().StringVar(&cfg.CacheDir, "cache-dir", cfg.CacheDir, "where built control-plane binaries are kept (env KVNET_CACHE_DIR)")
	down := &cobra.Command{Use: "down", Short: "remove everything the sandbox made", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return sandbox.Down(c.Context(), cfg, logf) }}
	status := &cobra.Command{Use: "status", Short: "show what runs and where the logs are", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return sandbox.Status(c.Context(), cfg, logf) }}
	kubeconfig := &cobra.Command{Use: "kubeconfig", Short: "print the kubeconfig's path", Args: cobra.NoArgs,
		Run: func(*cobra.Command, []string) { fmt.Println(cfg.Kubeconfig()) }}
	execCmd := &cobra.Command{Use: "exec NAMESPACE/POD -- COMMAND...", Short: "run a command in a pod's network namespace",
		Args: cobra.MinimumNArgs(2), RunE: func(c *cobra.Command, args []string) error {
			ns, name, ok := strings.Cut(args[0], "/")
			if !ok {
				ns, name = "default", args[0]
			}
			netns, err := sandbox.PodExecNetns(c.Context(), cfg, ns, name)
			if err != nil {
				return err
			}
			x := exec.CommandContext(c.Context(), "ip", append([]string{"netns", "exec", netns}, args[1:]...)...)
			x.Stdin, x.Stdout, x.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := x.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					os.Exit(ee.ExitCode())
				}
				return err
			}
			return nil
		}}
	var node string
	kl := &cobra.Command{Use: "kubelet", Short: "run a node's kubelet stand-in (started by up)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var idx int
			if _, err := fmt.Sscanf(node, "node-%d", &idx); err != nil {
				return fmt.Errorf("--node must be node-N: %w", err)
			}
			klog.InfoS("kubelet stand-in starting", "node", node)
			return kubelet.Run(c.Context(), cfg, node, idx)
		}}
	kl.Flags().StringVar(&node, "node", "", "node name (node-N)")
	deps := &cobra.Command{Use: "deps", Short: "install the Debian packages and build the control plane the sandbox needs", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := sandbox.EnsurePackages(c.Context(), logf); err != nil {
				return err
			}
			return sandbox.EnsureControlPlane(c.Context(), cfg, logf)
		}}
	deps.Flags().StringVar(&cfg.CacheDir, "cache-dir", cfg.CacheDir, "where built control-plane binaries are kept (env KVNET_CACHE_DIR)")
	kv := &cobra.Command{Use: "kubevirt", Short: "run the KubeVirt stand-in (started by up)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return kubevirt.Run(c.Context(), cfg) }}
	restart := &cobra.Command{Use: "restart-controller", Short: "restart kvnet-controller (flags from KVNET_CONTROLLER_ARGS)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := cfg.Stop("kvnet-controller", 5*time.Second); err != nil {
				return err
			}
			return sandbox.StartController(cfg)
		}}
	cmd.AddCommand(restart, deps, up, down, status, kubeconfig, execCmd, kl, kv)
	return cmd
}
