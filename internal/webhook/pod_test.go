package webhook_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/annotations"
)

const (
	hookPod = "pod.webhook.kvnet.io"
	hookVM  = "vm.webhook.kvnet.io"
)

// B01: a static IP equal to the gateway is refused, the IPv6 gateway in
// every textual form included; an ordinary address of the same subnet is
// admitted (so the refusals are about the gateway, not the request).
func TestB01_StaticIPEqualToGatewayInAnyForm(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := mkNamespace(t, "b01")
	sn := mkSubnet("b01-subnet-a", "10.10.0.0/24,fd00:10::/120", "10.10.0.1,fd00:10::1", nil)
	sn.Spec.Protocol = "Dual"
	create(t, sn)
	t.Cleanup(func() { _ = k8s.Delete(ctx, sn) })
	for i, addr := range []string{
		"10.10.0.1",
		"10.10.0.5,fd00:10::1",
		"10.10.0.5,fd00:10:0:0:0:0:0:1",
		"10.10.0.5,FD00:10::1",
		"10.10.0.5,fd00:0010::0001",
		"fd00:0010:0000:0000:0000:0000:0000:0001",
	} {
		p := staticPod(ns, "p1", sn.Name, addr)
		refusedBy(t, createErr(p), hookPod, "gateway")
		if i > 0 && !strings.Contains(createErr(p).Error(), "fd00:10::1") {
			t.Errorf("%q: refusal does not name the canonical gateway fd00:10::1: %v", addr, createErr(p))
		}
	}
	create(t, staticPod(ns, "p1", sn.Name, "10.10.0.5,fd00:10::5"))
}

// A static address or MAC held by a live owner is refused, whatever its
// textual form; held by an owner that is gone, replaced or terminating it
// is admitted with a warning (the controller hands it over once released);
// a pod re-created under its own name keeps its address.
func TestStaticAddressInUse(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := mkNamespace(t, "inuse")
	sn := mkSubnet("inuse-sn", "10.11.0.0/24,fd00:11::/120", "", nil)
	create(t, sn)
	t.Cleanup(func() { _ = k8s.Delete(ctx, sn) })

	holder := mkPod(ns, "holder", nil, nil)
	create(t, holder)
	create(t, mkIP("holder."+ns, sn.Name, ns, "holder", "", "10.11.0.20,fd00:11::20", "0a:00:00:00:00:20", holder.UID))

	refusedBy(t, createErr(staticPod(ns, "dup", sn.Name, "10.11.0.20")), hookPod,
		"address 10.11.0.20", "already in use by pod inuse/holder")
	refusedBy(t, createErr(staticPod(ns, "dup", sn.Name, "10.11.0.21,FD00:0011::0020")), hookPod,
		"address fd00:11::20", "already in use")
	mac := staticPod(ns, "dup", sn.Name, "10.11.0.22")
	mac.Annotations[annotations.MACAddress] = "0A:00:00:00:00:20"
	refusedBy(t, createErr(mac), hookPod, "MAC 0a:00:00:00:00:20", "already in use")

	// The same name again (a pod re-created, its IP object still there).
	again := staticPod(ns, "holder", sn.Name, "10.11.0.20")
	again.Name = "holder"
	if err := k8s.Delete(ctx, holder); err != nil {
		t.Fatal(err)
	}
	if w := warningsOf(func() { create(t, again) }); len(w) != 0 {
		t.Errorf("re-created pod: warnings %q, want none: the address is its own", w)
	}

	// The IP object's pod is gone (deleted while the controller was down, B08).
	orphan := mkIP("gone."+ns, sn.Name, ns, "gone", "", "10.11.0.30", "", "")
	create(t, orphan)
	w := warningsOf(func() {
		if err := createErr(staticPod(ns, "heir", sn.Name, "10.11.0.30")); err != nil {
			t.Fatalf("address of a gone pod refused: %v", err)
		}
	})
	if len(w) != 1 || !strings.Contains(w[0], "whose pod is gone") {
		t.Errorf("warnings %q, want one saying the holder is gone", w)
	}

	// The holder pod terminating (a finalizer keeps it).
	term := mkPod(ns, "term", nil, nil)
	term.Finalizers = []string{"kvnet.io/test"}
	create(t, term)
	create(t, mkIP("term."+ns, sn.Name, ns, "term", "", "10.11.0.40", "", term.UID))
	if err := k8s.Delete(ctx, term); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cur := &corev1.Pod{}
		if k8s.Get(ctx, client.ObjectKeyFromObject(term), cur) == nil {
			cur.Finalizers = nil
			_ = k8s.Update(ctx, cur)
		}
	})
	waitTerminatingCached(t, term)
	w = warningsOf(func() {
		if err := createErr(staticPod(ns, "next", sn.Name, "10.11.0.40")); err != nil {
			t.Fatalf("address of a terminating pod refused: %v", err)
		}
	})
	if len(w) != 1 || !strings.Contains(w[0], "being deleted") {
		t.Errorf("warnings %q, want one saying the holder is being deleted", w)
	}
}

