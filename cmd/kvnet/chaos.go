package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kvnet/kvnet/internal/chaos"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// chaosCmd: `kvnet chaos`, behind `make chaos`.
func chaosCmd() *cobra.Command {
	sb := sandbox.DefaultConfig(repoDir())
	cfg := chaos.Config{Namespace: "kvnet-chaos", Duration: 10 * time.Minute, KillEvery: 5 * time.Second, Seed: uint64(time.Now().UnixNano())}
	var keep bool
	var jsonOut string
	cmd := &cobra.Command{Use: "chaos", Short: "churn pods and VMs in the running sandbox while killing kvnet's controller and agents, then check the invariants",
		Long: "Creates, deletes, stops, starts and migrates pods and VMs in --namespace for --duration while SIGKILLing\n" +
			"kvnet-controller or a kvnet-agent every --kill-every on average (each started again), then waits for\n" +
			"convergence and checks: no address with two owners, no IP object or NB port without an owner, every\n" +
			"live pod and VM reachable from a prober pod. Prints the counts; exits non-zero on any violation.",
		Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("id") && !c.Flags().Changed("state-dir") && os.Getenv("KVNET_SANDBOX_DIR") == "" {
				sb.StateDir = "/var/lib/kvnet-sandbox"
				if sb.ID != 0 {
					sb.StateDir = fmt.Sprintf("/var/lib/kvnet-sandbox-%d", sb.ID)
				}
			}
			if _, ok := sb.Running()["kvnet-controller"]; !ok {
				return fmt.Errorf("no sandbox with kvnet runs in %s: `kvnet sandbox up` first", sb.StateDir)
			}
			// The state directory and --id must name the same sandbox: a
			// restarted controller gets the ports of --id.
			if rec, err := os.ReadFile(sb.Path("pids", "kvnet-controller.pid")); err != nil ||
				!strings.Contains(string(rec), fmt.Sprintf("127.0.0.1:%d", sb.ControllerHealth())) {
				return fmt.Errorf("%s is not the state directory of sandbox %d: pass matching --id and --state-dir", sb.StateDir, sb.ID)
			}
			cfg.Sandbox = sb
			cfg.Log = func(f string, a ...any) {
				fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(f, a...))
			}
			rep, err := chaos.Run(c.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Printf("seed %d, %s of churn, a kill every ~%s\n", cfg.Seed, cfg.Duration, cfg.KillEvery)
			fmt.Printf("actions: %v (failed calls %d)\n", rep.Actions, rep.Errors)
			fmt.Printf("settled in %s\n", rep.SettledIn.Round(time.Second))
			fmt.Printf("check: %s\n", rep.Check)
			for _, v := range rep.Check.Violations {
				fmt.Println("  violation:", v)
			}
			if jsonOut != "" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
					return err
				}
			}
			if !keep {
				cl, err := chaos.NewClient(sb)
				if err == nil {
					_ = cl.Delete(c.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cfg.Namespace}})
				}
			}
			if !rep.Check.OK() {
				return fmt.Errorf("%d invariant violations", len(rep.Check.Violations))
			}
			return nil
		}}
	f := cmd.Flags()
	f.StringVar(&sb.StateDir, "state-dir", sb.StateDir, "sandbox state directory (env KVNET_SANDBOX_DIR)")
	f.IntVar(&sb.ID, "id", sb.ID, "sandbox number (env KVNET_SANDBOX_ID)")
	f.StringVar(&cfg.Namespace, "namespace", cfg.Namespace, "namespace of the churned pods and VMs (created; deleted at the end unless --keep)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to churn")
	f.DurationVar(&cfg.KillEvery, "kill-every", cfg.KillEvery, "mean time between two kills")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (the sequence of actions; timing varies)")
	f.IntVar(&cfg.MaxPods, "max-pods", 10, "most pods at once")
	f.IntVar(&cfg.MaxVMs, "max-vms", 4, "most VMs at once")
	f.DurationVar(&cfg.Settle, "settle", 4*time.Minute, "longest wait for convergence after the churn")
	f.BoolVar(&keep, "keep", false, "keep the namespace afterwards")
	f.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	return cmd
}
