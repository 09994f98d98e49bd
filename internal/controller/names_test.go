package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/controller/subnet"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

// TestPodAndVMOfOneNameNeverSharePort: Kube-OVN names both a pod's and a
// VM's port and IP object "<name>.<namespace>", so a pod "web" and a VM
// "web" in one namespace claim one name. The first keeps it; the second
// gets a NameConflict event (on its launcher pod and the VM) and no port,
// in either order, and gets the name once the first holder is gone.
func TestPodAndVMOfOneNameNeverSharePort(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, keepVMIP)
	nb := nbClient(t, addr)
	const ns = "t-names"
	createNS(t, ns)
	create(t, subnetObj("names", "172.23.1.0/28", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }))
	waitSubnetReady(t, "names")

	// A pod first, then a VM of the same name.
	p := mkPod(ns, "web", nil)
	p.Spec.NodeName = "node-1"
	create(t, p)
	p = waitRouted(t, ns, "web")
	vm := createVM(t, ns, "web")
	_, lp := startVMI(t, vm, ns, "web", "node-2", nil)
	waitEvent(t, ns, lp.Name, "NameConflict")
	waitKindEvent(t, ns, "VirtualMachine", "web", "NameConflict") // echoed on the VM
	lsp, err := ops.FindLogicalSwitchPort(nb, "web."+ns)
	if err != nil || lsp.ExternalIDs[ops.KeyOwnerKind] != ops.OwnerKindPod || lsp.Options["requested-chassis"] != "node-1" {
		t.Fatalf("port web.%s: %+v, %v; want the pod's, on node-1", ns, lsp, err)
	}
	if ip := getIP(t, "web."+ns); ip.Spec.PodType != "" || ip.Spec.IPAddress+" "+ip.Spec.MacAddress != addrOf(p) {
		t.Fatalf("IP object taken over: %+v", ip.Spec)
	}
	if got := getPod(t, ns, lp.Name); got.Annotations[annotations.Routed] == "true" {
		t.Fatalf("the VM's launcher pod was routed onto the pod's port: %v", got.Annotations)
	}

	// The pod goes: the VM gets the name.
	deleteNow(t, p)
	lp = waitRouted(t, ns, lp.Name)
	if lsp, err := ops.FindLogicalSwitchPort(nb, "web."+ns); err != nil || lsp.ExternalIDs[ops.KeyOwnerKind] != ops.OwnerKindVM {
		t.Fatalf("port after the pod left: %+v, %v", lsp, err)
	}

	// Now the VM holds it: a new pod "web" is the second claimant.
	p2 := mkPod(ns, "web", nil)
	p2.Spec.NodeName = "node-1"
	create(t, p2)
	waitKindEvent(t, ns, "Pod", "web", "NameConflict")
	if lsp, err := ops.FindLogicalSwitchPort(nb, "web."+ns); err != nil || lsp.ExternalIDs[ops.KeyOwnerKind] != ops.OwnerKindVM {
		t.Fatalf("port after a pod of the VM's name came: %+v, %v", lsp, err)
	}
	if ip := getIP(t, "web."+ns); ip.Spec.PodType != kubeovnv1.PodTypeVM || ip.Spec.IPAddress+" "+ip.Spec.MacAddress != addrOf(lp) {
		t.Fatalf("IP object after a pod of the VM's name came: %+v", ip.Spec)
	}
}

// waitKindEvent waits for an event with reason on the object of kind
// ("" for any) and name in ns.
func waitKindEvent(t *testing.T, ns, kind, name, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	eventually(t, 20*time.Second, "event "+reason+" on "+kind+" "+name, func() (bool, string) {
		var evs corev1.EventList
		if err := k8s.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			if (kind == "" || e.InvolvedObject.Kind == kind) && e.InvolvedObject.Name == name && e.Reason == reason {
				found = e
				return true, ""
			}
			seen = append(seen, e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name+":"+e.Reason)
		}
		return false, fmt.Sprintf("events %v", seen)
	})
	return found
}

