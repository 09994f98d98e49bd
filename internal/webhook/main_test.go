package webhook_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/kubevirt"
	kvwebhook "github.com/kvnet/kvnet/internal/webhook"
)

// The tests run one real kube-apiserver (envtest) with kvnet's and
// KubeVirt's CRDs and kvnet's ValidatingWebhookConfiguration, built by
// kvwebhook.Configuration exactly as in production and pointed by envtest
// at the webhook server this process runs. No controller runs: what is "in
// use" is made by creating IP objects, as the controller would.
var (
	testEnv *envtest.Environment
	envErr  error
	k8s     client.Client // direct API client
	cached  client.Client // the webhook's cache-backed client
	// direct calls the handlers without the API server (rules behind CEL).
	direct *kvwebhook.Validator
	scheme = k8sruntime.NewScheme()
	warns  = &warningLog{}
)

var opts = kvwebhook.Options{DefaultVpc: "ovn-cluster", DefaultSubnet: "ovn-default", JoinSubnet: "join", KeepVMIP: true} // KeepVMIP: the controller's default

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestMain(m *testing.M) {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kubeovnv1.AddToScheme(scheme)
	_ = kubevirt.AddToScheme(scheme) // as cmd/kvnet-controller: the liveness rule reads VMs and VMIs
	level := zapcore.Level(2)
	if os.Getenv("KVNET_TEST_VERBOSE") != "" {
		level = -1
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(level)))
	stop, err := start()
	envErr = err
	code := m.Run()
	stop()
	os.Exit(code)
}

func start() (func(), error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		out, err := exec.Command(filepath.Join(repoRoot(), "hack", "envtest-assets.sh")).Output()
		if err != nil {
			return func() {}, fmt.Errorf("no KUBEBUILDER_ASSETS and hack/envtest-assets.sh failed: %v", err)
		}
		assets = strings.TrimSpace(string(out))
	}
	// Service form, as in config/deploy: envtest rewrites it to its local URL.
	whc := kvwebhook.Configuration(kvwebhook.ConfigOptions{
		Client: kvwebhook.ServiceClientConfig("kube-system", "kvnet-webhook", 443, nil),
	})
	testEnv = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "config", "crd"), filepath.Join(repoRoot(), "config", "kubevirt")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			ValidatingWebhooks: []*admissionv1.ValidatingWebhookConfiguration{whc},
			LocalServingHost:   "127.0.0.1",
		},
	}
	cfg, err := testEnv.Start()
	if err != nil {
		testEnv = nil
		return func() {}, fmt.Errorf("envtest start (assets %s): %w", assets, err)
	}
	wcfg := rest.CopyConfig(cfg)
	wcfg.WarningHandler = warns
	if k8s, err = client.New(wcfg, client.Options{Scheme: scheme}); err != nil {
		return func() { _ = testEnv.Stop() }, err
	}
	wo := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return func() { _ = testEnv.Stop() }, err
	}
	srv := webhook.NewServer(webhook.Options{Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir})
	ctx, cancel := context.WithCancel(context.Background())
	if err := kvwebhook.Setup(ctx, mgr, srv, opts); err != nil {
		cancel()
		return func() { _ = testEnv.Stop() }, err
	}
	if err := mgr.Add(srv); err != nil {
		cancel()
		return func() { _ = testEnv.Stop() }, err
	}
	cached = mgr.GetClient()
	direct = &kvwebhook.Validator{Client: cached, APIReader: mgr.GetAPIReader(), Decoder: admission.NewDecoder(scheme), Options: opts}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop := func() {
		cancel()
		<-done
		_ = testEnv.Stop()
	}
	addr := net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return func() {}, fmt.Errorf("webhook server at %s not serving: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		stop()
		return func() {}, fmt.Errorf("cache did not sync")
	}
	return stop, nil
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

// warningLog collects the API server's warnings (admission warnings among them).
type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningLog) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// since returns the warnings received after the first n.
func (w *warningLog) since(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs[n:]...)
}

func (w *warningLog) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}
