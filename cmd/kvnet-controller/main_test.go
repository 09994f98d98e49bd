package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRunServesAndAddresses runs the command's run() with its default
// flags (leader election on) against envtest and an NB server: a pod gets
// addressed, /readyz is OK and /metrics carries kvnet's metrics.
func TestRunServesAndAddresses(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		if out, err := exec.Command("../../hack/envtest-assets.sh").Output(); err == nil {
			assets = strings.TrimSpace(string(out))
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{"../../config/crd"}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		if os.Getenv("KVNET_REQUIRE_ENVTEST") != "" {
			t.Fatalf("envtest: %v", err)
		}
		t.Skipf("skipping: envtest unavailable: %v", err)
	}
	defer func() { _ = env.Stop() }()
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kcPath)

	f := &flags{nbAddr: nbtest.Start(t), metricsAddr: freeAddr(t), probeAddr: freeAddr(t),
		leaderElect: true, leaderNS: "kube-system", repairInterval: time.Minute, podWorkers: 2}
	f.defaults.Vpc, f.defaults.Subnet, f.defaults.CIDR, f.defaults.Gw = "ovn-cluster", "ovn-default", "10.16.0.0/16", "10.16.0.1"
	f.defaults.JoinSubnet, f.defaults.JoinCIDR = "join", "100.64.0.0/16"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, f, testr.New(t)) }()
	defer func() { cancel(); <-done }()

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "smoke"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var p corev1.Pod
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "smoke"}, &p); err == nil && p.Annotations["ovn.kubernetes.io/routed"] == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pod not addressed in 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := get(t, "http://"+f.probeAddr+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz = %d", code)
	}
	if code, body := get(t, "http://"+f.metricsAddr+"/metrics"); code != http.StatusOK || !strings.Contains(body, "kvnet_ip_allocations_total") {
		t.Errorf("metrics = %d, kvnet metrics present: %v", code, strings.Contains(body, "kvnet_"))
	}
}

func get(t *testing.T, url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
