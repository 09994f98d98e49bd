package addressing

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

func sn(name, cidr string, age int, mod func(*kubeovnv1.SubnetSpec)) kubeovnv1.Subnet {
	s := kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+age), 0))},
		Spec: kubeovnv1.SubnetSpec{CIDRBlock: cidr}}
	if mod != nil {
		mod(&s.Spec)
	}
	return s
}

func pod(ns, name string, ann map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann}}
}

var inputs = Inputs{
	Subnets: []kubeovnv1.Subnet{
		sn("ovn-default", "10.16.0.0/16", 0, func(s *kubeovnv1.SubnetSpec) { s.Default = true }),
		sn("join", "100.64.0.0/16", 0, nil),
		sn("bound", "10.66.0.0/16", 1, func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"ns-a"} }),
		sn("bound-younger", "10.67.0.0/16", 2, func(s *kubeovnv1.SubnetSpec) { s.Namespaces = []string{"ns-a"} }),
		sn("ext", "192.168.1.0/28", 1, func(s *kubeovnv1.SubnetSpec) { s.Provider = "ext.ns-a.ovn" }),
		sn("broken", "10.20.0.0/33", 1, nil),
	},
	Pools: []kubeovnv1.IPPool{
		{ObjectMeta: metav1.ObjectMeta{Name: "pool-a"}, Spec: kubeovnv1.IPPoolSpec{Subnet: "bound", IPs: []string{"10.66.0.10..10.66.0.20"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pool-b"}, Spec: kubeovnv1.IPPoolSpec{Subnet: "ovn-default", IPs: []string{"10.16.9.0/28"}, Namespaces: []string{"ns-b"}}},
	},
	DefaultSubnet: "ovn-default", JoinSubnet: "join",
}

func TestPlanSubnetSelection(t *testing.T) {
	for _, tc := range []struct {
		ns     string
		ann    map[string]string
		subnet string
		reason string
	}{
		{"ns-x", nil, "ovn-default", ""},
		{"ns-a", nil, "bound", ""}, // the older of two subnets binding ns-a (B04)
		{"ns-a", map[string]string{"ovn.kubernetes.io/logical_switch": "ovn-default"}, "ovn-default", ""},
		{"ns-x", map[string]string{"ovn.kubernetes.io/logical_switch": "bound"}, "", "SubnetNotAllowed"}, // B06d
		{"ns-x", map[string]string{"ovn.kubernetes.io/logical_switch": "join"}, "", "SubnetNotAllowed"},
		{"ns-x", map[string]string{"ovn.kubernetes.io/logical_switch": "missing"}, "", "SubnetNotFound"},
		{"ns-x", map[string]string{"ovn.kubernetes.io/logical_switch": "broken"}, "", "SubnetNotReady"}, // B05: no panic
		{"ns-a", map[string]string{"ovn.kubernetes.io/ip_pool": "pool-a"}, "bound", ""},
		{"ns-x", map[string]string{"ovn.kubernetes.io/ip_pool": "pool-a"}, "", "SubnetNotAllowed"},
	} {
		nics, err := Plan(pod(tc.ns, "p", tc.ann), "p."+tc.ns, inputs)
		if tc.reason != "" {
			var pe *PlanError
			if !errors.As(err, &pe) || pe.Reason != tc.reason {
				t.Errorf("%s %v: err = %v, want reason %s", tc.ns, tc.ann, err, tc.reason)
			}
			continue
		}
		if err != nil || len(nics) != 1 || nics[0].Subnet.Name != tc.subnet {
			t.Errorf("%s %v: nics = %+v, err = %v; want subnet %s", tc.ns, tc.ann, nics, err, tc.subnet)
		}
	}
}

func TestPlanRequestFromAnnotations(t *testing.T) {
	nics, err := Plan(pod("ns-a", "p", map[string]string{
		"ovn.kubernetes.io/ip_address": "10.66.0.5", "ovn.kubernetes.io/mac_address": "0a:00:00:00:00:01", "ovn.kubernetes.io/ip_pool": "pool-a",
	}), "p.ns-a", inputs)
	if err != nil {
		t.Fatal(err)
	}
	r := nics[0].Request
	if r.Owner != "p.ns-a" || r.Subnet != "bound" || r.IPs[0] != "10.66.0.5" || r.MAC != "0a:00:00:00:00:01" || r.Pool != "pool-a" {
		t.Errorf("request = %+v", r)
	}
	nics, _ = Plan(pod("ns-x", "p", map[string]string{"ovn.kubernetes.io/ip_pool": "10.16.0.7;10.16.0.8"}), "p.ns-x", inputs)
	if c := nics[0].Request.Candidates; len(c) != 2 || c[0] != "10.16.0.7" {
		t.Errorf("candidates = %v", c)
	}
	nics, _ = Plan(pod("ns-b", "p", nil), "p.ns-b", inputs)
	if nics[0].Request.Pool != "pool-b" {
		t.Errorf("namespace pool not used: %+v", nics[0].Request)
	}
}

func TestPlanAttachments(t *testing.T) {
	nics, err := Plan(pod("ns-a", "nat", map[string]string{
		"k8s.v1.cni.cncf.io/networks":           "ext, other-ns/unknown@net2",
		"ext.ns-a.ovn.kubernetes.io/ip_address": "192.168.1.5",
	}), "nat.ns-a", inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(nics) != 2 {
		t.Fatalf("nics = %+v (networks no kvnet subnet serves are skipped)", nics)
	}
	a := nics[1]
	if a.Provider != "ext.ns-a.ovn" || a.Port != "nat.ns-a.ext.ns-a.ovn" || a.Subnet.Name != "ext" || !a.HasPort || a.Request.IPs[0] != "192.168.1.5" {
		t.Errorf("attachment = %+v", a)
	}
	if _, err := Plan(pod("ns-a", "p", map[string]string{"k8s.v1.cni.cncf.io/networks": "[{bad"}), "p.ns-a", inputs); err == nil {
		t.Error("malformed networks annotation accepted")
	}
	refs, err := parseNetworks(`[{"name":"ext","namespace":"ns-a"},{"name":"x"}]`, "ns-p")
	if err != nil || len(refs) != 2 || refs[1].Namespace != "ns-p" {
		t.Errorf("json networks = %+v, %v", refs, err)
	}
}

func TestDesiredRows(t *testing.T) {
	nics, _ := Plan(pod("ns-x", "p", nil), "p.ns-x", inputs)
	p := pod("ns-x", "p", nil)
	p.UID = "uid-1"
	p.Spec.NodeName = "node-1"
	a := ipam.Allocation{Subnet: "ovn-default", Owner: "p.ns-x", IPs: mustAddrs("10.16.0.5"), MAC: "0a:00:00:00:00:05"}
	h := PodHolder(p)
	lsp := h.LogicalSwitchPort(&nics[0], a, NodeOptions(h.Node))
	if lsp.Name != "p.ns-x" || lsp.Addresses[0] != "0a:00:00:00:00:05 10.16.0.5" || lsp.PortSecurity[0] != lsp.Addresses[0] ||
		lsp.ExternalIDs[ops.KeyPod] != "ns-x/p" || lsp.ExternalIDs[ops.KeyOwner] != "ns-x/p" || lsp.ExternalIDs[ops.KeyVendor] != "kvnet" {
		t.Errorf("port = %+v", lsp)
	}
	if lsp.Options["requested-chassis"] != "node-1" {
		t.Errorf("port options = %v", lsp.Options)
	}
	ip := h.IP(&nics[0], a)
	if ip.Name != "p.ns-x" || ip.Spec.V4IPAddress != "10.16.0.5" || ip.Spec.NodeName != "node-1" || ip.OwnerReferences[0].UID != "uid-1" {
		t.Errorf("ip = %+v", ip)
	}
	ann := DesiredAnnotations(nics, []ipam.Allocation{a})
	want := map[string]string{
		"ovn.kubernetes.io/allocated": "true", "ovn.kubernetes.io/ip_address": "10.16.0.5", "ovn.kubernetes.io/mac_address": "0a:00:00:00:00:05",
		"ovn.kubernetes.io/cidr": "10.16.0.0/16", "ovn.kubernetes.io/gateway": "10.16.0.1", "ovn.kubernetes.io/logical_switch": "ovn-default",
		"ovn.kubernetes.io/port_name": "p.ns-x", "ovn.kubernetes.io/routed": "true",
	}
	for k, v := range want {
		if ann[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, ann[k], v)
		}
	}
	if len(ann) != len(want) {
		t.Errorf("annotations = %v", ann)
	}
}

func TestB01_GatewayRequestRefusedInAnyForm(t *testing.T) {
	m := ipam.New()
	if _, err := m.AddOrUpdateSubnet(ipam.SubnetConfig{Name: "a", CIDRBlock: "10.10.0.0/24,fd00:10::/120", Gateway: "10.10.0.1,fd00:10::1"}); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.10.0.1", "10.10.0.5,fd00:10:0:0:0:0:0:1", "10.10.0.5,FD00:10::1", "10.10.0.5,fd00:0010::0001"} {
		_, err := m.Allocate(ipam.Request{Subnet: "a", Owner: "p1.ns", IPs: []string{ip}})
		if Reason(err) != "IPIsGateway" || Transient(err) {
			t.Errorf("%s: err = %v (reason %s)", ip, err, Reason(err))
		}
	}
}

func mustAddrs(s ...string) []netipAddr {
	out := make([]netipAddr, len(s))
	for i, x := range s {
		out[i] = mustParse(x)
	}
	return out
}
