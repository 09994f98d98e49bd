package controller_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/controller"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// envtest has no kube-controller-manager, no scheduler and no KubeVirt:
// these helpers play virt-controller (VM → VMI → launcher pod, migration
// phases), the scheduler (binding) and the garbage collector (dependents of
// a deleted owner), with the objects and fields KubeVirt uses.

func keepVMIP(o *controller.Options) { o.KeepVMIP = true }

func createVM(t *testing.T, ns, name string) *kubevirtv1.VirtualMachine {
	t.Helper()
	vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kubevirtv1.VirtualMachineSpec{RunStrategy: ptr.To(kubevirtv1.RunStrategyAlways)}}
	create(t, vm)
	return vm
}

// startVMI creates the VM's VMI (owned by vm when given) with the template
// annotations ann, and its launcher pod on node ("" = not scheduled).
func startVMI(t *testing.T, vm *kubevirtv1.VirtualMachine, ns, name, node string, ann map[string]string) (*kubevirtv1.VirtualMachineInstance, *corev1.Pod) {
	t.Helper()
	vmi := &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann}}
	if vm != nil {
		vmi.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: vm.Name,
			UID: vm.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	}
	create(t, vmi)
	p := launcher(vmi, node, nil)
	create(t, p)
	setVMIStatus(t, ns, name, func(st *kubevirtv1.VirtualMachineInstanceStatus) {
		st.Phase, st.NodeName = kubevirtv1.Scheduled, node
	})
	return vmi, p
}

// launcher is the virt-launcher pod of vmi, as virt-controller builds it.
func launcher(vmi *kubevirtv1.VirtualMachineInstance, node string, extraLabels map[string]string) *corev1.Pod {
	ann := maps.Clone(vmi.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[annotations.KubeVirtDomain] = vmi.Name
	labels := map[string]string{"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": string(vmi.UID), "vm.kubevirt.io/name": vmi.Name}
	maps.Copy(labels, extraLabels)
	p := mkPod(vmi.Namespace, fmt.Sprintf("virt-launcher-%s-%d", vmi.Name, time.Now().UnixNano()%100000), ann)
	p.Labels = labels
	p.Spec.NodeName = node
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: vmi.Name,
		UID: vmi.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	return p
}

func setVMIStatus(t *testing.T, ns, name string, edit func(*kubevirtv1.VirtualMachineInstanceStatus)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		vmi := &kubevirtv1.VirtualMachineInstance{}
		if err := k8s.Get(bg, client.ObjectKey{Namespace: ns, Name: name}, vmi); err != nil {
			return err
		}
		edit(&vmi.Status)
		return k8s.Status().Update(bg, vmi)
	})
	if err != nil {
		t.Fatalf("vmi %s/%s status: %v", ns, name, err)
	}
}

func setMigrationPhase(t *testing.T, m *kubevirtv1.VirtualMachineInstanceMigration, phase kubevirtv1.VirtualMachineInstanceMigrationPhase) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(bg, client.ObjectKeyFromObject(m), m); err != nil {
			return err
		}
		m.Status.Phase = phase
		return k8s.Status().Update(bg, m)
	})
	if err != nil {
		t.Fatalf("migration %s phase %s: %v", m.Name, phase, err)
	}
}

// bind schedules an unscheduled pod on node, as the scheduler does.
func bind(t *testing.T, p *corev1.Pod, node string) {
	t.Helper()
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
	if err := k8s.SubResource("binding").Create(bg, p, b); err != nil {
		t.Fatalf("bind %s to %s: %v", p.Name, node, err)
	}
}

func setPodPhase(t *testing.T, p *corev1.Pod, phase corev1.PodPhase) {
	t.Helper()
	cur := getPod(t, p.Namespace, p.Name)
	cur.Status.Phase = phase
	if err := k8s.Status().Update(bg, cur); err != nil {
		t.Fatal(err)
	}
}

func deleteNow(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Delete(bg, o, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("delete %s: %v", o.GetName(), err)
		}
	}
}

// stopVMI deletes a VMI and, as the garbage collector would, its pods.
func stopVMI(t *testing.T, ns, name string) {
	t.Helper()
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := k8s.Get(bg, client.ObjectKey{Namespace: ns, Name: name}, vmi); err != nil {
		t.Fatal(err)
	}
	deleteNow(t, vmi)
	collectDependents(t, vmi.UID)
}

// collectDependents deletes what the garbage collector would delete with
// the owner uid: pods, VMIs and IP objects that name it.
func collectDependents(t *testing.T, uid types.UID) {
	t.Helper()
	owned := func(o metav1.Object) bool {
		for _, r := range o.GetOwnerReferences() {
			if r.UID == uid {
				return true
			}
		}
		return false
	}
	var vmis kubevirtv1.VirtualMachineInstanceList
	var pods corev1.PodList
	var ips kubeovnv1.IPList
	for _, l := range []client.ObjectList{&vmis, &pods, &ips} {
		if err := k8s.List(bg, l); err != nil {
			t.Fatal(err)
		}
	}
	for i := range vmis.Items {
		if owned(&vmis.Items[i]) {
			deleteNow(t, &vmis.Items[i])
			collectDependents(t, vmis.Items[i].UID)
		}
	}
	for i := range pods.Items {
		if owned(&pods.Items[i]) {
			deleteNow(t, &pods.Items[i])
		}
	}
	for i := range ips.Items {
		if owned(&ips.Items[i]) {
			deleteNow(t, &ips.Items[i])
		}
	}
}

func portOptions(t *testing.T, nb libovsdb.Client, port string) string {
	t.Helper()
	lsp, err := ops.FindLogicalSwitchPort(nb, port)
	if err != nil {
		return "<no port>"
	}
	var kv []string
	for _, k := range []string{"requested-chassis", "activation-strategy"} {
		if v, ok := lsp.Options[k]; ok {
			kv = append(kv, k+"="+v)
		}
	}
	return strings.Join(kv, " ")
}

func waitPortOptions(t *testing.T, nb libovsdb.Client, port, want string) {
	t.Helper()
	eventually(t, 10*time.Second, "options of "+port+": "+want, func() (bool, string) {
		got := portOptions(t, nb, port)
		return got == want, got
	})
}

func getIP(t *testing.T, name string) *kubeovnv1.IP {
	t.Helper()
	var ip kubeovnv1.IP
	if err := k8s.Get(bg, client.ObjectKey{Name: name}, &ip); err != nil {
		t.Fatalf("ip %s: %v", name, err)
	}
	return &ip
}

func waitIPGone(t *testing.T, name string) {
	t.Helper()
	eventually(t, 10*time.Second, "ip "+name+" gone", func() (bool, string) {
		err := k8s.Get(bg, client.ObjectKey{Name: name}, &kubeovnv1.IP{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// addrOf is a pod's primary address and MAC as annotated.
func addrOf(p *corev1.Pod) string {
	return p.Annotations[annotations.IPAddress] + " " + p.Annotations[annotations.MACAddress]
}
