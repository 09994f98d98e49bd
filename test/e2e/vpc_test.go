//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// vpcNamespace creates namespace name for one test and deletes it at the end.
func vpcNamespace(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// createVpc creates a Vpc, deletes it at the end of the test (after the
// subnets created later, which are cleaned up first), and waits for Ready.
func createVpc(t *testing.T, c client.Client, v *kvnetv1.Vpc) {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, v); err != nil {
		t.Fatalf("create vpc %s: %v", v.Name, err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), v) })
	waitVpc(t, c, v.Name, func(v *kvnetv1.Vpc) bool { return condTrue(v.Status.Conditions, kvnetv1.ConditionReady) })
}

func condTrue(cs []metav1.Condition, typ string) bool {
	for _, c := range cs {
		if c.Type == typ {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

func waitVpc(t *testing.T, c client.Client, name string, ok func(*kvnetv1.Vpc) bool) *kvnetv1.Vpc {
	t.Helper()
	cur := &kvnetv1.Vpc{}
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client_key(name), cur); err != nil {
			return false, nil
		}
		return ok(cur), nil
	})
	if err != nil {
		t.Fatalf("vpc %s: condition not reached: %+v", name, cur.Status)
	}
	return cur
}

// patchVpc changes a Vpc's spec (or metadata) with retries on conflicts.
func patchVpc(t *testing.T, c client.Client, name string, mod func(*kvnetv1.Vpc)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		v := &kvnetv1.Vpc{}
		if err := c.Get(ctx, client_key(name), v); err != nil {
			return false, nil
		}
		mod(v)
		return c.Update(ctx, v) == nil, nil
	})
	if err != nil {
		t.Fatalf("update vpc %s: %v", name, err)
	}
}

// podOn creates a pause pod on a node with annotations and waits for it to run.
func podOn(t *testing.T, cs kubernetes.Interface, ns, name string, node int, ann map[string]string) netip.Addr {
	t.Helper()
	if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), pausePod(name, ann, sandbox.NodeName(node)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return podAddrs(t, waitPodRunning(t, cs, ns, name, 90*time.Second))[0]
}

// snmp reads a pod's /proc/net/snmp counters ("Icmp.InEchos", "Udp.InDatagrams", "Ip.ForwDatagrams", ...).
func snmp(t *testing.T, ns, pod string) map[string]int64 {
	t.Helper()
	out, err := podExec(context.Background(), ns, pod, "cat", "/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	var head []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if head == nil || head[0] != f[0] {
			head = f
			continue
		}
		proto := strings.TrimSuffix(f[0], ":")
		for i := 1; i < len(f) && i < len(head); i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			m[proto+"."+head[i]] = v
		}
		head = nil
	}
	return m
}

// udpExchange sends datagrams from pod "from" to a listener in pod "to" until
// one arrives (nil) or timeout passes (error): the listener's output is what
// arrived.
func udpExchange(ctx context.Context, fromNS, from, toNS, to string, dst netip.Addr, port int, timeout time.Duration) error {
	netns, err := sandbox.PodExecNetns(ctx, cfg, toNS, to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	lis := exec.CommandContext(ctx, "ip", "netns", "exec", netns, "nc", "-u", "-l", "-W", "1", strconv.Itoa(port))
	var got strings.Builder
	lis.Stdout = &got
	if err := lis.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = lis.Wait(); close(done) }()
	msg := fmt.Sprintf("kvnet-udp-%s-%d", from, port)
	for {
		select {
		case <-done:
			if got.String() != msg {
				return fmt.Errorf("UDP %s/%s -> %s:%d: listener in %s/%s got %q (timeout %s)", fromNS, from, dst, port, toNS, to, got.String(), timeout)
			}
			return nil
		case <-time.After(200 * time.Millisecond):
			_, _ = podExec(ctx, fromNS, from, "sh", "-c", fmt.Sprintf("printf %%s %s | nc -u -w 1 -q 0 %s %d", msg, dst, port))
		}
	}
}

// pingFails checks that from cannot reach dst: no echo reply in 3 tries.
func pingFails(ctx context.Context, ns, pod string, dst netip.Addr) error {
	if _, err := podExec(ctx, ns, pod, "ping", "-c", "3", "-i", "0.2", "-W", "1", dst.String()); err == nil {
		return fmt.Errorf("%s/%s reached %s", ns, pod, dst)
	}
	return nil
}

