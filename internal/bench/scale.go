package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// ScaleStep is the controller after the pod population grew to Pods.
type ScaleStep struct {
	Pods  int `json:"pods"`
	Added int `json:"added"`
	// Seconds is from the step's first pod create until all Pods are routed.
	Seconds    float64 `json:"seconds"`
	PodsPerSec float64 `json:"podsPerSec"`
	// Memory is the controller's RSS once the step settled (and its peak so far).
	Memory Memory `json:"memory"`
	// HeapInuseBytes is the Go heap in use (go_memstats_heap_inuse_bytes).
	HeapInuseBytes float64 `json:"heapInuseBytes"`
	// NBTxns counts the write transactions NB committed for unsigned
	// clients (kvnet; ovn-northd and ovn-nbctl sign theirs) during the step,
	// read from NB's database log; NBTxnsPerPod divides by Added.
	NBTxns       int     `json:"nbTxns"`
	NBTxnsPerPod float64 `json:"nbTxnsPerPod"`
	// NorthdTxns are ovn-northd's own NB writes in the same time.
	NorthdTxns int `json:"northdTxns"`
	// CtrlNBTxns is the controller's own count (its
	// kvnet_nb_transaction_seconds histogram, no-op transactions included);
	// -1 when not served.
	CtrlNBTxns       float64 `json:"ctrlNBTxns"`
	CtrlNBTxnsPerPod float64 `json:"ctrlNBTxnsPerPod"`
	// NBFileBytes is the NB database file's size; LSPs the logical switch ports in NB.
	NBFileBytes int64 `json:"nbFileBytes"`
	LSPs        int   `json:"lsps"`
	// CPUSeconds is the CPU time each central sandbox process used during the step.
	CPUSeconds map[string]float64 `json:"cpuSeconds,omitempty"`
}

// ScaleResult is the controller's memory and NB cost as pods grow, without
// the data plane.
type ScaleResult struct {
	Subnets   int `json:"subnets"`
	FakeNodes int `json:"fakeNodes"`
	// SetupSeconds and SetupNBTxns are for creating the subnets.
	SetupSeconds float64     `json:"setupSeconds"`
	SetupNBTxns  int         `json:"setupNBTxns"`
	Baseline     Memory      `json:"baseline"`
	Steps        []ScaleStep `json:"steps"`
	// Compactions of NB's file seen while counting (transactions may be missed).
	Compactions int `json:"compactions"`
}

// ScaleOptions size the scale benchmark.
type ScaleOptions struct {
	Steps     []int // cumulative pod counts, e.g. 1000, 5000, 10000
	Subnets   int
	FakeNodes int
	// Keep leaves the population in place (for the restart benchmark).
	Keep bool
}

// Scale grows a Population of pods on fake nodes over Subnets subnets
// through each step and measures the controller's memory and NB
// transactions per pod at each.
func Scale(ctx context.Context, cfg sandbox.Config, cs kubernetes.Interface, cl client.Client, o ScaleOptions, progress func(string, ...any)) (ScaleResult, error) {
	ctl := controllerProc{cfg: cfg}
	res := ScaleResult{Subnets: o.Subnets, FakeNodes: o.FakeNodes}
	nodes, err := FakeNodes(ctx, cs, o.FakeNodes)
	if err != nil {
		return res, err
	}
	pop := Population{cs: cs, cl: cl, subnets: o.Subnets, nodes: nodes}
	if !o.Keep {
		defer pop.Remove(context.Background())
	}
	nb, err := OpenNBLog(ctl.nbDB())
	if err != nil {
		return res, err
	}
	start := time.Now()
	progress("scale: %d subnets", o.Subnets)
	if err := pop.ensureSubnets(ctx, progress); err != nil {
		return res, err
	}
	txns, err := settle(ctx, nb, 2*time.Second, time.Minute)
	if err != nil {
		return res, err
	}
	res.SetupSeconds = time.Since(start).Seconds()
	res.SetupNBTxns = CountBy(txns)[""]
	if res.Baseline, err = ctl.memory(); err != nil {
		return res, err
	}
	have, err := pop.count(ctx)
	if err != nil {
		return res, err
	}
	for _, target := range o.Steps {
		if target < have {
			return res, fmt.Errorf("step %d: %d bench pods exist already", target, have)
		}
		progress("scale: %d -> %d pods", have, target)
		ctrl0 := ctl.nbTxnMetric(ctx)
		if _, err := nb.Read(); err != nil { // drop anything before the step
			return res, err
		}
		cpu := startCPU(cfg)
		d, err := pop.grow(ctx, have, target, progress)
		if err != nil {
			return res, err
		}
		cpuUsed := cpu.used()
		txns, err := settle(ctx, nb, 2*time.Second, 2*time.Minute)
		if err != nil {
			return res, err
		}
		step := ScaleStep{Pods: target, Added: target - have, Seconds: d.Seconds(), CPUSeconds: cpuUsed}
		if d > 0 {
			step.PodsPerSec = float64(step.Added) / d.Seconds()
		}
		by := CountBy(txns)
		step.NBTxns, step.NorthdTxns = by[""], by["ovn-northd"]
		step.CtrlNBTxns = -1
		if ctrl1 := ctl.nbTxnMetric(ctx); ctrl0 >= 0 && ctrl1 >= 0 {
			step.CtrlNBTxns = ctrl1 - ctrl0
		}
		if step.Added > 0 {
			step.NBTxnsPerPod = float64(step.NBTxns) / float64(step.Added)
			if step.CtrlNBTxns >= 0 {
				step.CtrlNBTxnsPerPod = step.CtrlNBTxns / float64(step.Added)
			}
		}
		if step.Memory, err = ctl.memory(); err != nil {
			return res, err
		}
		if m, err := Scrape(ctx, ctl.metricsURL()); err == nil {
			step.HeapInuseBytes = m.Sum("go_memstats_heap_inuse_bytes", nil)
		}
		if fi, err := os.Stat(ctl.nbDB()); err == nil {
			step.NBFileBytes = fi.Size()
		}
		if n, err := ovnNBCount(ctx, cfg.NBSocket(), "Logical_Switch_Port"); err == nil {
			step.LSPs = n
		}
		progress("scale: %d pods in %.1fs (%.0f pods/s), controller RSS %.0f MiB, %.2f NB txns/pod",
			target, step.Seconds, step.PodsPerSec, float64(step.Memory.RSSBytes)/(1<<20), step.NBTxnsPerPod)
		res.Steps = append(res.Steps, step)
		have = target
	}
	res.Compactions = nb.Compactions
	return res, nil
}

// settle reads NB's log until no transaction came for quiet (bounded by
// timeout) and returns every transaction read.
func settle(ctx context.Context, nb *NBLog, quiet, timeout time.Duration) ([]NBTxn, error) {
	var all []NBTxn
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for time.Since(last) < quiet && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return all, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		txns, err := nb.Read()
		if err != nil {
			return all, err
		}
		if len(txns) > 0 {
			all = append(all, txns...)
			last = time.Now()
		}
	}
	return all, nil
}
