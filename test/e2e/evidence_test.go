//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Evidence that the controller or an agent ran, so that a "nothing
// changed" check compares after the code under test has run, not after a
// pause: the controller's metrics endpoint (controller-runtime's reconcile
// counters, kvnet_repair_passes_total) and the agent's log.

// controllerMetrics reads the running controller's metrics.
func controllerMetrics() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", cfg.ControllerMetrics()))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// metricSum sums the counter or gauge samples of name whose labels include
// want.
func metricSum(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	sum := 0.0
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && have[k] == v
		}
		if ok {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// reconcileCounts snapshots the controller's reconcile counters of the named
// controllers (0 for a controller process that has not started yet).
func reconcileCounts(t *testing.T, names ...string) map[string]float64 {
	t.Helper()
	mfs, err := controllerMetrics()
	if err != nil {
		t.Fatalf("controller metrics: %v", err)
	}
	out := map[string]float64{}
	for _, n := range names {
		out[n] = metricSum(mfs, "controller_runtime_reconcile_total", map[string]string{"controller": n})
	}
	return out
}

// waitReconciledSince waits until each controller in base has finished a
// reconcile more than base counts and is idle (empty work queue, no
// reconcile running; a base of -1 asks only for idle), and, with repairs > 0, until kvnet_repair_passes_total
// has reached repairs. Pass a zero base for a freshly started controller.
func waitReconciledSince(t *testing.T, base map[string]float64, repairs float64) {
	t.Helper()
	last := ""
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 120*time.Second, true, func(context.Context) (bool, error) {
		mfs, err := controllerMetrics()
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for name, n := range base {
			if got := metricSum(mfs, "controller_runtime_reconcile_total", map[string]string{"controller": name}); got <= n {
				last = fmt.Sprintf("controller %s: %v reconciles, want > %v", name, got, n)
				return false, nil
			}
			if d := metricSum(mfs, "workqueue_depth", map[string]string{"name": name}); d != 0 {
				last = fmt.Sprintf("controller %s: %v queued", name, d)
				return false, nil
			}
			if w := metricSum(mfs, "controller_runtime_active_workers", map[string]string{"controller": name}); w != 0 {
				last = fmt.Sprintf("controller %s: %v reconciles running", name, w)
				return false, nil
			}
		}
		if got := metricSum(mfs, "kvnet_repair_passes_total", nil); got < repairs {
			last = fmt.Sprintf("kvnet_repair_passes_total %v, want >= %v", got, repairs)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("no evidence that the controller ran: %s", last)
	}
}

// logSize is the current length of a sandbox process's log.
func logSize(t *testing.T, proc string) int64 {
	t.Helper()
	st, err := os.Stat(cfg.LogFile(proc))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// waitLogLine waits until the process's log, from offset on, holds line.
func waitLogLine(t *testing.T, proc string, offset int64, line string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		b, err := os.ReadFile(cfg.LogFile(proc))
		if err != nil || int64(len(b)) < offset {
			return false, nil
		}
		return strings.Contains(string(b[offset:]), line), nil
	})
	if err != nil {
		t.Fatalf("%s did not log %q after offset %d", proc, line, offset)
	}
}
