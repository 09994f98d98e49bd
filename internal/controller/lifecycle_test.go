package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

// settledDump waits until NB stops changing and returns its dump.
func settledDump(t *testing.T, dump func() string) string {
	t.Helper()
	last, stableSince := dump(), time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		cur := dump()
		if cur != last {
			last, stableSince = cur, time.Now()
			continue
		}
		if time.Since(stableSince) > 2*time.Second {
			return cur
		}
	}
	t.Fatal("NB did not settle")
	return ""
}

// versions returns the resourceVersions of the test's objects.
func versions(t *testing.T, ns string, subnets ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var pods corev1.PodList
	if err := k8s.List(bg, &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		out["pod/"+p.Name] = p.ResourceVersion
		var ip kubeovnv1.IP
		if err := k8s.Get(bg, client.ObjectKey{Name: p.Name + "." + ns}, &ip); err == nil {
			out["ip/"+ip.Name] = ip.ResourceVersion
		}
	}
	for _, s := range subnets {
		var sn kubeovnv1.Subnet
		if err := k8s.Get(bg, client.ObjectKey{Name: s}, &sn); err != nil {
			t.Fatal(err)
		}
		out["subnet/"+s] = sn.ResourceVersion
	}
	return out
}

func TestRestartWritesNothingAndB18(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	r1 := startController(t, addr, nil)
	nb := nbClient(t, addr)
	dump := func() string { return nbtest.Dump(t, nb) }
	createNS(t, "t-restart")
	create(t, subnetObj("sub-restart", "10.79.0.0/24", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"t-restart"} }))
	waitSubnetReady(t, "sub-restart")
	create(t, mkPod("t-restart", "a", nil), mkPod("t-restart", "b", nil),
		mkPod("t-restart", "c", map[string]string{"ovn.kubernetes.io/ip_address": "10.79.0.100"}))
	for _, n := range []string{"a", "b", "c"} {
		waitRouted(t, "t-restart", n)
	}
	waitSubnetUsing(t, "sub-restart", 3)
	beforeNB := settledDump(t, dump)
	beforeObjs := versions(t, "t-restart", "sub-restart", "ovn-default", "join")
	r1.stop()

	base := reconcileCounts(t, "pod", "subnet", "vpc")
	r2 := startController(t, addr, nil)
	// Evidence, not a pause: every reconciler with objects here has
	// reconciled since the start and is idle, and a full repair pass ran.
	waitReconciledSince(t, base)
	waitRepairPassAfter(t)
	if after := dump(); after != beforeNB {
		t.Errorf("restart changed NB:\nbefore %s\nafter  %s", beforeNB, after)
	}
	if after := versions(t, "t-restart", "sub-restart", "ovn-default", "join"); fmt.Sprint(after) != fmt.Sprint(beforeObjs) {
		t.Errorf("restart wrote objects:\nbefore %v\nafter  %v", beforeObjs, after)
	}
	r2.stop()

	// B18: a pod created while no controller runs is addressed at start.
	// r2.stop returned after its manager exited: no controller runs, so
	// nothing can address the pod, and the check needs no wait.
	create(t, mkPod("t-restart", "b18", nil))
	if p := getPod(t, "t-restart", "b18"); p.Annotations["ovn.kubernetes.io/allocated"] != "" {
		t.Fatal("pod addressed with no controller running")
	}
	startController(t, addr, nil)
	p := waitRouted(t, "t-restart", "b18")
	if _, err := ops.FindLogicalSwitchPort(nb, "b18.t-restart"); err != nil || !strings.HasPrefix(p.Annotations["ovn.kubernetes.io/ip_address"], "10.79.0.") {
		t.Fatalf("b18: port %v, annotations %v", err, p.Annotations)
	}
}

// TestB08_DeletedWhileDownIsCollectedBeforeReuse: a pod holding a static IP
// is deleted while the controller is down; after restart its record and port
// are collected, the address goes to the new pod that asks for it, and never
// two ports hold it.
func TestB08_DeletedWhileDownIsCollectedBeforeReuse(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	r1 := startController(t, addr, nil)
	nb := nbClient(t, addr)
	createNS(t, "t-b08")
	create(t, subnetObj("sub-b08", "10.88.0.0/29", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"t-b08"} }))
	waitSubnetReady(t, "sub-b08")
	create(t, mkPod("t-b08", "a", map[string]string{"ovn.kubernetes.io/ip_address": "10.88.0.6"}))
	waitRouted(t, "t-b08", "a")
	for i := 1; i <= 4; i++ { // fill the /29: .2-.5
		create(t, mkPod("t-b08", fmt.Sprintf("p%d", i), nil))
		waitRouted(t, "t-b08", fmt.Sprintf("p%d", i))
	}
	r1.stop()
	if err := k8s.Delete(bg, mkPod("t-b08", "a", nil), client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	startController(t, addr, nil)
	create(t, mkPod("t-b08", "b", map[string]string{"ovn.kubernetes.io/ip_address": "10.88.0.6"}))
	if got := waitRouted(t, "t-b08", "b").Annotations["ovn.kubernetes.io/ip_address"]; got != "10.88.0.6" {
		t.Fatalf("pod b got %q", got)
	}
	if err := k8s.Get(bg, client.ObjectKey{Name: "a.t-b08"}, &kubeovnv1.IP{}); !apierrors.IsNotFound(err) {
		t.Errorf("IP object of the deleted pod survives: %v", err)
	}
	if ports := portsWithAddress(t, nb, "10.88.0.6"); len(ports) != 1 || ports[0] != "b.t-b08" {
		t.Errorf("ports holding 10.88.0.6: %v", ports)
	}
	// The subnet is full again: a dynamic request fails clearly, with no port.
	create(t, mkPod("t-b08", "c", nil))
	waitEvent(t, "t-b08", "c", "NoAvailableAddress")
	if _, err := ops.FindLogicalSwitchPort(nb, "c.t-b08"); err == nil {
		t.Error("pod c got a port in a full subnet")
	}
}