func waitTerminatingCached(t *testing.T, p *corev1.Pod) {
	t.Helper()
	for i := 0; i < 500; i++ {
		cur := &corev1.Pod{}
		if cached.Get(context.Background(), client.ObjectKeyFromObject(p), cur) == nil && cur.DeletionTimestamp != nil {
			return
		}
		sleep()
	}
	t.Fatalf("pod %s never seen terminating", p.Name)
}

// B06: (c) static addresses inside excludeIps are allowed, also when every
// address is excluded; (d) a pod of a namespace the subnet is not bound to
// cannot use it, with or without a static address.
func TestB06_ExcludedStaticAndUnboundNamespace(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	nsA, nsB := mkNamespace(t, "b06-ns-a"), mkNamespace(t, "b06-ns-b")
	sx := mkSubnet("b06-subnet-x", "10.0.6.0/24", "10.0.6.1", []string{nsA}, "10.0.6.1", "10.0.6.2", "10.0.6.20..10.0.6.255")
	full := mkSubnet("b06-full", "10.0.7.0/29", "10.0.7.1", []string{"b06-ns-full"}, "10.0.7.2..10.0.7.6")
	create(t, sx, full)
	t.Cleanup(func() { _ = k8s.Delete(ctx, sx); _ = k8s.Delete(ctx, full) })
	nsFull := mkNamespace(t, "b06-ns-full")

	refusedBy(t, createErr(staticPod(nsB, "intruder", sx.Name, "10.0.6.24")), hookPod,
		`namespace "b06-ns-b" is not in the subnet's namespaces`)
	refusedBy(t, createErr(mkPod(nsB, "intruder", map[string]string{annotations.LogicalSwitch: sx.Name}, nil)), hookPod,
		"b06-ns-b", "not in the subnet's namespaces")
	create(t, staticPod(nsA, "excluded", sx.Name, "10.0.6.24"))
	create(t, staticPod(nsFull, "excluded", full.Name, "10.0.7.3"))
	// The gateway stays refused even though it is also listed in excludeIps.
	refusedBy(t, createErr(staticPod(nsA, "gw", sx.Name, "10.0.6.1")), hookPod, "gateway")
}

