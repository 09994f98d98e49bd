package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Clientset returns a client-go clientset for the sandbox's apiserver.
func Clientset(c Config) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 100, 200
	return kubernetes.NewForConfig(rc)
}

// ApplyManifests creates or updates every object in the YAML files of dir
// (multi-document files allowed), in file-name order.
func ApplyManifests(ctx context.Context, c Config, dir string) error {
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return err
	}
	cl, err := client.New(rc, client.Options{})
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("%s: %w", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			if err := applyOne(ctx, cl, u); err != nil {
				return fmt.Errorf("%s: %s %s: %w", f, u.GetKind(), u.GetName(), err)
			}
		}
	}
	return nil
}

func applyOne(ctx context.Context, cl client.Client, u *unstructured.Unstructured) error {
	return waitFor(ctx, "apply "+u.GetName(), 30*time.Second, func() (bool, error) {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(u.GroupVersionKind())
		err := cl.Get(ctx, client.ObjectKeyFromObject(u), cur)
		switch {
		case apierrors.IsNotFound(err):
			err = cl.Create(ctx, u.DeepCopy())
		case err == nil:
			n := u.DeepCopy()
			n.SetResourceVersion(cur.GetResourceVersion())
			err = cl.Update(ctx, n)
		}
		return err == nil, err
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitNodesReady(ctx context.Context, c Config, timeout time.Duration) error {
	cs, err := Clientset(c)
	if err != nil {
		return err
	}
	return waitFor(ctx, "nodes Ready", timeout, func() (bool, error) {
		if err := checkAlive(c); err != nil {
			return false, permanent{err}
		}
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		// Ready, and the node lifecycle controller has lifted the not-ready
		// taint it puts on new nodes, so the scheduler can use every node.
		ready := 0
		for i := range nodes.Items {
			if nodeReady(&nodes.Items[i]) && len(nodes.Items[i].Spec.Taints) == 0 {
				ready++
			}
		}
		return ready >= c.Nodes, fmt.Errorf("%d of %d nodes Ready and untainted", ready, c.Nodes)
	})
}

// waitAgents waits until every node agent serves its CNI socket.
func waitAgents(ctx context.Context, c Config, timeout time.Duration) error {
	return waitFor(ctx, "kvnet agents", timeout, func() (bool, error) {
		if err := checkAlive(c); err != nil {
			return false, permanent{err}
		}
		for i := 1; i <= c.Nodes; i++ {
			if _, err := os.Stat(c.AgentSocket(NodeName(i))); err != nil {
				return false, fmt.Errorf("%s: %w (log %s)", NodeName(i), err, c.LogFile(NodeName(i)+"/kvnet-agent"))
			}
		}
		return true, nil
	})
}

// waitDefaultSubnet waits until kvnet-controller has made the default
// subnet and reports it Ready, so a pod created right after `up` is
// addressed at once.
func waitDefaultSubnet(ctx context.Context, c Config, timeout time.Duration) error {
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return err
	}
	cl, err := client.New(rc, client.Options{})
	if err != nil {
		return err
	}
	return waitFor(ctx, "subnet ovn-default Ready", timeout, func() (bool, error) {
		if err := checkAlive(c); err != nil {
			return false, permanent{err}
		}
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("kubeovn.io/v1")
		u.SetKind("Subnet")
		if err := cl.Get(ctx, client.ObjectKey{Name: "ovn-default"}, u); err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Ready" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, fmt.Errorf("not Ready yet: %v", conds)
	})
}

func printNodes(ctx context.Context, c Config, log Logf) error {
	cs, err := Clientset(c)
	if err != nil {
		return err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		state := "NotReady"
		if nodeReady(n) {
			state = "Ready"
		}
		var addrs []string
		for _, a := range n.Status.Addresses {
			addrs = append(addrs, a.Address)
		}
		log("  node %-8s %-8s %s", n.Name, state, strings.Join(addrs, ","))
	}
	return nil
}

// PodExecNetns finds the network namespace of namespace/name: the node's for
// hostNetwork pods, the pod's own otherwise.
func PodExecNetns(ctx context.Context, c Config, namespace, name string) (string, error) {
	cs, err := Clientset(c)
	if err != nil {
		return "", err
	}
	pod, err := cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pod.Spec.HostNetwork {
		return c.NodeNetns(pod.Spec.NodeName), nil
	}
	ns := c.PodNetns(string(pod.UID))
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
		return "", fmt.Errorf("pod %s/%s has no sandbox yet (phase %s)", namespace, name, pod.Status.Phase)
	}
	return ns, nil
}
