//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kvnet/kvnet/internal/sandbox"
)

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := sandbox.Clientset(cfg)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	return cs
}

// testNamespace creates a namespace for one test and deletes it at the end.
func testNamespace(t *testing.T, cs kubernetes.Interface, labels map[string]string) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	ctx := context.Background()
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		// Wait until it is gone, so the next test does not run beside
		// this one's teardown (the loss figures of a migration depend on
		// the load of the machine).
		err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Logf("namespace %s still there 2 min after its deletion", name)
		}
	})
	return name
}

// pausePod is a pod with one container; the sandbox runs no containers, so
// the image is never pulled.
func pausePod(name string, annotations map[string]string, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations, Labels: map[string]string{"app": "e2e"}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: new(int64),
			Containers:                    []corev1.Container{{Name: "c", Image: "pause"}},
		},
	}
}

// waitPodRunning waits until the pod is Running with an IP and returns it.
func waitPodRunning(t *testing.T, cs kubernetes.Interface, ns, name string, timeout time.Duration) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pod = p
		return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "", nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s not Running with an IP after %s: phase %v; events: %s", ns, name, timeout, phase(pod), podEvents(cs, ns, name))
	}
	return pod
}

func phase(p *corev1.Pod) string {
	if p == nil {
		return "(none)"
	}
	return string(p.Status.Phase)
}

// podEvents lists a pod's events as "reason: message" lines.
func podEvents(cs kubernetes.Interface, ns, name string) string {
	evs, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, e := range evs.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return strings.Join(out, " | ")
}

// waitGone waits until the pod no longer exists.
func waitGone(t *testing.T, cs kubernetes.Interface, ns, name string, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s still exists after %s", ns, name, timeout)
	}
}

// podExec runs a command in the pod's network namespace, as
// `kvnet sandbox exec` does, and returns its combined output.
func podExec(ctx context.Context, ns, name string, args ...string) (string, error) {
	netns, err := sandbox.PodExecNetns(ctx, cfg, ns, name)
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", netns}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s/%s: %w: %s", strings.Join(args, " "), ns, name, err, out)
	}
	return string(out), nil
}

// nodeExec runs a command in a node's network namespace.
func nodeExec(ctx context.Context, node string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", cfg.NodeNetns(node)}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: %w: %s", strings.Join(args, " "), node, err, out)
	}
	return string(out), nil
}