// Malformed annotation values are refused with the annotation named.
func TestMalformedAnnotations(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := mkNamespace(t, "malformed")
	sn := mkSubnet("malformed-sn", "10.13.0.0/24", "", nil)
	create(t, sn)
	t.Cleanup(func() { _ = k8s.Delete(ctx, sn) })
	ls := annotations.LogicalSwitch
	for _, tc := range []struct {
		ann  map[string]string
		want string
	}{
		{map[string]string{ls: sn.Name, annotations.IPAddress: "10.13.0.300"}, "ip_address"},
		{map[string]string{ls: sn.Name, annotations.IPAddress: "10.99.0.1"}, "not inside 10.13.0.0/24"},
		{map[string]string{ls: sn.Name, annotations.IPAddress: "10.13.0.5,10.13.0.6"}, "more than one static IPv4"},
		{map[string]string{ls: sn.Name, annotations.IPAddress: "fd00::5"}, "no IPv6 CIDR"},
		{map[string]string{ls: sn.Name, annotations.IPAddress: "10.13.0.0"}, "network address"},
		{map[string]string{ls: sn.Name, annotations.IPAddress: "10.13.0.255"}, "broadcast address"},
		{map[string]string{ls: sn.Name, annotations.MACAddress: "zz:00"}, "mac_address"},
		{map[string]string{ls: sn.Name, annotations.MACAddress: "01:00:5e:00:00:01"}, "multicast"},
		{map[string]string{ls: sn.Name, annotations.IPPool: "10.13.0.5,10.13.0.x"}, "ip_pool"},
		{map[string]string{ls: sn.Name, annotations.MultusNetworks: `[{"name":`}, "k8s.v1.cni.cncf.io/networks"},
		{map[string]string{ls: "join"}, ""},
	} {
		if tc.ann[ls] == "join" {
			create(t, mkSubnet("join", "100.64.0.0/16", "", nil))
			tc.want = "reserved for node ports"
		}
		refusedBy(t, createErr(mkPod(ns, "bad", tc.ann, nil)), hookPod, tc.want)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, mkSubnet("join", "100.64.0.0/16", "", nil)) })
	// A subnet that does not exist yet is not refused (the controller waits
	// for it), but the client is warned.
	w := warningsOf(func() {
		if err := createErr(mkPod(ns, "early", map[string]string{ls: "not-yet"}, nil)); err != nil {
			t.Fatalf("pod naming a future subnet refused: %v", err)
		}
	})
	if len(w) != 1 || !strings.Contains(w[0], `subnet "not-yet" does not exist`) {
		t.Errorf("warnings %q", w)
	}
}

