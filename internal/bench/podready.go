package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// PodReadyResult is the pod network-ready latency of one run: from the
// pod's creation already bound to a node (its binding) until the kubelet
// stand-in reports it Running, which it does only after CNI ADD returned,
// i.e. after the agent saw ovn-installed.
type PodReadyResult struct {
	Pods      int       `json:"pods"`
	Nodes     int       `json:"nodes"`
	LatencyMs Summary   `json:"latencyMs"`
	Samples   []float64 `json:"samplesMs"`
	TotalMs   float64   `json:"totalMs"`
}

// PodReady creates n pods at once, spread round-robin over nodes, and
// measures each pod's network-ready latency, then deletes them.
func PodReady(ctx context.Context, cs kubernetes.Interface, nodes []string, n int, progress func(string, ...any)) (PodReadyResult, error) {
	ns := fmt.Sprintf("bench-podready-%d", time.Now().UnixNano())
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return PodReadyResult{}, err
	}
	defer deleteNamespace(cs, ns)
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
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
			created[name] = t
			mu.Unlock()
		})
	}()
	ready := map[string]time.Time{}
	timeout := time.After(time.Duration(n)*200*time.Millisecond + 60*time.Second)
	for len(ready) < n {
		select {
		case err := <-errc:
			if err != nil {
				return PodReadyResult{}, err
			}
			errc = nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return PodReadyResult{}, fmt.Errorf("pod watch closed")
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				continue
			}
			if _, seen := ready[p.Name]; !seen && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				ready[p.Name] = time.Now()
				if len(ready)%50 == 0 {
					progress("  %d/%d pods ready", len(ready), n)
				}
			}
		case <-timeout:
			return PodReadyResult{}, fmt.Errorf("only %d of %d pods ready", len(ready), n)
		}
	}
	res := PodReadyResult{Pods: n, Nodes: len(nodes), TotalMs: ms(time.Since(start))}
	mu.Lock()
	for name, t := range ready {
		res.Samples = append(res.Samples, ms(t.Sub(created[name])))
	}
	mu.Unlock()
	res.LatencyMs = Summarize(res.Samples)
	return res, nil
}

// benchPod is a pod bound to node at creation.
func benchPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			Containers:                    []corev1.Container{{Name: "c", Image: "pause"}},
		},
	}
}

// createPods creates n pods with 16 clients at once; created is called with
// the time each Create returned.
func createPods(ctx context.Context, cs kubernetes.Interface, ns string, n int, mk func(int) *corev1.Pod, created func(string, time.Time)) error {
	idx := make(chan int)
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				p := mk(i)
				if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				created(p.Name, time.Now())
			}
		}()
	}
	for i := 0; i < n; i++ {
		idx <- i
	}
	close(idx)
	wg.Wait()
	return first
}

// deleteNamespace deletes ns and waits (bounded) until it is gone.
func deleteNamespace(cs kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	for ctx.Err() == nil {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