// routerRows lists the static routes, policies and ports on an OVN router
// as "kind key" -> UUID (read with ovn-nbctl, as an operator would).
func routerRows(t *testing.T, router string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	set := func(col string) []string {
		return strings.Fields(nbctl(t, "--bare", "--columns="+col, "list", "Logical_Router", router))
	}
	for _, u := range set("static_routes") {
		f := strings.Split(nbctl(t, "--bare", "--format=csv", "--no-headings", "--columns=route_table,policy,ip_prefix,nexthop",
			"list", "Logical_Router_Static_Route", u), ",")
		rows["route "+strings.Join(f, "|")] = u
	}
	for _, u := range set("policies") {
		f := nbctl(t, "--bare", "--format=csv", "--no-headings", "--columns=priority,match,action,nexthops", "list", "Logical_Router_Policy", u)
		rows["policy "+f] = u
	}
	for _, u := range set("ports") {
		rows["port "+u] = u
	}
	return rows
}

func keysOf(m map[string]string, prefix string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// waitRoutes waits until the router's routes and policies are exactly want.
func waitRoutes(t *testing.T, router string, want ...string) map[string]string {
	t.Helper()
	sort.Strings(want)
	var rows map[string]string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		rows = routerRows(t, router)
		got := append(keysOf(rows, "route "), keysOf(rows, "policy ")...)
		sort.Strings(got)
		return strings.Join(got, "\n") == strings.Join(want, "\n"), nil
	})
	if err != nil {
		got := append(keysOf(rows, "route "), keysOf(rows, "policy ")...)
		t.Fatalf("router %s rows:\n%s\nwant:\n%s", router, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return rows
}

// sameUUIDs fails for every key of before (other than skip) whose UUID
// differs in after.
func sameUUIDs(t *testing.T, what string, before, after map[string]string, skip ...string) {
	t.Helper()
	for k, u := range before {
		if contains(skip, k) {
			continue
		}
		if after[k] != u {
			t.Errorf("%s: %s changed (%s -> %q)", what, k, u, after[k])
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Issue 6 acceptance: two tenants, each with a VPC holding 10.0.1.0/24 and
// bound to its namespace, pods on different nodes (the same addresses in
// both tenants, and one address only in each). Pods reach the peers of
// their own VPC (ICMP, UDP and TCP, both directions) and never the other
// tenant's: nothing of the other tenant's pods sees a packet.
func TestVpcTwoTenantsIsolated(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	nsA, nsB := vpcNamespace(t, cs, "e2e-vpc-tenant-a"), vpcNamespace(t, cs, "e2e-vpc-tenant-b")
	for _, n := range []struct{ vpc, ns string }{{"e2e-tenant-a", nsA}, {"e2e-tenant-b", nsB}} {
		createVpc(t, c, &kvnetv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: n.vpc}, Spec: kvnetv1.VpcSpec{Namespaces: []string{n.ns}}})
		// No spec.namespaces: the namespace gets the subnet through its VPC.
		createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: n.vpc + "-sn"},
			Spec: kvnetv1.SubnetSpec{Vpc: n.vpc, CIDRBlock: "10.0.1.0/24", Gateway: "10.0.1.1"}})
	}
	static := func(ip string) map[string]string { return map[string]string{annotations.IPAddress: ip} }
	type pod struct {
		ns, name string
		node     int
		ip       string
	}
	pods := []pod{
		{nsA, "a1", 1, "10.0.1.10"}, {nsA, "a2", 2, "10.0.1.11"}, {nsA, "a3", 3, "10.0.1.21"},
		{nsB, "b1", 2, "10.0.1.10"}, {nsB, "b2", 1, "10.0.1.11"}, {nsB, "b3", 3, "10.0.1.20"},
	}
	for _, p := range pods {
		got := podOn(t, cs, p.ns, p.name, p.node, static(p.ip))
		pp, _ := cs.CoreV1().Pods(p.ns).Get(ctx, p.name, metav1.GetOptions{})
		if got.String() != p.ip || pp.Annotations[annotations.LogicalSwitch] != map[string]string{nsA: "e2e-tenant-a-sn", nsB: "e2e-tenant-b-sn"}[p.ns] {
			t.Fatalf("pod %s/%s: %s on %q", p.ns, p.name, got, pp.Annotations[annotations.LogicalSwitch])
		}
	}
	counters := func() map[string]map[string]int64 {
		m := map[string]map[string]int64{}
		for _, p := range pods {
			m[p.ns+"/"+p.name] = snmp(t, p.ns, p.name)
		}
		return m
	}
	addr := netip.MustParseAddr
	type talk struct{ from, to, dst string }
	// One tenant talks inside itself while the other stays silent: every
	// counter of the silent tenant's pods must stay put. Then the talking
	// tenant tries the address that exists only in the silent one.
	phases := []struct {
		talker, silent string
		tcp            talk
		talks          []talk
		foreign        talk // an address of the silent tenant only
		echoes         string
	}{
		{nsA, nsB, talk{"a1", "a2", "10.0.1.11"},
			[]talk{{"a1", "a2", "10.0.1.11"}, {"a2", "a1", "10.0.1.10"}, {"a3", "a1", "10.0.1.10"}, {"a1", "a3", "10.0.1.21"}},
			talk{"a2", "b3", "10.0.1.20"}, "a2"},
		{nsB, nsA, talk{"b2", "b1", "10.0.1.10"},
			[]talk{{"b1", "b2", "10.0.1.11"}, {"b2", "b1", "10.0.1.10"}, {"b3", "b1", "10.0.1.10"}, {"b1", "b3", "10.0.1.20"}},
			talk{"b2", "a3", "10.0.1.21"}, "b2"},
	}
	for i, ph := range phases {
		port := 6001 + 10*i
		before := counters()
		if err := tcpExchange(ctx, ph.talker, ph.tcp.from, ph.talker, ph.tcp.to, addr(ph.tcp.dst), port); err != nil {
			t.Errorf("TCP %s -> %s: %v", ph.tcp.from, ph.tcp.dst, err)
		}
		for _, x := range ph.talks {
			if err := ping(ctx, ph.talker, x.from, addr(x.dst)); err != nil {
				t.Errorf("ping %s -> %s: %v", x.from, x.dst, err)
			}
			if err := udpExchange(ctx, ph.talker, x.from, ph.talker, x.to, addr(x.dst), port+1, 15*time.Second); err != nil {
				t.Errorf("%v", err)
			}
		}
		if err := pingFails(ctx, ph.talker, ph.foreign.from, addr(ph.foreign.dst)); err != nil {
			t.Error(err)
		}
		if err := udpExchange(ctx, ph.talker, ph.foreign.from, ph.silent, ph.foreign.to, addr(ph.foreign.dst), port+2, 4*time.Second); err == nil {
			t.Errorf("UDP from %s reached %s/%s", ph.talker, ph.silent, ph.foreign.to)
		}
		// Part of the scenario, not a stand-in for the controller: packets
		// of this phase still in flight reach the counters below.
		time.Sleep(1500 * time.Millisecond)
		after := counters()
		for _, p := range pods {
			if p.ns != ph.silent {
				continue
			}
			k := p.ns + "/" + p.name
			for _, ctr := range []string{"Ip.InReceives", "Icmp.InEchos", "Udp.InDatagrams", "Udp.NoPorts", "Tcp.PassiveOpens"} {
				if after[k][ctr] != before[k][ctr] {
					t.Errorf("%s saw traffic of the other tenant: %s %d -> %d", k, ctr, before[k][ctr], after[k][ctr])
				}
			}
		}
		if k := ph.talker + "/" + ph.echoes; after[k]["Icmp.InEchos"] < before[k]["Icmp.InEchos"]+3 {
			t.Errorf("%s answered no pings: %d -> %d (the counters do not count)", k, before[k]["Icmp.InEchos"], after[k]["Icmp.InEchos"])
		}
	}
	// The two routers share nothing: each holds only its own subnet's port.
	for _, v := range []string{"e2e-tenant-a", "e2e-tenant-b"} {
		if ports := keysOf(routerRows(t, v), "port "); len(ports) != 1 {
			t.Errorf("router %s has ports %v, want its subnet's only", v, ports)
		}
	}
	// A pod of another namespace may not join tenant A's subnet.
	nsC := vpcNamespace(t, cs, "e2e-vpc-tenant-c")
	// The admission webhook refuses it; without the webhook the controller
	// refuses it with an event and gives it no port.
	_, err := cs.CoreV1().Pods(nsC).Create(ctx, pausePod("intruder", map[string]string{annotations.LogicalSwitch: "e2e-tenant-a-sn"}, ""), metav1.CreateOptions{})
	switch {
	case err != nil && !strings.Contains(err.Error(), "namespace may not use this VPC"):
		t.Fatalf("intruder refused for another reason: %v", err)
	case err == nil:
		vpcWarning(t, cs, nsC, "Pod", "intruder", "SubnetNotAllowed", "e2e-tenant-a")
		if lspExists(t, "intruder."+nsC) {
			t.Error("intruder got a port on tenant A's switch")
		}
	}
}

