package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/bench"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// benchCmd runs benchmarks against the running sandbox and writes one JSON
// record per run into --out-dir; `make bench` (hack/bench.sh) drives them
// and `kvnet bench report` renders docs/benchmarks.md from the records.
func benchCmd() *cobra.Command {
	cfg := sandbox.DefaultConfig(repoDir())
	var outDir string
	var runs int
	cmd := &cobra.Command{Use: "bench", Short: "run benchmarks against the running sandbox and render docs/benchmarks.md",
		PersistentPreRun: func(c *cobra.Command, _ []string) {
			// --id without --state-dir: that sandbox's own directory.
			if c.Flags().Changed("id") && !c.Flags().Changed("state-dir") {
				cfg.StateDir = "/var/lib/kvnet-sandbox"
				if cfg.ID != 0 {
					cfg.StateDir = fmt.Sprintf("/var/lib/kvnet-sandbox-%d", cfg.ID)
				}
			}
		}}
	cmd.PersistentFlags().StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "sandbox state directory (env KVNET_SANDBOX_DIR)")
	cmd.PersistentFlags().IntVar(&cfg.ID, "id", cfg.ID, "sandbox number (env KVNET_SANDBOX_ID)")
	progress := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(f, a...))
	}
	// runFlags adds --runs and --out-dir.
	runFlags := func(c *cobra.Command, defRuns int) {
		c.Flags().IntVar(&runs, "runs", defRuns, "repeated runs (one record each)")
		c.Flags().StringVar(&outDir, "out-dir", "docs/bench-raw", "directory of the JSON records")
	}
	// save writes the record of run k of kind (file <kind>[-<tag>]-<k>.json).
	save := func(kind, tag string, k int, started time.Time, load float64, result any) error {
		rec, err := bench.NewRecord(kind, k, reproduce(cfg), started, load, result)
		if err != nil {
			return err
		}
		rec.Commit = bench.TreeCommit(context.Background(), cfg.RepoDir)
		name := kind
		if tag != "" {
			name += "-" + tag
		}
		return bench.WriteRecord(filepath.Join(outDir, fmt.Sprintf("%s-%d.json", name, k)), rec)
	}

	machine := &cobra.Command{Use: "machine", Short: "record the machine, tools and tree the benchmarks run on", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			started, load := time.Now(), bench.LoadAvg1()
			m := bench.DescribeMachine(c.Context(), cfg.RepoDir, sandbox.KubernetesVersion)
			rec, err := bench.NewRecord(bench.KindMachine, 0, "", started, load, m)
			if err != nil {
				return err
			}
			return bench.WriteRecord(filepath.Join(outDir, "machine.json"), rec)
		}}
	machine.Flags().StringVar(&outDir, "out-dir", "docs/bench-raw", "directory of the JSON records")

	var in, command string
	ipam := &cobra.Command{Use: "ipam --in GO-TEST-OUTPUT", Short: "record `go test -bench` output of internal/ipam", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			started, load := time.Now(), bench.LoadAvg1()
			f, err := os.Open(in)
			if err != nil {
				return err
			}
			defer f.Close()
			out, err := bench.ParseGoBench(f, in)
			if err != nil {
				return err
			}
			if fi, err := f.Stat(); err == nil {
				started = fi.ModTime()
			}
			if command == "" {
				command = out.Config["command"] // hack/bench.sh writes it as a "command:" line
			}
			rec, err := bench.NewRecord(bench.KindIPAM, 1, command, started, load, out)
			if err != nil {
				return err
			}
			rec.Seconds = 0
			rec.Commit = bench.TreeCommit(c.Context(), cfg.RepoDir)
			return bench.WriteRecord(filepath.Join(outDir, "ipam-1.json"), rec)
		}}
	ipam.Flags().StringVar(&in, "in", "", "file holding the output of go test -bench")
	ipam.Flags().StringVar(&command, "command", "", "the go test command that produced it (recorded)")
	ipam.Flags().StringVar(&outDir, "out-dir", "docs/bench-raw", "directory of the JSON records")

	var pods, floorParallel int
	var floor bool
	podready := &cobra.Command{Use: "podready", Short: "pod network-ready latency for --pods pods created at once, and the hand-built floor", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cs, err := ready(c.Context(), cfg)
			if err != nil {
				return err
			}
			var nodes []string
			for i := 1; i <= cfg.Nodes; i++ {
				nodes = append(nodes, sandbox.NodeName(i))
			}
			for k := 1; k <= runs; k++ {
				started, load := time.Now(), bench.LoadAvg1()
				progress("podready run %d/%d: kvnet, %d pods over %d nodes", k, runs, pods, len(nodes))
				kv, err := bench.PodReady(c.Context(), cs, nodes, pods, progress)
				if err != nil {
					return err
				}
				progress("  kvnet: p50 %.0f ms, p99 %.0f ms, all ready in %.0f ms", kv.LatencyMs.P50, kv.LatencyMs.P99, kv.TotalMs)
				var fl *bench.FloorResult
				if floor {
					progress("podready run %d/%d: floor, %d pods plugged by hand", k, runs, pods)
					f, err := bench.Floor(c.Context(), cfg, pods, floorParallel, progress)
					if err != nil {
						return err
					}
					fl = &f
					progress("  floor: p50 %.0f ms, p99 %.0f ms, all ready in %.0f ms", f.LatencyMs.P50, f.LatencyMs.P99, f.TotalMs)
				}
				if err := save(bench.KindPodReady, strconv.Itoa(pods), k, started, load, bench.NewPodReadyRun(kv, fl)); err != nil {
					return err
				}
			}
			return nil
		}}
	podready.Flags().IntVar(&pods, "pods", 300, "pods to create at once")
	podready.Flags().IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "sandbox nodes to spread them over")
	podready.Flags().BoolVar(&floor, "floor", true, "after each kvnet run, plug the same number of pods by hand (the floor)")
	podready.Flags().IntVar(&floorParallel, "floor-parallel", 8, "pods the floor plugs at a time per node (the kubelet stand-in's pod workers)")
	runFlags(podready, 3)

	var sizes string
	throughput := &cobra.Command{Use: "throughput", Short: "controller throughput without the data plane, for each --pods size", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cs, err := ready(c.Context(), cfg)
			if err != nil {
				return err
			}
			ns, err := parseInts(sizes)
			if err != nil {
				return err
			}
			for _, n := range ns {
				for k := 1; k <= runs; k++ {
					started, load := time.Now(), bench.LoadAvg1()
					progress("throughput: %d pods, run %d/%d", n, k, runs)
					res, err := bench.Throughput(c.Context(), cfg, cs, n, progress)
					if err != nil {
						return err
					}
					progress("  %d pods addressed in %.1f s (%.0f pods/s)", n, res.AddressedMs/1000, res.PodsPerSec)
					if err := save(bench.KindThroughput, strconv.Itoa(n), k, started, load, res); err != nil {
						return err
					}
				}
			}
			return nil
		}}
	throughput.Flags().StringVar(&sizes, "pods", "2000", "comma-separated pod counts")
	runFlags(throughput, 3)

	var so bench.ScaleOptions
	var steps string
	scale := &cobra.Command{Use: "scale", Short: "controller memory and NB transactions per pod as pods grow (no data plane)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rc, err := bench.RESTConfig(cfg.Kubeconfig())
			if err != nil {
				return err
			}
			cs, cl, err := clients(rc)
			if err != nil {
				return err
			}
			if err := bench.WaitSubnetsReady(c.Context(), cl, 2*time.Minute); err != nil {
				return err
			}
			if so.Steps, err = parseInts(steps); err != nil {
				return err
			}
			started, load := time.Now(), bench.LoadAvg1()
			res, err := bench.Scale(c.Context(), cfg, cs, cl, so, progress)
			if err != nil {
				return err
			}
			return save(bench.KindScale, "", 1, started, load, res)
		}}
	scale.Flags().StringVar(&steps, "steps", "1000,5000,10000", "cumulative pod counts")
	scale.Flags().IntVar(&so.Subnets, "subnets", 100, "subnets (each bound to its own namespace)")
	scale.Flags().IntVar(&so.FakeNodes, "fake-nodes", 10, "fake nodes to bind the pods to")
	scale.Flags().BoolVar(&so.Keep, "keep", false, "leave the pods, subnets and fake nodes (the restart benchmark reuses them)")
	scale.Flags().StringVar(&outDir, "out-dir", "docs/bench-raw", "directory of the JSON records")

	var ro bench.RestartOptions
	var keep bool
	restart := &cobra.Command{Use: "restart", Short: "controller restart recovery with --pods IP objects across --subnets subnets", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rc, err := bench.RESTConfig(cfg.Kubeconfig())
			if err != nil {
				return err
			}
			cs, cl, err := clients(rc)
			if err != nil {
				return err
			}
			if err := bench.WaitSubnetsReady(c.Context(), cl, 2*time.Minute); err != nil {
				return err
			}
			pop, err := bench.PrepareRestart(c.Context(), cs, cl, ro, progress)
			if err != nil {
				return err
			}
			if !keep {
				defer pop.Remove(context.Background())
			}
			for k := 1; k <= runs; k++ {
				started, load := time.Now(), bench.LoadAvg1()
				progress("restart run %d/%d", k, runs)
				res, err := bench.Restart(c.Context(), cfg, rc, cl, ro, progress)
				if err != nil {
					return err
				}
				progress("  recovered in %.0f ms (readyz %.0f, leader %.0f, caught up %.0f ms); %d NB and %d API writes",
					res.RecoveryMs, res.ReadyzMs, res.LeaderMs, res.CaughtUpMs, res.NBWrites, res.APIWrites)
				if err := save(bench.KindRestart, "", k, started, load, res); err != nil {
					return err
				}
			}
			return nil
		}}
	restart.Flags().IntVar(&ro.Pods, "pods", 10000, "IP objects (pods) in place")
	restart.Flags().IntVar(&ro.Subnets, "subnets", 100, "subnets they are spread over")
	restart.Flags().IntVar(&ro.FakeNodes, "fake-nodes", 10, "fake nodes to bind the pods to")
	restart.Flags().DurationVar(&ro.Quiet, "quiet", 2*time.Second, "time without writes that confirms recovery")
	restart.Flags().DurationVar(&ro.Timeout, "timeout", 5*time.Minute, "give up on a restart after this long")
	restart.Flags().BoolVar(&keep, "keep", false, "leave the population in place afterwards")
	runFlags(restart, 3)

	var out, imgDir, format string
	report := &cobra.Command{Use: "report --in DIR --out FILE", Short: "render docs/benchmarks.md and its plots from the JSON records", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			recs, err := bench.LoadRecords(in)
			if err != nil {
				return err
			}
			if imgDir == "" {
				imgDir = filepath.Join(filepath.Dir(out), "img")
			}
			link, err := filepath.Rel(filepath.Dir(out), imgDir)
			if err != nil {
				return err
			}
			page, err := bench.Report(recs, bench.ReportOptions{ImgDir: imgDir, ImgLink: filepath.ToSlash(link), RawDir: in, Format: format})
			if err != nil {
				return err
			}
			return os.WriteFile(out, []byte(page), 0o644)
		}}
	report.Flags().StringVar(&in, "in", "docs/bench-raw", "directory of the JSON records")
	report.Flags().StringVar(&out, "out", "docs/benchmarks.md", "page to write")
	report.Flags().StringVar(&imgDir, "img", "", "directory for the plots (default: img/ beside --out)")
	report.Flags().StringVar(&format, "format", "svg", "plot format: svg or png")

	var mo bench.MigrationOptions
	migration := &cobra.Command{Use: "migration --mode kvnet|slow-controller|naive", Short: "live-migration loss: a VM migrated --count times while probers on every node probe it",
		Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
			args, ok := migrationModes[mo.Mode]
			if !ok {
				return fmt.Errorf("--mode must be kvnet, slow-controller or naive")
			}
			// The mode is the controller's: restart it with that mode's flags,
			// and back to the default at the end.
			if err := restartController(c.Context(), cfg, args); err != nil {
				return err
			}
			defer func() { _ = restartController(context.Background(), cfg, "") }()
			started, load := time.Now(), bench.LoadAvg1()
			res, err := bench.Migration(c.Context(), cfg, mo, progress)
			if err != nil {
				return err
			}
			return save(bench.KindMigration, fmt.Sprintf("%s-%s", mo.Mode, mo.Interval), 1, started, load, res)
		}}
	migration.Flags().StringVar(&mo.Mode, "mode", "kvnet", "kvnet, slow-controller (1 s delay on migration events) or naive (single chassis, moved on completion)")
	migration.Flags().IntVar(&mo.Count, "count", 20, "migrations")
	migration.Flags().DurationVar(&mo.Interval, "interval", 10*time.Millisecond, "probe spacing")
	migration.Flags().IntVar(&mo.BackToBackEvery, "back-to-back-every", 5, "every n-th migration starts as soon as the previous one succeeded")
	migration.Flags().DurationVar(&mo.Pause, "pause", time.Second, "pause before the other migrations")
	migration.Flags().StringVar(&outDir, "out-dir", "docs/bench-raw", "directory of the JSON records")
	migration.Flags().IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "sandbox nodes (one prober on each)")

	var nVPCs, perVPC int
	vpcs := &cobra.Command{Use: "vpcs", Short: "time to program --vpcs VPCs with --subnets subnets each, and the NB size", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			started, load := time.Now(), bench.LoadAvg1()
			res, err := bench.VPCs(c.Context(), cfg, nVPCs, perVPC, progress)
			if err != nil {
				return err
			}
			progress("  %d VPCs x %d subnets programmed in %.1f s; %d NB rows, NB file %d bytes", nVPCs, perVPC, res.ProgramSeconds, res.NBRows, res.NBFileBytes)
			return save(bench.KindVPCs, fmt.Sprintf("%dx%d", nVPCs, perVPC), 1, started, load, res)
		}}
	vpcs.Flags().IntVar(&nVPCs, "vpcs", 100, "VPCs")
	vpcs.Flags().IntVar(&perVPC, "subnets", 10, "subnets per VPC")
	vpcs.Flags().StringVar(&outDir, "out-dir", "docs/bench-raw", "directory of the JSON records")

	cmd.AddCommand(machine, ipam, podready, throughput, scale, restart, migration, vpcs, report)
	return cmd
}

