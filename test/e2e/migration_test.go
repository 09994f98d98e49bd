//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/probe"
	"github.com/kvnet/kvnet/internal/sandbox"
	"github.com/kvnet/kvnet/internal/sandbox/kubevirt"
)

const allowBridgeMigration = "kubevirt.io/allow-pod-bridge-network-live-migration"

// sbctl runs ovn-sbctl against the sandbox's SB database.
func sbctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ovn-sbctl", append([]string{"--db=unix:" + cfg.SBSocket(), "--timeout=10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ovn-sbctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// portBinding returns the chassis names a logical port is bound to in SB:
// the main chassis and the additional ones.
func portBinding(t *testing.T, port string) (main string, additional []string) {
	t.Helper()
	name := func(uuid string) string {
		return sbctl(t, "--bare", "--columns=name", "list", "Chassis", uuid)
	}
	if u := sbctl(t, "--bare", "--columns=chassis", "find", "Port_Binding", "logical_port="+port); u != "" {
		main = name(u)
	}
	for _, u := range strings.Fields(sbctl(t, "--bare", "--columns=additional_chassis", "find", "Port_Binding", "logical_port="+port)) {
		additional = append(additional, name(u))
	}
	return main, additional
}

// waitBoundTo waits until port is bound to exactly node's chassis.
func waitBoundTo(t *testing.T, port, node string) {
	t.Helper()
	var m string
	var add []string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		m, add = portBinding(t, port)
		return m == node && len(add) == 0, nil
	})
	if err != nil {
		t.Fatalf("port %s bound to %q (+%v), want only %s; NB options: %s", port, m, add, node,
			nbctl(t, "--bare", "--columns=options", "find", "Logical_Switch_Port", "name="+port))
	}
}

// probeInterval is the probe spacing of the acceptance tests: case B23's
// reference test (ping -i 0.1 from every node). The 10 ms and 1 ms figures
// are the migration benchmark's (make bench-migration, docs/benchmarks.md),
// not test assertions: at 10 ms, one lost probe is a timing claim.
const probeInterval = 100 * time.Millisecond

// startProbers probes dst from each prober pod every probeInterval for d,
// in the background; wait returns each prober's result.
func startProbers(t *testing.T, ns string, probers []string, dst netip.Addr, d time.Duration) (wait func() map[string]probe.Result) {
	t.Helper()
	kvnetBin, _ := filepath.Abs("../../bin/kvnet")
	type out struct {
		pod string
		res probe.Result
		err error
	}
	ch := make(chan out, len(probers))
	for _, p := range probers {
		netns, err := sandbox.PodExecNetns(context.Background(), cfg, ns, p)
		if err != nil {
			t.Fatal(err)
		}
		go func(pod, netns string) {
			b, err := exec.Command("ip", "netns", "exec", netns, kvnetBin, "probe", "--dst", dst.String(),
				"--interval", probeInterval.String(), "--duration", d.String(), "--linger", "500ms").Output()
			var r probe.Result
			if err == nil {
				err = json.Unmarshal(b, &r)
			}
			ch <- out{pod, r, err}
		}(p, netns)
	}
	return func() map[string]probe.Result {
		res := map[string]probe.Result{}
		for range probers {
			o := <-ch
			if o.err != nil {
				t.Fatalf("prober %s: %v", o.pod, o.err)
			}
			res[o.pod] = o.res
		}
		return res
	}
}

// proberPods starts one pod per node and returns their names.
func proberPods(t *testing.T, ns string) []string {
	t.Helper()
	cs := clientset(t)
	var names []string
	for i := 1; i <= cfg.Nodes; i++ {
		name := fmt.Sprintf("prober-%d", i)
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), pausePod(name, nil, sandbox.NodeName(i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	for _, n := range names {
		waitPodRunning(t, cs, ns, n, 60*time.Second)
	}
	return names
}

// migrate creates a migration of vmi and waits for its final phase.
func migrate(t *testing.T, c client.Client, ns, vmi, name string, anno map[string]string) *kubevirtv1.VirtualMachineInstanceMigration {
	t.Helper()
	m := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: anno},
		Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: vmi}}
	if err := c.Create(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return false, nil
		}
		return m.IsFinal(), nil
	})
	if err != nil {
		t.Fatalf("migration %s not final: phase %q", name, m.Status.Phase)
	}
	return m
}

