package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PodReadyResult is the pod network-ready latency of one run: from the
// pod's creation already bound to a node (its binding) until the kubelet
// stand-in reports it Running, which it does only after CNI ADD returned,
// i.e. after the agent saw ovn-installed and the pod's gateway answered.
// TotalMs runs from the first create until the last pod was ready.
type PodReadyResult struct {
	Pods      int       `json:"pods"`
	Nodes     int       `json:"nodes"`
	LatencyMs Summary   `json:"latencyMs"`
	Samples   []float64 `json:"samplesMs"`
	TotalMs   float64   `json:"totalMs"`
	// SandboxFailures counts failed CNI ADDs (the kubelet stand-in's
	// FailedCreatePodSandBox events) during the run; each is retried with
	// back-off, so they show in the latency. FailureMessages groups them by
	// message (addresses and durations left in).
	SandboxFailures int            `json:"sandboxFailures"`
	FailureMessages map[string]int `json:"failureMessages,omitempty"`
}

// PodReady creates n pods at once, spread round-robin over nodes, and
// measures each pod's network-ready latency, then deletes them.
func PodReady(ctx context.Context, cs kubernetes.Interface, nodes []string, n int, progress func(string, ...any)) (PodReadyResult, error) {
	ns := fmt.Sprintf("bench-podready-%d", time.Now().UnixNano())
	if err := createNamespace(ctx, cs, ns); err != nil {
		return PodReadyResult{}, err
	}
	defer deleteNamespaces(cs, ns)
	w, err := watchPods(ctx, cs, ns, "", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
	}, func(k int) {
		if k%50 == 0 {
			progress("  %d/%d pods ready", k, n)
		}
	})
	if err != nil {
		return PodReadyResult{}, err
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		errc <- createPods(ctx, cs, ns, n, func(i int) *corev1.Pod {
			return benchPod(fmt.Sprintf("p%04d", i), nodes[i%len(nodes)])
		}, func(name string, t time.Time) {
			mu.Lock()
			created[podKey(ns, name)] = t
			mu.Unlock()
		})
	}()
	if err := w.WaitCount(ctx, n, time.Duration(n)*500*time.Millisecond+120*time.Second); err != nil {
		return PodReadyResult{}, fmt.Errorf("pods ready: %w", err)
	}
	if err := <-errc; err != nil {
		return PodReadyResult{}, err
	}
	res := PodReadyResult{Pods: n, Nodes: len(nodes)}
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	for key, t := range w.Times() {
		res.Samples = append(res.Samples, ms(t.Sub(created[key])))
		if t.After(last) {
			last = t
		}
	}
	res.TotalMs = ms(last.Sub(start))
	res.LatencyMs = Summarize(res.Samples)
	res.SandboxFailures, res.FailureMessages = sandboxFailures(ctx, cs, ns)
	return res, nil
}

// sandboxFailures counts the FailedCreatePodSandBox events of namespace ns.
func sandboxFailures(ctx context.Context, cs kubernetes.Interface, ns string) (int, map[string]int) {
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreatePodSandBox"})
	if err != nil {
		return 0, nil
	}
	n, by := 0, map[string]int{}
	for _, e := range evs.Items {
		c := int(max(e.Count, 1))
		n += c
		msg := e.Message
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		by[msg] += c
	}
	return n, by
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