func portsWithAddress(t *testing.T, nb libovsdb.Client, addr string) []string {
	t.Helper()
	var lsps []nbdb.LogicalSwitchPort
	if err := nb.List(bg, &lsps); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range lsps {
		for _, a := range p.Addresses {
			for _, f := range strings.Fields(a) {
				if f == addr {
					out = append(out, p.Name)
				}
			}
		}
	}
	return out
}

// TestB12_MultiNICFailureLeaksNothing: the primary NIC is dynamic, the
// attachment NIC asks for an address another pod holds. However many
// retries, neither subnet's usage grows (all or nothing); once the holder is
// gone both NICs are addressed.
func TestB12_MultiNICFailureLeaksNothing(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	r := startController(t, addr, func(o *controller.Options) { o.RetryAfter = 50 * time.Millisecond })
	nb := nbClient(t, addr)
	createNS(t, "t-b12")
	provider := "ext-attach.t-b12.ovn"
	create(t,
		subnetObj("ext-b12", "192.168.1.0/28", func(s *kubeovnv1.SubnetSpec) { s.Provider = provider }),
		subnetObj("inner-b12", "10.0.1.0/24", func(s *kubeovnv1.SubnetSpec) {
			s.ExcludeIPs, s.Namespaces = []string{"10.0.1.254"}, []string{"t-b12"}
		}))
	waitSubnetReady(t, "ext-b12")
	waitSubnetReady(t, "inner-b12")
	nics := map[string]string{"k8s.v1.cni.cncf.io/networks": "t-b12/ext-attach", provider + ".kubernetes.io/ip_address": "192.168.1.5"}
	create(t, mkPod("t-b12", "holder", nics))
	waitRouted(t, "t-b12", "holder")
	usage := func() (int, int) {
		ui, _ := r.store.IPAM.Usage("inner-b12")
		ue, _ := r.store.IPAM.Usage("ext-b12")
		return ui.V4Using, ue.V4Using
	}
	if i, e := usage(); i != 1 || e != 1 {
		t.Fatalf("usage inner %d ext %d, want 1 1", i, e)
	}
	create(t, mkPod("t-b12", "nat", nics))
	waitEvent(t, "t-b12", "nat", "IPConflict")
	// Usage must hold through retries: count them (pod reconciles), do not
	// time them. 20 retries of the failing pod, as in B12's reproduction.
	retried := reconciles(t, "pod")
	deadline := time.Now().Add(30 * time.Second)
	for reconciles(t, "pod") < retried+20 {
		if i, e := usage(); i != 1 || e != 1 {
			t.Fatalf("usage inner %d ext %d after failed attempts, want 1 1", i, e)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing pod was retried %v times in 30s, want 20", reconciles(t, "pod")-retried)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if i, e := usage(); i != 1 || e != 1 {
		t.Fatalf("usage inner %d ext %d after 20 failed attempts, want 1 1", i, e)
	}
	for _, name := range []string{"nat.t-b12", "nat.t-b12." + provider} {
		if err := k8s.Get(bg, client.ObjectKey{Name: name}, &kubeovnv1.IP{}); !apierrors.IsNotFound(err) {
			t.Errorf("failed pod has IP object %s: %v", name, err)
		}
	}
	if err := k8s.Delete(bg, mkPod("t-b12", "holder", nil), client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	p := waitRouted(t, "t-b12", "nat")
	if !strings.HasPrefix(p.Annotations["ovn.kubernetes.io/ip_address"], "10.0.1.") ||
		p.Annotations[provider+".kubernetes.io/ip_address"] != "192.168.1.5" || p.Annotations[provider+".kubernetes.io/routed"] != "true" {
		t.Fatalf("annotations %v", p.Annotations)
	}
	eventually(t, 10*time.Second, "usage back to 1 1", func() (bool, string) {
		i, e := usage()
		return i == 1 && e == 1, fmt.Sprintf("inner %d ext %d", i, e)
	})
	lsp, err := ops.FindLogicalSwitchPort(nb, "nat.t-b12."+provider)
	if err != nil || !strings.HasSuffix(lsp.Addresses[0], " 192.168.1.5") {
		t.Fatalf("attachment port %+v, %v", lsp, err)
	}
}

func TestNodeJoinPort(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	create(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}})
	var n corev1.Node
	eventually(t, 20*time.Second, "node annotated", func() (bool, string) {
		_ = k8s.Get(bg, client.ObjectKey{Name: "node-a"}, &n)
		return n.Annotations["ovn.kubernetes.io/routed"] == "true", fmt.Sprint(n.Annotations)
	})
	a := n.Annotations
	if !strings.HasPrefix(a["ovn.kubernetes.io/ip_address"], "100.64.") || a["ovn.kubernetes.io/logical_switch"] != "join" ||
		a["ovn.kubernetes.io/port_name"] != "node-node-a" || a["ovn.kubernetes.io/gateway"] != "100.64.0.1" || a["ovn.kubernetes.io/cidr"] != "100.64.0.0/16" {
		t.Fatalf("node annotations %v", a)
	}
	lsp, err := ops.FindLogicalSwitchPort(nb, "node-node-a")
	if err != nil || lsp.ExternalIDs[ops.KeyOwnerKind] != ops.OwnerKindNode || lsp.ExternalIDs[ops.KeyOwner] != "node-a" {
		t.Fatalf("join port %+v, %v", lsp, err)
	}
	if err := k8s.Delete(bg, &n); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "node port removed", func() (bool, string) {
		_, perr := ops.FindLogicalSwitchPort(nb, "node-node-a")
		ierr := k8s.Get(bg, client.ObjectKey{Name: "node-node-a"}, &kubeovnv1.IP{})
		return perr != nil && apierrors.IsNotFound(ierr), fmt.Sprintf("port %v ip %v", perr, ierr)
	})
}

