//go:build e2e

package e2e

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// Issue 2: the sandbox ends with every node Ready and schedulable.
func TestSandboxNodesReady(t *testing.T) {
	cs := clientset(t)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != cfg.Nodes {
		t.Fatalf("got %d nodes, want %d", len(nodes.Items), cfg.Nodes)
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready || len(n.Spec.Taints) > 0 {
			t.Errorf("node %s: ready=%v taints=%v", n.Name, ready, n.Spec.Taints)
		}
		if n.Status.NodeInfo.KubeletVersion != sandbox.KubernetesVersion {
			t.Errorf("node %s reports %q", n.Name, n.Status.NodeInfo.KubeletVersion)
		}
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.GitVersion != sandbox.KubernetesVersion {
		t.Errorf("apiserver version %v (%v), want %s", v, err, sandbox.KubernetesVersion)
	}
}

// Issue 2: a Deployment of 6 replicas is placed by the real scheduler across
// the nodes, every pod gets an address through CNI ADD, and deleting it runs
// DEL for each pod, leaving no namespace or veth behind.
func TestSandboxDeploymentAcrossNodes(t *testing.T) {
	cs := clientset(t)
	ns := testNamespace(t, cs, nil)
	ctx := context.Background()
	labels := map[string]string{"app": "spread"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "spread"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(6)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To(int64(0)),
					Containers:                    []corev1.Container{{Name: "c", Image: "pause"}},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
					}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=spread"})
		if err != nil {
			return false, nil
		}
		pods = list.Items
		running := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				running++
			}
		}
		return running == 6, nil
	})
	if err != nil {
		t.Fatalf("6 replicas not Running: %d pods", len(pods))
	}
	perNode := map[string]int{}
	seen := map[string]string{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil {
			t.Errorf("pod %s has no valid IP: %q", p.Name, p.Status.PodIP)
			continue
		}
		if other, dup := seen[ip.String()]; dup {
			t.Errorf("pods %s and %s share %s", p.Name, other, ip)
		}
		seen[ip.String()] = p.Name
		// The address is really configured inside the pod's namespace.
		out, err := podExec(ctx, ns, p.Name, "ip", "-o", "addr", "show", "dev", "eth0")
		if err != nil || !strings.Contains(out, " "+ip.String()+"/") {
			t.Errorf("pod %s: eth0 lacks %s: %s %v", p.Name, ip, out, err)
		}
	}
	if len(perNode) != cfg.Nodes {
		t.Errorf("replicas placed on %d nodes, want %d: %v", len(perNode), cfg.Nodes, perNode)
	}
	// The host ends of the pods' veths (their peer is in the pod's namespace).
	hostEnds := map[string][]string{}
	for _, p := range pods {
		out, err := nodeExec(ctx, p.Spec.NodeName, "ip", "-o", "link", "show", "type", "veth")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && strings.Contains(l, "link-netns "+cfg.PodNetns(string(p.UID))) {
				hostEnds[p.Spec.NodeName] = append(hostEnds[p.Spec.NodeName], strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
			}
		}
	}
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "spread", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		waitGone(t, cs, ns, p.Name, 60*time.Second)
		// DEL may run just after the API object is gone (a zero grace period
		// removes it at once), so give the node a moment.
		path := "/run/netns/" + cfg.PodNetns(string(p.UID))
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			_, err := os.Stat(path)
			return os.IsNotExist(err), nil
		}); err != nil {
			t.Errorf("pod %s: its network namespace %s is still there", p.Name, path)
		}
	}
	for node, names := range hostEnds {
		for _, name := range names {
			if _, err := nodeExec(ctx, node, "ip", "link", "show", name); err == nil {
				t.Errorf("%s: veth %s left after its pod was deleted", node, name)
			}
		}
	}
}