// behindRouter gives pod (ns/name) a network behind it: a namespace of this
// test's own with 10.99.0.2/24, joined to the pod by a veth (the pod's end
// 10.99.0.1/24), and turns forwarding on in the pod. The namespace is named
// with the sandbox's prefix, so `sandbox down` removes it if the test dies.
func behindRouter(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	behind := cfg.NetnsPrefix() + "e2e-vpc-behind"
	_ = exec.Command("ip", "netns", "del", behind).Run() // a leftover of a killed run
	if out, err := exec.Command("ip", "netns", "add", behind).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", behind).Run() })
	for _, args := range [][]string{
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"ip", "link", "add", "vb0", "type", "veth", "peer", "name", "vb1", "netns", behind},
		{"ip", "addr", "add", "10.99.0.1/24", "dev", "vb0"},
		{"ip", "link", "set", "vb0", "up"},
	} {
		if out, err := podExec(ctx, ns, name, args...); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", "10.99.0.2/24", "dev", "vb1"},
		{"ip", "link", "set", "vb1", "up"},
		{"ip", "route", "add", "default", "via", "10.99.0.1"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", behind}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
}

// Issue 6 acceptance, routes and policies, in one VPC with two subnets:
//   - a static route whose next hop is a pod acting as a router steers
//     traffic through that pod (its forwarding counter counts the packets,
//     and the network behind it answers);
//   - a drop policy blocks a flow between the subnets; an allow policy at a
//     higher priority opens it again;
//   - editing or removing one route or policy leaves every other route,
//     policy and router port as it was (UUIDs), and so does an unrelated
//     update of the Vpc (B29, B30); no route is implicit (B29).
func TestVpcRoutesAndPolicies(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := vpcNamespace(t, cs, "e2e-vpc-routes")
	const vpc = "e2e-vpc-routes"
	createVpc(t, c, &kvnetv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: vpc}, Spec: kvnetv1.VpcSpec{Namespaces: []string{ns}}})
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: vpc + "-s1"}, Spec: kvnetv1.SubnetSpec{Vpc: vpc, CIDRBlock: "10.0.1.0/24"}})
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: vpc + "-s2"}, Spec: kvnetv1.SubnetSpec{Vpc: vpc, CIDRBlock: "10.0.2.0/24"}})
	on := func(sn string, extra map[string]string) map[string]string {
		m := map[string]string{annotations.LogicalSwitch: vpc + "-" + sn}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	client := podOn(t, cs, ns, "client", 1, on("s1", nil))
	podOn(t, cs, ns, "router", 2, on("s1", map[string]string{annotations.IPAddress: "10.0.1.254", annotations.PortSecurity: "false"}))
	server := podOn(t, cs, ns, "server", 3, on("s2", nil))
	behindRouter(t, ns, "router")
	behind := netip.MustParseAddr("10.99.0.2")

	// No route, no policy: nothing implicit on the router (B29).
	waitRoutes(t, vpc)
	if err := pingFails(ctx, ns, "client", behind); err != nil {
		t.Fatalf("the network behind the router is reachable before any route: %v", err)
	}
	if err := ping(ctx, ns, "client", server); err != nil {
		t.Fatalf("client -> server across the VPC's subnets: %v", err)
	}

	// Static route through the router pod.
	patchVpc(t, c, vpc, func(v *kvnetv1.Vpc) {
		v.Spec.StaticRoutes = []kvnetv1.StaticRoute{
			{CIDR: "10.99.0.0/24", NextHopIP: "10.0.1.254", Policy: kvnetv1.PolicyDst},
			{CIDR: "10.98.0.0/24", NextHopIP: "10.0.1.254"},
		}
	})
	waitRoutes(t, vpc, "route |dst-ip|10.99.0.0/24|10.0.1.254", "route |dst-ip|10.98.0.0/24|10.0.1.254")
	fwd0 := snmp(t, ns, "router")["Ip.ForwDatagrams"]
	if err := ping(ctx, ns, "client", behind); err != nil {
		t.Fatalf("client -> %s through the router pod: %v", behind, err)
	}
	if err := udpExchangeBehind(ctx, ns, "client", behind, 6010); err != nil {
		t.Errorf("UDP through the router pod: %v", err)
	}
	if fwd := snmp(t, ns, "router")["Ip.ForwDatagrams"]; fwd < fwd0+2 {
		t.Errorf("router pod forwarded %d packets, want the echo requests and replies (>= 2)", fwd-fwd0)
	}

	// A drop policy blocks client -> server; an allow at a higher priority opens it.
	flow := fmt.Sprintf("ip4.src == %s && ip4.dst == %s", client, server)
	patchVpc(t, c, vpc, func(v *kvnetv1.Vpc) {
		v.Spec.PolicyRoutes = []kvnetv1.PolicyRoute{{Priority: 1000, Match: flow, Action: "drop"}}
	})
	waitRoutes(t, vpc, "route |dst-ip|10.99.0.0/24|10.0.1.254", "route |dst-ip|10.98.0.0/24|10.0.1.254",
		"policy 1000,"+flow+",drop,")
	if err := pingFails(ctx, ns, "client", server); err != nil {
		t.Errorf("drop policy: %v", err)
	}
	if err := udpExchange(ctx, ns, "client", ns, "server", server, 6011, 4*time.Second); err == nil {
		t.Error("drop policy: UDP client -> server got through")
	}
	patchVpc(t, c, vpc, func(v *kvnetv1.Vpc) {
		v.Spec.PolicyRoutes = append(v.Spec.PolicyRoutes, kvnetv1.PolicyRoute{Priority: 1001, Match: flow, Action: "allow"})
	})
	before := waitRoutes(t, vpc, "route |dst-ip|10.99.0.0/24|10.0.1.254", "route |dst-ip|10.98.0.0/24|10.0.1.254",
		"policy 1000,"+flow+",drop,", "policy 1001,"+flow+",allow,")
	if err := ping(ctx, ns, "client", server); err != nil {
		t.Errorf("allow policy at a higher priority: %v", err)
	}
	if err := udpExchange(ctx, ns, "client", ns, "server", server, 6012, 15*time.Second); err != nil {
		t.Errorf("allow policy: %v", err)
	}
	// The default VPC's router must not notice any of this.
	defBefore := routerRows(t, "ovn-cluster")

	// B30: an unrelated update of the Vpc leaves every row as it was.
	base := reconcileCounts(t, "vpc")
	patchVpc(t, c, vpc, func(v *kvnetv1.Vpc) { metav1.SetMetaDataAnnotation(&v.ObjectMeta, "e2e", "unrelated") })
	waitReconciledSince(t, base, 0) // the update was reconciled
	sameUUIDs(t, "unrelated update", before, routerRows(t, vpc))

	// Remove one route: the other route, both policies and the ports stay.
	patchVpc(t, c, vpc, func(v *kvnetv1.Vpc) { v.Spec.StaticRoutes = v.Spec.StaticRoutes[:1] })
	after := waitRoutes(t, vpc, "route |dst-ip|10.99.0.0/24|10.0.1.254",
		"policy 1000,"+flow+",drop,", "policy 1001,"+flow+",allow,")
	sameUUIDs(t, "removing one route", before, after, "route |dst-ip|10.98.0.0/24|10.0.1.254")
	// Edit one policy (allow -> drop at 1001): only that row changes (in place).
	patchVpc(t, c, vpc, func(v *kvnetv1.Vpc) { v.Spec.PolicyRoutes[1].Action = "drop" })
	edited := waitRoutes(t, vpc, "route |dst-ip|10.99.0.0/24|10.0.1.254",
		"policy 1000,"+flow+",drop,", "policy 1001,"+flow+",drop,")
	sameUUIDs(t, "editing one policy", after, edited, "policy 1001,"+flow+",allow,")
	if err := pingFails(ctx, ns, "client", server); err != nil {
		t.Errorf("edited policy: %v", err)
	}
	// Edit the remaining route's next hop: the policies and ports stay.
	patchVpc(t, c, vpc, func(v *kvnetv1.Vpc) { v.Spec.StaticRoutes[0].NextHopIP = "10.0.1.253" })
	moved := waitRoutes(t, vpc, "route |dst-ip|10.99.0.0/24|10.0.1.253",
		"policy 1000,"+flow+",drop,", "policy 1001,"+flow+",drop,")
	sameUUIDs(t, "editing one route", edited, moved, "route |dst-ip|10.99.0.0/24|10.0.1.254")
	if err := pingFails(ctx, ns, "client", behind); err != nil {
		t.Errorf("route moved away from the router pod: %v", err)
	}
	sameUUIDs(t, "default VPC", defBefore, routerRows(t, "ovn-cluster"))
}

