//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/agent/node"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// nbSnapshot is every row (with its UUID) of the NB tables kvnet writes,
// sorted, so two snapshots are equal only if no row was added, removed,
// replaced or changed.
func nbSnapshot(t *testing.T) string {
	t.Helper()
	var rows []string
	for _, table := range []string{"Logical_Switch", "Logical_Switch_Port", "Logical_Router", "Logical_Router_Port", "Logical_Router_Static_Route", "ACL"} {
		out := nbctl(t, "--format=csv", "--data=bare", "--no-headings", "list", table)
		for _, l := range strings.Split(out, "\n") {
			if l != "" {
				rows = append(rows, table+": "+l)
			}
		}
	}
	sort.Strings(rows)
	return strings.Join(rows, "\n")
}

// addressBook is every IP object's spec and every test pod's allocation annotations.
func addressBook(t *testing.T, ns string) string {
	t.Helper()
	c, cs := crClient(t), clientset(t)
	ips := &kvnetv1.IPList{}
	if err := c.List(context.Background(), ips); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, ip := range ips.Items {
		rows = append(rows, fmt.Sprintf("IP %s uid=%s %+v", ip.Name, ip.UID, ip.Spec))
	}
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		rows = append(rows, fmt.Sprintf("pod %s ip=%s mac=%s ls=%s", p.Name, p.Annotations[annotations.IPAddress], p.Annotations[annotations.MACAddress], p.Annotations[annotations.LogicalSwitch]))
	}
	sort.Strings(rows)
	return strings.Join(rows, "\n")
}

// ovsInterfaces lists a node's OVS interfaces with their UUIDs and ofports.
func ovsInterfaces(t *testing.T, node string) string {
	return vsctl(t, node, "--format=csv", "--data=bare", "--no-headings", "--columns=_uuid,name,ofport,external_ids", "list", "Interface")
}

// Issue 3: killing and restarting the controller, and an agent, while pods
// exist changes no address and no NB row, and traffic keeps flowing.
func TestRestartChangesNothing(t *testing.T) {
	needKvnet(t)
	cs := clientset(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	for i := 1; i <= 3; i++ {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(fmt.Sprintf("k%d", i), nil, sandbox.NodeName(i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		waitPodRunning(t, cs, ns, fmt.Sprintf("k%d", i), 60*time.Second)
	}
	waitQuiet(t)
	nb, book := nbSnapshot(t), addressBook(t, ns)
	ifaces := ovsInterfaces(t, "node-2")

	if err := cfg.Stop("kvnet-controller", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.StartController(cfg); err != nil {
		t.Fatal(err)
	}
	waitControllerReady(t)
	// Evidence that the restarted controller reconciled everything it
	// would: its pod, subnet and VPC controllers have reconciled and are
	// idle, and its start-up repair pass has completed.
	waitReconciledSince(t, map[string]float64{"pod": 0, "subnet": 0, "vpc": 0}, 1)
	if got := nbSnapshot(t); got != nb {
		t.Errorf("controller restart changed NB:\n%s", diffLines(nb, got))
	}
	if got := addressBook(t, ns); got != book {
		t.Errorf("controller restart changed addresses:\n%s", diffLines(book, got))
	}

	if err := cfg.Stop("node-2/kvnet-agent", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	logFrom := logSize(t, "node-2/kvnet-agent")
	if err := sandbox.StartAgent(cfg, "node-2"); err != nil {
		t.Fatal(err)
	}
	// What an agent does at start (its pods are CNI's, on request) is the
	// join network: wait until the new agent has it in sync.
	waitLogLine(t, "node-2/kvnet-agent", logFrom, node.JoinFirstSynced)
	if got := ovsInterfaces(t, "node-2"); got != ifaces {
		t.Errorf("agent restart changed node-2's OVS interfaces:\n%s", diffLines(ifaces, got))
	}
	if got := nbSnapshot(t); got != nb {
		t.Errorf("agent restart changed NB:\n%s", diffLines(nb, got))
	}
	k3, err := cs.CoreV1().Pods(ns).Get(ctx, "k3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(ctx, ns, "k2", netip.MustParseAddr(k3.Status.PodIP)); err != nil {
		t.Errorf("traffic after restarts: %v", err)
	}
	// A new pod on the restarted agent's node still gets its network.
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("after", nil, "node-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodRunning(t, cs, ns, "after", 60*time.Second)
}

// waitQuiet waits until no namespace (earlier tests') is still being deleted,
// so snapshots of NB and OVS compare only what a restart could change.
func waitQuiet(t *testing.T) {
	t.Helper()
	cs := clientset(t)
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 120*time.Second, true, func(ctx context.Context) (bool, error) {
		nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, n := range nss.Items {
			if n.Status.Phase == "Terminating" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal("namespaces of earlier tests are still terminating")
	}
	// And the controller has handled what those deletions queued.
	waitReconciledSince(t, map[string]float64{"pod": -1, "subnet": -1, "vpc": -1}, 0)
}

func waitControllerReady(t *testing.T) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", cfg.ControllerHealth())
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("controller not ready at %s", url)
	}
}

// diffLines shows lines only in a (-) or only in b (+).
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// Issue 3: a dual-stack subnet gives pods both families, and they reach
// each other over both.
func TestDualStackPods(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dual"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.72.0.0/24,fd00:72::/120", Protocol: "Dual", Namespaces: []string{ns}}})
	for i := 1; i <= 2; i++ {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(fmt.Sprintf("d%d", i), nil, sandbox.NodeName(i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var addrs [][]netip.Addr
	for i := 1; i <= 2; i++ {
		p := waitPodRunning(t, cs, ns, fmt.Sprintf("d%d", i), 60*time.Second)
		a := podAddrs(t, p)
		if len(a) != 2 || !a[0].Is4() || !a[1].Is6() ||
			!netip.MustParsePrefix("10.72.0.0/24").Contains(a[0]) || !netip.MustParsePrefix("fd00:72::/120").Contains(a[1]) {
			t.Fatalf("pod d%d: addresses %v, want one in 10.72.0.0/24 and one in fd00:72::/120", i, a)
		}
		addrs = append(addrs, a)
	}
	for _, dst := range addrs[1] {
		if err := ping(ctx, ns, "d1", dst); err != nil {
			t.Errorf("d1 -> %s: %v", dst, err)
		}
	}
	for _, dst := range addrs[0] {
		if err := ping(ctx, ns, "d2", dst); err != nil {
			t.Errorf("d2 -> %s: %v", dst, err)
		}
	}
}
