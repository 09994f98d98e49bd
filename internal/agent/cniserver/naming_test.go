package cniserver

import (
	"encoding/json"
	"strings"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/kvnet/kvnet/internal/agent/attachment"
	"github.com/kvnet/kvnet/internal/annotations"
)

func TestHostIfName(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	if got := HostIfName(id, "eth0"); got != "0123456789ab_h" {
		t.Errorf("eth0: got %q", got)
	}
	if got := HostIfName("short", "eth0"); got != "short_h" {
		t.Errorf("short id: got %q", got)
	}
	net1, net2 := HostIfName(id, "net1"), HostIfName(id, "net2")
	if net1 == net2 || net1 == HostIfName(id, "eth0") {
		t.Errorf("secondary interfaces collide: %q %q", net1, net2)
	}
	for _, n := range []string{net1, net2, HostIfName(id, "eth0")} {
		if len(n) > 15 {
			t.Errorf("%q longer than IFNAMSIZ-1", n)
		}
	}
}

func TestParsePodRef(t *testing.T) {
	ref, err := parsePodRef("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u1")
	if err != nil || ref != (podRef{Namespace: "ns1", Name: "web", UID: "u1"}) {
		t.Fatalf("ref = %+v, %v", ref, err)
	}
	if _, err := parsePodRef("K8S_POD_NAME=web"); err == nil {
		t.Fatal("missing namespace accepted")
	}
}

func TestBuildResultDualStack(t *testing.T) {
	att, err := attachment.Parse(annotated(map[string]string{
		annotations.IPAddress: "10.16.0.5,fd00:10:16::5",
		annotations.CIDR:      "10.16.0.0/16,fd00:10:16::/112",
		annotations.Gateway:   "10.16.0.1,fd00:10:16::1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := netMAC("0e:00:00:00:00:01")
	res := buildResult(resultInput{Attachment: att, HostIfName: "abc_h", HostMAC: host,
		IfName: "eth0", Netns: "/run/netns/x", MTU: 1400})
	data, err := encodeResult(res, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	var got current.Result
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.CNIVersion != "1.0.0" || len(got.Interfaces) != 2 || got.Interfaces[1].Sandbox != "/run/netns/x" ||
		got.Interfaces[1].Mac != "0a:58:0a:10:00:05" || got.Interfaces[0].Name != "abc_h" {
		t.Fatalf("interfaces = %s", data)
	}
	if len(got.IPs) != 2 || *got.IPs[0].Interface != 1 || got.IPs[0].Address.String() != "10.16.0.5/16" ||
		got.IPs[0].Gateway.String() != "10.16.0.1" || got.IPs[1].Address.String() != "fd00:10:16::5/112" ||
		got.IPs[1].Gateway.String() != "fd00:10:16::1" {
		t.Fatalf("ips = %s", data)
	}
	if len(got.Routes) != 2 || got.Routes[0].Dst.String() != "0.0.0.0/0" || got.Routes[1].Dst.String() != "::/0" ||
		got.Routes[1].GW.String() != "fd00:10:16::1" {
		t.Fatalf("routes = %s", data)
	}
	// Older runtimes get the result in their version.
	old, err := encodeResult(res, "0.4.0")
	if err != nil || !strings.Contains(string(old), `"cniVersion":"0.4.0"`) {
		t.Fatalf("0.4.0 result = %s, %v", old, err)
	}
}
