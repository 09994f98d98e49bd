package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/controller"
	"github.com/kvnet/kvnet/internal/controller/migration"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

// TestVMKeepsAddressesB09B14: a VM with a primary NIC and a Multus
// secondary NIC keeps both addresses and its MAC across a controller
// restart while its launcher pod is Failed (B09), and while it is stopped
// across repair passes and a restart; pods filling the subnet meanwhile
// never get its address (B14); it comes back with them.
func TestVMKeepsAddressesB09B14(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	r1 := startController(t, addr, keepVMIP)
	nb := nbClient(t, addr)
	const ns = "t-vmkeep"
	provider := "net-b." + ns + ".ovn"
	createNS(t, ns)
	create(t, subnetObj("vmkeep-a", "172.21.1.0/29", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }),
		subnetObj("vmkeep-b", "172.21.2.0/29", func(s *kubeovnv1.SubnetSpec) { s.Provider = provider }))
	waitSubnetReady(t, "vmkeep-a")
	waitSubnetReady(t, "vmkeep-b")
	tmpl := map[string]string{annotations.MultusNetworks: ns + "/net-b"}
	vm := createVM(t, ns, "vm-a")
	_, p := startVMI(t, vm, ns, "vm-a", "node-1", tmpl)
	p = waitRouted(t, ns, p.Name)
	first, second := addrOf(p), p.Annotations[provider+".kubernetes.io/ip_address"]
	if !strings.HasPrefix(first, "172.21.1.") || !strings.HasPrefix(second, "172.21.2.") || p.Annotations[annotations.PortName] != "vm-a."+ns {
		t.Fatalf("launcher annotations %v", p.Annotations)
	}
	port, port2 := "vm-a."+ns, "vm-a."+ns+"."+provider
	if got := portOptions(t, nb, port); got != "requested-chassis=node-1" {
		t.Errorf("port options %q", got)
	}
	for _, name := range []string{port, port2} {
		ip := getIP(t, name)
		if ip.Spec.PodType != "VirtualMachine" || ip.Spec.PodName != "vm-a" || len(ip.OwnerReferences) != 1 ||
			ip.OwnerReferences[0].Kind != "VirtualMachine" || ip.OwnerReferences[0].UID != vm.UID {
			t.Fatalf("ip object %s: %+v", name, ip)
		}
		if lsp, err := ops.FindLogicalSwitchPort(nb, name); err != nil || lsp.ExternalIDs[ops.KeyOwnerKind] != ops.OwnerKindVM {
			t.Fatalf("port %s: %+v %v", name, lsp, err)
		}
	}

	// B09: the launcher pod fails (qemu died), the controller restarts.
	setPodPhase(t, p, corev1.PodFailed)
	r1.stop()
	passes := repairPasses(t)
	r2 := startController(t, addr, keepVMIP)
	waitRepairPasses(t, passes, 3) // the start-up repair pass and two periodic ones
	stopVMI(t, ns, "vm-a")
	_, p = startVMI(t, vm, ns, "vm-a", "node-2", tmpl)
	p = waitRouted(t, ns, p.Name)
	if got := addrOf(p); got != first || p.Annotations[provider+".kubernetes.io/ip_address"] != second {
		t.Fatalf("B09: after a restart with a Failed launcher: %s / %s, want %s / %s", got, p.Annotations[provider+".kubernetes.io/ip_address"], first, second)
	}
	waitPortOptions(t, nb, port, "requested-chassis=node-2")

	// B14: stopped, through repair passes and a restart.
	stopVMI(t, ns, "vm-a")
	waitPortOptions(t, nb, port, "")
	waitRepairPassAfter(t) // a full repair pass with the VM stopped
	r2.stop()
	passes = repairPasses(t)
	startController(t, addr, keepVMIP)
	waitRepairPasses(t, passes, 3) // the start-up repair pass and two periodic ones
	for _, name := range []string{port, port2} {
		getIP(t, name)
		if _, err := ops.FindLogicalSwitchPort(nb, name); err != nil {
			t.Fatalf("B14: the stopped VM's port %s was collected: %v", name, err)
		}
	}
	// The /29 has 5 addresses: the VM keeps one, 4 pods get the others, a 5th none.
	for i := 0; i < 5; i++ {
		create(t, mkPod(ns, fmt.Sprintf("fill%d", i), nil))
	}
	for i := 0; i < 4; i++ {
		if got := waitRouted(t, ns, fmt.Sprintf("fill%d", i)).Annotations[annotations.IPAddress]; strings.HasPrefix(first, got+" ") {
			t.Fatalf("B14: pod fill%d got the stopped VM's address %s", i, got)
		}
	}
	waitEvent(t, ns, "fill4", "NoAvailableAddress")
	_, p = startVMI(t, vm, ns, "vm-a", "node-3", tmpl)
	p = waitRouted(t, ns, p.Name)
	if got := addrOf(p); got != first || p.Annotations[provider+".kubernetes.io/ip_address"] != second {
		t.Fatalf("B14: restarted with %s / %s, want %s / %s", got, p.Annotations[provider+".kubernetes.io/ip_address"], first, second)
	}
	waitPortOptions(t, nb, port, "requested-chassis=node-3")
}

