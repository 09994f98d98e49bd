package controller_test

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

func waitCondition(t *testing.T, name, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("subnet %s %s=%s (%s)", name, typ, status, reason), func() (bool, string) {
		var sn kubeovnv1.Subnet
		if err := k8s.Get(bg, client.ObjectKey{Name: name}, &sn); err != nil {
			return false, err.Error()
		}
		for _, c := range sn.Status.Conditions {
			if c.Type == typ && c.Status == status && c.Reason == reason {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", sn.Status.Conditions)
	})
}

// TestB04_B06_SubnetsRefusedByTheController covers the rules CEL cannot
// express: overlap inside one VPC, a namespace bound twice, excludeIps
// ranges out of order. The refused subnet gets Validated=False, an event,
// and nothing in OVN; the same CIDR in another VPC is fine.
func TestB04_B06_SubnetsRefusedByTheController(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	spec := func(s *kubeovnv1.SubnetSpec) {
		s.Gateway, s.ExcludeIPs, s.Namespaces = "10.66.0.1", []string{"10.66.0.1..10.66.0.10"}, []string{"t-b04"}
	}
	create(t, subnetObj("b04-s1", "10.66.0.0/16", spec))
	waitSubnetReady(t, "b04-s1")
	time.Sleep(1100 * time.Millisecond) // creation timestamps have second resolution
	create(t, subnetObj("b04-s2", "10.66.0.0/16", spec),
		subnetObj("b04-s3", "10.66.128.0/17", nil),
		subnetObj("b04-s4", "10.91.0.0/16", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"t-b04"} }),
		subnetObj("b06-bad-range", "10.92.0.0/24", func(s *kubeovnv1.SubnetSpec) { s.ExcludeIPs = []string{"10.92.0.30..10.92.0.20"} }),
		&kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: "b04-other"}},
		subnetObj("b04-other-vpc", "10.66.0.0/16", func(s *kubeovnv1.SubnetSpec) { s.Vpc = "b04-other" }))
	waitCondition(t, "b04-s2", kubeovnv1.ConditionValidated, metav1.ConditionFalse, "CIDROverlap")
	waitCondition(t, "b04-s3", kubeovnv1.ConditionValidated, metav1.ConditionFalse, "CIDROverlap")
	waitCondition(t, "b04-s4", kubeovnv1.ConditionValidated, metav1.ConditionFalse, "NamespaceConflict")
	waitCondition(t, "b06-bad-range", kubeovnv1.ConditionValidated, metav1.ConditionFalse, "InvalidSpec")
	waitEvent(t, "default", "b04-s2", "CIDROverlap")
	waitSubnetReady(t, "b04-other-vpc")
	for _, name := range []string{"b04-s2", "b04-s3", "b04-s4", "b06-bad-range"} {
		if _, err := ops.FindLogicalSwitch(nb, name); err == nil {
			t.Errorf("refused subnet %s has a logical switch", name)
		}
	}
	if lrp, err := ops.FindLogicalRouterPort(nb, addressing.RouterPortName("b04-other", "b04-other-vpc")); err != nil || lrp.Networks[0] != "10.66.0.1/16" {
		t.Errorf("subnet in the other VPC: router port %+v, %v", lrp, err)
	}
}
