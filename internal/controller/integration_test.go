package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/ovn/ops/nbtest"
)

var bg = context.Background()

func subnetObj(name, cidr string, mod func(*kubeovnv1.SubnetSpec)) *kubeovnv1.Subnet {
	s := &kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kubeovnv1.SubnetSpec{CIDRBlock: cidr}}
	if mod != nil {
		mod(&s.Spec)
	}
	return s
}

// TestCRDValidation checks the OpenAPI/CEL rules on a real API server (B02, B05).
func TestCRDValidation(t *testing.T) {
	needEnv(t)
	bad := []struct{ cidr, gw, protocol string }{
		{"10.20.0.0/33", "", ""}, {"10.20.0/24", "", ""}, {"10.20.0.0", "", ""}, {"fd00::/129", "", ""}, {"", "", ""},
		{"10.20.0.0/24,10.21.0.0/24", "", "IPv4"}, {"10.20.0.0/24,10.21.0.0/24", "", ""},
		{"10.20.0.5/24", "", ""}, {"10.20.0.0/24", "", "IPv6"},
		{"192.168.50.0/24", "192.168.50.0", ""}, {"192.168.50.0/24", "192.168.50.255", ""}, {"192.168.50.0/24", "192.168.51.1", ""},
		{"10.10.0.0/24,fd00:10::/120", "10.10.0.1", "Dual"}, {"fd00:10::/120", "fd00:10::", ""},
	}
	for i, b := range bad {
		s := subnetObj(fmt.Sprintf("crd-bad-%d", i), b.cidr, func(s *kubeovnv1.SubnetSpec) { s.Gateway, s.Protocol = b.gw, b.protocol })
		if err := k8s.Create(bg, s); err == nil {
			t.Errorf("subnet %+v accepted by the API server", b)
			_ = k8s.Delete(bg, s)
		} else if !apierrors.IsInvalid(err) {
			t.Errorf("subnet %+v: unexpected error %v", b, err)
		}
	}
	good := subnetObj("crd-good", "10.10.0.0/24,fd00:10::/120", func(s *kubeovnv1.SubnetSpec) {
		s.Gateway, s.Protocol, s.ExcludeIPs = "10.10.0.1,FD00:10::1", "Dual", []string{"10.10.0.2..10.10.0.9"}
	})
	create(t, good)
	t.Cleanup(func() { _ = k8s.Delete(bg, good) })
	for _, mod := range []func(*kubeovnv1.Subnet){
		func(s *kubeovnv1.Subnet) { s.Spec.CIDRBlock = "10.11.0.0/24,fd00:10::/120" },
		func(s *kubeovnv1.Subnet) { s.Spec.ExcludeIPs = []string{"10.12.0.1"} },
	} {
		var cur kubeovnv1.Subnet
		if err := k8s.Get(bg, client.ObjectKeyFromObject(good), &cur); err != nil {
			t.Fatal(err)
		}
		mod(&cur)
		if err := k8s.Update(bg, &cur); err == nil {
			t.Errorf("update accepted: %+v", cur.Spec)
		}
	}
	var cur kubeovnv1.Subnet
	if err := k8s.Get(bg, client.ObjectKeyFromObject(good), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Vpc = "ovn-cluster"
	if err := k8s.Update(bg, &cur); err != nil {
		t.Fatalf("setting vpc once: %v", err)
	}
	cur.Spec.Vpc = "other"
	if err := k8s.Update(bg, &cur); err == nil {
		t.Error("vpc change accepted")
	}
}

func TestPodGetsAddressPortAndAnnotations(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	createNS(t, "t-basic")
	def := waitSubnetReady(t, "ovn-default")
	if def.Spec.Protocol != "IPv4" || def.Spec.Vpc != "ovn-cluster" || def.Spec.Gateway != "10.16.0.1" {
		t.Errorf("default subnet spec not defaulted: %+v", def.Spec)
	}
	create(t, mkPod("t-basic", "p1", nil))
	p := waitRouted(t, "t-basic", "p1")
	a := p.Annotations
	if !strings.HasPrefix(a["ovn.kubernetes.io/ip_address"], "10.16.") || a["ovn.kubernetes.io/cidr"] != "10.16.0.0/16" ||
		a["ovn.kubernetes.io/gateway"] != "10.16.0.1" || a["ovn.kubernetes.io/logical_switch"] != "ovn-default" ||
		a["ovn.kubernetes.io/allocated"] != "true" || a["ovn.kubernetes.io/port_name"] != "p1.t-basic" || a["ovn.kubernetes.io/mac_address"] == "" {
		t.Fatalf("annotations = %v", a)
	}
	lsp, err := ops.FindLogicalSwitchPort(nb, "p1.t-basic")
	if err != nil {
		t.Fatal(err)
	}
	want := a["ovn.kubernetes.io/mac_address"] + " " + a["ovn.kubernetes.io/ip_address"]
	if len(lsp.Addresses) != 1 || lsp.Addresses[0] != want || lsp.PortSecurity[0] != want ||
		lsp.ExternalIDs["vendor"] != "kvnet" || lsp.ExternalIDs["pod"] != "t-basic/p1" || lsp.ExternalIDs[ops.KeyOwnerKind] != "pod" {
		t.Fatalf("port = %+v", lsp)
	}
	ls, err := ops.FindLogicalSwitch(nb, "ovn-default")
	if err != nil || !containsStr(ls.Ports, lsp.UUID) || ls.OtherConfig["subnet"] != "10.16.0.0/16" {
		t.Fatalf("switch = %+v, %v", ls, err)
	}
	lrp, err := ops.FindLogicalRouterPort(nb, addressing.RouterPortName("ovn-cluster", "ovn-default"))
	if err != nil || lrp.Networks[0] != "10.16.0.1/16" || lrp.MAC == "" {
		t.Fatalf("router port = %+v, %v", lrp, err)
	}
	if lr, err := ops.FindLogicalRouter(nb, "ovn-cluster"); err != nil || !containsStr(lr.Ports, lrp.UUID) {
		t.Fatalf("router = %+v, %v", lr, err)
	}
	if !metricHas("kvnet_ip_allocations_total", "subnet", "ovn-default") || !metricHas("kvnet_nb_transaction_seconds", "controller", "pod") {
		t.Error("allocation / NB transaction metrics not recorded")
	}
	var ip kubeovnv1.IP
	if err := k8s.Get(bg, client.ObjectKey{Name: "p1.t-basic"}, &ip); err != nil {
		t.Fatal(err)
	}
	if ip.Spec.IPAddress != a["ovn.kubernetes.io/ip_address"] || ip.Spec.MacAddress != a["ovn.kubernetes.io/mac_address"] ||
		ip.Spec.Subnet != "ovn-default" || len(ip.OwnerReferences) != 1 || ip.OwnerReferences[0].UID != p.UID {
		t.Fatalf("ip object = %+v", ip)
	}
}

func TestNamespaceBindingAndB06d(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	createNS(t, "t-ns-a")
	createNS(t, "t-ns-b")
	create(t, subnetObj("sub-x", "10.0.6.0/24", func(s *kubeovnv1.SubnetSpec) {
		s.Gateway, s.Namespaces = "10.0.6.1", []string{"t-ns-a"}
		s.ExcludeIPs = []string{"10.0.6.1", "10.0.6.2", "10.0.6.20..10.0.6.255"}
	}))
	waitSubnetReady(t, "sub-x")
	create(t, mkPod("t-ns-a", "pa", nil))
	p := waitRouted(t, "t-ns-a", "pa")
	if ip := p.Annotations["ovn.kubernetes.io/ip_address"]; ip < "10.0.6.3" || !strings.HasPrefix(ip, "10.0.6.") || len(ip) > len("10.0.6.19") {
		t.Fatalf("pod in bound namespace got %q", ip)
	}
	create(t, mkPod("t-ns-b", "pb", map[string]string{
		"ovn.kubernetes.io/logical_switch": "sub-x", "ovn.kubernetes.io/ip_address": "10.0.6.24",
	}))
	waitEvent(t, "t-ns-b", "pb", "SubnetNotAllowed")
	if _, err := ops.FindLogicalSwitchPort(nb, "pb.t-ns-b"); err == nil {
		t.Fatal("pod from a foreign namespace got a port on a namespace-bound subnet")
	}
	// B06 rule: a static address inside excludeIps is allowed from a bound namespace.
	create(t, mkPod("t-ns-a", "pc", map[string]string{"ovn.kubernetes.io/ip_address": "10.0.6.24"}))
	if got := waitRouted(t, "t-ns-a", "pc").Annotations["ovn.kubernetes.io/ip_address"]; got != "10.0.6.24" {
		t.Fatalf("static excluded address: got %q", got)
	}
}

func TestStaticIPMACPoolAndConflicts(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	startController(t, addr, nil)
	nb := nbClient(t, addr)
	createNS(t, "t-static")
	create(t, subnetObj("sub-static", "10.77.0.0/24,fd00:77::/120", func(s *kubeovnv1.SubnetSpec) {
		s.Gateway, s.Namespaces = "10.77.0.1,fd00:77::1", []string{"t-static"}
	}))
	waitSubnetReady(t, "sub-static")
	create(t, &kubeovnv1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pool-a"},
		Spec: kubeovnv1.IPPoolSpec{Subnet: "sub-static", IPs: []string{"10.77.0.50..10.77.0.52", "fd00:77::50..fd00:77::52"}}})
	create(t, mkPod("t-static", "fixed", map[string]string{
		"ovn.kubernetes.io/ip_address": "10.77.0.10,FD00:77:0::10", "ovn.kubernetes.io/mac_address": "0A:11:22:33:44:55",
	}))
	p := waitRouted(t, "t-static", "fixed")
	if p.Annotations["ovn.kubernetes.io/ip_address"] != "10.77.0.10,fd00:77::10" || p.Annotations["ovn.kubernetes.io/mac_address"] != "0a:11:22:33:44:55" {
		t.Fatalf("static request not honoured: %v", p.Annotations)
	}
	if lsp, err := ops.FindLogicalSwitchPort(nb, "fixed.t-static"); err != nil || lsp.Addresses[0] != "0a:11:22:33:44:55 10.77.0.10 fd00:77::10" {
		t.Fatalf("port = %+v, %v", lsp, err)
	}
	// IP pool by name.
	eventually(t, 10*time.Second, "pool ready", func() (bool, string) {
		var pool kubeovnv1.IPPool
		_ = k8s.Get(bg, client.ObjectKey{Name: "pool-a"}, &pool)
		return pool.Status.V4AvailableIPs == 3, fmt.Sprintf("%+v", pool.Status)
	})
	create(t, mkPod("t-static", "pooled", map[string]string{"ovn.kubernetes.io/ip_pool": "pool-a"}))
	got := waitRouted(t, "t-static", "pooled").Annotations["ovn.kubernetes.io/ip_address"]
	if !strings.HasPrefix(got, "10.77.0.5") || !strings.Contains(got, ",fd00:77::5") {
		t.Fatalf("pool address = %q", got)
	}
	// Static conflict: a Warning event and no port.
	base := reconcileCounts(t, "pod")
	create(t, mkPod("t-static", "dup", map[string]string{"ovn.kubernetes.io/ip_address": "10.77.0.10"}))
	ev := waitEvent(t, "t-static", "dup", "IPConflict")
	if ev.Type != corev1.EventTypeWarning {
		t.Errorf("event type %q", ev.Type)
	}
	// B01: the gateway in another textual form is refused too.
	create(t, mkPod("t-static", "gw", map[string]string{"ovn.kubernetes.io/ip_address": "10.77.0.5,fd00:0077:0:0:0:0:0:0001"}))
	waitEvent(t, "t-static", "gw", "IPIsGateway")
	waitReconciledSince(t, base) // the refusals are done, not just begun
	for _, name := range []string{"dup.t-static", "gw.t-static"} {
		if _, err := ops.FindLogicalSwitchPort(nb, name); err == nil {
			t.Errorf("refused pod has port %s", name)
		}
		if err := k8s.Get(bg, client.ObjectKey{Name: name}, &kubeovnv1.IP{}); !apierrors.IsNotFound(err) {
			t.Errorf("refused pod has IP object %s (%v)", name, err)
		}
	}
}

