package controller_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Evidence that code under test ran, read from the metrics registry every
// controller in this process registers with: a "nothing changed" check
// first waits for these counters to advance past the change, then compares.

// counter sums the counter (or gauge) samples named name whose labels
// include want.
func counter(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, want) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// repairPasses is how many repair passes have completed in this process.
func repairPasses(t *testing.T) float64 {
	t.Helper()
	return counter(t, "kvnet_repair_passes_total", nil)
}

// waitRepairPasses waits until at least n repair passes have completed
// since base (a repairPasses value).
func waitRepairPasses(t *testing.T, base float64, n int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%d repair passes", n), func() (bool, string) {
		got := repairPasses(t)
		return got >= base+float64(n), fmt.Sprintf("kvnet_repair_passes_total %v, want >= %v", got, base+float64(n))
	})
}

// reconciles is how many reconciles the named controller has finished (any
// result) in this process.
func reconciles(t *testing.T, controller string) float64 {
	t.Helper()
	return counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": controller})
}

// waitRepairPassAfter waits until a repair pass has started and completed
// after this call: the counter must advance by two, since a pass already
// under way when the call came counts once.
func waitRepairPassAfter(t *testing.T) {
	t.Helper()
	from := repairPasses(t)
	eventually(t, 30*time.Second, "a full repair pass", func() (bool, string) {
		n := repairPasses(t)
		return n >= from+2, fmt.Sprintf("kvnet_repair_passes_total %v, want >= %v", n, from+2)
	})
}

// reconcileCounts snapshots the reconcile counters of the named
// controllers; take it before the change whose effect a test checks.
func reconcileCounts(t *testing.T, names ...string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, n := range names {
		out[n] = reconciles(t, n)
	}
	return out
}

// waitReconciledSince waits until every controller in base has finished a
// reconcile since base was taken and is idle: nothing in its work queue and
// no reconcile running. Then whatever the change made it do is done.
func waitReconciledSince(t *testing.T, base map[string]float64) {
	t.Helper()
	eventually(t, 30*time.Second, "reconciles since the change", func() (bool, string) {
		for name, n := range base {
			if got := reconciles(t, name); got < n+1 {
				return false, fmt.Sprintf("controller %s: %v reconciles, want > %v", name, got, n)
			}
			depth, workers := queueGauges(t, name)
			rest := residueOf(name)
			if depth != rest.depth {
				return false, fmt.Sprintf("controller %s: %v queued", name, depth-rest.depth)
			}
			if workers != rest.workers {
				return false, fmt.Sprintf("controller %s: %v reconciles running", name, workers-rest.workers)
			}
		}
		return true, ""
	})
}

// queueGauges are the work queue depth and running reconciles of the
// controllers named name in this process.
func queueGauges(t *testing.T, name string) (depth, workers float64) {
	t.Helper()
	return counter(t, "workqueue_depth", map[string]string{"name": name}),
		counter(t, "controller_runtime_active_workers", map[string]string{"controller": name})
}

// A stopped manager leaves its queues' items counted in the gauges every
// later manager of this process shares (same controller names): the
// residue is what the gauges read when no manager runs, so "idle" is the
// gauge back at its residue, not at zero.
type residue struct{ depth, workers float64 }

var (
	residueMu sync.Mutex
	residues  = map[string]residue{}
)

// recordResidue notes the gauges of every controller right after a
// manager stopped (running.stop).
func recordResidue(t *testing.T) {
	t.Helper()
	residueMu.Lock()
	defer residueMu.Unlock()
	for _, name := range []string{"pod", "vm", "vm-placement", "subnet", "vpc", "node", "ippool"} {
		d, w := queueGauges(t, name)
		residues[name] = residue{d, w}
	}
}

func residueOf(name string) residue {
	residueMu.Lock()
	defer residueMu.Unlock()
	return residues[name]
}