// migrationModes are the controller flags of each migration benchmark mode.
var migrationModes = map[string]string{
	"kvnet":           "",
	"slow-controller": "--migration-event-delay=1s",
	"naive":           "--migration-mode=naive",
}

// restartController restarts the sandbox's kvnet-controller with extra
// flags and waits until it reports ready.
func restartController(ctx context.Context, cfg sandbox.Config, args string) error {
	if err := cfg.Stop("kvnet-controller", 5*time.Second); err != nil {
		return err
	}
	if err := os.Setenv("KVNET_CONTROLLER_ARGS", args); err != nil {
		return err
	}
	if err := sandbox.StartController(cfg); err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", cfg.ControllerHealth())
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("kvnet-controller not ready at %s", url)
}

// reproduce is the command line that reproduces this run, as run from the
// repository root (with the sandbox of the same number up).
func reproduce(cfg sandbox.Config) string {
	args := append([]string{"bin/kvnet"}, os.Args[1:]...)
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	line := strings.Join(args, " ")
	if cfg.ID != 0 && !strings.Contains(line, "--id") {
		line = fmt.Sprintf("KVNET_SANDBOX_ID=%d ", cfg.ID) + line
	}
	return line
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no counts in %q", s)
	}
	return out, nil
}

// ready returns a clientset once the sandbox's network is ready to measure
// (every Subnet Ready).
func ready(ctx context.Context, cfg sandbox.Config) (*kubernetes.Clientset, error) {
	rc, err := bench.RESTConfig(cfg.Kubeconfig())
	if err != nil {
		return nil, err
	}
	cs, cl, err := clients(rc)
	if err != nil {
		return nil, err
	}
	return cs, bench.WaitSubnetsReady(ctx, cl, 2*time.Minute)
}

// clients builds a clientset and a controller-runtime client that knows kubeovn.io.
func clients(rc *rest.Config) (*kubernetes.Clientset, client.Client, error) {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	if err := kubeovnv1.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	cl, err := client.New(rc, client.Options{Scheme: scheme})
	return cs, cl, err
}