// Issue 5 / B19 / B23: a VM with a static IP and a VM with a kept IP each
// migrate three times; probes every 100 ms (B23's reference test) from a pod
// on every node lose at most one per migration; the VM keeps its IP and MAC; afterwards its port
// is bound to exactly one chassis, the new node's.
func TestLiveMigrationNoLoss(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	probers := proberPods(t, ns)
	for _, vm := range []struct {
		name string
		anno map[string]string
	}{
		{"vm-static", map[string]string{allowBridgeMigration: "", annotations.IPAddress: "10.16.0.50"}},
		{"vm-kept", map[string]string{allowBridgeMigration: ""}},
	} {
		t.Run(vm.name, func(t *testing.T) {
			if err := c.Create(ctx, newVM(ns, vm.name, vm.anno, kubevirtv1.RunStrategyAlways, "")); err != nil {
				t.Fatal(err)
			}
			vmi := waitVMIRunning(t, c, ns, vm.name)
			addr := vmAddr(vmi)
			port := addressing.VMPortName(vm.name, ns)
			waitBoundTo(t, port, vmi.Status.NodeName)
			dst := netip.MustParseAddr(addr.ip)
			for i := 1; i <= 3; i++ {
				src := vmi.Status.NodeName
				collect := startProbers(t, ns, probers, dst, 5*time.Second)
				// Part of the scenario: the probers run a moment before
				// the migration starts, so its whole window is probed.
				time.Sleep(500 * time.Millisecond)
				m := migrate(t, c, ns, vm.name, fmt.Sprintf("%s-m%d", vm.name, i), nil)
				results := collect()
				if m.Status.Phase != kubevirtv1.MigrationSucceeded {
					t.Fatalf("migration %d: %s", i, m.Status.Phase)
				}
				vmi = waitVMIRunning(t, c, ns, vm.name)
				if vmi.Status.NodeName == src {
					t.Fatalf("migration %d: VM still on %s", i, src)
				}
				if got := vmAddr(vmi); got != addr {
					t.Fatalf("migration %d: VM address %+v, want %+v", i, got, addr)
				}
				for p, r := range results {
					t.Logf("migration %d %s->%s, prober %s: sent %d lost %d dup %d max gap %.1f ms", i, src, vmi.Status.NodeName, p, r.Sent, r.Lost, r.Duplicates, r.MaxGapMs)
					if r.Lost > 1 {
						t.Errorf("migration %d: prober %s lost %d probes (at %v ms)", i, p, r.Lost, r.LostAt)
					}
				}
				waitBoundTo(t, port, vmi.Status.NodeName)
			}
		})
	}
}

