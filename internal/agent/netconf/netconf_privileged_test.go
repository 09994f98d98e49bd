package netconf

// Privileged tests: real veths, addresses and routes in kvt- network
// namespaces. As root the package runs inside its own namespace (TestMain);
// otherwise these tests skip.

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kvnet/kvnet/test/agenttest"
)

func TestMain(m *testing.M) { os.Exit(agenttest.RunInNetns(m, "netconf")) }

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	mac, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

func testPod(t *testing.T, netns string) Pod {
	return Pod{
		NetnsPath: netns, IfName: "eth0", HostIfName: "kvt0123456_h", MAC: mustMAC(t, "0a:58:0a:10:00:05"), MTU: 1400,
		Addresses:    []netip.Prefix{netip.MustParsePrefix("10.16.0.5/16"), netip.MustParsePrefix("fd00:10:16::5/112")},
		Gateways:     []netip.Addr{netip.MustParseAddr("10.16.0.1"), netip.MustParseAddr("fd00:10:16::1")},
		TxOffloadOff: true,
	}
}

func TestPrivilegedSetupCheckTeardownPod(t *testing.T) {
	agenttest.Require(t)
	netns := agenttest.AddNetns(t, "pod")
	p := testPod(t, netns)
	for range 2 { // a retried ADD replaces the leftovers of the first
		if _, err := SetupPod(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckPod(p); err != nil {
		t.Fatal(err)
	}
	if on, err := TxOffload(p.HostIfName); err != nil || on {
		t.Fatalf("host end tx offload on=%v (%v)", on, err)
	}
	err := ns.WithNetNSPath(netns, func(ns.NetNS) error {
		if on, err := TxOffload("eth0"); err != nil || on {
			t.Errorf("pod end tx offload on=%v (%v)", on, err)
		}
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		found := false
		for _, a := range addrs {
			if a.IP.String() == "fd00:10:16::5" {
				found = true
				if a.Flags&unix.IFA_F_TENTATIVE != 0 {
					t.Errorf("IPv6 address tentative (DAD not skipped): flags %#x", a.Flags)
				}
			}
		}
		if !found {
			t.Errorf("eth0 has no fd00:10:16::5 to check: %v", addrs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wrong := p
	wrong.MAC = mustMAC(t, "0a:58:0a:10:00:06")
	if err := CheckPod(wrong); err == nil || !strings.Contains(err.Error(), "MAC") {
		t.Fatalf("CheckPod with the wrong MAC: %v", err)
	}
	wrong = p
	wrong.Addresses = append(wrong.Addresses, netip.MustParsePrefix("10.16.0.9/16"))
	if err := CheckPod(wrong); err == nil {
		t.Fatal("CheckPod passed with a missing address")
	}

	for range 2 {
		if err := TeardownPod(p.HostIfName, netns, p.IfName); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := LinkExists(p.HostIfName); err != nil || ok {
		t.Fatalf("host veth left (exists %v, err %v)", ok, err)
	}
	if err := TeardownPod(p.HostIfName, "/run/netns/kvt-does-not-exist", "eth0"); err != nil {
		t.Fatalf("teardown with the netns gone: %v", err)
	}
}

func TestPrivilegedNodeLinkAndRoutes(t *testing.T) {
	agenttest.Require(t)
	const name = "kvt-dummy0"
	// A veth stands in for ovn0 (the dummy module may be missing).
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteLink(name) })
	peer, err := netlink.LinkByName(name + "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	stale := &netlink.Addr{IPNet: prefixIPNet(netip.MustParsePrefix("192.0.2.9/24"))}
	if err := netlink.AddrAdd(link, stale); err != nil {
		t.Fatal(err)
	}
	want := NodeLink{Name: name, MAC: mustMAC(t, "0a:58:64:40:00:02"), MTU: 1400,
		Addresses: []netip.Prefix{netip.MustParsePrefix("100.64.0.2/16")}}
	for range 2 {
		if err := ConfigureNodeLink(want); err != nil {
			t.Fatal(err)
		}
	}
	if link, err = netlink.LinkByName(name); err != nil {
		t.Fatal(err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if link.Attrs().MTU != 1400 || link.Attrs().HardwareAddr.String() != want.MAC.String() ||
		len(addrs) != 1 || addrs[0].IPNet.String() != "100.64.0.2/16" {
		t.Fatalf("link %+v addrs %v", link.Attrs(), addrs)
	}

	// A route of another owner over the same link must survive syncs.
	foreign := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: prefixIPNet(netip.MustParsePrefix("10.99.0.0/16")),
		Gw: net.ParseIP("100.64.0.1"), Protocol: unix.RTPROT_STATIC}
	if err := netlink.RouteAdd(foreign); err != nil {
		t.Fatal(err)
	}
	gw := netip.MustParseAddr("100.64.0.1")
	r1 := Route{Dst: netip.MustParsePrefix("10.16.0.0/16"), Via: gw}
	r2 := Route{Dst: netip.MustParsePrefix("10.17.0.0/16"), Via: gw}
	if err := SyncRoutes(name, []Route{r1, r2}); err != nil {
		t.Fatal(err)
	}
	if err := SyncRoutes(name, []Route{r1}); err != nil {
		t.Fatal(err)
	}
	routes, err := routeList(link)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]netlink.RouteProtocol{}
	for _, r := range routes {
		if r.Dst != nil {
			got[r.Dst.String()] = r.Protocol
		}
	}
	if got["10.16.0.0/16"] != RouteProtocol || got["10.99.0.0/16"] != unix.RTPROT_STATIC {
		t.Fatalf("routes after sync: %v", got)
	}
	if _, ok := got["10.17.0.0/16"]; ok {
		t.Fatalf("stale kvnet route kept: %v", got)
	}
}

func TestPrivilegedPingFrom(t *testing.T) {
	agenttest.Require(t)
	netns := agenttest.AddNetns(t, "ping")
	p := testPod(t, netns)
	if _, err := SetupPod(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = TeardownPod(p.HostIfName, netns, p.IfName) })
	// The node side of the veth plays the gateway.
	host, err := netlink.LinkByName(p.HostIfName)
	if err != nil {
		t.Fatal(err)
	}
	for _, gw := range []string{"10.16.0.1/16", "fd00:10:16::1/112"} {
		addr := &netlink.Addr{IPNet: prefixIPNet(netip.MustParsePrefix(gw)), Flags: unix.IFA_F_NODAD}
		if err := netlink.AddrAdd(host, addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, gw := range p.Gateways {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := PingFrom(ctx, netns, gw)
		cancel()
		if err != nil {
			t.Fatalf("ping %s: %v", gw, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := PingFrom(ctx, netns, netip.MustParseAddr("10.16.0.77")); err == nil {
		t.Fatal("ping of a silent address succeeded")
	}
}
