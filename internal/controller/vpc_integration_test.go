package controller_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/vpc"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

func vpcObj(name string, mod func(*kubeovnv1.VpcSpec)) *kubeovnv1.Vpc {
	v := &kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if mod != nil {
		mod(&v.Spec)
	}
	return v
}

func getVpc(t *testing.T, name string) *kubeovnv1.Vpc {
	t.Helper()
	var v kubeovnv1.Vpc
	if err := k8s.Get(bg, client.ObjectKey{Name: name}, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func waitVpcCondition(t *testing.T, name, typ string, status metav1.ConditionStatus, reason string) *kubeovnv1.Vpc {
	t.Helper()
	var v kubeovnv1.Vpc
	eventually(t, 20*time.Second, fmt.Sprintf("vpc %s %s=%s (%s)", name, typ, status, reason), func() (bool, string) {
		if err := k8s.Get(bg, client.ObjectKey{Name: name}, &v); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(v.Status.Conditions, typ)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == v.Generation,
			fmt.Sprintf("%+v", v.Status.Conditions)
	})
	return &v
}

// routerRows is every static route and policy on router name (any owner)
// and its ports, as "kind key" -> UUID.
func routerRows(t *testing.T, nb libovsdb.Client, name string) map[string]string {
	t.Helper()
	lr, err := ops.FindLogicalRouter(nb, name)
	if err != nil {
		t.Fatalf("router %s: %v", name, err)
	}
	rows := map[string]string{}
	var srs []nbdb.LogicalRouterStaticRoute
	var pols []nbdb.LogicalRouterPolicy
	if err := nb.List(bg, &srs); err != nil {
		t.Fatal(err)
	}
	if err := nb.List(bg, &pols); err != nil {
		t.Fatal(err)
	}
	for i := range srs {
		if slices.Contains(lr.StaticRoutes, srs[i].UUID) {
			rows["route "+ops.StaticRouteKey(&srs[i])] = srs[i].UUID
		}
	}
	for i := range pols {
		if slices.Contains(lr.Policies, pols[i].UUID) {
			rows["policy "+ops.RouterPolicyKey(&pols[i])+" "+pols[i].Action] = pols[i].UUID
		}
	}
	for _, p := range lr.Ports {
		rows["port "+p] = p
	}
	return rows
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func waitRouterRows(t *testing.T, nb libovsdb.Client, name string, want ...string) map[string]string {
	t.Helper()
	var rows map[string]string
	eventually(t, 20*time.Second, "rows of router "+name, func() (bool, string) {
		if _, err := ops.FindLogicalRouter(nb, name); err != nil {
			return false, err.Error()
		}
		rows = routerRows(t, nb, name)
		var got []string
		for _, k := range sortedKeys(rows) {
			if !strings.HasPrefix(k, "port ") {
				got = append(got, k)
			}
		}
		sort.Strings(want)
		return slices.Equal(got, want), strings.Join(got, ", ")
	})
	return rows
}

// vpcTransactions counts the vpc controller's NB programming rounds (one
// per reconcile, also when there is nothing to write).
func vpcTransactions() uint64 {
	mfs, _ := crmetrics.Registry.Gather()
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "kvnet_nb_transaction_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, "controller", "vpc") {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// addRoute puts a static route on router lr by hand, outside the
// controller (owner nil: an operator's; else another kvnet owner's).
func addRoute(t *testing.T, nb libovsdb.Client, router, prefix, nexthop string, owner *ops.Owner) {
	t.Helper()
	lr, err := ops.FindLogicalRouter(nb, router)
	if err != nil {
		t.Fatal(err)
	}
	row := &nbdb.LogicalRouterStaticRoute{UUID: "newroute", IPPrefix: prefix, Nexthop: nexthop}
	if owner != nil {
		row.ExternalIDs = ops.OwnerIDs(*owner, nil)
	}
	create, err := nb.Create(row)
	if err != nil {
		t.Fatal(err)
	}
	ref := &nbdb.LogicalRouter{UUID: lr.UUID}
	mut, err := nb.Where(ref).Mutate(ref, model.Mutation{Field: &ref.StaticRoutes, Mutator: ovsdb.MutateOperationInsert, Value: []string{"newroute"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ops.Transact(bg, nb, append(create, mut...)); err != nil {
		t.Fatal(err)
	}
}

func updateVpc(t *testing.T, name string, mod func(*kubeovnv1.Vpc)) {
	t.Helper()
	eventually(t, 10*time.Second, "update vpc "+name, func() (bool, string) {
		v := getVpc(t, name)
		mod(v)
		err := k8s.Update(bg, v)
		return err == nil, fmt.Sprint(err)
	})
}

// TestVpcRoutesOwnedB29B30 (B29, B30): a custom VPC's router holds exactly
// the user's routes and policies (no implicit src-ip route of the subnet
// towards its own gateway); an unrelated update of the Vpc writes nothing
// (every row keeps its UUID); editing one route or policy and removing
// another changes only those rows; rows of another owner and rows added by
// hand are never touched.
func TestVpcRoutesOwnedB29B30(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	create(t, vpcObj("it-vpc-r", func(s *kubeovnv1.VpcSpec) {
		s.StaticRoutes = []kubeovnv1.StaticRoute{
			{CIDR: "0.0.0.0/0", NextHopIP: "10.0.0.254", Policy: kubeovnv1.PolicyDst},
			{CIDR: "172.31.0.0/24", NextHopIP: "10.0.0.253", Policy: kubeovnv1.PolicySrc, RouteTable: "rtb1"},
		}
		s.PolicyRoutes = []kubeovnv1.PolicyRoute{
			{Priority: 100, Match: "ip4.dst == 10.0.0.250", Action: "drop"},
			{Priority: 90, Match: "ip4.src == 10.0.0.0/24", Action: "reroute", NextHopIP: "10.0.0.252"},
		}
	}))
	create(t, subnetObj("it-vpc-r-sn", "10.0.0.0/24", func(s *kubeovnv1.SubnetSpec) {
		s.Vpc, s.Gateway, s.RouteTable = "it-vpc-r", "10.0.0.1", "rtb1"
	}))
	waitSubnetReady(t, "it-vpc-r-sn")
	// The subnet's traffic is routed by route table rtb1 (Subnet.spec.routeTable).
	if lrp, err := ops.FindLogicalRouterPort(nb, addressing.RouterPortName("it-vpc-r", "it-vpc-r-sn")); err != nil || lrp.Options["route_table"] != "rtb1" {
		t.Errorf("router port = %+v, %v; want options route_table=rtb1", lrp, err)
	}
	v := waitVpcCondition(t, "it-vpc-r", kubeovnv1.ConditionReady, metav1.ConditionTrue, vpc.ReasonReady)
	if v.Status.Router != "it-vpc-r" || !slices.Equal(v.Status.Subnets, []string{"it-vpc-r-sn"}) || v.Status.Default ||
		!slices.Contains(v.Finalizers, vpc.Finalizer) {
		t.Errorf("vpc = %+v / %v", v.Status, v.Finalizers)
	}
	userRows := []string{
		"route |dst-ip|0.0.0.0/0|10.0.0.254", "route rtb1|src-ip|172.31.0.0/24|10.0.0.253",
		"policy 100|ip4.dst == 10.0.0.250 drop", "policy 90|ip4.src == 10.0.0.0/24 reroute",
	}
	// B29: exactly the user's rows; nothing points the subnet at its own gateway.
	rows := waitRouterRows(t, nb, "it-vpc-r", userRows...)
	if n := len(rows) - len(userRows); n != 1 {
		t.Errorf("router has %d ports, want 1 (the subnet's)", n)
	}

	eip := ops.Owner{Kind: "eip", Key: "ns/p1"}
	addRoute(t, nb, "it-vpc-r", "172.31.0.50/32", "10.0.0.60", &eip)
	addRoute(t, nb, "it-vpc-r", "10.9.0.0/16", "10.0.0.9", nil)
	before := waitRouterRows(t, nb, "it-vpc-r", append(userRows, "route |dst-ip|172.31.0.50/32|10.0.0.60", "route |dst-ip|10.9.0.0/16|10.0.0.9")...)

	// B30: an unrelated update (an annotation) leaves every row as it was.
	n0 := vpcTransactions()
	base := reconcileCounts(t, "vpc")
	updateVpc(t, "it-vpc-r", func(v *kubeovnv1.Vpc) { metav1.SetMetaDataAnnotation(&v.ObjectMeta, "test", "1") })
	eventually(t, 10*time.Second, "the vpc controller to reconcile", func() (bool, string) { return vpcTransactions() > n0, "" })
	waitReconciledSince(t, base) // and any other reconcile of this VPC that was queued
	if after := routerRows(t, nb, "it-vpc-r"); !mapsEqualStr(before, after) {
		t.Fatalf("unrelated update changed rows:\nbefore %v\nafter  %v", before, after)
	}

	// Edit one route (next hop), remove another, change one policy's action.
	updateVpc(t, "it-vpc-r", func(v *kubeovnv1.Vpc) {
		v.Spec.StaticRoutes = []kubeovnv1.StaticRoute{{CIDR: "0.0.0.0/0", NextHopIP: "10.0.0.250", Policy: kubeovnv1.PolicyDst}}
		v.Spec.PolicyRoutes[0].Action = "allow"
	})
	after := waitRouterRows(t, nb, "it-vpc-r", "route |dst-ip|0.0.0.0/0|10.0.0.250", "policy 100|ip4.dst == 10.0.0.250 allow",
		"policy 90|ip4.src == 10.0.0.0/24 reroute", "route |dst-ip|172.31.0.50/32|10.0.0.60", "route |dst-ip|10.9.0.0/16|10.0.0.9")
	for _, k := range []string{"route |dst-ip|172.31.0.50/32|10.0.0.60", "route |dst-ip|10.9.0.0/16|10.0.0.9", "policy 90|ip4.src == 10.0.0.0/24 reroute"} {
		if after[k] != before[k] {
			t.Errorf("%s: UUID %s -> %s, want unchanged", k, before[k], after[k])
		}
	}
	if after["policy 100|ip4.dst == 10.0.0.250 allow"] != before["policy 100|ip4.dst == 10.0.0.250 drop"] {
		t.Error("the edited policy was replaced instead of updated in place")
	}
	for k, u := range before {
		if strings.HasPrefix(k, "port ") && after[k] != u {
			t.Errorf("router port %s changed", k)
		}
	}

	// An invalid entry is refused with a condition and event; the rest stays.
	updateVpc(t, "it-vpc-r", func(v *kubeovnv1.Vpc) {
		v.Spec.StaticRoutes = append(v.Spec.StaticRoutes, kubeovnv1.StaticRoute{CIDR: "10.7.0.0/16", NextHopIP: "fd00::1"})
	})
	waitVpcCondition(t, "it-vpc-r", kubeovnv1.ConditionValidated, metav1.ConditionFalse, vpc.ReasonInvalidRoutes)
	waitEvent(t, "default", "it-vpc-r", vpc.ReasonInvalidRoutes)
	if got := routerRows(t, nb, "it-vpc-r"); !mapsEqualStr(got, after) {
		t.Errorf("an invalid entry changed the rows:\n%v\n%v", after, got)
	}
}

func mapsEqualStr(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestVpcDeleteRefusedWhileSubnetsRemain: deleting a VPC that holds a
// subnet is refused (the object stays, Ready=False SubnetsRemain, a Warning
// event, the router and its routes stay); once the subnet is gone the VPC
// goes and every NB row it had goes with it.
func TestVpcDeleteRefusedWhileSubnetsRemain(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	create(t, vpcObj("it-vpc-del", func(s *kubeovnv1.VpcSpec) {
		s.StaticRoutes = []kubeovnv1.StaticRoute{{CIDR: "0.0.0.0/0", NextHopIP: "10.3.0.254"}}
		s.PolicyRoutes = []kubeovnv1.PolicyRoute{{Priority: 10, Match: "ip4.dst == 10.3.0.9", Action: "drop"}}
	}))
	sn := subnetObj("it-vpc-del-sn", "10.3.0.0/24", func(s *kubeovnv1.SubnetSpec) { s.Vpc = "it-vpc-del"; s.Private = true })
	create(t, sn)
	waitSubnetReady(t, "it-vpc-del-sn")
	waitRouterRows(t, nb, "it-vpc-del", "route |dst-ip|0.0.0.0/0|10.3.0.254", "policy 10|ip4.dst == 10.3.0.9 drop")
	if acls, _ := ops.OwnedSwitchACLs(nb, "it-vpc-del-sn", ops.Owner{Kind: ops.OwnerKindSubnet, Key: "it-vpc-del-sn"}); len(acls) != 2 {
		t.Errorf("private subnet has %d ACLs, want 2", len(acls))
	}

	base := reconcileCounts(t, "vpc")
	if err := k8s.Delete(bg, vpcObj("it-vpc-del", nil)); err != nil {
		t.Fatal(err)
	}
	v := waitVpcCondition(t, "it-vpc-del", kubeovnv1.ConditionReady, metav1.ConditionFalse, vpc.ReasonSubnetsRemain)
	if c := meta.FindStatusCondition(v.Status.Conditions, kubeovnv1.ConditionReady); !strings.Contains(c.Message, "it-vpc-del-sn") {
		t.Errorf("message %q does not name the subnet", c.Message)
	}
	ev := waitEvent(t, "default", "it-vpc-del", vpc.ReasonSubnetsRemain)
	if ev.Type != "Warning" || !strings.Contains(ev.Message, "delete them first") {
		t.Errorf("event = %s %q", ev.Type, ev.Message)
	}
	// The refusing reconcile has finished and a repair pass ran since: rows
	// still there now were kept, not yet to be deleted.
	waitReconciledSince(t, base)
	waitRepairPassAfter(t)
	waitRouterRows(t, nb, "it-vpc-del", "route |dst-ip|0.0.0.0/0|10.3.0.254", "policy 10|ip4.dst == 10.3.0.9 drop")

	if err := k8s.Delete(bg, sn); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "vpc gone", func() (bool, string) {
		err := k8s.Get(bg, client.ObjectKey{Name: "it-vpc-del"}, &kubeovnv1.Vpc{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	eventually(t, 10*time.Second, "every NB row of the VPC gone", func() (bool, string) {
		return nbRowsLeft(t, nb, "it-vpc-del", "it-vpc-del-sn") == "", nbRowsLeft(t, nb, "it-vpc-del", "it-vpc-del-sn")
	})
}

// nbRowsLeft names the NB rows of the VPC or its subnet still present: the
// router, routes, policies and ACLs owned by either, the subnet's switch and
// router port, and any route or policy no router holds (a leak). Other VPCs
// (of other tests, on the shared API server) may have rows here too.
func nbRowsLeft(t *testing.T, nb libovsdb.Client, vpcName, subnet string) string {
	t.Helper()
	var left []string
	var lrs []nbdb.LogicalRouter
	var srs []nbdb.LogicalRouterStaticRoute
	var pols []nbdb.LogicalRouterPolicy
	var acls []nbdb.ACL
	var lss []nbdb.LogicalSwitch
	var lrps []nbdb.LogicalRouterPort
	for _, l := range []any{&lrs, &srs, &pols, &acls, &lss, &lrps} {
		if err := nb.List(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	held := map[string]bool{}
	for _, lr := range lrs {
		if lr.Name == vpcName {
			left = append(left, "router")
		}
		for _, u := range append(slices.Clone(lr.StaticRoutes), lr.Policies...) {
			held[u] = true
		}
	}
	mine := func(ids map[string]string) bool {
		return ops.IsOwner(ids, vpc.Owner(vpcName)) || ops.IsOwner(ids, ops.Owner{Kind: ops.OwnerKindSubnet, Key: subnet})
	}
	for _, r := range srs {
		if mine(r.ExternalIDs) || !held[r.UUID] {
			left = append(left, "route "+ops.StaticRouteKey(&r))
		}
	}
	for _, p := range pols {
		if mine(p.ExternalIDs) || !held[p.UUID] {
			left = append(left, "policy "+ops.RouterPolicyKey(&p))
		}
	}
	for _, a := range acls {
		if mine(a.ExternalIDs) {
			left = append(left, "acl "+ops.ACLKey(&a))
		}
	}
	for _, ls := range lss {
		if ls.Name == subnet {
			left = append(left, "switch")
		}
	}
	for _, p := range lrps {
		if p.ExternalIDs[ops.KeyVpc] == vpcName {
			left = append(left, "router port "+p.Name)
		}
	}
	return strings.Join(left, "; ")
}

// TestVpcSameCIDRAndNamespaceBinding: two VPCs each hold 10.0.1.0/24 (both
// Ready, each on its own router); an overlap inside one VPC is refused;
// pods of a namespace bound to a VPC get that VPC's subnet, and a pod of
// another namespace may not use it; a namespace bound to an older VPC too
// is reported on the younger.
func TestVpcSameCIDRAndNamespaceBinding(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	for _, ns := range []string{"it-ten-a", "it-ten-b", "it-ten-c"} {
		createNS(t, ns)
	}
	create(t, vpcObj("it-ten-a", func(s *kubeovnv1.VpcSpec) { s.Namespaces = []string{"it-ten-a"} }))
	create(t, vpcObj("it-ten-b", func(s *kubeovnv1.VpcSpec) { s.Namespaces = []string{"it-ten-b"} }))
	for _, n := range []string{"a", "b"} {
		create(t, subnetObj("it-ten-"+n+"-sn", "10.0.1.0/24", func(s *kubeovnv1.SubnetSpec) { s.Vpc = "it-ten-" + n }))
		waitSubnetReady(t, "it-ten-"+n+"-sn")
	}
	create(t, subnetObj("it-ten-a-zoverlap", "10.0.1.128/25", func(s *kubeovnv1.SubnetSpec) { s.Vpc = "it-ten-a" }))
	waitCondition(t, "it-ten-a-zoverlap", kubeovnv1.ConditionValidated, metav1.ConditionFalse, "CIDROverlap")
	for _, n := range []string{"a", "b"} {
		lr, err := ops.FindLogicalRouter(nb, "it-ten-"+n)
		if err != nil || len(lr.Ports) != 1 {
			t.Fatalf("router it-ten-%s = %+v, %v; want one port", n, lr, err)
		}
		lrp, err := ops.FindLogicalRouterPort(nb, addressing.RouterPortName("it-ten-"+n, "it-ten-"+n+"-sn"))
		if err != nil || lrp.UUID != lr.Ports[0] || lrp.Networks[0] != "10.0.1.1/24" {
			t.Fatalf("router port of it-ten-%s = %+v, %v", n, lrp, err)
		}
	}
	for _, n := range []string{"a", "b"} {
		create(t, mkPod("it-ten-"+n, "p", nil))
		p := waitRouted(t, "it-ten-"+n, "p")
		if ls := p.Annotations["ovn.kubernetes.io/logical_switch"]; ls != "it-ten-"+n+"-sn" || !strings.HasPrefix(p.Annotations["ovn.kubernetes.io/ip_address"], "10.0.1.") {
			t.Errorf("pod of it-ten-%s: %v", n, p.Annotations)
		}
	}
	create(t, mkPod("it-ten-c", "intruder", map[string]string{"ovn.kubernetes.io/logical_switch": "it-ten-a-sn"}))
	ev := waitEvent(t, "it-ten-c", "intruder", "SubnetNotAllowed")
	if !strings.Contains(ev.Message, "VPC") {
		t.Errorf("event message %q", ev.Message)
	}
	create(t, mkPod("it-ten-c", "plain", nil))
	if p := waitRouted(t, "it-ten-c", "plain"); p.Annotations["ovn.kubernetes.io/logical_switch"] != "ovn-default" {
		t.Errorf("pod of an unbound namespace went to %q", p.Annotations["ovn.kubernetes.io/logical_switch"])
	}
	create(t, vpcObj("it-ten-a2", func(s *kubeovnv1.VpcSpec) { s.Namespaces = []string{"it-ten-a"} }))
	waitVpcCondition(t, "it-ten-a2", kubeovnv1.ConditionValidated, metav1.ConditionFalse, vpc.ReasonNamespaceConflict)
}