// udpExchangeBehind sends datagrams from a pod to a listener in the test's
// namespace behind the router pod.
func udpExchangeBehind(ctx context.Context, ns, from string, dst netip.Addr, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	lis := exec.CommandContext(ctx, "ip", "netns", "exec", cfg.NetnsPrefix()+"e2e-vpc-behind", "nc", "-u", "-l", "-W", "1", strconv.Itoa(port))
	var got strings.Builder
	lis.Stdout = &got
	if err := lis.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = lis.Wait(); close(done) }()
	for {
		select {
		case <-done:
			if got.String() != "behind\n" {
				return fmt.Errorf("listener behind the router got %q", got.String())
			}
			return nil
		case <-time.After(200 * time.Millisecond):
			_, _ = podExec(ctx, ns, from, "sh", "-c", fmt.Sprintf("printf 'behind\\n' | nc -u -w 1 -q 0 %s %d", dst, port))
		}
	}
}

// Issue 6: deleting a VPC that holds a subnet is refused with a clear
// message; once the subnet is gone the VPC and every NB row it had go.
func TestVpcDeleteRefusedWhileSubnetsRemain(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	const vpc = "e2e-vpc-del"
	createVpc(t, c, &kvnetv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: vpc}, Spec: kvnetv1.VpcSpec{
		StaticRoutes: []kvnetv1.StaticRoute{{CIDR: "0.0.0.0/0", NextHopIP: "10.0.5.254"}},
		PolicyRoutes: []kvnetv1.PolicyRoute{{Priority: 5, Match: "ip4.dst == 10.0.5.9", Action: "drop"}},
	}})
	sn := &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: vpc + "-sn"}, Spec: kvnetv1.SubnetSpec{Vpc: vpc, CIDRBlock: "10.0.5.0/24"}}
	createSubnet(t, c, sn)
	waitRoutes(t, vpc, "route |dst-ip|0.0.0.0/0|10.0.5.254", "policy 5,ip4.dst == 10.0.5.9,drop,")
	if err := c.Delete(ctx, &kvnetv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: vpc}}); err != nil {
		t.Fatal(err)
	}
	v := waitVpc(t, c, vpc, func(v *kvnetv1.Vpc) bool {
		for _, cond := range v.Status.Conditions {
			if cond.Type == kvnetv1.ConditionReady && cond.Reason == "SubnetsRemain" {
				return true
			}
		}
		return false
	})
	if v.DeletionTimestamp == nil {
		t.Fatal("vpc not being deleted")
	}
	ev := vpcWarning(t, cs, "default", "Vpc", vpc, "SubnetsRemain", vpc+"-sn")
	t.Logf("refusal: %s", ev.Message)
	waitRoutes(t, vpc, "route |dst-ip|0.0.0.0/0|10.0.5.254", "policy 5,ip4.dst == 10.0.5.9,drop,")

	if err := c.Delete(ctx, sn); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client_key(vpc), &kvnetv1.Vpc{}) != nil && nbctl(t, "--bare", "--columns=_uuid", "find", "Logical_Router", "name="+vpc) == "", nil
	})
	if err != nil {
		t.Fatal("vpc or its router still there after its subnet went")
	}
	for _, table := range []string{"Logical_Router_Static_Route", "Logical_Router_Policy", "Logical_Router_Port", "Logical_Switch", "ACL"} {
		if rows := nbctl(t, "--bare", "--columns=_uuid", "find", table, `external_ids:"kvnet.io/owner"=`+vpc); rows != "" {
			t.Errorf("%s rows of the VPC left: %s", table, rows)
		}
		if rows := nbctl(t, "--bare", "--columns=_uuid", "find", table, `external_ids:"kvnet.io/owner"=`+vpc+"-sn"); rows != "" {
			t.Errorf("%s rows of its subnet left: %s", table, rows)
		}
	}
	if n := nbctl(t, "--bare", "--columns=_uuid", "find", "Logical_Router_Static_Route", "nexthop=10.0.5.254"); n != "" {
		t.Errorf("static route of the deleted VPC left: %s", n)
	}
}

