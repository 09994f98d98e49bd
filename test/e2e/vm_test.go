//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// newVM is a VirtualMachine with a pod-network interface; node pins it.
func newVM(ns, name string, anno map[string]string, strategy kubevirtv1.VirtualMachineRunStrategy, node string) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kubevirtv1.VirtualMachineSpec{
			RunStrategy: ptr.To(strategy),
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: anno, Labels: map[string]string{"app": name}},
				Spec: kubevirtv1.VirtualMachineInstanceSpec{
					Domain: kubevirtv1.DomainSpec{Resources: kubevirtv1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
					Networks: []kubevirtv1.Network{*kubevirtv1.DefaultPodNetwork()},
				},
			},
		},
	}
	if node != "" {
		vm.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
	}
	return vm
}

// waitVMIRunning waits until the VM's VMI runs with an address and returns it.
func waitVMIRunning(t *testing.T, c client.Client, ns, name string) *kubevirtv1.VirtualMachineInstance {
	t.Helper()
	vmi := &kubevirtv1.VirtualMachineInstance{}
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vmi); err != nil {
			return false, nil
		}
		return vmi.Status.Phase == kubevirtv1.Running && len(vmi.Status.Interfaces) > 0 &&
			vmi.Status.Interfaces[0].IP != "" && vmi.Status.Interfaces[0].MAC != "", nil
	})
	if err != nil {
		t.Fatalf("VMI %s/%s not Running with an address: phase %q interfaces %+v; launcher events: %s",
			ns, name, vmi.Status.Phase, vmi.Status.Interfaces, launcherEvents(c, ns, name))
	}
	return vmi
}

func launcherEvents(c client.Client, ns, vm string) string {
	pods := &corev1.PodList{}
	_ = c.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{"vm.kubevirt.io/name": vm})
	out := ""
	for _, p := range pods.Items {
		out += p.Name + ": " + podEvents(clientsetNoT(), ns, p.Name) + "; "
	}
	return out
}

func clientsetNoT() *kubernetes.Clientset {
	cs, _ := sandbox.Clientset(cfg)
	return cs
}

// setRunStrategy changes a VM's run strategy.
func setRunStrategy(t *testing.T, c client.Client, ns, name string, s kubevirtv1.VirtualMachineRunStrategy) {
	t.Helper()
	vm := &kubevirtv1.VirtualMachine{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, vm); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(vm.DeepCopy())
	vm.Spec.RunStrategy = ptr.To(s)
	if err := c.Patch(context.Background(), vm, patch); err != nil {
		t.Fatal(err)
	}
}

// waitVMStopped waits until the VM has no VMI and no launcher pod.
func waitVMStopped(t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &kubevirtv1.VirtualMachineInstance{})
		pods := &corev1.PodList{}
		if lerr := c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"vm.kubevirt.io/name": name}); lerr != nil {
			return false, nil // not proof that the pods are gone; poll again
		}
		return apierrors.IsNotFound(err) && len(pods.Items) == 0, nil
	})
	if err != nil {
		t.Fatalf("VM %s/%s did not stop", ns, name)
	}
}

type addr struct{ ip, mac string }

func vmAddr(vmi *kubevirtv1.VirtualMachineInstance) addr {
	return addr{vmi.Status.Interfaces[0].IP, vmi.Status.Interfaces[0].MAC}
}

func subnetUsage(t *testing.T, c client.Client, name string) float64 {
	t.Helper()
	sn := &kvnetv1.Subnet{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: name}, sn); err != nil {
		t.Fatal(err)
	}
	return sn.Status.V4UsingIPs
}

