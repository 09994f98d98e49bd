//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
)

// The CASES.md reproductions of the validation faults (B01, B02, B04, B05,
// B06), applied to the sandbox as a user would: each bad object is refused
// by the API (CEL) or kvnet's admission webhook with a message naming the
// problem, and nothing already allocated changes. Then what admission
// cannot know (objects arriving in the "wrong" order, races) is reported by
// the controller as a status condition and a Warning event.

const (
	hookSubnet = "subnet.webhook.kvnet.io"
	hookPod    = "pod.webhook.kvnet.io"
)

// refused checks that err refuses an object, by the named webhook when
// hook is set, with every want in its message (case-insensitive).
func refused(t *testing.T, err error, hook string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a refusal mentioning %q", want)
	}
	msg := err.Error()
	if hook != "" && !strings.Contains(msg, `admission webhook "`+hook+`" denied the request`) {
		t.Fatalf("refused, but not by %s: %v", hook, err)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			t.Fatalf("refusal does not mention %q: %v", w, err)
		}
	}
}

// subnetState is what a subnet has allocated: its IP objects (name, UID,
// spec), its logical switch ports (UUID, name, addresses) and its usage.
func subnetState(t *testing.T, c client.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	var rows []string
	ips := &kvnetv1.IPList{}
	if err := c.List(ctx, ips); err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips.Items {
		if ip.Spec.Subnet == name {
			rows = append(rows, fmt.Sprintf("IP %s uid=%s %+v", ip.Name, ip.UID, ip.Spec))
		}
	}
	ports := nbctl(t, "--format=csv", "--data=bare", "--no-headings", "--columns=_uuid,name,addresses,port_security",
		"find", "Logical_Switch_Port", fmt.Sprintf("external_ids:%q=%q", "kvnet.io/subnet", name))
	for _, l := range strings.Split(ports, "\n") {
		if l != "" {
			rows = append(rows, "LSP "+l)
		}
	}
	sort.Strings(rows)
	sn := &kvnetv1.Subnet{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, sn); err != nil {
		t.Fatal(err)
	}
	rows = append(rows, fmt.Sprintf("usage v4 %v/%v v6 %v/%v ready=%v", sn.Status.V4UsingIPs, sn.Status.V4AvailableIPs,
		sn.Status.V6UsingIPs, sn.Status.V6AvailableIPs, apimeta.IsStatusConditionTrue(sn.Status.Conditions, kvnetv1.ConditionReady)))
	return strings.Join(rows, "\n")
}

func expectUnchanged(t *testing.T, c client.Client, subnet, before string) {
	t.Helper()
	if after := subnetState(t, c, subnet); after != before {
		t.Errorf("subnet %s changed:\n%s", subnet, diffLines(before, after))
	}
}

func staticPodOn(name, subnet, addr string) *corev1.Pod {
	ann := map[string]string{annotations.LogicalSwitch: subnet}
	if addr != "" {
		ann[annotations.IPAddress] = addr
	}
	return pausePod(name, ann, "")
}

// expectNoPod checks that a refused pod left nothing behind.
func expectNoPod(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused pod %s/%s exists (err %v)", ns, name, err)
	}
	if lspExists(t, addressing.PodPortName(name, ns)) {
		t.Errorf("refused pod %s/%s has a logical switch port", ns, name)
	}
}

// B01: a static IP equal to the gateway is refused, in every textual form
// of the IPv6 gateway; the pod gets no port and the subnet's allocations
// do not change.
func TestValidationB01GatewayAsStaticIP(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b01-subnet-a"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.10.0.0/24,fd00:10::/120", Gateway: "10.10.0.1,fd00:10::1", Protocol: "Dual"}})
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, staticPodOn("holder", "e2e-b01-subnet-a", "10.10.0.5,fd00:10::5"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPodRunning(t, cs, ns, "holder", 60*time.Second); p.Status.PodIP != "10.10.0.5" {
		t.Fatalf("holder got %s", p.Status.PodIP)
	}
	before := subnetState(t, c, "e2e-b01-subnet-a")
	for _, addr := range []string{"10.10.0.1", "10.10.0.5,fd00:10:0:0:0:0:0:1", "10.10.0.6,FD00:10::1", "10.10.0.7,fd00:0010::0001", "10.10.0.8,fd00:10::1"} {
		_, err := cs.CoreV1().Pods(ns).Create(ctx, staticPodOn("p1", "e2e-b01-subnet-a", addr), metav1.CreateOptions{})
		refused(t, err, hookPod, "gateway")
		expectNoPod(t, cs, ns, "p1")
	}
	expectUnchanged(t, c, "e2e-b01-subnet-a", before)
}