// vpcWarning waits for a Warning event with reason on the object (kind,
// name) in ns whose message holds want.
func vpcWarning(t *testing.T, cs kubernetes.Interface, ns, kind, name, reason, want string) corev1.Event {
	t.Helper()
	var found corev1.Event
	var seen []string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning,involvedObject.name=" + name})
		if err != nil {
			return false, nil
		}
		seen = seen[:0]
		for _, e := range evs.Items {
			seen = append(seen, e.InvolvedObject.Kind+" "+e.Reason+": "+e.Message)
			if e.InvolvedObject.Kind == kind && e.Reason == reason && strings.Contains(e.Message, want) {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no Warning %s on %s %s (message with %q); events: %q", reason, kind, name, want, seen)
	}
	return found
}

// Issue 6: a private subnet's switch gets ACLs: its pods are reached from
// the subnet itself and from allowSubnets only, while they still reach
// other subnets (the replies come back); making it public again removes
// the ACLs.
func TestVpcPrivateSubnetACLs(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := vpcNamespace(t, cs, "e2e-vpc-private")
	const vpc = "e2e-vpc-private"
	createVpc(t, c, &kvnetv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: vpc}, Spec: kvnetv1.VpcSpec{Namespaces: []string{ns}}})
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: vpc + "-priv"}, Spec: kvnetv1.SubnetSpec{Vpc: vpc,
		CIDRBlock: "10.0.1.0/24", Private: true, AllowSubnets: []string{"10.0.3.0/24"}}})
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: vpc + "-other"}, Spec: kvnetv1.SubnetSpec{Vpc: vpc, CIDRBlock: "10.0.2.0/24"}})
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: vpc + "-allowed"}, Spec: kvnetv1.SubnetSpec{Vpc: vpc, CIDRBlock: "10.0.3.0/24"}})
	on := func(sn string) map[string]string { return map[string]string{annotations.LogicalSwitch: vpc + "-" + sn} }
	priv := podOn(t, cs, ns, "priv", 1, on("priv"))
	peer := podOn(t, cs, ns, "peer", 2, on("priv"))
	other := podOn(t, cs, ns, "other", 2, on("other"))
	podOn(t, cs, ns, "allowed", 3, on("allowed"))
	if acls := nbctl(t, "--bare", "--columns=match", "find", "ACL", `external_ids:"kvnet.io/owner"=`+vpc+"-priv"); len(strings.Fields(acls)) == 0 {
		t.Fatal("private subnet has no ACLs")
	}
	if err := pingFails(ctx, ns, "other", priv); err != nil {
		t.Errorf("another subnet reached the private one: %v", err)
	}
	if err := udpExchange(ctx, ns, "other", ns, "priv", priv, 6020, 4*time.Second); err == nil {
		t.Error("UDP from another subnet reached the private one")
	}
	for _, x := range []struct{ from, to string }{{"allowed", "priv"}, {"peer", "priv"}, {"priv", "other"}} {
		dst := map[string]netip.Addr{"priv": priv, "other": other, "peer": peer}[x.to]
		if err := ping(ctx, ns, x.from, dst); err != nil {
			t.Errorf("ping %s -> %s: %v", x.from, x.to, err)
		}
	}
	if err := tcpExchange(ctx, ns, "priv", ns, "other", other, 6021); err != nil {
		t.Errorf("TCP from the private subnet out (replies must come back): %v", err)
	}
	sn := &kvnetv1.Subnet{}
	if err := c.Get(ctx, client_key(vpc+"-priv"), sn); err != nil {
		t.Fatal(err)
	}
	sn.Spec.Private = false
	if err := c.Update(ctx, sn); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return nbctl(t, "--bare", "--columns=_uuid", "find", "ACL", `external_ids:"kvnet.io/owner"=`+vpc+"-priv") == "", nil
	})
	if err != nil {
		t.Fatal("ACLs left after private was turned off")
	}
	if err := ping(ctx, ns, "other", priv); err != nil {
		t.Errorf("public again: %v", err)
	}
}
