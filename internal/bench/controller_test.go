package bench

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestParseProcStatus(t *testing.T) {
	m, err := parseProcStatus("Name:\tkvnet-controller\nVmHWM:\t  81920 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSBytes != 40960*1024 || m.PeakBytes != 81920*1024 {
		t.Fatalf("got %+v", m)
	}
	if _, err := parseProcStatus("Name:\tx\n"); err == nil {
		t.Error("a status without VmRSS must be an error")
	}
}

func parseMetrics(t *testing.T, text string) Metrics {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const caughtUpMetrics = `# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="pod",result="success"} 90
controller_runtime_reconcile_total{controller="pod",result="error"} 10
controller_runtime_reconcile_total{controller="subnet",result="success"} 3
# TYPE workqueue_depth gauge
workqueue_depth{controller="pod",name="pod",priority="-100"} 0
workqueue_depth{controller="pod",name="pod",priority="0"} 0
# TYPE controller_runtime_active_workers gauge
controller_runtime_active_workers{controller="pod"} 0
# TYPE kvnet_nb_transaction_seconds histogram
kvnet_nb_transaction_seconds_bucket{controller="pod",result="ok",le="+Inf"} 7
kvnet_nb_transaction_seconds_sum{controller="pod",result="ok"} 0.1
kvnet_nb_transaction_seconds_count{controller="pod",result="ok"} 7
kvnet_nb_transaction_seconds_bucket{controller="pod",result="error",le="+Inf"} 1
kvnet_nb_transaction_seconds_sum{controller="pod",result="error"} 0.1
kvnet_nb_transaction_seconds_count{controller="pod",result="error"} 1
`

func TestMetricsSumAndCaughtUp(t *testing.T) {
	m := parseMetrics(t, caughtUpMetrics)
	if got := m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": "pod"}); got != 100 {
		t.Errorf("pod reconciles = %v", got)
	}
	if got := m.Sum("kvnet_nb_transaction_seconds", nil); got != 8 {
		t.Errorf("histogram sample count = %v, want 8", got)
	}
	if got := m.Sum("nope", nil); got != 0 {
		t.Errorf("missing family = %v", got)
	}
	if !caughtUpNow(m, 100, 3) {
		t.Error("100 reconciles for 100 pods, nothing queued: caught up")
	}
	if caughtUpNow(m, 101, 3) {
		t.Error("fewer pod reconciles than pods: not caught up")
	}
	busy := parseMetrics(t, strings.Replace(caughtUpMetrics, `controller_runtime_active_workers{controller="pod"} 0`, `controller_runtime_active_workers{controller="pod"} 1`, 1))
	if caughtUpNow(busy, 100, 3) {
		t.Error("a reconcile still running: not caught up")
	}
	queued := parseMetrics(t, strings.Replace(caughtUpMetrics, `priority="-100"} 0`, `priority="-100"} 4`, 1))
	if caughtUpNow(queued, 100, 3) {
		t.Error("work queued: not caught up")
	}
	if caughtUpNow(Metrics{}, 0, 0) {
		t.Error("no metrics served: not caught up")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// pid (comm with a space) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	line := "4242 (kube apiserver) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0\n"
	got, err := parseProcStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if got != 3 {
		t.Fatalf("utime+stime = %v s, want 3", got)
	}
	if _, err := parseProcStatCPU("garbage"); err == nil {
		t.Error("a malformed line must be an error")
	}
}

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewInternalError(errors.New("boom")), true},
		{apierrors.NewTooManyRequests("slow down", 1), true},
		{errors.New(`Internal error occurred: failed calling webhook "subnet.webhook.kvnet.io": context deadline exceeded`), true},
		{apierrors.NewBadRequest("no"), false},
		{nil, false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