// TestB15VMDeletionReleasesInEveryOrder: deleting a VM releases its address
// (IP object gone, usage back to 0, address reusable, port gone) whether it
// runs, was stopped first, is deleted while stopping, or is deleted while
// the controller is down (garbage collector done, or not yet).
func TestB15VMDeletionReleasesInEveryOrder(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	ctl := startController(t, addr, keepVMIP)
	nb := nbClient(t, addr)
	const ns, sn = "t-b15", "b15-s1"
	createNS(t, ns)
	create(t, subnetObj(sn, "172.21.3.0/29", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }))
	waitSubnetReady(t, sn)
	usage := func() int { u, _ := ctl.store.IPAM.Usage(sn); return u.V4Using }

	orders := []struct {
		name   string
		delete func(vm *kubevirtv1.VirtualMachine)
	}{
		{"delete running", func(vm *kubevirtv1.VirtualMachine) {
			deleteNow(t, vm)
			collectDependents(t, vm.UID)
		}},
		{"stop then delete", func(vm *kubevirtv1.VirtualMachine) {
			stopVMI(t, ns, vm.Name)
			waitRepairPassAfter(t) // a repair pass while stopped keeps it
			getIP(t, vm.Name+"."+ns)
			if usage() != 1 {
				t.Fatalf("stopped VM: usage %d", usage())
			}
			deleteNow(t, vm)
			collectDependents(t, vm.UID)
		}},
		{"delete during stop", func(vm *kubevirtv1.VirtualMachine) {
			vmi := &kubevirtv1.VirtualMachineInstance{}
			if err := k8s.Get(bg, client.ObjectKey{Namespace: ns, Name: vm.Name}, vmi); err != nil {
				t.Fatal(err)
			}
			base := reconcileCounts(t, "vm")
			deleteNow(t, vmi, vm)
			// The launcher pod still runs while the controller handles
			// the deletion: wait for that reconcile, then collect.
			waitReconciledSince(t, base)
			collectDependents(t, vmi.UID)
			collectDependents(t, vm.UID)
		}},
		{"controller down, garbage collector done", func(vm *kubevirtv1.VirtualMachine) {
			ctl.stop()
			deleteNow(t, vm)
			collectDependents(t, vm.UID)
			ctl = startController(t, addr, keepVMIP)
		}},
		{"controller down, garbage collector not yet", func(vm *kubevirtv1.VirtualMachine) {
			ctl.stop()
			deleteNow(t, vm)
			ctl = startController(t, addr, keepVMIP)
			waitIPGone(t, vm.Name+"."+ns) // released by kvnet itself
			collectDependents(t, vm.UID)
		}},
	}
	for i, o := range orders {
		name := fmt.Sprintf("vm-%d", i)
		vm := createVM(t, ns, name)
		_, p := startVMI(t, vm, ns, name, "node-1", nil)
		ip := waitRouted(t, ns, p.Name).Annotations[annotations.IPAddress]
		waitSubnetUsing(t, sn, 1)
		o.delete(vm)
		waitIPGone(t, name+"."+ns)
		eventually(t, 10*time.Second, o.name+": port gone, usage 0", func() (bool, string) {
			_, err := ops.FindLogicalSwitchPort(nb, name+"."+ns)
			return err != nil && usage() == 0, fmt.Sprintf("port err %v, usage %d", err, usage())
		})
		waitSubnetUsing(t, sn, 0)
		reuse := fmt.Sprintf("reuse-%d", i)
		create(t, mkPod(ns, reuse, map[string]string{annotations.IPAddress: ip}))
		if got := waitRouted(t, ns, reuse).Annotations[annotations.IPAddress]; got != ip {
			t.Fatalf("%s: released %s not reusable (got %s)", o.name, ip, got)
		}
		deleteNow(t, mkPod(ns, reuse, nil))
		waitSubnetUsing(t, sn, 0)
	}
	if err := k8s.Delete(bg, subnetObj(sn, "", nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "subnet deleted", func() (bool, string) {
		err := k8s.Get(bg, client.ObjectKey{Name: sn}, &kubeovnv1.Subnet{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// TestB19B20MigrationSharesThePortAndPlacesIt: a migration target pod gets
// the VM's IP and MAC with no conflict (B19); while its node is unknown the
// port stays on the source and the target is not routed (B20); once it has
// a node the port is bound to both chassis with RARP activation before the
// target is routed; success leaves the target only, failure the source
// only, a restart mid-migration changes nothing, and a finished migration
// replayed changes nothing.
func TestB19B20MigrationSharesThePortAndPlacesIt(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	ctl := startController(t, addr, keepVMIP)
	nb := nbClient(t, addr)
	const ns = "t-mig"
	createNS(t, ns)
	create(t, subnetObj("mig-s1", "172.21.4.0/28", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }))
	waitSubnetReady(t, "mig-s1")
	vm := createVM(t, ns, "vm-m")
	vmi, src := startVMI(t, vm, ns, "vm-m", "node-1", map[string]string{annotations.IPAddress: "172.21.4.5"})
	src = waitRouted(t, ns, src.Name)
	want := addrOf(src)
	port := "vm-m." + ns
	waitPortOptions(t, nb, port, "requested-chassis=node-1")
	setVMIStatus(t, ns, "vm-m", func(st *kubevirtv1.VirtualMachineInstanceStatus) { st.Phase = kubevirtv1.Running })

	// m1: created while its target cannot be scheduled.
	m1 := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "m1"},
		Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm-m"}}
	create(t, m1)
	setMigrationPhase(t, m1, kubevirtv1.MigrationPending)
	tgt := launcher(vmi, "", map[string]string{kubevirtv1.MigrationJobLabel: string(m1.UID)})
	base := reconcileCounts(t, "pod", "vm-placement")
	create(t, tgt)
	waitReconciledSince(t, base) // both have seen the unscheduled target
	if p := getPod(t, ns, tgt.Name); p.Annotations[annotations.Routed] != "" {
		t.Fatalf("unscheduled target routed: %v", p.Annotations)
	}
	if got := portOptions(t, nb, port); got != "requested-chassis=node-1" {
		t.Fatalf("B20: with the target unscheduled, options %q", got)
	}
	bind(t, tgt, "node-2") // still Pending: B20
	tgt = waitRouted(t, ns, tgt.Name)
	if got := portOptions(t, nb, port); got != "requested-chassis=node-1,node-2 activation-strategy=rarp" {
		t.Fatalf("target routed while the port has %q", got)
	}
	if got := addrOf(tgt); got != want {
		t.Fatalf("B19: target got %s, source has %s", got, want)
	}
	if tgt.Annotations[annotations.SkipOVNInstalled] != "" {
		t.Errorf("multi-chassis target marked to skip ovn-installed")
	}
	var evs corev1.EventList
	if err := k8s.List(bg, &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.Type == corev1.EventTypeWarning {
			t.Errorf("B19: warning %s on %s: %s", e.Reason, e.InvolvedObject.Name, e.Message)
		}
	}
	for _, ph := range []kubevirtv1.VirtualMachineInstanceMigrationPhase{kubevirtv1.MigrationScheduling, kubevirtv1.MigrationScheduled,
		kubevirtv1.MigrationPreparingTarget, kubevirtv1.MigrationTargetReady, kubevirtv1.MigrationRunning} {
		setMigrationPhase(t, m1, ph)
	}
	setVMIStatus(t, ns, "vm-m", func(st *kubevirtv1.VirtualMachineInstanceStatus) {
		st.MigrationState = &kubevirtv1.VirtualMachineInstanceMigrationState{MigrationUID: m1.UID, SourceNode: "node-1", TargetNode: "node-2"}
	})

	// A restart mid-migration writes nothing.
	dump := func() string { return nbtest.Dump(t, nb) }
	before := settledDump(t, dump)
	ctl.stop()
	base = reconcileCounts(t, "pod", "vm", "vm-placement", "subnet")
	ctl = startController(t, addr, keepVMIP)
	waitReconciledSince(t, base)
	waitRepairPassAfter(t)
	if after := dump(); after != before {
		t.Errorf("restart mid-migration changed NB:\nbefore %s\nafter  %s", before, after)
	}

	// Success: the VMI moves first, then the migration object.
	setVMIStatus(t, ns, "vm-m", func(st *kubevirtv1.VirtualMachineInstanceStatus) {
		st.NodeName, st.MigrationState.Completed = "node-2", true
	})
	waitPortOptions(t, nb, port, "requested-chassis=node-2")
	setMigrationPhase(t, m1, kubevirtv1.MigrationSucceeded)
	base = reconcileCounts(t, "vm-placement")
	deleteNow(t, src)
	waitReconciledSince(t, base) // the source pod's deletion is handled
	if got := portOptions(t, nb, port); got != "requested-chassis=node-2" {
		t.Fatalf("after success: %q", got)
	}
	if a, ok := ctl.store.IPAM.Lookup("mig-s1", port); !ok || a.IPString()+" "+a.MAC != want {
		t.Fatalf("B19: after the migration the VM holds %+v %v, want %s", a, ok, want)
	}
	eventually(t, 10*time.Second, "ip object on the new node", func() (bool, string) {
		ip := getIP(t, port)
		return ip.Spec.NodeName == "node-2", ip.Spec.NodeName
	})
	// Replaying the finished migration changes nothing.
	m1.Annotations = map[string]string{"replay": "1"}
	base = reconcileCounts(t, "vm-placement")
	if err := k8s.Update(bg, m1); err != nil {
		t.Fatal(err)
	}
	waitReconciledSince(t, base) // the replay was reconciled
	if got := portOptions(t, nb, port); got != "requested-chassis=node-2" {
		t.Fatalf("replayed migration changed the options: %q", got)
	}

	// m2 fails while the controller is down.
	m2 := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "m2"},
		Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm-m"}}
	create(t, m2)
	setMigrationPhase(t, m2, kubevirtv1.MigrationScheduling)
	tgt2 := launcher(vmi, "node-3", map[string]string{kubevirtv1.MigrationJobLabel: string(m2.UID)})
	create(t, tgt2)
	if got := addrOf(waitRouted(t, ns, tgt2.Name)); got != want {
		t.Fatalf("second target got %s, want %s", got, want)
	}
	if got := portOptions(t, nb, port); got != "requested-chassis=node-2,node-3 activation-strategy=rarp" {
		t.Fatalf("back-to-back migration: %q", got)
	}
	ctl.stop()
	deleteNow(t, tgt2)
	setVMIStatus(t, ns, "vm-m", func(st *kubevirtv1.VirtualMachineInstanceStatus) {
		st.MigrationState = &kubevirtv1.VirtualMachineInstanceMigrationState{MigrationUID: m2.UID, SourceNode: "node-2", TargetNode: "node-3", Failed: true}
	})
	setMigrationPhase(t, m2, kubevirtv1.MigrationFailed)
	startController(t, addr, keepVMIP)
	waitPortOptions(t, nb, port, "requested-chassis=node-2")
}

// TestMigrationBenchmarkKnobs: --migration-mode=naive keeps one chassis and
// marks the target so the agent does not wait for ovn-installed, moving the
// port when the migration succeeds; --migration-event-delay holds back every
// migration-driven change, and the target is routed only once its node is
// in the port's options.
func TestMigrationBenchmarkKnobs(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	naive := func(o *controller.Options) { o.KeepVMIP, o.MigrationMode = true, migration.Naive }
	ctl := startController(t, addr, naive)
	nb := nbClient(t, addr)
	const ns = "t-migknobs"
	createNS(t, ns)
	create(t, subnetObj("migknobs", "172.21.5.0/28", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }))
	waitSubnetReady(t, "migknobs")
	vm := createVM(t, ns, "vm-k")
	vmi, src := startVMI(t, vm, ns, "vm-k", "node-1", nil)
	want := addrOf(waitRouted(t, ns, src.Name))
	port := "vm-k." + ns
	setVMIStatus(t, ns, "vm-k", func(st *kubevirtv1.VirtualMachineInstanceStatus) { st.Phase = kubevirtv1.Running })

	migrate := func(name, from, to string) (*kubevirtv1.VirtualMachineInstanceMigration, *corev1.Pod) {
		m := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm-k"}}
		create(t, m)
		setMigrationPhase(t, m, kubevirtv1.MigrationScheduling)
		setVMIStatus(t, ns, "vm-k", func(st *kubevirtv1.VirtualMachineInstanceStatus) {
			st.MigrationState = &kubevirtv1.VirtualMachineInstanceMigrationState{MigrationUID: m.UID, SourceNode: from, TargetNode: to}
		})
		p := launcher(vmi, to, map[string]string{kubevirtv1.MigrationJobLabel: string(m.UID)})
		create(t, p)
		return m, p
	}
	succeed := func(m *kubevirtv1.VirtualMachineInstanceMigration, to string) time.Time {
		at := time.Now()
		setVMIStatus(t, ns, "vm-k", func(st *kubevirtv1.VirtualMachineInstanceStatus) {
			st.NodeName, st.MigrationState.Completed = to, true
		})
		setMigrationPhase(t, m, kubevirtv1.MigrationSucceeded)
		return at
	}

	m1, tgt := migrate("m1", "node-1", "node-2")
	tgt = waitRouted(t, ns, tgt.Name)
	if tgt.Annotations[annotations.SkipOVNInstalled] != "true" || addrOf(tgt) != want {
		t.Fatalf("naive target: %v", tgt.Annotations)
	}
	if got := portOptions(t, nb, port); got != "requested-chassis=node-1" {
		t.Fatalf("naive mode during the migration: %q", got)
	}
	succeed(m1, "node-2")
	waitPortOptions(t, nb, port, "requested-chassis=node-2")
	deleteNow(t, src)
	ctl.stop()

	const delay = time.Second
	startController(t, addr, func(o *controller.Options) { o.KeepVMIP, o.MigrationEventDelay = true, delay })
	start := time.Now()
	m2, tgt2 := migrate("m2", "node-2", "node-3")
	tgt2 = waitRouted(t, ns, tgt2.Name)
	routedAfter := time.Since(start)
	if got := portOptions(t, nb, port); got != "requested-chassis=node-2,node-3 activation-strategy=rarp" {
		t.Fatalf("delayed target routed while the port has %q", got)
	}
	if routedAfter < delay-100*time.Millisecond || tgt2.Annotations[annotations.SkipOVNInstalled] != "" {
		t.Errorf("target routed after %v (delay %v), annotations %v", routedAfter, delay, tgt2.Annotations)
	}
	base := reconcileCounts(t, "vm-placement")
	at := succeed(m2, "node-3")
	waitReconciledSince(t, base) // the controller has seen the success
	// The scenario's clock: look at half the delay, when the success must
	// not be applied yet.
	time.Sleep(delay/2 - time.Since(at))
	if got := portOptions(t, nb, port); got != "requested-chassis=node-2,node-3 activation-strategy=rarp" {
		t.Errorf("success applied before the delay: %q", got)
	}
	waitPortOptions(t, nb, port, "requested-chassis=node-3")
	if d := time.Since(at); d < delay-100*time.Millisecond {
		t.Errorf("success applied after %v, delay %v", d, delay)
	}
}

// TestVMAddressChangeTakesEffectAtNextStart: a VM whose template asks for
// another static address, or another subnet, gets it when it next starts,
// and its old address is released (another pod can take it); a running
// VM's second launcher pod (a migration target) keeps what the VM holds.
func TestVMAddressChangeTakesEffectAtNextStart(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	ctl := startController(t, addr, keepVMIP)
	nb := nbClient(t, addr)
	const ns = "t-vmchange"
	createNS(t, ns)
	create(t, subnetObj("vmchange-a", "172.21.6.0/28", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }),
		subnetObj("vmchange-b", "172.21.7.0/28", nil))
	waitSubnetReady(t, "vmchange-a")
	waitSubnetReady(t, "vmchange-b")
	vm := createVM(t, ns, "vm-c")
	vmi, p := startVMI(t, vm, ns, "vm-c", "node-1", map[string]string{annotations.IPAddress: "172.21.6.5"})
	mac := waitRouted(t, ns, p.Name).Annotations[annotations.MACAddress]
	setVMIStatus(t, ns, "vm-c", func(st *kubevirtv1.VirtualMachineInstanceStatus) { st.Phase = kubevirtv1.Running })

	// A target pod created from a VMI whose annotations differ (it cannot
	// in KubeVirt, the guest keeps its address) gets what the VM holds.
	m := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "m-x"},
		Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm-c"}}
	create(t, m)
	vmiChanged := vmi.DeepCopy()
	vmiChanged.Annotations = map[string]string{annotations.IPAddress: "172.21.6.9"}
	tgt := launcher(vmiChanged, "node-2", map[string]string{kubevirtv1.MigrationJobLabel: string(m.UID)})
	create(t, tgt)
	if got := waitRouted(t, ns, tgt.Name).Annotations[annotations.IPAddress]; got != "172.21.6.5" {
		t.Fatalf("second launcher pod got %s, the VM holds 172.21.6.5", got)
	}
	deleteNow(t, tgt)
	setMigrationPhase(t, m, kubevirtv1.MigrationFailed)

	// Next start with another static address: the old one is released.
	stopVMI(t, ns, "vm-c")
	_, p = startVMI(t, vm, ns, "vm-c", "node-1", map[string]string{annotations.IPAddress: "172.21.6.7"})
	p = waitRouted(t, ns, p.Name)
	if p.Annotations[annotations.IPAddress] != "172.21.6.7" || p.Annotations[annotations.MACAddress] != mac {
		t.Fatalf("after the change: %v (MAC was %s)", p.Annotations, mac)
	}
	waitEvent(t, ns, p.Name, "AddressChanged")
	create(t, mkPod(ns, "takes-old", map[string]string{annotations.IPAddress: "172.21.6.5"}))
	if got := waitRouted(t, ns, "takes-old").Annotations[annotations.IPAddress]; got != "172.21.6.5" {
		t.Fatalf("old address not released: pod got %s", got)
	}
	if u, _ := ctl.store.IPAM.Usage("vmchange-a"); u.V4Using != 2 {
		t.Errorf("usage of the first subnet %d, want 2 (the VM and the pod)", u.V4Using)
	}

	// Next start in another subnet: the first subnet's address goes.
	stopVMI(t, ns, "vm-c")
	_, p = startVMI(t, vm, ns, "vm-c", "node-1", map[string]string{annotations.LogicalSwitch: "vmchange-b"})
	p = waitRouted(t, ns, p.Name)
	if !strings.HasPrefix(p.Annotations[annotations.IPAddress], "172.21.7.") {
		t.Fatalf("after the subnet change: %v", p.Annotations)
	}
	eventually(t, 10*time.Second, "first subnet released", func() (bool, string) {
		u, _ := ctl.store.IPAM.Usage("vmchange-a")
		return u.V4Using == 1, fmt.Sprint(u.V4Using)
	})
	if ip := getIP(t, "vm-c."+ns); ip.Spec.Subnet != "vmchange-b" {
		t.Errorf("ip object %+v", ip.Spec)
	}
	if lsp, err := ops.FindLogicalSwitchPort(nb, "vm-c."+ns); err != nil || lsp.ExternalIDs[ops.KeySubnet] != "vmchange-b" {
		t.Errorf("port %+v %v", lsp, err)
	}
	ls, err := ops.FindLogicalSwitch(nb, "vmchange-b")
	if err != nil {
		t.Fatalf("switch vmchange-b: %v", err)
	}
	if lsp, err := ops.FindLogicalSwitchPort(nb, "vm-c."+ns); err != nil || lsp == nil || !containsStr(ls.Ports, lsp.UUID) {
		t.Errorf("port not moved to the new switch: %v", err)
	}
}