// Issue 4: the manifest from the issue, applied as written with kubectl
// (kubevirt.io/v1alpha3), gives the VM 10.16.0.15, and the VM answers pings
// from a pod on another node.
func TestVMStaticIPFromTemplateManifest(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	manifest := `apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachine
metadata:
  name: testvm
spec:
  running: true
  template:
    metadata:
      annotations:
        ovn.kubernetes.io/ip_address: 10.16.0.15
    spec:
      domain:
        devices: {}
        resources:
          requests:
            memory: 64Mi
`
	f := t.TempDir() + "/testvm.yaml"
	if err := os.WriteFile(f, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("kubectl", "--kubeconfig", cfg.Kubeconfig(), "-n", ns, "apply", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v: %s", err, out)
	}
	vmi := waitVMIRunning(t, c, ns, "testvm")
	if vmi.Status.Interfaces[0].IP != "10.16.0.15" {
		t.Fatalf("VM got %s, want 10.16.0.15", vmi.Status.Interfaces[0].IP)
	}
	other := "node-1"
	if vmi.Status.NodeName == "node-1" {
		other = "node-2"
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("prober", nil, other), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodRunning(t, cs, ns, "prober", 60*time.Second)
	if err := ping(ctx, ns, "prober", netip.MustParseAddr("10.16.0.15")); err != nil {
		t.Errorf("VM on %s does not answer a pod on %s: %v", vmi.Status.NodeName, other, err)
	}
}

// Issue 4: a VM without annotations keeps its IP and MAC across stop/start,
// restart, deletion of its launcher pod, a restart on another node and a
// controller restart; a pod created while it is stopped never gets its
// address; deleting the stopped VM releases the address (B15).
func TestVMKeepsAddressForLife(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	// A /29 leaves 5 addresses, so a pod created while the VM is stopped
	// would be likely to land on the VM's address if it were free.
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-vmkeep"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.73.0.0/29", Namespaces: []string{ns}}})
	if err := c.Create(ctx, newVM(ns, "vm-a", nil, kubevirtv1.RunStrategyAlways, "node-1")); err != nil {
		t.Fatal(err)
	}
	first := vmAddr(waitVMIRunning(t, c, ns, "vm-a"))
	expectSame := func(step string) *kubevirtv1.VirtualMachineInstance {
		t.Helper()
		vmi := waitVMIRunning(t, c, ns, "vm-a")
		if got := vmAddr(vmi); got != first {
			t.Fatalf("after %s: VM has %+v, want %+v", step, got, first)
		}
		return vmi
	}
	uid := func() string {
		vmi := &kubevirtv1.VirtualMachineInstance{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "vm-a"}, vmi); err != nil {
			t.Fatalf("VMI vm-a: %v", err)
		}
		return string(vmi.UID)
	}

	// stop, and while stopped, pods fill the subnet but never get the VM's address
	setRunStrategy(t, c, ns, "vm-a", kubevirtv1.RunStrategyHalted)
	waitVMStopped(t, c, ns, "vm-a")
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("filler%d", i)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(name, nil, "node-2"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPodRunning(t, cs, ns, name, 60*time.Second)
		if p.Status.PodIP == first.ip {
			t.Fatalf("pod %s got the stopped VM's address %s", name, first.ip)
		}
	}
	setRunStrategy(t, c, ns, "vm-a", kubevirtv1.RunStrategyAlways)
	expectSame("stop/start")

	// restart (the VMI is replaced)
	old := uid()
	if err := c.Delete(ctx, &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vm-a"}}); err != nil {
		t.Fatal(err)
	}
	waitNewVMI(t, c, ns, "vm-a", old)
	expectSame("restart")

	// launcher pod deleted
	old = uid()
	if err := cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "vm.kubevirt.io/name=vm-a"}); err != nil {
		t.Fatal(err)
	}
	waitNewVMI(t, c, ns, "vm-a", old)
	expectSame("launcher pod deletion")

	// restart on another node
	vm := &kubevirtv1.VirtualMachine{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "vm-a"}, vm); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(vm.DeepCopy())
	vm.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "node-3"}
	if err := c.Patch(ctx, vm, patch); err != nil {
		t.Fatal(err)
	}
	setRunStrategy(t, c, ns, "vm-a", kubevirtv1.RunStrategyHalted)
	waitVMStopped(t, c, ns, "vm-a")
	setRunStrategy(t, c, ns, "vm-a", kubevirtv1.RunStrategyAlways)
	if vmi := expectSame("restart on another node"); vmi.Status.NodeName != "node-3" {
		t.Fatalf("VM runs on %s, want node-3", vmi.Status.NodeName)
	}

	// controller restart
	if err := cfg.Stop("kvnet-controller", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.StartController(cfg); err != nil {
		t.Fatal(err)
	}
	waitControllerReady(t)
	old = uid()
	if err := c.Delete(ctx, &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vm-a"}}); err != nil {
		t.Fatal(err)
	}
	waitNewVMI(t, c, ns, "vm-a", old)
	expectSame("controller restart")

	// B15: stop, then delete: the IP object goes and usage drops by one.
	setRunStrategy(t, c, ns, "vm-a", kubevirtv1.RunStrategyHalted)
	waitVMStopped(t, c, ns, "vm-a")
	before := subnetUsage(t, c, "e2e-vmkeep")
	if err := c.Delete(ctx, &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vm-a"}}); err != nil {
		t.Fatal(err)
	}
	waitIPGone(t, c, addressing.VMPortName("vm-a", ns))
	waitUsage(t, func() float64 { return subnetUsage(t, c, "e2e-vmkeep") }, before-1)
}

func waitNewVMI(t *testing.T, c client.Client, ns, name, oldUID string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		vmi := &kubevirtv1.VirtualMachineInstance{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vmi); err != nil {
			return false, nil
		}
		return string(vmi.UID) != oldUID, nil
	})
	if err != nil {
		t.Fatalf("no new VMI for %s/%s", ns, name)
	}
}

