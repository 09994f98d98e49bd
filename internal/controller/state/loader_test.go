package state_test

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ipam"
)

func ipObj(name, subnet, addr, mac, pod, ns string) *kubeovnv1.IP {
	return &kubeovnv1.IP{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kubeovnv1.IPSpec{Subnet: subnet, IPAddress: addr, MacAddress: mac, PodName: pod, Namespace: ns}}
}

// TestB08_RebuildCountsRecordsOfGonePodsAsUsed: the IPAM is rebuilt from IP
// objects, not from live pods, so the address of a pod deleted while the
// controller was down stays taken until the repair pass releases it.
func TestB08_RebuildCountsRecordsOfGonePodsAsUsed(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = kubeovnv1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: kubeovnv1.SubnetSpec{CIDRBlock: "10.16.0.0/29"}},
		&kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: kubeovnv1.SubnetSpec{CIDRBlock: "10.20.0.0/33"}}, // B05: skipped, no panic
		&kubeovnv1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pool"}, Spec: kubeovnv1.IPPoolSpec{Subnet: "s", IPs: []string{"10.16.0.5..10.16.0.6"}}},
		ipObj("a.ns", "s", "10.16.0.6", "0a:00:00:00:00:06", "a", "ns"), // pod a no longer exists
		ipObj("b.ns", "s", "10.16.0.2", "0a:00:00:00:00:02", "b", "ns"),
		ipObj("dup.ns", "s", "10.16.0.2", "0a:00:00:00:00:03", "dup", "ns"), // second claim: skipped
		ipObj("x.ns", "bad", "10.20.0.2", "0a:00:00:00:00:04", "x", "ns"),
	).Build()
	st := state.NewStore()
	n, err := state.Rebuild(context.Background(), st, c, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("restored %d records, want 2", n)
	}
	if a, ok := st.IPAM.Lookup("s", "a.ns"); !ok || a.IPString() != "10.16.0.6" || a.MAC != "0a:00:00:00:00:06" {
		t.Fatalf("a.ns = %+v %v", a, ok)
	}
	if _, err := st.IPAM.Allocate(ipam.Request{Subnet: "s", Owner: "new.ns", IPs: []string{"10.16.0.6"}}); err == nil {
		t.Fatal("address of a record whose pod is gone was handed out before repair")
	}
	if _, err := st.IPAM.Allocate(ipam.Request{Subnet: "s", Owner: "p.ns", Pool: "pool"}); err != nil {
		t.Fatalf("pool not restored: %v", err)
	}
	st.IPAM.Release("s", "a.ns") // what the repair pass does
	if a, err := st.IPAM.Allocate(ipam.Request{Subnet: "s", Owner: "new.ns", IPs: []string{"10.16.0.6"}}); err != nil || a.IPString() != "10.16.0.6" {
		t.Fatalf("after release: %+v %v", a, err)
	}
	select {
	case <-st.Ready():
		t.Fatal("Rebuild alone must not open the gate")
	default:
	}
}
