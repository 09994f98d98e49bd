package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// BenchLabel marks every object a benchmark creates.
const BenchLabel = "kvnet.io/bench"

// RESTConfig is the benchmarks' client configuration: client-side rate
// limiting is off (as in the controller), so the figures measure kvnet and
// the apiserver, not a client throttle.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = -1, 0
	return rc, nil
}

// Clientset builds a clientset from RESTConfig.
func Clientset(kubeconfig string) (*kubernetes.Clientset, error) {
	rc, err := RESTConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}

// benchPod is a pod bound to node at creation. It tolerates every taint, so
// the node lifecycle controller never evicts it from a fake node (which has
// no kubelet and turns NotReady).
func benchPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench", BenchLabel: "pod"}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:                    []corev1.Container{{Name: "c", Image: "pause"}},
		},
	}
}

// createPods creates n pods with 16 clients at once; created is called with
// the time each Create returned.
func createPods(ctx context.Context, cs kubernetes.Interface, ns string, n int, mk func(int) *corev1.Pod, created func(string, time.Time)) error {
	return parallel(ctx, n, 16, func(i int) error {
		p := mk(i)
		if err := withRetry(ctx, func() error {
			_, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("create pod %s/%s: %w", ns, p.Name, err)
		}
		created(p.Name, time.Now())
		return nil
	})
}

// parallel runs f(0..n-1) on `workers` goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(int) error) error {
	idx := make(chan int)
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		idx <- i
	}
	close(idx)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// createNamespace creates a namespace labelled as a benchmark's.
func createNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	return withRetry(ctx, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{BenchLabel: "namespace"}}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
}

// deleteNamespaces deletes namespaces and waits (bounded) until they are gone.
func deleteNamespaces(cs kubernetes.Interface, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, ns := range names {
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	}
	for _, ns := range names {
		for ctx.Err() == nil {
			if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// FakeNodes creates n Node objects with no kubelet behind them (pods bound
// there get addresses and NB ports, but no CNI runs: the controller without
// the data plane). Existing ones are kept.
func FakeNodes(ctx context.Context, cs kubernetes.Interface, n int) ([]string, error) {
	var nodes []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("bench-fake-%d", i)
		nodes = append(nodes, name)
		_, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{BenchLabel: "fake"}}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	return nodes, nil
}

// DeleteFakeNodes removes the fake nodes.
func DeleteFakeNodes(cs kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = cs.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: BenchLabel + "=fake"})
}

// podWatch observes pods through an informer (a plain watch can be refused
// or closed by the apiserver at any time; the informer re-lists and
// re-watches) and records when each pod first satisfies cond.
type podWatch struct {
	mu   sync.Mutex
	met  map[string]time.Time // namespace/name -> first time cond held
	cond func(*corev1.Pod) bool
	on   func(n int)
	stop chan struct{}
}

// watchPods starts observing the pods of namespace ("" for all) matching
// selector and returns once the informer's cache has synced.
func watchPods(ctx context.Context, cs kubernetes.Interface, namespace, selector string, cond func(*corev1.Pod) bool, on func(n int)) (*podWatch, error) {
	w := &podWatch{met: map[string]time.Time{}, cond: cond, on: on, stop: make(chan struct{})}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { w.see(o) },
		UpdateFunc: func(_, o any) { w.see(o) },
	}); err != nil {
		return nil, err
	}
	f.Start(w.stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		close(w.stop)
		return nil, fmt.Errorf("pod informer did not sync: %w", ctx.Err())
	}
	return w, nil
}

func (w *podWatch) see(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok || p.DeletionTimestamp != nil || !w.cond(p) {
		return
	}
	key := p.Namespace + "/" + p.Name
	now := time.Now()
	w.mu.Lock()
	_, seen := w.met[key]
	if !seen {
		w.met[key] = now
	}
	n := len(w.met)
	w.mu.Unlock()
	if !seen && w.on != nil {
		w.on(n)
	}
}

// Count is how many pods have met cond.
func (w *podWatch) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.met)
}

// Times returns a copy of the first times cond held, by namespace/name.
func (w *podWatch) Times() map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]time.Time, len(w.met))
	for k, v := range w.met {
		out[k] = v
	}
	return out
}

// WaitCount waits until n pods met cond, polling every 20 ms (the recorded
// times come from the informer's handler, not from this poll).
func (w *podWatch) WaitCount(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for w.Count() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d pods after %s", w.Count(), n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Stop ends the informer.
func (w *podWatch) Stop() { close(w.stop) }

// podKey joins namespace and name.
func podKey(ns, name string) string { return ns + "/" + name }

// transient tells errors worth retrying: the apiserver or an admission
// webhook timed out or was overloaded (the machine is shared).
func transient(err error) bool {
	return apierrors.IsInternalError(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) ||
		(err != nil && strings.Contains(err.Error(), "failed calling webhook"))
}

// withRetry runs f until it succeeds, fails for good, or 8 transient failures.
func withRetry(ctx context.Context, f func() error) error {
	return retry.OnError(wait.Backoff{Steps: 8, Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: 10 * time.Second},
		func(err error) bool { return ctx.Err() == nil && transient(err) }, f)
}

// isAlreadyExists tells errors worth ignoring when re-creating bench objects.
func isAlreadyExists(err error) bool {
	return err != nil && (apierrors.IsAlreadyExists(err) || strings.Contains(err.Error(), "already exists"))
}
