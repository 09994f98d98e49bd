package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
)

// Population is the scale and restart benchmarks' workload: S subnets,
// each bound to its own namespace, and pods spread round-robin over the
// namespaces and over fake nodes (no data plane).
type Population struct {
	cs      kubernetes.Interface
	cl      client.Client
	subnets int
	nodes   []string
}

// populationSubnetsMax bounds S: subnet i is 10.(100+i).0.0/16.
const populationSubnetsMax = 150

func (p Population) name(i int) string { return fmt.Sprintf("bench-scale-%03d", i) }

// ensureSubnets creates the namespaces and subnets that are missing and
// waits until every subnet is Ready.
func (p Population) ensureSubnets(ctx context.Context, progress func(string, ...any)) error {
	if p.subnets < 1 || p.subnets > populationSubnetsMax {
		return fmt.Errorf("subnets must be 1..%d", populationSubnetsMax)
	}
	err := parallel(ctx, p.subnets, 8, func(i int) error {
		if err := createNamespace(ctx, p.cs, p.name(i)); err != nil {
			return err
		}
		sn := &kubeovnv1.Subnet{
			ObjectMeta: metav1.ObjectMeta{Name: p.name(i), Labels: map[string]string{BenchLabel: "subnet"}},
			Spec: kubeovnv1.SubnetSpec{
				CIDRBlock:  fmt.Sprintf("10.%d.0.0/16", 100+i),
				Namespaces: []string{p.name(i)},
			},
		}
		err := withRetry(ctx, func() error {
			if err := p.cl.Create(ctx, sn); err != nil && !isAlreadyExists(err) {
				return err
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("create subnet %s: %w", sn.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var list kubeovnv1.SubnetList
		if err := p.cl.List(ctx, &list, client.MatchingLabels{BenchLabel: "subnet"}); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, "Ready") {
				ready++
			}
		}
		if ready >= p.subnets {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d bench subnets Ready", ready, p.subnets)
		}
		progress("  %d/%d subnets ready", ready, p.subnets)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// routed is the controller's "done" for a pod without a data plane: its
// address is allocated and its port is in NB.
func routed(pod *corev1.Pod) bool { return pod.Annotations[annotations.Routed] == "true" }

// grow creates pods from index `from` up to `to` (exclusive) and returns
// when all `to` pods are routed, with the time from the first create.
func (p Population) grow(ctx context.Context, from, to int, progress func(string, ...any)) (time.Duration, error) {
	w, err := watchPods(ctx, p.cs, "", BenchLabel+"=scale", routed, func(n int) {
		if n%1000 == 0 {
			progress("  %d/%d pods routed", n, to)
		}
	})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		errc <- parallel(ctx, to-from, 16, func(k int) error {
			j := from + k
			ns := p.name(j % p.subnets)
			pod := benchPod(fmt.Sprintf("s%05d", j), p.nodes[j%len(p.nodes)])
			pod.Labels[BenchLabel] = "scale"
			return withRetry(ctx, func() error {
				_, err := p.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
				if isAlreadyExists(err) {
					return nil
				}
				return err
			})
		})
	}()
	if err := w.WaitCount(ctx, to, 30*time.Minute); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, <-errc
}

// count returns the number of bench pods that exist now.
func (p Population) count(ctx context.Context) (int, error) {
	list, err := p.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: BenchLabel + "=scale", ResourceVersion: "0"})
	if err != nil {
		return 0, err
	}
	return len(list.Items), nil
}

// remove deletes the namespaces (and so the pods), the subnets and the
// fake nodes.
func (p Population) Remove(ctx context.Context) {
	var names []string
	for i := 0; i < p.subnets; i++ {
		names = append(names, p.name(i))
	}
	deleteNamespaces(p.cs, names...)
	_ = p.cl.DeleteAllOf(ctx, &kubeovnv1.Subnet{}, client.MatchingLabels{BenchLabel: "subnet"})
	DeleteFakeNodes(p.cs)
}

// runOut runs a short command and returns its stdout; the error carries stderr.
func runOut(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// WaitSubnetsReady waits until at least one Subnet exists and every Subnet
// is Ready (after `sandbox up` the controller is still creating the default
// subnets; pods created before then would measure the bootstrap).
func WaitSubnetsReady(ctx context.Context, cl client.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var list kubeovnv1.SubnetList
		err := cl.List(ctx, &list)
		ready := 0
		if err == nil {
			for i := range list.Items {
				if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, "Ready") {
					ready++
				}
			}
			if len(list.Items) > 0 && ready == len(list.Items) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("subnets not ready after %s (%d of %d Ready, last error %v)", timeout, ready, len(list.Items), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
