package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kvnet/kvnet/internal/bench"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// benchCmd runs one benchmark against the running sandbox and writes its
// result as JSON (to --out or stdout); `make bench` drives these and renders
// docs/benchmarks.md.
func benchCmd() *cobra.Command {
	cfg := sandbox.DefaultConfig(repoDir())
	var out string
	var pods int
	cmd := &cobra.Command{Use: "bench", Short: "run a benchmark against the running sandbox"}
	cmd.PersistentFlags().StringVar(&out, "out", "", "write the JSON result here (default stdout)")
	cmd.PersistentFlags().StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "sandbox state directory")
	write := func(v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if out == "" {
			_, err = fmt.Println(string(b))
			return err
		}
		return os.WriteFile(out, append(b, '\n'), 0o644)
	}
	progress := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	podready := &cobra.Command{Use: "podready", Short: "pod network-ready latency for --pods pods created at once", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cs, err := sandbox.Clientset(cfg)
			if err != nil {
				return err
			}
			var nodes []string
			for i := 1; i <= cfg.Nodes; i++ {
				nodes = append(nodes, sandbox.NodeName(i))
			}
			res, err := bench.PodReady(c.Context(), cs, nodes, pods, progress)
			if err != nil {
				return err
			}
			return write(res)
		}}
	podready.Flags().IntVar(&pods, "pods", 300, "pods to create at once")
	podready.Flags().IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "sandbox nodes to spread them over")
	throughput := &cobra.Command{Use: "throughput", Short: "controller throughput without the data plane", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cs, err := sandbox.Clientset(cfg)
			if err != nil {
				return err
			}
			res, err := bench.Throughput(c.Context(), cs, cfg.NBSocket(), pods, progress)
			if err != nil {
				return err
			}
			return write(res)
		}}
	throughput.Flags().IntVar(&pods, "pods", 2000, "pods to create at once")
	cmd.AddCommand(podready, throughput)
	return cmd
}