// KubeVirt: migration target pods, and pods and VMIs of a VM that already
// holds the address, are exempt; a VM or VMI asking for another owner's
// address is refused at creation, in both API versions.
func TestKubeVirtStaticAddresses(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := mkNamespace(t, "kv")
	sn := mkSubnet("kv-sn", "10.12.0.0/24", "", nil)
	create(t, sn)
	t.Cleanup(func() { _ = k8s.Delete(ctx, sn) })
	ann := func(addr string) map[string]string {
		return map[string]string{annotations.LogicalSwitch: sn.Name, annotations.IPAddress: addr}
	}

	// vm-a holds 10.12.0.30 through its kept-address IP object "vm-a.kv".
	vmA := vm("v1", ns, "vm-a", ann("10.12.0.30"))
	if err := k8s.Create(ctx, vmA); err != nil {
		t.Fatal(err)
	}
	kept := mkIP("vm-a."+ns, sn.Name, ns, "vm-a", "VirtualMachine", "10.12.0.30", "", "")
	kept.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm-a", UID: vmA.GetUID()}}
	create(t, kept)
	// A VMI without a VM holds 10.12.0.50 (its IP object is owned by the VMI).
	solo := vmi(ns, "vmi-solo", nil)
	if err := k8s.Create(ctx, solo); err != nil {
		t.Fatal(err)
	}
	soloIP := mkIP("vmi-solo."+ns, sn.Name, ns, "vmi-solo", "VirtualMachine", "10.12.0.50", "", "")
	soloIP.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "vmi-solo", UID: solo.GetUID()}}
	create(t, soloIP)
	refusedBy(t, createErr(staticPod(ns, "stranger", sn.Name, "10.12.0.50")), hookPod, "already in use by virtualmachine kv/vmi-solo")

	launcher := func(name, vmName string, addr string, extra map[string]string) *corev1.Pod {
		p := mkPod(ns, name, ann(addr), map[string]string{"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vmName})
		p.Annotations[annotations.KubeVirtDomain] = vmName
		for k, v := range extra {
			p.Labels[k] = v
		}
		return p
	}
	create(t, launcher("virt-launcher-vm-a-abcde", "vm-a", "10.12.0.30", nil))
	vmiA := vmi(ns, "vm-a", ann("10.12.0.30"))
	// As virt-controller makes it: controlled by its VM, so it holds
	// nothing once the VM is gone (kubevirt.Liveness).
	vmiA.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm-a", UID: vmA.GetUID(), Controller: ptr.To(true)}})
	if err := k8s.Create(ctx, vmiA); err != nil {
		t.Errorf("VMI of the VM holding the address refused: %v", err)
	}
	refusedBy(t, createErr(staticPod(ns, "stranger", sn.Name, "10.12.0.30")), hookPod, "already in use by virtualmachine kv/vm-a")
	refusedBy(t, createErr(launcher("virt-launcher-vm-b-fghij", "vm-b", "10.12.0.30", nil)), hookPod, "virtualmachine kv/vm-a")
	refusedBy(t, createErr(vm("v1", ns, "vm-c", ann("10.12.0.30"))), hookVM, "VirtualMachine kv/vm-c", "already in use by virtualmachine kv/vm-a")
	refusedBy(t, createErr(vm("v1alpha3", ns, "vm-c", ann("10.12.0.30"))), hookVM, "already in use")
	refusedBy(t, createErr(vmi(ns, "vm-c", ann("10.12.0.30"))), hookVM, "VirtualMachineInstance kv/vm-c")
	// A VMI that virt-controller creates for an admitted VM is not judged
	// again (a conflict since then is reported by the pod controller).
	owned := vmi(ns, "vm-g", ann("10.12.0.30"))
	owned.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm-g", UID: "0000-vm-g"}})
	if err := k8s.Create(ctx, owned); err != nil {
		t.Errorf("VMI owned by a VM refused: %v", err)
	}
	refusedBy(t, createErr(vm("v1", ns, "vm-c", ann("10.12.0.1"))), hookVM, "gateway")

	// A migration target pod is exempt even where another owner holds the address.
	create(t, launcher("virt-launcher-vm-b-target", "vm-b", "10.12.0.30", map[string]string{annotations.KubeVirtMigrationJobUID: "0000-1111"}))

	// Launcher pods keyed by pod (an earlier launcher of the same VM holds
	// the address, e.g. left Failed): a new launcher of that VM is admitted,
	// anyone else is refused.
	old := launcher("virt-launcher-vm-d-old00", "vm-d", "10.12.0.40", nil)
	create(t, old)
	create(t, mkIP(old.Name+"."+ns, sn.Name, ns, old.Name, "", "10.12.0.40", "", old.UID))
	create(t, launcher("virt-launcher-vm-d-new00", "vm-d", "10.12.0.40", nil))
	refusedBy(t, createErr(launcher("virt-launcher-vm-e-new00", "vm-e", "10.12.0.40", nil)), hookPod, "already in use by pod kv/virt-launcher-vm-d-old00")

	// VM updates: an edit that leaves the network annotations alone is
	// admitted; one that asks for a taken address is refused.
	vmD := vm("v1", ns, "vm-d", ann("10.12.0.40"))
	if err := k8s.Create(ctx, vmD); err != nil {
		t.Fatalf("VM whose launcher pods hold the address refused: %v", err)
	}
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(vmD.GroupVersionKind())
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(vmD), cur); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(cur.Object, "Halted", "spec", "runStrategy")
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatalf("runStrategy change refused: %v", err)
	}
	_ = unstructured.SetNestedField(cur.Object, "10.12.0.30", "spec", "template", "metadata", "annotations", annotations.IPAddress)
	refusedBy(t, k8s.Update(ctx, cur), hookVM, "vm-a")

	// Once vm-a is deleted its kept address is free for others (with a warning).
	if err := k8s.Delete(ctx, vmA); err != nil {
		t.Fatal(err)
	}
	w := warningsOf(func() {
		if err := createErr(vm("v1", ns, "vm-f", ann("10.12.0.30"))); err != nil {
			t.Fatalf("address of a deleted VM refused: %v", err)
		}
	})
	if len(w) != 1 || !strings.Contains(w[0], "VirtualMachine is gone") {
		t.Errorf("warnings %q", w)
	}
}
