package addressing

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := kubevirt.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func vmObj(name string, uid types.UID) *kubevirtv1.VirtualMachine {
	return &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid}}
}

func vmiObj(name string, uid types.UID, owner *kubevirtv1.VirtualMachine, node string) *kubevirtv1.VirtualMachineInstance {
	vmi := &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid},
		Status: kubevirtv1.VirtualMachineInstanceStatus{NodeName: node}}
	if owner != nil {
		vmi.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: owner.Name,
			UID: owner.UID, Controller: ptr.To(true)}}
	}
	return vmi
}

func launcherPod(name, vm string, vmiUID types.UID, node, migrationUID string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name),
		Labels:      map[string]string{"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": string(vmiUID), "vm.kubevirt.io/name": vm},
		Annotations: map[string]string{annotations.KubeVirtDomain: vm}},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	if migrationUID != "" {
		p.Labels[kubevirtv1.MigrationJobLabel] = migrationUID
	}
	return p
}

// identifier reads a launcher pod's VM as the pod reconciler does
// (kubevirt.ReadFresh) and returns its holder, or nil when the pod is left
// alone or is no launcher pod.
type identifier struct {
	c        client.Client
	KeepVMIP bool
}

func newIdentifier(t *testing.T, keep bool, objs ...client.Object) *identifier {
	return &identifier{c: fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...).Build(), KeepVMIP: keep}
}

func (x *identifier) Identify(ctx context.Context, p *corev1.Pod) (*Holder, error) {
	name := kubevirt.VMName(p)
	if name == "" {
		return nil, nil
	}
	vm, err := kubevirt.ReadFresh(ctx, x.c, x.c, p.Namespace, name, x.KeepVMIP, p)
	if err != nil {
		return nil, err
	}
	h, ok := VMHolder(p, vm, x.KeepVMIP)
	if !ok {
		return nil, nil
	}
	return &h, nil
}

// TestLauncherPodsAreKeyedByTheirVM: every launcher pod of a VM has the
// VM's port, IP object and IPAM owner name; the IP object is owned by the
// VM (or a VMI without one, or the VMI without keep-vm-ip); ordinary pods
// are not this identifier's.
func TestLauncherPodsAreKeyedByTheirVM(t *testing.T) {
	ctx := context.Background()
	vm := vmObj("vm-a", "uid-vm")
	vmi := vmiObj("vm-a", "uid-vmi", vm, "node-1")
	src := launcherPod("virt-launcher-vm-a-abcde", "vm-a", "uid-vmi", "node-1", "")
	tgt := launcherPod("virt-launcher-vm-a-fghjk", "vm-a", "uid-vmi", "node-2", "m1")
	x := newIdentifier(t, true, vm, vmi, src, tgt)
	for _, p := range []*corev1.Pod{src, tgt} {
		id, err := x.Identify(ctx, p)
		if err != nil || id == nil {
			t.Fatalf("%s: holder %+v, %v", p.Name, id, err)
		}
		if id.Port != "vm-a.ns" || id.Key != VMKey("ns", "vm-a") || id.Owner() != (ops.Owner{Kind: ops.OwnerKindVM, Key: "ns/vm-a"}) {
			t.Errorf("%s: port %q key %q owner %+v", p.Name, id.Port, id.Key, id.Owner())
		}
		nic := &NIC{Port: id.Port, Subnet: &kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "s1"}}}
		ip := id.IP(nic, ipam.Allocation{MAC: "0a:00:00:00:00:01"})
		ref := ip.OwnerReferences
		if ip.Name != "vm-a.ns" || ip.Spec.PodName != "vm-a" || ip.Spec.Namespace != "ns" || ip.Spec.PodType != "VirtualMachine" ||
			ip.Spec.NodeName != "node-1" || len(ref) != 1 || ref[0].Kind != "VirtualMachine" || ref[0].UID != "uid-vm" {
			t.Errorf("%s: ip object %+v", p.Name, ip)
		}
		if TrackKey(ip) != id.Key || IPVMKey(ip) != "ns/vm-a" || IPPodKey(ip) != "" {
			t.Errorf("%s: ip tracked under %q, indexed %q", p.Name, TrackKey(ip), IPVMKey(ip))
		}
	}
	// The source alone restarts nothing; the target pins what the VM holds.
	if id, _ := x.Identify(ctx, src); id.Held != HeldPinned {
		t.Errorf("source with a target beside it: held policy %v", id.Held)
	}
	if id, _ := x.Identify(ctx, tgt); id.Held != HeldPinned {
		t.Errorf("migration target: held policy %v", id.Held)
	}
	alone := newIdentifier(t, true, vm, vmi, src)
	if id, _ := alone.Identify(ctx, src); id.Held != HeldReleased {
		t.Errorf("a VM starting: held policy %v", id.Held)
	}
	if id, _ := alone.Identify(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}); id != nil {
		t.Errorf("ordinary pod identified as a launcher: %+v", id)
	}

	// A VMI without a VM, and keep-vm-ip off: owned by the VMI.
	lone := vmiObj("vm-b", "uid-vmi-b", nil, "node-1")
	pb := launcherPod("virt-launcher-vm-b-abcde", "vm-b", "uid-vmi-b", "node-1", "")
	for _, x := range []*identifier{newIdentifier(t, true, lone, pb), newIdentifier(t, false, vm, vmi, src)} {
		p := pb
		if !x.KeepVMIP {
			p = src
		}
		id, err := x.Identify(ctx, p)
		if err != nil || id == nil {
			t.Fatalf("%s: %+v %v", p.Name, id, err)
		}
		ip := &kubeovnv1.IP{}
		id.SetIPOwner(ip)
		if len(ip.OwnerReferences) != 1 || ip.OwnerReferences[0].Kind != "VirtualMachineInstance" {
			t.Errorf("%s (keep %v): owner %+v", p.Name, x.KeepVMIP, ip.OwnerReferences)
		}
	}
}