// Issue 5: a failed migration leaves the VM on the source node with its port
// bound there, and the target pod gone.
func TestFailedMigrationRollsBack(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	if err := c.Create(ctx, newVM(ns, "vm-f", map[string]string{allowBridgeMigration: ""}, kubevirtv1.RunStrategyAlways, "")); err != nil {
		t.Fatal(err)
	}
	vmi := waitVMIRunning(t, c, ns, "vm-f")
	src, addr := vmi.Status.NodeName, vmAddr(vmi)
	m := migrate(t, c, ns, "vm-f", "vm-f-fail", map[string]string{kubevirt.AnnoFailMigration: "true"})
	if m.Status.Phase != kubevirtv1.MigrationFailed {
		t.Fatalf("migration phase %s, want Failed", m.Status.Phase)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirtv1.MigrationJobLabel})
		return err == nil && len(pods.Items) == 0, nil
	})
	if err != nil {
		t.Errorf("target pod still there after the failed migration")
	}
	vmi = waitVMIRunning(t, c, ns, "vm-f")
	if vmi.Status.NodeName != src || vmAddr(vmi) != addr {
		t.Errorf("after rollback VM on %s with %+v, want %s with %+v", vmi.Status.NodeName, vmAddr(vmi), src, addr)
	}
	port := addressing.VMPortName("vm-f", ns)
	waitBoundTo(t, port, src)
	if opts := nbctl(t, "--bare", "--columns=options", "find", "Logical_Switch_Port", "name="+port); strings.Contains(opts, "activation-strategy") {
		t.Errorf("activation strategy left on the port after rollback: %s", opts)
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("after", nil, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodRunning(t, cs, ns, "after", 60*time.Second)
	if err := ping(ctx, ns, "after", netip.MustParseAddr(addr.ip)); err != nil {
		t.Errorf("VM unreachable after rollback: %v", err)
	}
}

// B20: the migration is created while its target pod cannot be scheduled
// yet; the controller must not drop it. Once the target can be placed the
// port gets both chassis, the migration completes, and probes lose at most one.
func TestB20MigrationWithLateTargetScheduling(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	const label = "kvnet.io/e2e-b20"
	setNodeLabel := func(node, value string) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if value == "" {
			delete(n.Labels, label)
		} else {
			n.Labels[label] = value
		}
		if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setNodeLabel("node-1", "yes")
	t.Cleanup(func() { setNodeLabel("node-1", ""); setNodeLabel("node-3", "") })
	vm := newVM(ns, "vm-b20", map[string]string{allowBridgeMigration: ""}, kubevirtv1.RunStrategyAlways, "")
	vm.Spec.Template.Spec.NodeSelector = map[string]string{label: "yes"}
	if err := c.Create(ctx, vm); err != nil {
		t.Fatal(err)
	}
	vmi := waitVMIRunning(t, c, ns, "vm-b20")
	dst := netip.MustParseAddr(vmi.Status.Interfaces[0].IP)
	probers := proberPods(t, ns)
	collect := startProbers(t, ns, probers, dst, 8*time.Second)
	m := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Name: "vm-b20-m", Namespace: ns},
		Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm-b20"}}
	base := reconcileCounts(t, "vm-placement", "pod")
	if err := c.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	// B20's scenario: the target pod waits, unschedulable, for 2 s (the
	// controller must not give up on it meanwhile).
	time.Sleep(2 * time.Second)
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubevirtv1.MigrationJobLabel})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Spec.NodeName != "" {
		t.Fatalf("expected one unscheduled target pod, got %d", len(pods.Items))
	}
	waitReconciledSince(t, base, 0) // the controller has seen it unscheduled
	setNodeLabel("node-3", "yes")
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return false, nil
		}
		return m.IsFinal(), nil
	})
	if err != nil || m.Status.Phase != kubevirtv1.MigrationSucceeded {
		t.Fatalf("migration %s (%v)", m.Status.Phase, err)
	}
	for p, r := range collect() {
		t.Logf("prober %s: sent %d lost %d dup %d max gap %.1f ms", p, r.Sent, r.Lost, r.Duplicates, r.MaxGapMs)
		if r.Lost > 1 {
			t.Errorf("prober %s lost %d probes (at %v ms)", p, r.Lost, r.LostAt)
		}
	}
	waitBoundTo(t, addressing.VMPortName("vm-b20", ns), "node-3")
}

// B25: the gateway MAC a guest sees is the same on every node, so a migrated
// guest's neighbour entry for its gateway stays valid.
func TestB25GatewayMACSameOnEveryNode(t *testing.T) {
	needKvnet(t)
	cs := clientset(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	var macs []string
	for i := 1; i <= cfg.Nodes; i++ {
		name := fmt.Sprintf("gw%d", i)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(name, nil, sandbox.NodeName(i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPodRunning(t, cs, ns, name, 60*time.Second)
		gw := netip.MustParseAddr(strings.Split(p.Annotations[annotations.Gateway], ",")[0])
		if err := ping(ctx, ns, name, gw); err != nil {
			t.Fatalf("pod on %s cannot ping its gateway %s: %v", p.Spec.NodeName, gw, err)
		}
		out, err := podExec(ctx, ns, name, "ip", "neigh", "show", gw.String())
		f := strings.Fields(out)
		if err != nil || len(f) < 5 || f[3] != "lladdr" {
			t.Fatalf("no neighbour entry for the gateway on %s: %q %v", p.Spec.NodeName, out, err)
		}
		macs = append(macs, f[4])
	}
	for _, m := range macs[1:] {
		if m != macs[0] {
			t.Fatalf("gateway MAC differs between nodes: %v", macs)
		}
	}
}