func TestRepairRemovesOrphansOnly(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	waitSubnetReady(t, "ovn-default")
	eventually(t, 10*time.Second, "ovn-default switch", func() (bool, string) {
		_, err := ops.FindLogicalSwitch(nb, "ovn-default")
		return err == nil, fmt.Sprint(err)
	})
	ghost := &nbdb.LogicalSwitchPort{Name: "ghost.t-repair", Addresses: []string{"0a:00:00:00:00:09 10.16.250.9"},
		ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindPod, Key: "t-repair/ghost"}, nil)}
	foreign := &nbdb.LogicalSwitchPort{Name: "someone-elses", Addresses: []string{"unknown"}, ExternalIDs: map[string]string{"owner": "t-repair/ghost"}}
	o, err := ops.EnsureLogicalSwitchPortsOn(nb, "ovn-default", ghost, foreign)
	if err != nil {
		t.Fatal(err)
	}
	if err := ops.Transact(bg, nb, o); err != nil {
		t.Fatal(err)
	}
	create(t, &kubeovnv1.IP{ObjectMeta: metav1.ObjectMeta{Name: "ghost.t-repair"},
		Spec: kubeovnv1.IPSpec{PodName: "ghost", Namespace: "t-repair", Subnet: "ovn-default", IPAddress: "10.16.250.9", V4IPAddress: "10.16.250.9"}})
	eventually(t, 10*time.Second, "orphans collected", func() (bool, string) {
		_, perr := ops.FindLogicalSwitchPort(nb, "ghost.t-repair")
		ierr := k8s.Get(bg, client.ObjectKey{Name: "ghost.t-repair"}, &kubeovnv1.IP{})
		return perr != nil && apierrors.IsNotFound(ierr), fmt.Sprintf("port %v ip %v", perr, ierr)
	})
	if _, err := ops.FindLogicalSwitchPort(nb, "someone-elses"); err != nil {
		t.Fatalf("repair deleted a row without vendor=kvnet: %v", err)
	}
}

// A pod applied before its subnet (one manifest, pod first) is addressed
// when the subnet is, not at the next timed retry: the timed retry here is
// an hour, so only the subnet's events can bring the pod back.
func TestPodWaitingForItsSubnetIsWokenBySubnetEvents(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, func(o *controller.Options) { o.RetryAfter = time.Hour })
	createNS(t, "t-wake")
	create(t, mkPod("t-wake", "early", map[string]string{"ovn.kubernetes.io/logical_switch": "late-wake"}))
	waitEvent(t, "t-wake", "early", "SubnetNotFound")
	create(t, subnetObj("late-wake", "10.0.42.0/24", nil))
	p := waitRouted(t, "t-wake", "early")
	if ip := p.Annotations["ovn.kubernetes.io/ip_address"]; !strings.HasPrefix(ip, "10.0.42.") {
		t.Errorf("address %q, want one of late-wake's", ip)
	}
}