func waitIPGone(t *testing.T, c client.Client, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Name: name}, &kvnetv1.IP{})), nil
	})
	if err != nil {
		t.Fatalf("IP object %s still exists", name)
	}
}

// Issue 4: deleting a running VM releases its address (IP object gone,
// usage down by one), and the address can be allocated again.
func TestVMDeleteRunningReleases(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-vmdel"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.74.0.0/29", Namespaces: []string{ns}}})
	if err := c.Create(ctx, newVM(ns, "vm-d", map[string]string{annotations.IPAddress: "10.74.0.4"}, kubevirtv1.RunStrategyAlways, "")); err != nil {
		t.Fatal(err)
	}
	waitVMIRunning(t, c, ns, "vm-d")
	// Subnet status counts lag allocations by up to a second (usage-only
	// status writes are coalesced): wait until it counts the VM, the only
	// holder in this subnet, before taking the reference.
	waitUsage(t, func() float64 { return subnetUsage(t, c, "e2e-vmdel") }, 1)
	before := subnetUsage(t, c, "e2e-vmdel")
	if err := c.Delete(ctx, &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vm-d"}}); err != nil {
		t.Fatal(err)
	}
	waitIPGone(t, c, addressing.VMPortName("vm-d", ns))
	waitUsage(t, func() float64 { return subnetUsage(t, c, "e2e-vmdel") }, before-1)
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("reuse", map[string]string{annotations.IPAddress: "10.74.0.4"}, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPodRunning(t, cs, ns, "reuse", 60*time.Second); p.Status.PodIP != "10.74.0.4" {
		t.Errorf("released address not reusable: pod got %s", p.Status.PodIP)
	}
}

// B09: the controller restarts while the VM's launcher pod is Failed (and
// its replacement waits); the VM comes back with the same IP and MAC.
func TestB09KeptAddressSurvivesRestartWithFailedLauncher(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	if err := c.Create(ctx, newVM(ns, "vm-b09", nil, kubevirtv1.RunStrategyAlways, "node-2")); err != nil {
		t.Fatal(err)
	}
	vmi := waitVMIRunning(t, c, ns, "vm-b09")
	first := vmAddr(vmi)
	if err := cfg.Stop("kvnet-controller", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// qemu dies: the kubelet reports the launcher pod Failed (restartPolicy Never).
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "vm.kubevirt.io/name=vm-b09"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("launcher pods: %v %v", pods, err)
	}
	p := pods.Items[0]
	p.Status.Phase = corev1.PodFailed
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNewVMI(t, c, ns, "vm-b09", string(vmi.UID))
	if err := sandbox.StartController(cfg); err != nil {
		t.Fatal(err)
	}
	waitControllerReady(t)
	if got := vmAddr(waitVMIRunning(t, c, ns, "vm-b09")); got != first {
		t.Fatalf("after controller restart with a Failed launcher: %+v, want %+v", got, first)
	}
}

// B14: while a VM is stopped, garbage collection (a controller restart runs
// it) keeps its address; new pods in the subnet never get it, and the VM
// restarts with it.
func TestB14StoppedVMAddressSurvivesGC(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	createSubnet(t, c, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "e2e-b14"},
		Spec: kvnetv1.SubnetSpec{CIDRBlock: "10.75.0.0/29", Namespaces: []string{ns}}})
	if err := c.Create(ctx, newVM(ns, "vm-b14", nil, kubevirtv1.RunStrategyAlways, "")); err != nil {
		t.Fatal(err)
	}
	first := vmAddr(waitVMIRunning(t, c, ns, "vm-b14"))
	setRunStrategy(t, c, ns, "vm-b14", kubevirtv1.RunStrategyHalted)
	waitVMStopped(t, c, ns, "vm-b14")
	if err := cfg.Stop("kvnet-controller", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.StartController(cfg); err != nil {
		t.Fatal(err)
	}
	waitControllerReady(t)
	// The /29 has 5 usable addresses (gateway .1): the VM holds one, 4 pods
	// take the rest, a 5th finds the subnet full.
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("fill%d", i)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(name, nil, ""), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if p := waitPodRunning(t, cs, ns, name, 60*time.Second); p.Status.PodIP == first.ip {
			t.Fatalf("pod %s got stopped VM's address %s", name, first.ip)
		}
	}
	setRunStrategy(t, c, ns, "vm-b14", kubevirtv1.RunStrategyAlways)
	if got := vmAddr(waitVMIRunning(t, c, ns, "vm-b14")); got != first {
		t.Fatalf("VM restarted with %+v, want %+v", got, first)
	}
}
