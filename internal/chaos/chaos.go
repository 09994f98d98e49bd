package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/sandbox"
	"github.com/kvnet/kvnet/internal/sandbox/kubevirt"
)

// Config says how hard and how long to shake the sandbox.
type Config struct {
	Sandbox sandbox.Config
	// Namespace holds every pod and VM the run makes (created if missing).
	Namespace string
	// Duration of the churn (default 1m).
	Duration time.Duration
	// KillEvery is the mean time between two kills (default 5s; 0 < x).
	KillEvery time.Duration
	// Seed makes the sequence of actions repeatable (the timing is not).
	Seed uint64
	// MaxPods and MaxVMs bound the workload (defaults 10 and 4).
	MaxPods, MaxVMs int
	// Settle bounds the wait for convergence after the churn (default 4m).
	Settle time.Duration
	// Log prints progress (nil: quiet).
	Log func(format string, args ...any)
}

// Report is what a run did and what the final check found.
type Report struct {
	Actions map[string]int `json:"actions"`
	Errors  int            `json:"actionErrors"`
	Check   Check          `json:"check"`
	// SettledIn is how long convergence took after the churn ended.
	SettledIn time.Duration `json:"settledIn"`
}

func (c *Config) defaults() {
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.KillEvery <= 0 {
		c.KillEvery = 5 * time.Second
	}
	if c.MaxPods <= 0 {
		c.MaxPods = 10
	}
	if c.MaxVMs <= 0 {
		c.MaxVMs = 4
	}
	if c.Settle <= 0 {
		c.Settle = 4 * time.Minute
	}
	if c.Namespace == "" {
		c.Namespace = "kvnet-chaos"
	}
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
}

// NewClient is a client for core, kvnet and KubeVirt types on the sandbox.
func NewClient(sb sandbox.Config) (client.Client, error) {
	s, err := kubevirt.NewScheme()
	if err != nil {
		return nil, err
	}
	if err := kvnetv1.AddToScheme(s); err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", sb.Kubeconfig())
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 50, 100
	return client.New(rc, client.Options{Scheme: s})
}

// ProberName is the pod the reachability check pings from.
const ProberName = "chaos-prober"

type run struct {
	cfg Config
	c   client.Client
	rng *rand.Rand

	mu      sync.Mutex
	actions map[string]int
	errors  int
	seq     int
}

// Run churns, kills, settles and checks. The error is for a run that could
// not be carried out; violations are in the report's Check.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	c, err := NewClient(cfg.Sandbox)
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, c: c, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), actions: map[string]int{}}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	cfg.Log("churn for %s, a kill every ~%s (seed %d, namespace %s)", cfg.Duration, cfg.KillEvery, cfg.Seed, cfg.Namespace)
	churnCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	var wg sync.WaitGroup
	wg.Add(1)
	killSeed := r.rng.Uint64()
	go func() { defer wg.Done(); r.killer(churnCtx, rand.New(rand.NewPCG(killSeed, 1))) }()
	r.churn(churnCtx)
	wg.Wait()
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Whatever the killer left down comes back before the check.
	if err := r.restartAllDown(); err != nil {
		return nil, err
	}
	rep := &Report{Actions: r.actions, Errors: r.errors}
	cfg.Log("churn done: %s; waiting for convergence (at most %s)", r.summary(), cfg.Settle)
	start := time.Now()
	rep.Check = r.settle(ctx)
	rep.SettledIn = time.Since(start)
	return rep, ctx.Err()
}

func (r *run) count(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors++
		r.cfg.Log("%s: %v", what, err)
		return
	}
	r.actions[what]++
}

func (r *run) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for k, v := range r.actions {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ") + fmt.Sprintf(" errors=%d", r.errors)
}

// prepare makes the namespace and the prober pod on node-1.
func (r *run) prepare(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.cfg.Namespace}}
	if err := r.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace: %w", err)
	}
	p := pod(r.cfg.Namespace, ProberName, sandbox.NodeName(1))
	if err := r.c.Create(ctx, p); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create prober: %w", err)
	}
	return poll(ctx, 90*time.Second, func() bool {
		err := r.c.Get(ctx, client.ObjectKeyFromObject(p), p)
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
	})
}

func pod(ns, name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "kvnet-chaos"}},
		Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: new(int64),
			Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
	}
}

func vm(ns, name string) *kubevirtv1.VirtualMachine {
	return &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kubevirtv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kubevirtv1.RunStrategyAlways),
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: kubevirtv1.VirtualMachineInstanceSpec{
					Domain: kubevirtv1.DomainSpec{Resources: kubevirtv1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
					Networks: []kubevirtv1.Network{*kubevirtv1.DefaultPodNetwork()},
				},
			},
		},
	}
}

func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// killer SIGKILLs the controller or one agent at random moments (mean
// KillEvery) and starts it again after a random down time (0-2 s).
func (r *run) killer(ctx context.Context, rng *rand.Rand) {
	sb := r.cfg.Sandbox
	for {
		wait := time.Duration(float64(r.cfg.KillEvery) * (0.5 + rng.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		name := "kvnet-controller"
		if k := rng.IntN(sb.Nodes + 1); k > 0 {
			name = sandbox.NodeName(k) + "/kvnet-agent"
		}
		pid, ok := sb.Running()[name]
		if !ok {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = poll(context.Background(), 5*time.Second, func() bool { _, up := sb.Running()[name]; return !up })
		if name == "kvnet-controller" {
			r.count("kill-controller", nil)
		} else {
			r.count("kill-agent", nil)
		}
		down := time.Duration(rng.Int64N(int64(2 * time.Second)))
		select {
		case <-ctx.Done():
		case <-time.After(down):
		}
		if err := restart(sb, name); err != nil {
			r.count("restart "+name, err)
		}
	}
}

func restart(sb sandbox.Config, name string) error {
	if err := sb.Stop(name, time.Second); err != nil { // drops the stale record
		return err
	}
	if name == "kvnet-controller" {
		return sandbox.StartController(sb)
	}
	node, _, _ := strings.Cut(name, "/")
	return sandbox.StartAgent(sb, node)
}

// restartAllDown starts the controller and any agent that is not running.
func (r *run) restartAllDown() error {
	sb := r.cfg.Sandbox
	up := sb.Running()
	names := []string{"kvnet-controller"}
	for i := 1; i <= sb.Nodes; i++ {
		names = append(names, sandbox.NodeName(i)+"/kvnet-agent")
	}
	for _, n := range names {
		if _, ok := up[n]; !ok {
			if err := restart(sb, n); err != nil {
				return fmt.Errorf("restart %s: %w", n, err)
			}
		}
	}
	return nil
}