// B02: a gateway that is the network or broadcast address, or outside the
// CIDR, is refused; no subnet and no logical switch appear.
func TestValidationB02GatewayNetworkOrBroadcast(t *testing.T) {
	needKvnet(t)
	c := crClient(t)
	for _, gw := range []string{"192.168.50.0", "192.168.50.255", "192.168.51.1"} {
		err := c.Create(context.Background(), &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b02-subnet-b"},
			Spec: kvnetv1.SubnetSpec{CIDRBlock: "192.168.50.0/24", Gateway: gw}})
		refused(t, err, "", "gateway")
	}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "e2e-b02-subnet-b"}, &kvnetv1.Subnet{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused subnet exists: %v", err)
	}
	if ls := nbctl(t, "--bare", "--columns=name", "find", "Logical_Switch", "name=e2e-b02-subnet-b"); ls != "" {
		t.Errorf("refused subnet has a logical switch")
	}
}

// B04: a second subnet of the same VPC with the same CIDR, part of it, or
// the same namespace is refused; the first subnet and its pod keep their
// addresses and the namespace keeps using it. The same CIDR in another VPC
// is allowed and becomes Ready.
func TestValidationB04OverlapInOneVPC(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	// As in CASES.md: s2 is s1 again, under another name.
	s1 := func(name string) *kvnetv1.Subnet {
		return &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kvnetv1.SubnetSpec{
			CIDRBlock: "10.66.0.0/16", Gateway: "10.66.0.1", ExcludeIPs: []string{"10.66.0.1..10.66.0.10"}, Namespaces: []string{ns}}}
	}
	createSubnet(t, c, s1("e2e-b04-s1"))
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("a", nil, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPodRunning(t, cs, ns, "a", 60*time.Second); !strings.HasPrefix(p.Status.PodIP, "10.66.") {
		t.Fatalf("pod of the bound namespace got %s, want 10.66.x", p.Status.PodIP)
	}
	before := subnetState(t, c, "e2e-b04-s1")

	refused(t, c.Create(ctx, s1("e2e-b04-s2")), hookSubnet, "overlaps", "e2e-b04-s1")
	partial := &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b04-s2"}, Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.66.128.0/17"}}
	refused(t, c.Create(ctx, partial), hookSubnet, "10.66.128.0/17 overlaps 10.66.0.0/16")
	bound := &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b04-s3"}, Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.67.0.0/16", Namespaces: []string{ns}}}
	refused(t, c.Create(ctx, bound), hookSubnet, fmt.Sprintf("namespace %q is already bound to subnet %q", ns, "e2e-b04-s1"))

	vpc := &kvnetv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b04-vpc"}}
	if err := c.Create(ctx, vpc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), vpc) })
	other := &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b04-other-vpc"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.66.0.0/16", Gateway: "10.66.0.1", Vpc: "e2e-b04-vpc"}}
	createSubnet(t, c, other)

	expectUnchanged(t, c, "e2e-b04-s1", before)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("b", nil, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPodRunning(t, cs, ns, "b", 60*time.Second); p.Annotations[annotations.LogicalSwitch] != "e2e-b04-s1" {
		t.Errorf("new pod of the bound namespace went to %q, want e2e-b04-s1", p.Annotations[annotations.LogicalSwitch])
	}
}

// B05: every malformed cidrBlock is refused with a message about the CIDR;
// the controller and every agent keep running.
func TestValidationB05MalformedCIDR(t *testing.T) {
	needKvnet(t)
	c := crClient(t)
	for _, tc := range []struct{ cidr, protocol string }{
		{"10.20.0.0/33", ""}, {"10.20.0/24", ""}, {"10.20.0.0", ""}, {"fd00::/129", ""}, {"", ""}, {"10.20.0.0/24,10.21.0.0/24", "IPv4"},
	} {
		err := c.Create(context.Background(), &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b05-bad"},
			Spec: kvnetv1.SubnetSpec{CIDRBlock: tc.cidr, Protocol: tc.protocol}})
		refused(t, err, "", "cidrBlock")
	}
	running := cfg.Running()
	for _, name := range []string{"kvnet-controller", "node-1/kvnet-agent", "node-2/kvnet-agent", "node-3/kvnet-agent"} {
		if _, ok := running[name]; !ok {
			t.Errorf("%s is not running", name)
		}
	}
}

