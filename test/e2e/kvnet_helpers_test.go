//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/sandbox"
	"github.com/kvnet/kvnet/internal/sandbox/kubevirt"
)

// needKvnet skips tests of kvnet's own network when the sandbox runs the
// reference bridge plugin instead.
func needKvnet(t *testing.T) {
	t.Helper()
	if cfg.Network != "kvnet" {
		t.Skipf("sandbox network is %q, not kvnet", cfg.Network)
	}
}

// crClient is a controller-runtime client that knows core, kvnet and KubeVirt types.
func crClient(t *testing.T) client.Client {
	t.Helper()
	s, err := kubevirt.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := kvnetv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(rc, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var _ runtime.Object = &kvnetv1.Subnet{}

// createSubnet creates a Subnet, deletes it at the end of the test, and
// waits until it is Ready.
func createSubnet(t *testing.T, c client.Client, sn *kvnetv1.Subnet) {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, sn); err != nil {
		t.Fatalf("create subnet %s: %v", sn.Name, err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), sn) })
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		cur := &kvnetv1.Subnet{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(sn), cur); err != nil {
			return false, nil
		}
		return apimeta.IsStatusConditionTrue(cur.Status.Conditions, kvnetv1.ConditionReady), nil
	})
	if err != nil {
		cur := &kvnetv1.Subnet{}
		_ = c.Get(ctx, client.ObjectKeyFromObject(sn), cur)
		t.Fatalf("subnet %s not Ready: %+v", sn.Name, cur.Status.Conditions)
	}
}

// nbctl runs ovn-nbctl against the sandbox's NB database (tests may use
// the CLIs; the product never does).
func nbctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ovn-nbctl", append([]string{"--db=unix:" + cfg.NBSocket(), "--timeout=10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ovn-nbctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// vsctl runs ovs-vsctl against a node's Open_vSwitch database.
func vsctl(t *testing.T, node string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ovs-vsctl", append([]string{"--db=unix:" + cfg.NodeOVSSocket(node), "--timeout=10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-vsctl on %s %s: %v: %s", node, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// lspExists reports whether NB has a logical switch port of that name.
func lspExists(t *testing.T, name string) bool {
	return nbctl(t, "--bare", "--columns=name", "find", "Logical_Switch_Port", "name="+name) != ""
}

// ping checks reachability from a pod: at least one of 3 echo replies.
func ping(ctx context.Context, ns, pod string, dst netip.Addr) error {
	args := []string{"ping", "-c", "3", "-i", "0.2", "-w", "5", dst.String()}
	if dst.Is6() {
		args = append([]string{"ping", "-6"}, args[1:]...)
	}
	_, err := podExec(ctx, ns, pod, args...)
	return err
}

// tcpExchange sends a line from pod "from" to a listener in pod "to" on
// port and checks that it arrived (TCP: proves checksums and segmentation
// survive the userspace datapath).
func tcpExchange(ctx context.Context, fromNS, from, toNS, to string, dst netip.Addr, port int) error {
	netns, err := sandbox.PodExecNetns(ctx, cfg, toNS, to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	lis := exec.CommandContext(ctx, "ip", "netns", "exec", netns, "nc", "-l", "-w", "10", fmt.Sprint(port))
	var got strings.Builder
	lis.Stdout = &got
	if err := lis.Start(); err != nil {
		return err
	}
	msg := strings.Repeat("kvnet-tcp-", 500) // several segments
	var sendErr error
	for i := 0; i < 20; i++ {
		time.Sleep(100 * time.Millisecond)
		_, sendErr = podExec(ctx, fromNS, from, "sh", "-c", fmt.Sprintf("printf %%s %s | nc -N -w 3 %s %d", msg, dst, port))
		if sendErr == nil {
			break
		}
	}
	_ = lis.Wait()
	if sendErr != nil {
		return sendErr
	}
	if got.String() != msg {
		return fmt.Errorf("listener got %d bytes, want %d", got.Len(), len(msg))
	}
	return nil
}

// podAddrs parses a pod's IPs from its status.
func podAddrs(t *testing.T, p *corev1.Pod) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, ip := range p.Status.PodIPs {
		a, err := netip.ParseAddr(ip.IP)
		if err != nil {
			t.Fatalf("pod %s: bad IP %q", p.Name, ip.IP)
		}
		out = append(out, a)
	}
	return out
}

// client_key names a cluster-scoped object.
func client_key(name string) client.ObjectKey { return client.ObjectKey{Name: name} }