func TestPodDeletionReleasesEverything(t *testing.T) {
	needEnv(t)
	addr := nbtest.Start(t)
	r := startController(t, addr, nil)
	nb := nbClient(t, addr)
	createNS(t, "t-del")
	create(t, subnetObj("sub-del", "10.78.0.0/24", func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"t-del"} }))
	waitSubnetReady(t, "sub-del")
	create(t, mkPod("t-del", "p", nil))
	ip := waitRouted(t, "t-del", "p").Annotations["ovn.kubernetes.io/ip_address"]
	if u, _ := r.store.IPAM.Usage("sub-del"); u.V4Using != 1 {
		t.Fatalf("using = %d", u.V4Using)
	}
	if err := k8s.Delete(bg, mkPod("t-del", "p", nil), client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	// Kubernetes' garbage collector may delete the IP object (owned by the
	// pod) before the controller sees the pod go: the release must not need it.
	_ = k8s.Delete(bg, &kubeovnv1.IP{ObjectMeta: metav1.ObjectMeta{Name: "p.t-del"}})
	eventually(t, 10*time.Second, "release", func() (bool, string) {
		u, _ := r.store.IPAM.Usage("sub-del")
		_, portErr := ops.FindLogicalSwitchPort(nb, "p.t-del")
		ipErr := k8s.Get(bg, client.ObjectKey{Name: "p.t-del"}, &kubeovnv1.IP{})
		return u.V4Using == 0 && portErr != nil && apierrors.IsNotFound(ipErr), fmt.Sprintf("using %d port %v ip %v", u.V4Using, portErr, ipErr)
	})
	waitSubnetUsing(t, "sub-del", 0)
	t.Logf("released %s", ip)
}

func waitSubnetUsing(t *testing.T, name string, n float64) {
	t.Helper()
	eventually(t, 10*time.Second, "subnet status using", func() (bool, string) {
		var sn kubeovnv1.Subnet
		_ = k8s.Get(bg, client.ObjectKey{Name: name}, &sn)
		return sn.Status.V4UsingIPs == n, fmt.Sprintf("status %+v", sn.Status)
	})
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// metricHas reports whether the controller-runtime registry (served on the
// metrics endpoint) has a sample of name with label=value.
func metricHas(name, label, value string) bool {
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		return false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return true
				}
			}
		}
	}
	return false
}