// B06: the range syntax is checked (a); a pod of a namespace the subnet is
// not bound to cannot use it (d); a static request for an excluded address
// is allowed, also when every address is excluded (c, the documented
// rule), while dynamic allocation never hands one out (b).
func TestValidationB06ExcludeIPsAndNamespaces(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	nsA := testNamespace(t, cs, nil)
	nsB, nsFull := nsA+"-b", nsA+"-full"
	for _, n := range []string{nsB, nsFull} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), n, metav1.DeleteOptions{}) })
	}

	bad := &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b06-bad"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.0.6.0/24", ExcludeIPs: []string{"10.0.6.30..10.0.6.20"}}}
	refused(t, c.Create(ctx, bad), hookSubnet, "10.0.6.30..10.0.6.20", "start is after end")
	bad.Spec.ExcludeIPs = []string{"10.0.6.250..10.0.7.3"}
	refused(t, c.Create(ctx, bad), "", "excludeIps")

	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b06-subnet-x"}, Spec: kvnetv1.SubnetSpec{
		CIDRBlock: "10.0.6.0/24", Gateway: "10.0.6.1", Namespaces: []string{nsA},
		ExcludeIPs: []string{"10.0.6.1", "10.0.6.2", "10.0.6.20..10.0.6.255"}}})
	before := subnetState(t, c, "e2e-b06-subnet-x")
	_, err := cs.CoreV1().Pods(nsB).Create(ctx, staticPodOn("intruder", "e2e-b06-subnet-x", "10.0.6.24"), metav1.CreateOptions{})
	refused(t, err, hookPod, fmt.Sprintf("namespace %q is not in the subnet's namespaces", nsB))
	expectNoPod(t, cs, nsB, "intruder")
	_, err = cs.CoreV1().Pods(nsB).Create(ctx, staticPodOn("intruder", "e2e-b06-subnet-x", ""), metav1.CreateOptions{})
	refused(t, err, hookPod, "not in the subnet's namespaces")
	expectUnchanged(t, c, "e2e-b06-subnet-x", before)

	if _, err := cs.CoreV1().Pods(nsA).Create(ctx, staticPodOn("excluded", "e2e-b06-subnet-x", "10.0.6.24"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPodRunning(t, cs, nsA, "excluded", 60*time.Second); p.Status.PodIP != "10.0.6.24" {
		t.Errorf("static excluded address: pod got %s, want 10.0.6.24", p.Status.PodIP)
	}
	if _, err := cs.CoreV1().Pods(nsA).Create(ctx, staticPodOn("dynamic", "e2e-b06-subnet-x", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPodRunning(t, cs, nsA, "dynamic", 60*time.Second)
	if a := podAddrs(t, p)[0]; a.Compare(netip.MustParseAddr("10.0.6.3")) < 0 || a.Compare(netip.MustParseAddr("10.0.6.19")) > 0 {
		t.Errorf("dynamic pod got %s, want one of 10.0.6.3..10.0.6.19 (the rest is excluded)", a)
	}

	// Every address excluded: available is 0, a static excluded address is still granted.
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b06-full"}, Spec: kvnetv1.SubnetSpec{
		CIDRBlock: "10.0.7.0/29", Gateway: "10.0.7.1", Namespaces: []string{nsFull}, ExcludeIPs: []string{"10.0.7.2..10.0.7.6"}}})
	if _, err := cs.CoreV1().Pods(nsFull).Create(ctx, staticPodOn("excluded", "e2e-b06-full", "10.0.7.3"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPodRunning(t, cs, nsFull, "excluded", 60*time.Second); p.Status.PodIP != "10.0.7.3" {
		t.Errorf("static excluded address in a full subnet: pod got %s, want 10.0.7.3", p.Status.PodIP)
	}
	waitUsage(t, func() float64 { return subnetUsage(t, c, "e2e-b06-full") }, 1)
	sn := &kvnetv1.Subnet{}
	if err := c.Get(ctx, client.ObjectKey{Name: "e2e-b06-full"}, sn); err != nil || sn.Status.V4AvailableIPs != 0 {
		t.Errorf("full subnet: available %v (%v), want 0", sn.Status.V4AvailableIPs, err)
	}
	if _, err := cs.CoreV1().Pods(nsFull).Create(ctx, staticPodOn("dynamic", "e2e-b06-full", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWarning(t, cs, nsFull, "Pod", "dynamic", "NoAvailableAddress", "")
}

// waitWarning waits for a Warning event with reason on the object (kind,
// name) in ns ("" = any namespace) whose message holds want.
func waitWarning(t *testing.T, cs kubernetes.Interface, ns, kind, name, reason, want string) corev1.Event {
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

// What admission cannot know: a pod and a VM asking for a subnet that does
// not exist yet are admitted (with a warning); when the subnet arrives and
// their static address turns out to be its gateway, the controller refuses
// them with a Warning event on the pod and on the VM, and gives no port.
// An IP pool that turns out not to fit its subnet gets Validated=False and
// a Warning event.
func TestValidationLaterConflictsAreReported(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)

	if _, err := cs.CoreV1().Pods(ns).Create(ctx, staticPodOn("early", "e2e-later", "10.82.0.1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod naming a subnet that does not exist yet: %v", err)
	}
	vm := newVM(ns, "vm-later", map[string]string{annotations.LogicalSwitch: "e2e-later", annotations.IPAddress: "10.82.0.1"}, kubevirtv1.RunStrategyAlways, "")
	if err := c.Create(ctx, vm); err != nil {
		t.Fatalf("VM naming a subnet that does not exist yet: %v", err)
	}
	pool := &kvnetv1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "e2e-later-pool"},
		Spec: kvnetv1.IPPoolSpec{Subnet: "e2e-later", IPs: []string{"10.82.1.5"}}}
	if err := c.Create(ctx, pool); err != nil {
		t.Fatalf("pool of a subnet that does not exist yet: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), pool) })
	// Both are waiting for the subnet (the VM's launcher pod exists and the
	// controller's event about it reached the VM too).
	waitWarning(t, cs, ns, "Pod", "early", "SubnetNotFound", "e2e-later")
	waitWarning(t, cs, ns, "VirtualMachine", "vm-later", "SubnetNotFound", "e2e-later")

	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-later"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.82.0.0/24", Gateway: "10.82.0.1"}})
	waitWarning(t, cs, ns, "Pod", "early", "IPIsGateway", "10.82.0.1")
	waitWarning(t, cs, ns, "VirtualMachine", "vm-later", "IPIsGateway", "10.82.0.1")
	if lspExists(t, addressing.PodPortName("early", ns)) {
		t.Errorf("refused pod has a port")
	}
	if p, err := cs.CoreV1().Pods(ns).Get(ctx, "early", metav1.GetOptions{}); err != nil || p.Annotations[annotations.Allocated] == "true" {
		t.Errorf("refused pod is allocated (or unreadable: %v)", err)
	}

	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		cur := &kvnetv1.IPPool{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(pool), cur); err != nil {
			return false, nil
		}
		return apimeta.IsStatusConditionFalse(cur.Status.Conditions, kvnetv1.ConditionValidated), nil
	})
	if err != nil {
		t.Errorf("pool outside its subnet not marked Validated=False")
	}
	waitWarning(t, cs, "", "IPPool", "e2e-later-pool", "InvalidSpec", "not inside")
}

