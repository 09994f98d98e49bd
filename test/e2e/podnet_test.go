//go:build e2e

package e2e

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// Issue 3: pods in two subnets, one bound to a namespace, spread over three
// nodes, get addresses from the right subnet and reach each other across
// nodes and subnets (ICMP, TCP, UDP); every node reaches pods over the join
// network.
func TestPodNetworkAcrossNodesAndSubnets(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	nsA := testNamespace(t, cs, nil)
	nsB := nsA + "-b"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsB}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), nsB, metav1.DeleteOptions{}) })
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-bound"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.70.0.0/24", Gateway: "10.70.0.1", Namespaces: []string{nsA}}})

	bound := netip.MustParsePrefix("10.70.0.0/24")
	def := netip.MustParsePrefix("10.16.0.0/16")
	pods := map[string]*corev1.Pod{}
	for i := 1; i <= 3; i++ {
		for _, ns := range []string{nsA, nsB} {
			name := "p" + string(rune('0'+i))
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(name, nil, sandbox.NodeName(i)), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 1; i <= 3; i++ {
		for _, ns := range []string{nsA, nsB} {
			name := "p" + string(rune('0'+i))
			p := waitPodRunning(t, cs, ns, name, 60*time.Second)
			pods[ns+"/"+name] = p
			want, sn := def, "ovn-default"
			if ns == nsA {
				want, sn = bound, "e2e-bound"
			}
			ip := podAddrs(t, p)[0]
			if !want.Contains(ip) || p.Annotations[annotations.LogicalSwitch] != sn {
				t.Errorf("pod %s/%s: ip %s switch %q, want in %s on %s", ns, name, ip, p.Annotations[annotations.LogicalSwitch], want, sn)
			}
		}
	}
	ip := func(key string) netip.Addr { return podAddrs(t, pods[key])[0] }
	for _, pair := range [][2]string{
		{nsA + "/p1", nsA + "/p2"}, {nsA + "/p2", nsA + "/p3"}, // same subnet, across nodes
		{nsA + "/p1", nsB + "/p3"}, {nsB + "/p2", nsA + "/p1"}, // across subnets and nodes
		{nsB + "/p1", nsB + "/p1"},
	} {
		from := strings.SplitN(pair[0], "/", 2)
		if err := ping(ctx, from[0], from[1], ip(pair[1])); err != nil {
			t.Errorf("ping %s -> %s (%s): %v", pair[0], pair[1], ip(pair[1]), err)
		}
	}
	if err := tcpExchange(ctx, nsA, "p1", nsB, "p2", ip(nsB+"/p2"), 5001); err != nil {
		t.Errorf("TCP %s/p1 -> %s/p2: %v", nsA, nsB, err)
	}
	if err := tcpExchange(ctx, nsB, "p3", nsA, "p2", ip(nsA+"/p2"), 5002); err != nil {
		t.Errorf("TCP %s/p3 -> %s/p2: %v", nsB, nsA, err)
	}
	for i := 1; i <= 3; i++ {
		node := sandbox.NodeName(i)
		for _, key := range []string{nsA + "/p2", nsB + "/p3"} {
			if _, err := nodeExec(ctx, node, "ping", "-c", "3", "-i", "0.2", "-w", "5", ip(key).String()); err != nil {
				t.Errorf("node %s cannot reach pod %s over the join network: %v", node, key, err)
			}
		}
	}
}

// Issue 3: a static IP and MAC by annotation are honoured, so is an IP pool
// (by name and as a list), and a static IP already in use gets a clear
// event and no port.
func TestPodStaticAddressPoolAndConflict(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	pool := &kvnetv1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "e2e-pool"},
		Spec: kvnetv1.IPPoolSpec{Subnet: "ovn-default", Namespaces: []string{ns}, IPs: []string{"10.16.5.10..10.16.5.12"}}}
	if err := c.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), pool) })

	static := pausePod("static", map[string]string{annotations.IPAddress: "10.16.0.200", annotations.MACAddress: "00:00:00:aa:bb:cc"}, "node-2")
	pooled := pausePod("pooled", map[string]string{annotations.IPPool: "e2e-pool"}, "node-3")
	listed := pausePod("listed", map[string]string{annotations.IPPool: "10.16.6.1,10.16.6.2"}, "node-1")
	for _, p := range []*corev1.Pod{static, pooled, listed} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sp := waitPodRunning(t, cs, ns, "static", 60*time.Second)
	if sp.Status.PodIP != "10.16.0.200" {
		t.Errorf("static pod got %s, want 10.16.0.200", sp.Status.PodIP)
	}
	out, err := podExec(ctx, ns, "static", "cat", "/sys/class/net/eth0/address")
	if err != nil || strings.TrimSpace(out) != "00:00:00:aa:bb:cc" {
		t.Errorf("static pod's eth0 MAC %q (%v), want 00:00:00:aa:bb:cc", out, err)
	}
	pp := waitPodRunning(t, cs, ns, "pooled", 60*time.Second)
	if a := podAddrs(t, pp)[0]; a.Compare(netip.MustParseAddr("10.16.5.10")) < 0 || a.Compare(netip.MustParseAddr("10.16.5.12")) > 0 {
		t.Errorf("pooled pod got %s, want one of 10.16.5.10..10.16.5.12", a)
	}
	lp := waitPodRunning(t, cs, ns, "listed", 60*time.Second)
	if a := lp.Status.PodIP; a != "10.16.6.1" && a != "10.16.6.2" {
		t.Errorf("listed pod got %s, want 10.16.6.1 or 10.16.6.2", a)
	}
	if err := ping(ctx, ns, "listed", netip.MustParseAddr("10.16.0.200")); err != nil {
		t.Errorf("ping static pod: %v", err)
	}

	// The same static address again: refused by the admission webhook
	// (issue 7), or, when the webhook is off, a Warning event, no port, no address.
	dup := pausePod("dup", map[string]string{annotations.IPAddress: "10.16.0.200"}, "node-1")
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, dup, metav1.CreateOptions{}); err != nil {
		if !strings.Contains(err.Error(), "10.16.0.200") || !strings.Contains(err.Error(), "already in use") {
			t.Fatalf("conflicting pod refused without naming the address: %v", err)
		}
		if lspExists(t, addressing.PodPortName("dup", ns)) {
			t.Errorf("refused pod has a logical switch port")
		}
		return
	}
	var events string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=dup,type=Warning"})
		if err != nil {
			return false, nil
		}
		for _, e := range evs.Items {
			events += e.Reason + ": " + e.Message + "\n"
			if strings.Contains(e.Message, "10.16.0.200") {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no Warning event naming 10.16.0.200 on the conflicting pod; events: %s", events)
	}
	if lspExists(t, addressing.PodPortName("dup", ns)) {
		t.Errorf("conflicting pod got a logical switch port")
	}
	p, err := cs.CoreV1().Pods(ns).Get(ctx, "dup", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase == corev1.PodRunning || p.Annotations[annotations.Allocated] == "true" {
		t.Errorf("conflicting pod is %s with allocated=%q", p.Status.Phase, p.Annotations[annotations.Allocated])
	}
}

// Issue 3: deleting pods releases their addresses, logical switch ports and
// OVS interfaces (checked in NB and in the node's database).
func TestPodDeletionReleasesEverything(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-release"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.71.0.0/29", Namespaces: []string{ns}}})
	usage := func() float64 {
		sn := &kvnetv1.Subnet{}
		if err := c.Get(ctx, client_key("e2e-release"), sn); err != nil {
			t.Fatal(err)
		}
		return sn.Status.V4UsingIPs
	}
	for i := 1; i <= 3; i++ {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("r"+string(rune('0'+i)), nil, sandbox.NodeName(i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	type placed struct{ node, port, ip string }
	var all []placed
	for i := 1; i <= 3; i++ {
		name := "r" + string(rune('0'+i))
		p := waitPodRunning(t, cs, ns, name, 60*time.Second)
		port := p.Annotations[annotations.PortName]
		if !lspExists(t, port) {
			t.Fatalf("pod %s: no logical switch port %q", name, port)
		}
		if vsctl(t, p.Spec.NodeName, "--bare", "--columns=name", "find", "Interface", "external_ids:iface-id="+port) == "" {
			t.Fatalf("pod %s: no OVS interface with iface-id %s on %s", name, port, p.Spec.NodeName)
		}
		all = append(all, placed{p.Spec.NodeName, port, p.Status.PodIP})
	}
	waitUsage(t, usage, 3)
	for i := 1; i <= 3; i++ {
		if err := cs.CoreV1().Pods(ns).Delete(ctx, "r"+string(rune('0'+i)), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, pl := range all {
		waitGone(t, cs, ns, "r"+string(rune('1'+i)), 60*time.Second)
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return !lspExists(t, pl.port) &&
				vsctl(t, pl.node, "--bare", "--columns=name", "find", "Interface", "external_ids:iface-id="+pl.port) == "", nil
		})
		if err != nil {
			t.Errorf("port %s: still in NB or in %s's OVS database", pl.port, pl.node)
		}
		ipObj := &kvnetv1.IP{}
		if err := c.Get(ctx, client_key(pl.port), ipObj); err == nil {
			t.Errorf("IP object %s still exists", pl.port)
		}
	}
	waitUsage(t, usage, 0)
}

func waitUsage(t *testing.T, usage func() float64, want float64) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return usage() == want, nil
	})
	if err != nil {
		t.Fatalf("subnet v4usingIPs = %v, want %v", usage(), want)
	}
}
