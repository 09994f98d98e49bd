package agent

// Privileged end-to-end test of the whole agent (Run) against a real
// kube-apiserver (controller-runtime's envtest, assets from
// hack/envtest-assets.sh or KUBEBUILDER_ASSETS) and real OVS/OVN in a kvt-
// network namespace. No controller runs: the test writes the annotations the
// controller would. Needs root; skipped without an API server unless
// KVNET_REQUIRE_ENVTEST is set.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kvnet/kvnet/internal/agent/kube"
	"github.com/kvnet/kvnet/internal/agent/netconf"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/test/agenttest"

	"github.com/vishvananda/netlink"
)

func TestMain(m *testing.M) { os.Exit(agenttest.RunInNetns(m, "agent")) }

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// startAPIServer starts etcd and kube-apiserver with kvnet's CRDs and
// returns a kubeconfig file with admin rights.
func startAPIServer(t *testing.T) string {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		if out, err := exec.Command(filepath.Join(repoRoot(), "hack", "envtest-assets.sh")).Output(); err == nil {
			assets = strings.TrimSpace(string(out))
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "config", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	// The test namespace has no default route to derive an address from.
	env.ControlPlane.GetAPIServer().Configure().
		Set("advertise-address", "127.0.0.1").Set("endpoint-reconciler-type", "none")
	if os.Getenv("KVT_DEBUG_ENVTEST") != "" {
		env.ControlPlane.GetAPIServer().Out, env.ControlPlane.GetAPIServer().Err = os.Stderr, os.Stderr
		env.ControlPlane.Etcd = &envtest.Etcd{Out: os.Stderr, Err: os.Stderr}
	}
	if _, err := env.Start(); err != nil {
		if os.Getenv("KVNET_REQUIRE_ENVTEST") != "" {
			t.Fatalf("envtest: %v", err)
		}
		t.Skipf("no kube-apiserver/etcd for envtest (%v)", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	user, err := env.AddUser(envtest.User{Name: "kvt-agent", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(agenttest.TempDir(t, "kube"), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrivilegedAgentWithAPIServer(t *testing.T) {
	agenttest.Require(t, "ovn-controller", "ovn-northd", "ovs-vswitchd", "ping", "go")
	kubeconfig := startAPIServer(t)
	ovs, ovn := agenttest.StartOVS(t), agenttest.StartOVN(t)
	ctlDir := agenttest.StartOVNController(t, ovs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(agenttest.Logs(ovs.Dir, ovn.Dir, ctlDir))
		}
	})
	ovn.AddRouter(t, "kvt-lr")
	ovn.AddRoutedSwitch(t, "kvt-lr", "kvt-ls", "0a:58:0a:4d:00:01", "10.77.0.1/24")
	ovn.AddRoutedSwitch(t, "kvt-lr", "kvt-join", "0a:58:64:40:00:01", "100.64.0.1/16")
	ovn.AddPort(t, "kvt-join", "node-kvt-node", "0a:58:64:40:00:02", "100.64.0.2")
	ovn.AddPort(t, "kvt-ls", "web.kvt", "0a:58:0a:4d:00:0a", "10.77.0.10")

	clients, err := kube.NewClients(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seedObjects(ctx, t, clients.Kube, clients.Dynamic)

	sock := filepath.Join(agenttest.TempDir(t, "run"), "kvnet", "cni.sock")
	cfg := Config{NodeName: "kvt-node", Kubeconfig: kubeconfig, OVSDB: ovs.DB, CNISocket: sock, Bridge: "br-int",
		MTU: 1400, NetdevDatapath: true, WaitTimeout: 30 * time.Second, GatewayCheck: true,
		OVNRemote: ovn.SB, EncapIP: "127.0.0.1", EncapType: "geneve", MetricsAddr: "127.0.0.1:0"}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("agent Run: %v", err)
		}
	}()

	// The node reaches the subnet once the agent has seen Node and Subnet.
	waitFor(t, "route to 10.77.0.0/24 over ovn0", func() bool { return hasRoute("10.77.0.0/24") })

	// ADD blocks until the "controller" annotates the pod.
	netns := agenttest.AddNetns(t, "web")
	cni := libcni.NewCNIConfigWithCacheDir([]string{agenttest.ShimDir(t)}, agenttest.TempDir(t, "cnicache"), nil)
	list, err := libcni.ConfListFromBytes([]byte(fmt.Sprintf(
		`{"cniVersion":"1.1.0","name":"kvnet","plugins":[{"type":"kvnet-cni","socket":%q}]}`, sock)))
	if err != nil {
		t.Fatal(err)
	}
	rt := &libcni.RuntimeConf{ContainerID: "feedfacecafe0001", NetNS: netns, IfName: "eth0",
		Args: [][2]string{{"K8S_POD_NAMESPACE", "kvt"}, {"K8S_POD_NAME", "web"}}}
	go func() {
		time.Sleep(300 * time.Millisecond)
		annotatePod(ctx, t, clients.Kube)
	}()
	if _, err := cni.AddNetworkList(ctx, list, rt); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if out, err := exec.Command("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.10").CombinedOutput(); err != nil {
		t.Fatalf("node -> pod: %v\n%s", err, out)
	}
	if err := cni.GetStatusNetworkList(ctx, list); err != nil {
		t.Fatalf("STATUS: %v", err)
	}

	// A deleted subnet takes its route with it.
	if err := clients.Dynamic.Resource(kube.SubnetGVR).Delete(ctx, "kvt-ls", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "route to 10.77.0.0/24 removed", func() bool { return !hasRoute("10.77.0.0/24") })

	if err := cni.DelNetworkList(ctx, list, rt); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if ok, err := netconf.LinkExists("feedfacecafe_h"); err != nil || ok {
		t.Fatalf("host veth left after DEL (exists %v, err %v)", ok, err)
	}
}

func seedObjects(ctx context.Context, t *testing.T, cs kubernetes.Interface, dyn dynamic.Interface) {
	t.Helper()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kvt"}}, metav1.CreateOptions{}))
	must(cs.CoreV1().ServiceAccounts("kvt").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}))
	must(cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kvt-node", Annotations: map[string]string{
		annotations.Allocated: "true", annotations.Routed: "true", annotations.IPAddress: "100.64.0.2",
		annotations.MACAddress: "0a:58:64:40:00:02", annotations.CIDR: "100.64.0.0/16", annotations.Gateway: "100.64.0.1",
		annotations.LogicalSwitch: "kvt-join", annotations.PortName: "node-kvt-node",
	}}}, metav1.CreateOptions{}))
	for name, cidr := range map[string]string{"kvt-join": "100.64.0.0/16", "kvt-ls": "10.77.0.0/24"} {
		must(dyn.Resource(kube.SubnetGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"cidrBlock": cidr},
		}}, metav1.CreateOptions{}))
	}
	must(cs.CoreV1().Pods("kvt").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{NodeName: "kvt-node", Containers: []corev1.Container{{Name: "c", Image: "none"}}},
	}, metav1.CreateOptions{}))
}

func annotatePod(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	pod, err := cs.CoreV1().Pods("kvt").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	pod.Annotations = map[string]string{
		annotations.Allocated: "true", annotations.Routed: "true", annotations.IPAddress: "10.77.0.10",
		annotations.MACAddress: "0a:58:0a:4d:00:0a", annotations.CIDR: "10.77.0.0/24", annotations.Gateway: "10.77.0.1",
		annotations.LogicalSwitch: "kvt-ls", annotations.PortName: "web.kvt",
	}
	if _, err := cs.CoreV1().Pods("kvt").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Error(err)
	}
}

func hasRoute(dst string) bool {
	link, err := netlink.LinkByName(JoinLink)
	if err != nil {
		return false
	}
	routes, _ := netlink.RouteList(link, netlink.FAMILY_V4)
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == dst && r.Protocol == netconf.RouteProtocol {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
