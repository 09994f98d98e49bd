package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// ThroughputResult is the controller's throughput without the data plane.
type ThroughputResult struct {
	Pods int `json:"pods"`
	// CreateMs is how long creating the pods took (16 clients, API-bound).
	CreateMs float64 `json:"createMs"`
	// AddressedMs is from the first create until every pod has its
	// annotations and routed=true (its port is in NB).
	AddressedMs float64 `json:"addressedMs"`
	PodsPerSec  float64 `json:"podsPerSec"`
	// NBPorts counts the logical switch ports of these pods found in NB at the end.
	NBPorts int `json:"nbPorts"`
	// NBTxns counts NB write transactions of unsigned clients (kvnet) from
	// the first create until all pods were routed, read from NB's log.
	NBTxns int `json:"nbTxns"`
	// CPUSeconds is the CPU time (user+system) each central sandbox process
	// used from the first create until all pods were routed.
	CPUSeconds map[string]float64 `json:"cpuSeconds,omitempty"`
}

// Throughput creates n pods at once on fake nodes (Node objects with no
// kubelet, so no CNI runs) and measures until all are addressed and in NB.
func Throughput(ctx context.Context, cfg sandbox.Config, cs kubernetes.Interface, n int, progress func(string, ...any)) (ThroughputResult, error) {
	ns := fmt.Sprintf("bench-throughput-%d", time.Now().UnixNano())
	nodes, err := FakeNodes(ctx, cs, 10)
	if err != nil {
		return ThroughputResult{}, err
	}
	defer DeleteFakeNodes(cs)
	if err := createNamespace(ctx, cs, ns); err != nil {
		return ThroughputResult{}, err
	}
	defer deleteNamespaces(cs, ns)
	w, err := watchPods(ctx, cs, ns, "", routed, func(k int) {
		if k%500 == 0 {
			progress("  %d/%d pods addressed", k, n)
		}
	})
	if err != nil {
		return ThroughputResult{}, err
	}
	defer w.Stop()
	nb, err := OpenNBLog(controllerProc{cfg: cfg}.nbDB())
	if err != nil {
		return ThroughputResult{}, err
	}
	// Start from a quiet system: the previous run's pods, deleted with
	// its namespace, may still be being released (NB writes), and that
	// work would be measured as this run's.
	if _, err := settle(ctx, nb, 2*time.Second, 2*time.Minute); err != nil {
		return ThroughputResult{}, err
	}
	cpu := startCPU(cfg)
	start := time.Now()
	var createNs atomic.Int64
	errc := make(chan error, 1)
	go func() {
		err := createPods(ctx, cs, ns, n, func(i int) *corev1.Pod {
			return benchPod(fmt.Sprintf("t%05d", i), nodes[i%len(nodes)])
		}, func(string, time.Time) {})
		createNs.Store(int64(time.Since(start)))
		errc <- err
	}()
	if err := w.WaitCount(ctx, n, 10*time.Minute); err != nil {
		return ThroughputResult{}, fmt.Errorf("pods addressed: %w", err)
	}
	res := ThroughputResult{Pods: n, AddressedMs: ms(time.Since(start)), CPUSeconds: cpu.used()}
	if err := <-errc; err != nil {
		return res, err
	}
	txns, err := nb.Read()
	if err != nil {
		return res, err
	}
	res.NBTxns = CountBy(txns)[""]
	res.CreateMs = ms(time.Duration(createNs.Load()))
	res.PodsPerSec = float64(n) / (res.AddressedMs / 1000)
	out, err := runOut(ctx, "ovn-nbctl", "--db=unix:"+cfg.NBSocket(), "--timeout=60", "--bare", "--columns=name", "list", "Logical_Switch_Port")
	if err != nil {
		return res, fmt.Errorf("count NB ports: %w", err)
	}
	for _, l := range strings.Fields(out) {
		if strings.HasSuffix(l, "."+ns) {
			res.NBPorts++
		}
	}
	return res, nil
}