// Two pods asking for one static address at the same moment: admission
// may let both through (neither holds it yet); exactly one gets it, the
// other is refused (at admission, or by the controller with a Warning
// event naming the address and no port). Never two owners.
func TestValidationStaticIPRace(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-race"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.83.0.0/24", Namespaces: []string{ns}}})
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cs.CoreV1().Pods(ns).Create(ctx, staticPodOn(fmt.Sprintf("r%d", i), "e2e-race", "10.83.0.50"), metav1.CreateOptions{})
		}()
	}
	wg.Wait()
	var admitted []string
	for i, err := range errs {
		if err != nil {
			refused(t, err, hookPod, "10.83.0.50", "already in use")
			continue
		}
		admitted = append(admitted, fmt.Sprintf("r%d", i))
	}
	if len(admitted) == 0 {
		t.Fatalf("both refused: %v", errs)
	}
	t.Logf("admitted: %v (the rest was refused at admission)", admitted)
	var winners, losers []string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		winners, losers = nil, nil
		for _, name := range admitted {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if p.Status.PodIP == "10.83.0.50" {
				winners = append(winners, name)
			} else {
				losers = append(losers, name)
			}
		}
		return len(winners) == 1, nil
	})
	if err != nil || len(winners) != 1 {
		t.Fatalf("pods holding 10.83.0.50: %v (want exactly one)", winners)
	}
	for _, name := range losers {
		waitWarning(t, cs, ns, "Pod", name, "IPConflict", "10.83.0.50")
		if lspExists(t, addressing.PodPortName(name, ns)) {
			t.Errorf("loser %s has a port", name)
		}
	}
	ips := &kvnetv1.IPList{}
	if err := c.List(ctx, ips); err != nil {
		t.Fatal(err)
	}
	holders := 0
	for _, ip := range ips.Items {
		if ip.Spec.Subnet == "e2e-race" && ip.Spec.V4IPAddress == "10.83.0.50" {
			holders++
		}
	}
	if holders != 1 {
		t.Errorf("%d IP objects hold 10.83.0.50", holders)
	}
}
