//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kvnet/kvnet/internal/chaos"
)

// Issue 7 item 5, CI size: a minute of pod and VM churn with the controller
// or an agent SIGKILLed every ~5 s, then the invariants: no address with
// two owners, no IP object or NB port without an owner, every live pod and
// VM reachable (KVNET_E2E_CHAOS_DURATION overrides the minute).
func TestChaos(t *testing.T) {
	needKvnet(t)
	cs := clientset(t)
	ns := testNamespace(t, cs, nil)
	d := time.Minute
	if v, err := time.ParseDuration(os.Getenv("KVNET_E2E_CHAOS_DURATION")); err == nil {
		d = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("KVNET_E2E_CHAOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	rep, err := chaos.Run(context.Background(), chaos.Config{
		Sandbox: cfg, Namespace: ns, Duration: d, KillEvery: 5 * time.Second, Seed: seed,
		MaxPods: 8, MaxVMs: 3, Settle: 4 * time.Minute, Log: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d; actions %v (failed calls %d); settled in %s", seed, rep.Actions, rep.Errors, rep.SettledIn.Round(time.Second))
	t.Logf("check: %s", rep.Check)
	kills := rep.Actions["kill-controller"] + rep.Actions["kill-agent"]
	if kills == 0 || rep.Actions["create-pod"] == 0 {
		t.Errorf("the run did not churn: %v", rep.Actions)
	}
	if rep.Check.Probed == 0 {
		t.Errorf("nothing was probed")
	}
	for _, v := range rep.Check.Violations {
		t.Errorf("violation: %s", v)
	}
	// The controller and every agent run again.
	waitControllerReady(t)
}

// The chaos check is not blind: an NB port owned by a pod that does not
// exist, carrying a live pod's address, is counted both as a port without
// an owner and as an address with two owners.
func TestChaosCheckSeesViolations(t *testing.T) {
	needKvnet(t)
	cs := clientset(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(chaos.ProberName, nil, "node-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("victim", nil, "node-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodRunning(t, cs, ns, chaos.ProberName, 60*time.Second)
	victim := waitPodRunning(t, cs, ns, "victim", 60*time.Second)
	clean, err := chaos.CheckNow(ctx, cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	if !clean.OK() || clean.Probed != 1 {
		t.Fatalf("check before the fault: %s %v", clean, clean.Violations)
	}
	port := "chaos-ghost." + ns
	// Not lsp-set-addresses: it refuses the duplicate this fault is about.
	nbctl(t, "lsp-add", "ovn-default", port, "--", "set", "Logical_Switch_Port", port,
		`addresses="0a:58:0a:10:ff:01 `+victim.Status.PodIP+`"`, "external_ids:vendor=kvnet", "external_ids:kvnet.io/owner-kind=pod",
		`external_ids:kvnet.io/owner="`+ns+`/ghost"`)
	t.Cleanup(func() {
		_ = exec.Command("ovn-nbctl", "--db=unix:"+cfg.NBSocket(), "--if-exists", "lsp-del", port).Run()
	})
	got, err := chaos.CheckNow(ctx, cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("check with the fault: %s", got)
	if got.PortsWithoutOwner != 1 || got.DuplicateAddresses != 1 || got.OK() {
		t.Errorf("want 1 port without owner and 1 duplicate address, got %s: %v", got, got.Violations)
	}
}