// TestVMAddressWithoutKeepVMIP: with --keep-vm-ip=false the address goes
// with the VMI: stopping the VM releases it, the next start may get another.
func TestVMAddressWithoutKeepVMIP(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	ctl := startController(t, addr, nil)
	nb := nbClient(t, addr)
	const ns = "t-vmnokeep"
	createNS(t, ns)
	create(t, subnetObj("vmnokeep", "172.21.8.0/28", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }))
	waitSubnetReady(t, "vmnokeep")
	vm := createVM(t, ns, "vm-n")
	vmi, p := startVMI(t, vm, ns, "vm-n", "node-1", nil)
	waitRouted(t, ns, p.Name)
	if ip := getIP(t, "vm-n."+ns); len(ip.OwnerReferences) != 1 || ip.OwnerReferences[0].UID != vmi.UID {
		t.Fatalf("ip object not owned by the VMI: %+v", ip.OwnerReferences)
	}
	stopVMI(t, ns, "vm-n")
	waitIPGone(t, "vm-n."+ns)
	eventually(t, 10*time.Second, "released", func() (bool, string) {
		u, _ := ctl.store.IPAM.Usage("vmnokeep")
		_, err := ops.FindLogicalSwitchPort(nb, "vm-n."+ns)
		return u.V4Using == 0 && err != nil, fmt.Sprint(u.V4Using, err)
	})
}