// TestRouterPortNamesOfLikeNamedVpcs: VPC "nm-team-a" with subnet "web" and
// VPC "nm-team" with subnet "a-web" (and the swapped pair "nm-x"/"y",
// "nm-y"/"x") are all Ready on router ports of their own; under
// Kube-OVN's "<vpc>-<subnet>" names the first two pairs would share one.
// Router ports of an earlier kvnet ("<vpc>-<subnet>", "<subnet>-<vpc>")
// are replaced by the subnet's next reconcile, with the same gateway MAC.
func TestRouterPortNamesOfLikeNamedVpcs(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	nb := nbClient(t, addr)
	// An earlier kvnet's rows for subnet "nm-old" of VPC "ovn-cluster".
	old := ops.Owner{Kind: ops.OwnerKindSubnet, Key: "nm-old"}
	oldLRP := &nbdb.LogicalRouterPort{Name: "ovn-cluster-nm-old", MAC: subnet.GatewayMAC("ovn-cluster", "nm-old"),
		Networks: []string{"172.24.9.1/24"}, ExternalIDs: ops.OwnerIDs(old, nil)}
	oldLSP := &nbdb.LogicalSwitchPort{Name: "nm-old-ovn-cluster", Type: "router", Addresses: []string{"router"},
		Options: map[string]string{"router-port": oldLRP.Name}, ExternalIDs: ops.OwnerIDs(old, nil)}
	ctx := context.Background()
	batch, err := ops.EnsureLogicalRouter(nb, &nbdb.LogicalRouter{Name: "ovn-cluster", ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindVpc, Key: "ovn-cluster"}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ops.Transact(ctx, nb, batch); err != nil {
		t.Fatal(err)
	}
	for _, build := range []func() ([]ovsdb.Operation, error){
		func() ([]ovsdb.Operation, error) { return ops.EnsureLogicalRouterPort(nb, "ovn-cluster", oldLRP) },
		func() ([]ovsdb.Operation, error) {
			return ops.EnsureLogicalSwitch(nb, &nbdb.LogicalSwitch{Name: "nm-old", ExternalIDs: ops.OwnerIDs(old, nil)}, oldLSP)
		},
	} {
		o, err := build()
		if err != nil {
			t.Fatal(err)
		}
		if err := ops.Transact(ctx, nb, o); err != nil {
			t.Fatal(err)
		}
	}
	startController(t, addr, nil)
	pairs := [][2]string{{"nm-team-a", "web"}, {"nm-team", "a-web"}, {"nm-x", "y"}, {"nm-y", "x"}}
	for i, p := range pairs {
		create(t, vpcObj(p[0], nil))
		create(t, subnetObj(p[1]+"-"+p[0], fmt.Sprintf("172.24.%d.0/24", i+1), func(s *kubeovnv1.SubnetSpec) { s.Vpc = p[0] }))
	}
	create(t, subnetObj("nm-old", "172.24.9.0/24", nil))
	for _, p := range pairs {
		waitSubnetReady(t, p[1]+"-"+p[0])
	}
	waitSubnetReady(t, "nm-old")
	for _, p := range append(pairs, [2]string{"ovn-cluster", "nm-old"}) {
		sn := p[1] + "-" + p[0]
		if p[1] == "nm-old" {
			sn = "nm-old"
		}
		lrp, err := ops.FindLogicalRouterPort(nb, addressing.RouterPortName(p[0], sn))
		if err != nil || lrp.ExternalIDs[ops.KeyOwner] != sn || lrp.MAC != subnet.GatewayMAC(p[0], sn) {
			t.Errorf("router port of %s/%s: %+v, %v", p[0], sn, lrp, err)
		}
		lsp, err := ops.FindLogicalSwitchPort(nb, addressing.SwitchRouterPortName(p[0], sn))
		if err != nil || lsp.Options["router-port"] != addressing.RouterPortName(p[0], sn) {
			t.Errorf("switch router port of %s/%s: %+v, %v", p[0], sn, lsp, err)
		}
	}
	eventually(t, 10*time.Second, "old router ports replaced", func() (bool, string) {
		_, e1 := ops.FindLogicalRouterPort(nb, oldLRP.Name)
		_, e2 := ops.FindLogicalSwitchPort(nb, oldLSP.Name)
		return e1 != nil && e2 != nil, fmt.Sprintf("old router port lookup: %v; old switch port lookup: %v", e1, e2)
	})
}

// TestPodNamedLikeANodePort: pod "node-w1" in namespace "t-nodename" and
// node "w1.t-nodename" both claim "node-w1.t-nodename" (Kube-OVN's
// "<pod>.<ns>" and "node-<node>"). The pod came first: the node gets a
// NameConflict event and no join port; the pod keeps its port.
func TestPodNamedLikeANodePort(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	const ns = "t-nodename"
	createNS(t, ns)
	create(t, subnetObj("nodename", "172.23.2.0/28", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{ns} }))
	waitSubnetReady(t, "nodename")
	p := mkPod(ns, "node-w1", nil)
	p.Spec.NodeName = "node-1"
	create(t, p)
	p = waitRouted(t, ns, "node-w1")
	port := addressing.NodePortName("w1." + ns)
	if port != addressing.PodPortName("node-w1", ns) {
		t.Fatalf("test premise: %q and %q differ", port, addressing.PodPortName("node-w1", ns))
	}
	create(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1." + ns}})
	waitKindEvent(t, "default", "Node", "w1."+ns, "NameConflict")
	lsp, err := ops.FindLogicalSwitchPort(nb, port)
	if err != nil || lsp.ExternalIDs[ops.KeyOwnerKind] != ops.OwnerKindPod {
		t.Fatalf("port %s: %+v, %v; want the pod's", port, lsp, err)
	}
	if ip := getIP(t, port); ip.Spec.PodType != "" || ip.Spec.IPAddress+" "+ip.Spec.MacAddress != addrOf(p) {
		t.Fatalf("IP object taken over by the node: %+v", ip.Spec)
	}
}
