package controller_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller"
	"github.com/kvnet/kvnet/internal/controller/bootstrap"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

var (
	testEnv *envtest.Environment
	restCfg *rest.Config
	envErr  error
	k8s     client.Client
	scheme  = k8sruntime.NewScheme()
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestMain(m *testing.M) {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kubeovnv1.AddToScheme(scheme)
	_ = kubevirt.AddToScheme(scheme)
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	envErr = startEnv()
	code := m.Run()
	if testEnv != nil {
		_ = testEnv.Stop()
	}
	os.Exit(code)
}

func startEnv() error {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		out, err := exec.Command(filepath.Join(repoRoot(), "hack", "envtest-assets.sh")).Output()
		if err != nil {
			return fmt.Errorf("no KUBEBUILDER_ASSETS and hack/envtest-assets.sh failed: %v", err)
		}
		assets = strings.TrimSpace(string(out))
	}
	testEnv = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "config", "crd"), filepath.Join(repoRoot(), "config", "kubevirt")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		_ = testEnv.Stop() // whatever did start (etcd) must not outlive the test
		testEnv = nil
		return fmt.Errorf("envtest start (assets %s): %w", assets, err)
	}
	restCfg = cfg
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	return err
}

// needEnv skips the test when no API server could be started, unless
// KVNET_REQUIRE_ENVTEST is set (make test, CI), where it fails instead.
func needEnv(t *testing.T) {
	t.Helper()
	if envErr == nil {
		return
	}
	if os.Getenv("KVNET_REQUIRE_ENVTEST") != "" {
		t.Fatalf("envtest required (KVNET_REQUIRE_ENVTEST set): %v", envErr)
	}
	t.Skipf("skipping: no kube-apiserver/etcd for envtest (%v); set KUBEBUILDER_ASSETS or run hack/envtest-assets.sh", envErr)
}

func zapLevel() zapcore.Level {
	if os.Getenv("KVNET_TEST_VERBOSE") != "" {
		return -1
	}
	return 2 // errors only
}

var defaults = bootstrap.Defaults{
	Vpc: "ovn-cluster", Subnet: "ovn-default", CIDR: "10.16.0.0/16", Gw: "10.16.0.1",
	JoinSubnet: "join", JoinCIDR: "100.64.0.0/16", JoinGw: "100.64.0.1",
}

// running is one controller instance.
type running struct {
	store  *state.Store
	cancel context.CancelFunc
	done   chan error
	t      *testing.T
}

// startController runs a controller manager against the test API server and
// the NB at nbAddr, and waits until its IPAM is rebuilt.
func startController(t *testing.T, nbAddr string, mod func(*controller.Options)) *running {
	t.Helper()
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	nb := nbtest.Client(t, nbAddr)
	opt := controller.Options{Defaults: defaults, RepairInterval: time.Second, RetryAfter: 200 * time.Millisecond}
	if mod != nil {
		mod(&opt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := controller.Setup(ctx, mgr, nb, opt)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{store: st, cancel: cancel, done: make(chan error, 1), t: t}
	go func() { r.done <- mgr.Start(ctx) }()
	t.Cleanup(r.stop)
	select {
	case <-st.Ready():
	case err := <-r.done:
		t.Fatalf("manager exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("ipam not rebuilt in 30s")
	}
	return r
}

func (r *running) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case <-r.done:
		recordResidue(r.t)
	case <-time.After(30 * time.Second):
		r.t.Errorf("controller manager did not stop in 30s")
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %s", what, last)
}

func createNS(t *testing.T, name string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func mkPod(ns, name string, ann map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
}

func getPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// waitRouted waits for the controller's routed annotation on a pod and returns the pod.
func waitRouted(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	eventually(t, 20*time.Second, "pod "+ns+"/"+name+" routed", func() (bool, string) {
		p = getPod(t, ns, name)
		return p.Annotations["ovn.kubernetes.io/routed"] == "true", fmt.Sprintf("annotations %v", p.Annotations)
	})
	return p
}

// waitEvent waits for an event with reason on the object named name in ns.
func waitEvent(t *testing.T, ns, name, reason string) corev1.Event {
	t.Helper()
	return waitKindEvent(t, ns, "", name, reason)
}

func waitSubnetReady(t *testing.T, name string) *kubeovnv1.Subnet {
	t.Helper()
	var sn kubeovnv1.Subnet
	eventually(t, 20*time.Second, "subnet "+name+" ready", func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &sn); err != nil {
			return false, err.Error()
		}
		for _, c := range sn.Status.Conditions {
			if c.Type == kubeovnv1.ConditionReady && c.Status == metav1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %+v", sn.Status.Conditions)
	})
	return &sn
}

func nbClient(t *testing.T, addr string) libovsdb.Client { return nbtest.Client(t, addr) }
