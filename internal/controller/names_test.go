package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
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

// waitKindEvent waits for an event with reason on the object of kind and name.
func waitKindEvent(t *testing.T, ns, kind, name, reason string) {
	t.Helper()
	eventually(t, 20*time.Second, "event "+reason+" on "+kind+" "+name, func() (bool, string) {
		var evs corev1.EventList
		if err := k8s.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name && e.Reason == reason {
				return true, ""
			}
			seen = append(seen, e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name+":"+e.Reason)
		}
		return false, fmt.Sprintf("events %v", seen)
	})
}