// TestLauncherPodsLeftAlone: a Failed launcher, the pod of a replaced VMI
// and the pod of a VM being deleted get no address (and release nothing).
func TestLauncherPodsLeftAlone(t *testing.T) {
	ctx := context.Background()
	vm := vmObj("vm-a", "uid-vm")
	vmi := vmiObj("vm-a", "uid-vmi-2", vm, "")
	failed := launcherPod("failed", "vm-a", "uid-vmi-2", "node-1", "")
	failed.Status.Phase = corev1.PodFailed
	old := launcherPod("old", "vm-a", "uid-vmi-1", "node-1", "")
	deletingVM := vmObj("vm-d", "uid-vm-d")
	deletingVM.DeletionTimestamp, deletingVM.Finalizers = &metav1.Time{Time: time.Now()}, []string{"test"}
	vmiD := vmiObj("vm-d", "uid-vmi-d", deletingVM, "node-1")
	podD := launcherPod("pd", "vm-d", "uid-vmi-d", "node-1", "")
	orphanVMI := vmiObj("vm-o", "uid-vmi-o", vmObj("vm-o", "uid-gone"), "node-1")
	podO := launcherPod("po", "vm-o", "uid-vmi-o", "node-1", "")
	x := newIdentifier(t, true, vm, vmi, failed, old, deletingVM, vmiD, podD, orphanVMI, podO)
	for _, p := range []*corev1.Pod{failed, old, podD, podO} {
		id, err := x.Identify(ctx, p)
		if err != nil || id != nil {
			t.Errorf("%s: holder %+v, %v; want the pod left alone", p.Name, id, err)
		}
	}
}

// TestLiveness is the rule deciding when a VM key gives its addresses up.
func TestLiveness(t *testing.T) {
	vm := vmObj("vm-a", "uid-vm")
	deleting := vm.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	vmi := vmiObj("vm-a", "uid-vmi", vm, "node-1")
	lone := vmiObj("vm-a", "uid-vmi", nil, "node-1")
	cases := []struct {
		name  string
		keep  bool
		vm    *kubevirtv1.VirtualMachine
		vmi   *kubevirtv1.VirtualMachineInstance
		alive bool
	}{
		{"running VM", true, vm, vmi, true},
		{"stopped VM", true, vm, nil, true},
		{"VM deleted, its VMI still going", true, nil, vmi, false},
		{"VM being deleted", true, deleting, vmi, false},
		{"VMI without a VM", true, nil, lone, true},
		{"nothing", true, nil, nil, false},
		{"keep off: running", false, vm, vmi, true},
		{"keep off: stopped", false, vm, nil, false},
	}
	for _, c := range cases {
		if got := kubevirt.VMAliveBy(c.keep, c.vm, c.vmi); got != c.alive {
			t.Errorf("%s: alive %v, want %v", c.name, got, c.alive)
		}
	}
}
