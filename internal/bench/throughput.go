package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/kvnet/kvnet/internal/annotations"
)

// ThroughputResult is the controller's throughput without the data plane.
type ThroughputResult struct {
	Pods int `json:"pods"`
	// CreateMs is how long creating the pods took (API-bound).
	CreateMs float64 `json:"createMs"`
	// AddressedMs is from the first create until every pod has its
	// annotations and routed=true (its port is in NB).
	AddressedMs float64 `json:"addressedMs"`
	PodsPerSec  float64 `json:"podsPerSec"`
	// NBPorts counts the logical switch ports of these pods found in NB at the end.
	NBPorts int `json:"nbPorts"`
}

// Throughput creates n pods at once on fake nodes (Node objects with no
// kubelet, so no CNI runs) and measures until all are addressed and in NB.
func Throughput(ctx context.Context, cs kubernetes.Interface, nbSocket string, n int, progress func(string, ...any)) (ThroughputResult, error) {
	ns := fmt.Sprintf("bench-throughput-%d", time.Now().UnixNano())
	var nodes []string
	for i := 1; i <= 10; i++ {
		name := fmt.Sprintf("bench-fake-%d", i)
		nodes = append(nodes, name)
		_, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"kvnet.io/bench": "fake"}}}, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return ThroughputResult{}, err
		}
	}
	defer func() {
		for _, nd := range nodes {
			_ = cs.CoreV1().Nodes().Delete(context.Background(), nd, metav1.DeleteOptions{})
		}
	}()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return ThroughputResult{}, err
	}
	defer deleteNamespace(cs, ns)
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return ThroughputResult{}, err
	}
	defer w.Stop()
	start := time.Now()
	created := make(chan error, 1)
	var createMs float64
	go func() {
		err := createPods(ctx, cs, ns, n, func(i int) *corev1.Pod {
			return benchPod(fmt.Sprintf("t%05d", i), nodes[i%len(nodes)])
		}, func(string, time.Time) {})
		createMs = ms(time.Since(start))
		created <- err
	}()
	done := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(done) < n {
		select {
		case err := <-created:
			if err != nil {
				return ThroughputResult{}, err
			}
			created = nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return ThroughputResult{}, fmt.Errorf("pod watch closed")
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				continue
			}
			if !done[p.Name] && p.Annotations[annotations.Routed] == "true" {
				done[p.Name] = true
				if len(done)%500 == 0 {
					progress("  %d/%d pods addressed", len(done), n)
				}
			}
		case <-timeout:
			return ThroughputResult{}, fmt.Errorf("only %d of %d pods addressed after 5 minutes", len(done), n)
		}
	}
	res := ThroughputResult{Pods: n, AddressedMs: ms(time.Since(start))}
	if created != nil {
		<-created
	}
	res.CreateMs = createMs
	res.PodsPerSec = float64(n) / (res.AddressedMs / 1000)
	out, err := exec.CommandContext(ctx, "ovn-nbctl", "--db=unix:"+nbSocket, "--bare", "--columns=name", "list", "Logical_Switch_Port").Output()
	if err != nil {
		return res, fmt.Errorf("count NB ports: %w", err)
	}
	for _, l := range strings.Fields(string(out)) {
		if strings.HasSuffix(l, "."+ns) {
			res.NBPorts++
		}
	}
	return res, nil
}
