//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/kvnet/kvnet/internal/addressing"
)

// TestPodAndVMNamedAlike, as a user meets it: a pod "web" runs in a
// namespace, then a VM "web" is created there. Kube-OVN names both ports
// "web.<ns>"; the VM is told (an event on the VirtualMachine) instead of
// taking the pod's port, and the pod keeps answering. Once the pod is
// deleted the VM starts on the name and answers pings.
func TestPodAndVMNamedAlike(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	for _, p := range []*corev1.Pod{pausePod("web", nil, "node-1"), pausePod("client", nil, "node-2")} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	web := waitPodRunning(t, cs, ns, "web", 60*time.Second)
	waitPodRunning(t, cs, ns, "client", 60*time.Second)
	webAddr := netip.MustParseAddr(web.Status.PodIP)

	if err := c.Create(ctx, newVM(ns, "web", nil, kubevirtv1.RunStrategyAlways, "node-3")); err != nil {
		t.Fatal(err)
	}
	var msg string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, e := range evs.Items {
			if e.Regarding.Kind == "VirtualMachine" && e.Regarding.Name == "web" && e.Reason == "NameConflict" {
				msg = e.Note
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no NameConflict event on VirtualMachine web: %s", launcherEvents(c, ns, "web"))
	}
	if !strings.Contains(msg, addressing.PodPortName("web", ns)) {
		t.Errorf("event says %q; want it to name the port %s", msg, addressing.PodPortName("web", ns))
	}
	if got := nbctl(t, "--bare", "--columns=external_ids", "find", "Logical_Switch_Port", fmt.Sprintf("name=%q", addressing.PodPortName("web", ns))); !strings.Contains(got, "kvnet.io/owner-kind=pod") {
		t.Fatalf("port %s is no longer the pod's: %s", addressing.PodPortName("web", ns), got)
	}
	if err := ping(ctx, ns, "client", webAddr); err != nil {
		t.Fatalf("pod web stopped answering once the VM came: %v", err)
	}

	if err := cs.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	vmi := waitVMIRunning(t, c, ns, "web")
	if err := ping(ctx, ns, "client", netip.MustParseAddr(vmi.Status.Interfaces[0].IP)); err != nil {
		t.Fatalf("VM web does not answer on %s: %v", vmi.Status.Interfaces[0].IP, err)
	}
}
