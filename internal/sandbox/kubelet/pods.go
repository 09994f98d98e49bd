package kubelet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	types100 "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// podWorker keeps each pod of the node in step with its network sandbox.
type podWorker struct {
	k      *Kubelet
	queue  workqueue.TypedRateLimitingInterface[string]
	lister corelisters.PodLister
	dir    string // one JSON record per sandbox, named by pod UID

	mu      sync.Mutex
	records map[string]podNet           // by pod UID
	added   map[string]*types100.Result // by pod UID: ADD done, never run again
}

func newPodWorker(k *Kubelet) *podWorker {
	return &podWorker{
		k: k,
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](
			500*time.Millisecond, 30*time.Second)),
		dir:     k.cfg.NodeDir(k.node, "pods"),
		records: map[string]podNet{},
		added:   map[string]*types100.Result{},
	}
}

// workers is how many pods are set up at once (the kubelet's pod workers are
// per pod; a bound keeps a burst of pods from starving the node's agent).
const workers = 16

func (w *podWorker) run(ctx context.Context) error {
	if err := w.loadRecords(); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(w.k.cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", w.k.node).String()
	}))
	inf := factory.Core().V1().Pods()
	w.lister = inf.Lister()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			w.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return ctx.Err()
	}
	// Sandboxes whose pod vanished while we were down.
	w.mu.Lock()
	for _, r := range w.records {
		w.queue.Add(r.Namespace + "/" + r.Name)
	}
	w.mu.Unlock()
	go func() { <-ctx.Done(); w.queue.ShutDown() }()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w.processNext(ctx) {
			}
		}()
	}
	wg.Wait()
	return nil
}

func (w *podWorker) processNext(ctx context.Context) bool {
	key, quit := w.queue.Get()
	if quit {
		return false
	}
	defer w.queue.Done(key)
	if err := w.sync(ctx, key); err != nil {
		klog.ErrorS(err, "sync pod", "pod", key, "node", w.k.node)
		w.queue.AddRateLimited(key)
		return true
	}
	w.queue.Forget(key)
	return true
}

// sync makes the node's state for one pod key match the API.
func (w *podWorker) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	pod, err := w.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return w.tearDownStale(ctx, ns, name, "")
	}
	if err != nil {
		return err
	}
	// A pod of the same name but another UID replaced an old one.
	if err := w.tearDownStale(ctx, ns, name, string(pod.UID)); err != nil {
		return err
	}
	switch {
	case pod.DeletionTimestamp != nil:
		if err := w.tearDown(ctx, string(pod.UID)); err != nil {
			return err
		}
		// The kubelet removes the pod once its containers are gone.
		err := w.k.cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To(int64(0)), Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return w.tearDown(ctx, string(pod.UID))
	case pod.Spec.HostNetwork:
		return w.writeRunning(ctx, pod, nil)
	}
	w.mu.Lock()
	rec, ok := w.records[string(pod.UID)]
	done := w.added[string(pod.UID)]
	w.mu.Unlock()
	if ok && pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" {
		return nil
	}
	if ok && done != nil {
		// The lister may not show the Running status yet: a second ADD
		// would re-plug the pod (a real kubelet never repeats it).
		return w.writeRunning(ctx, pod, done)
	}
	if !ok {
		rec = podNet{Namespace: ns, Name: name, UID: string(pod.UID), ContainerID: newContainerID(),
			Netns: w.k.cfg.PodNetns(string(pod.UID)), IfName: "eth0"}
		// Recorded before ADD, so a DEL follows even if we crash mid-ADD.
		if err := w.saveRecord(rec); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := w.k.cni.setUp(ctx, rec)
	if err != nil {
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox",
			"Failed to create pod sandbox: plugin type=kvnet network: %v", err)
		return fmt.Errorf("CNI ADD: %w", err)
	}
	klog.InfoS("pod network ready", "pod", key, "node", w.k.node, "duration", time.Since(start))
	if err := w.k.cni.check(ctx, rec); err != nil {
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCheckPodSandBox", "CNI CHECK failed after ADD: %v", err)
		return fmt.Errorf("CNI CHECK: %w", err)
	}
	w.mu.Lock()
	w.added[string(pod.UID)] = res
	w.mu.Unlock()
	return w.writeRunning(ctx, pod, res)
}

// writeRunning posts a Running status with the pod's IPs (the node's for hostNetwork).
func (w *podWorker) writeRunning(ctx context.Context, pod *corev1.Pod, res *types100.Result) error {
	ips := []string{w.k.nodeIP}
	if res != nil {
		ips = ips[:0]
		for _, ip := range res.IPs {
			ips = append(ips, ip.Address.IP.String())
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("CNI result for %s/%s has no IP", pod.Namespace, pod.Name)
	}
	if pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP == ips[0] {
		return nil
	}
	now := metav1.Now()
	st := pod.Status.DeepCopy()
	st.Phase = corev1.PodRunning
	st.HostIP = w.k.nodeIP
	st.HostIPs = []corev1.HostIP{{IP: w.k.nodeIP}}
	st.PodIP = ips[0]
	st.PodIPs = nil
	for _, ip := range ips {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	st.Conditions = nil
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: ptr.To(true),
			ContainerID: "kvnet-sandbox://" + newContainerID(),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	// A status patch, as the kubelet sends: the annotations the controller
	// wrote while ADD waited must neither be overwritten nor make the write
	// conflict (a retry would run ADD again and re-plug the pod's port).
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": pod.UID}, "status": st})
	if err != nil {
		return err
	}
	_, err = w.k.cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
	return err
}

// tearDownStale removes sandboxes recorded for namespace/name whose UID is
// not keep (keep "" removes all of them).
func (w *podWorker) tearDownStale(ctx context.Context, ns, name, keep string) error {
	w.mu.Lock()
	var stale []string
	for uid, r := range w.records {
		if r.Namespace == ns && r.Name == name && uid != keep {
			stale = append(stale, uid)
		}
	}
	w.mu.Unlock()
	var errs []error
	for _, uid := range stale {
		errs = append(errs, w.tearDown(ctx, uid))
	}
	return errors.Join(errs...)
}

// tearDown runs DEL for the pod's sandbox, if any, and forgets it.
func (w *podWorker) tearDown(ctx context.Context, uid string) error {
	w.mu.Lock()
	rec, ok := w.records[uid]
	w.mu.Unlock()
	if !ok {
		return nil
	}
	if err := w.k.cni.tearDown(ctx, rec); err != nil {
		return fmt.Errorf("CNI DEL for %s/%s: %w", rec.Namespace, rec.Name, err)
	}
	klog.InfoS("pod network torn down", "pod", rec.Namespace+"/"+rec.Name, "node", w.k.node)
	w.mu.Lock()
	delete(w.records, uid)
	delete(w.added, uid)
	w.mu.Unlock()
	if err := os.Remove(filepath.Join(w.dir, uid+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (w *podWorker) saveRecord(r podNet) error {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	if err := os.WriteFile(filepath.Join(w.dir, r.UID+".json"), b, 0o644); err != nil {
		return err
	}
	w.mu.Lock()
	w.records[r.UID] = r
	w.mu.Unlock()
	return nil
}

func (w *podWorker) loadRecords() error {
	ents, err := os.ReadDir(w.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(w.dir, e.Name()))
		if err != nil {
			return err
		}
		var r podNet
		if err := json.Unmarshal(b, &r); err != nil {
			klog.ErrorS(err, "skip unreadable sandbox record", "file", e.Name())
			continue
		}
		w.records[r.UID] = r
	}
	return nil
}

func newContainerID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
