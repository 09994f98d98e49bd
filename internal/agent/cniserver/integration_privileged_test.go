package cniserver

// Privileged integration test: real ovsdb-server, ovs-vswitchd (userspace
// datapath), OVN NB/SB, ovn-northd and ovn-controller in a kvt- network
// namespace; pods plugged through the real kvnet-cni binary driven by libcni,
// exactly as a container runtime does. Needs root; skipped otherwise.
//
//	sudo go test ./internal/agent/cniserver -run Privileged -v

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/go-logr/logr"
	"github.com/vishvananda/netlink"

	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/agent/netconf"
	"github.com/kvnet/kvnet/internal/agent/node"
	"github.com/kvnet/kvnet/internal/agent/ovsport"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/test/agenttest"
)

// testbed is one node with OVN, an agent handler behind a real socket, and
// libcni configured to call the real kvnet-cni binary.
type testbed struct {
	ovs   *agenttest.OVS
	ovn   *agenttest.OVN
	ports *ovsport.Client
	pods  *fakePods
	cni   *libcni.CNIConfig
	list  *libcni.NetworkConfigList
}

const (
	tbSubnet  = "10.77.0.0/24"
	tbGateway = "10.77.0.1"
)

func newTestbed(t *testing.T) *testbed {
	agenttest.Require(t, "ovn-controller", "ovn-northd", "ovs-vswitchd", "ping", "go")
	tb := &testbed{ovs: agenttest.StartOVS(t), ovn: agenttest.StartOVN(t), pods: newFakePods()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if tb.ports, err = ovsport.Connect(ctx, tb.ovs.DB, logr.Discard()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.ports.Close)
	err = node.Bootstrap(ctx, node.BootstrapConfig{NodeName: "kvt-node", Bridge: "br-int", DatapathType: "netdev",
		OVNRemote: tb.ovn.SB, EncapIP: "127.0.0.1", EncapType: "geneve"}, tb.ports)
	if err != nil {
		t.Fatal(err)
	}
	ctlDir := agenttest.StartOVNController(t, tb.ovs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(agenttest.Logs(tb.ovs.Dir, tb.ovn.Dir, ctlDir))
		}
	})
	tb.buildTopology(t)
	tb.startAgent(t)
	return tb
}

// buildTopology: switch kvt-ls with a router port (the pods' gateway) on
// router kvt-lr, and a join switch with the node's port on the same router.
func (tb *testbed) buildTopology(t *testing.T) {
	tb.ovn.AddRouter(t, "kvt-lr")
	tb.ovn.AddRoutedSwitch(t, "kvt-lr", "kvt-ls", "0a:58:0a:4d:00:01", tbGateway+"/24")
	tb.ovn.AddRoutedSwitch(t, "kvt-lr", "kvt-join", "0a:58:64:40:00:01", "100.64.0.1/16")
	tb.ovn.AddPort(t, "kvt-join", "node-kvt-node", "0a:58:64:40:00:02", "100.64.0.2")
}

// addPod creates the pod's logical switch port and its annotated object.
func (tb *testbed) addPod(t *testing.T, name string, host int, labels map[string]string) {
	ip := fmt.Sprintf("10.77.0.%d", host)
	mac := fmt.Sprintf("0a:58:0a:4d:00:%02x", host)
	port := addressing.PodPortName(name, "kvt")
	tb.ovn.AddPort(t, "kvt-ls", port, mac, ip)
	tb.pods.Set(&Pod{Namespace: "kvt", Name: name, Labels: labels, Annotations: map[string]string{
		annotations.Allocated: "true", annotations.Routed: "true", annotations.IPAddress: ip,
		annotations.MACAddress: mac, annotations.CIDR: tbSubnet, annotations.Gateway: tbGateway,
		annotations.LogicalSwitch: "kvt-ls", annotations.PortName: port,
	}})
}

// startAgent serves the handler on a socket and points libcni at a freshly
// built kvnet-cni binary.
func (tb *testbed) startAgent(t *testing.T) {
	dir := agenttest.TempDir(t, "agent")
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := NewHandler(Config{NodeName: "kvt-node", Bridge: "br-int", MTU: 1400, NetdevDatapath: true,
		WaitTimeout: 20 * time.Second, GatewayCheck: true}, tb.pods, tb.ports, Kernel{}, nil, nil, log)
	sock := filepath.Join(dir, "run", "cni.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, h) }()
	t.Cleanup(func() { cancel(); <-done })

	tb.cni = libcni.NewCNIConfigWithCacheDir([]string{agenttest.ShimDir(t)}, filepath.Join(dir, "cache"), nil)
	conflist := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"kvnet","plugins":[{"type":"kvnet-cni","socket":%q}]}`, sock)
	if tb.list, err = libcni.ConfListFromBytes([]byte(conflist)); err != nil {
		t.Fatal(err)
	}
}

func runtimeConf(containerID, netns, pod string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: containerID, NetNS: netns, IfName: "eth0",
		Args: [][2]string{{"K8S_POD_NAMESPACE", "kvt"}, {"K8S_POD_NAME", pod}}}
}

func (tb *testbed) add(t *testing.T, containerID, netns, pod string) *current.Result {
	t.Helper()
	res, err := tb.tryAdd(containerID, netns, pod)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryAdd runs CNI ADD; safe to call from any goroutine.
func (tb *testbed) tryAdd(containerID, netns, pod string) (*current.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := tb.cni.AddNetworkList(ctx, tb.list, runtimeConf(containerID, netns, pod))
	if err != nil {
		return nil, fmt.Errorf("ADD %s: %w", pod, err)
	}
	return current.NewResultFromResult(res)
}

func (tb *testbed) del(t *testing.T, containerID, netns, pod string) {
	t.Helper()
	if err := tb.tryDel(containerID, netns, pod); err != nil {
		t.Fatal(err)
	}
}

// tryDel runs CNI DEL; safe to call from any goroutine.
func (tb *testbed) tryDel(containerID, netns, pod string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tb.cni.DelNetworkList(ctx, tb.list, runtimeConf(containerID, netns, pod)); err != nil {
		return fmt.Errorf("DEL %s: %w", pod, err)
	}
	return nil
}

func TestPrivilegedTwoPodsTrafficAndTeardown(t *testing.T) {
	tb := newTestbed(t)
	tb.addPod(t, "pod-a", 10, nil)
	tb.addPod(t, "pod-b", 11, nil)
	nsA, nsB := agenttest.AddNetns(t, "pa"), agenttest.AddNetns(t, "pb")
	idA, idB := "aaaaaaaaaaaa0000000000000001", "bbbbbbbbbbbb0000000000000002"

	resA := tb.add(t, idA, nsA, "pod-a")
	resB := tb.add(t, idB, nsB, "pod-b")
	if len(resA.IPs) != 1 || resA.IPs[0].Address.String() != "10.77.0.10/24" || resA.IPs[0].Gateway.String() != tbGateway ||
		len(resA.Interfaces) != 2 || resA.Interfaces[1].Sandbox != nsA || resA.Interfaces[0].Name != "aaaaaaaaaaaa_h" {
		t.Fatalf("pod-a result: %s", resA)
	}
	if resB.IPs[0].Address.String() != "10.77.0.11/24" {
		t.Fatalf("pod-b result: %s", resB)
	}
	for _, hostIf := range []string{"aaaaaaaaaaaa_h", "bbbbbbbbbbbb_h"} {
		iface, ok := tb.ports.Interface(context.Background(), hostIf)
		if !ok || iface.ExternalIDs[ovsport.OVNInstalledKey] != "true" {
			t.Fatalf("%s not ovn-installed: %+v", hostIf, iface)
		}
		if on, err := netconf.TxOffload(hostIf); err != nil || on {
			t.Fatalf("host end %s: tx offload on=%v (%v)", hostIf, on, err)
		}
	}
	err := ns.WithNetNSPath(nsA, func(ns.NetNS) error {
		on, err := netconf.TxOffload("eth0")
		if err == nil && on {
			err = fmt.Errorf("tx offload still on in the pod")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	pingFrom(t, nsA, "10.77.0.11")
	pingFrom(t, nsB, "10.77.0.10")
	tcpExchange(t, nsA, nsB, "10.77.0.11")

	t.Run("check and status", func(t *testing.T) {
		ctx := context.Background()
		if err := tb.cni.CheckNetworkList(ctx, tb.list, runtimeConf(idA, nsA, "pod-a")); err != nil {
			t.Fatalf("CHECK: %v", err)
		}
		if err := tb.cni.GetStatusNetworkList(ctx, tb.list); err != nil {
			t.Fatalf("STATUS: %v", err)
		}
	})
	t.Run("node reaches pods over ovn0", func(t *testing.T) { tb.checkJoin(t, nsA) })

	tb.del(t, idA, nsA, "pod-a")
	tb.del(t, idB, nsB, "pod-b")
	tb.del(t, idA, nsA, "pod-a") // idempotent
	tb.assertGone(t, nsA, "aaaaaaaaaaaa_h")
	tb.assertGone(t, nsB, "bbbbbbbbbbbb_h")
	agenttest.Run(t, "ip", "netns", "del", filepath.Base(nsB))
	tb.del(t, idB, nsB, "pod-b") // netns gone: still fine
}

func (tb *testbed) assertGone(t *testing.T, netns, hostIf string) {
	t.Helper()
	if _, ok := tb.ports.Interface(context.Background(), hostIf); ok {
		t.Errorf("OVS interface %s left after DEL", hostIf)
	}
	if ok, err := netconf.LinkExists(hostIf); err != nil || ok {
		t.Errorf("host veth %s left after DEL (exists %v, err %v)", hostIf, ok, err)
	}
	err := ns.WithNetNSPath(netns, func(ns.NetNS) error {
		ok, err := netconf.LinkExists("eth0")
		if err != nil {
			return err
		}
		if ok {
			t.Errorf("eth0 left in %s after DEL", netns)
		}
		return nil
	})
	if err != nil {
		t.Errorf("checking for eth0 in %s after DEL: %v", netns, err)
	}
}

// checkJoin plugs ovn0 through the join reconcile and pings a pod from the
// node itself.
func (tb *testbed) checkJoin(t *testing.T, podNS string) {
	src := &staticSource{ann: map[string]string{
		annotations.Allocated: "true", annotations.Routed: "true", annotations.IPAddress: "100.64.0.2",
		annotations.MACAddress: "0a:58:64:40:00:02", annotations.CIDR: "100.64.0.0/16", annotations.Gateway: "100.64.0.1",
		annotations.LogicalSwitch: "kvt-join", annotations.PortName: "node-kvt-node",
	}, subnets: []node.Subnet{
		{Name: "kvt-join", CIDRs: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/16")}},
		{Name: "kvt-ls", CIDRs: []netip.Prefix{netip.MustParsePrefix(tbSubnet)}},
	}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	join := node.NewJoin(node.JoinConfig{Bridge: "br-int", LinkName: "ovn0", MTU: 1400, Resync: time.Minute,
		LinkWait: 10 * time.Second}, tb.ports, src, log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 { // the second pass must be a no-op
		if err := join.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.ports.WaitInstalled(ctx, "ovn0"); err != nil {
		t.Fatal(err)
	}
	link, err := netlink.LinkByName("ovn0")
	if err != nil || link.Attrs().MTU != 1400 || link.Attrs().HardwareAddr.String() != "0a:58:64:40:00:02" {
		t.Fatalf("ovn0 = %+v (%v)", link, err)
	}
	routes, err := netlink.RouteList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("routes on ovn0: %v", err)
	}
	found := false
	for _, r := range routes {
		found = found || (r.Dst != nil && r.Dst.String() == tbSubnet && r.Gw.String() == "100.64.0.1" && r.Protocol == netconf.RouteProtocol)
	}
	if !found {
		t.Fatalf("no kvnet route to %s via 100.64.0.1 on ovn0: %v", tbSubnet, routes)
	}
	out, err := exec.Command("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.10").CombinedOutput()
	if err != nil {
		t.Fatalf("node -> pod ping: %v\n%s", err, out)
	}
	tcpExchange(t, "/proc/self/ns/net", podNS, "10.77.0.10")
}

type staticSource struct {
	ann     map[string]string
	subnets []node.Subnet
}

func (s *staticSource) NodeAnnotations() (map[string]string, bool) { return s.ann, true }
func (s *staticSource) Subnets() []node.Subnet                     { return s.subnets }
func (s *staticSource) Changed() <-chan struct{}                   { return make(chan struct{}) }

func pingFrom(t *testing.T, netns, dst string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", filepath.Base(netns), "ping", "-c", "3", "-i", "0.2", "-W", "2", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", dst, netns, err, out)
	}
}

// tcpExchange echoes 4 MiB through a TCP connection between two pods: with
// tx offload left on, the userspace datapath corrupts or drops these
// segments and the exchange fails.
func tcpExchange(t *testing.T, clientNS, serverNS, serverIP string) {
	t.Helper()
	var ln net.Listener
	err := ns.WithNetNSPath(serverNS, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(serverIP, "0"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		_, _ = io.Copy(c, c)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	var conn net.Conn
	err = ns.WithNetNSPath(clientNS, func(ns.NetNS) error {
		var err error
		conn, err = net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("TCP connect: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	payload := make([]byte, 4<<20)
	_, _ = rand.Read(payload)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = conn.Write(payload)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(conn)
	wg.Wait()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("TCP echo: got %d of %d bytes intact (%v)", len(got), len(payload), err)
	}
}

// TestPrivilegedConcurrentAdds plugs several pods at once through the shim
// and removes them again.
func TestPrivilegedConcurrentAdds(t *testing.T) {
	tb := newTestbed(t)
	const n = 8
	type podCase struct{ name, id, netns string }
	cases := make([]podCase, n)
	for i := range cases {
		c := podCase{name: fmt.Sprintf("par-%d", i), id: fmt.Sprintf("c%011d%s", i, strings.Repeat("0", 20))}
		tb.addPod(t, c.name, 100+i, nil)
		c.netns = agenttest.AddNetns(t, fmt.Sprintf("c%d", i))
		cases[i] = c
	}
	var wg sync.WaitGroup
	results := make([]*current.Result, n)
	errs := make([]error, n)
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = tb.tryAdd(c.id, c.netns, c.name)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if r.IPs[0].Address.IP.String() != fmt.Sprintf("10.77.0.%d", 100+i) {
			t.Fatalf("pod %d: result %v", i, r)
		}
	}
	pingFrom(t, cases[0].netns, fmt.Sprintf("10.77.0.%d", 100+n-1))
	for i, c := range cases {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = tb.tryDel(c.id, c.netns, c.name) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	left, err := tb.ports.FindPorts(context.Background(), map[string]string{ovsport.OwnerKey: ovsport.OwnerAgent, networkKey: "kvnet"})
	if err != nil || len(left) != 0 {
		t.Fatalf("ports left after DEL: %v (%v)", left, err)
	}
}

// TestPrivilegedMigrationTargetWaitsForInstallOnly plugs a migration target:
// its logical port is requested on two chassis with RARP activation and its
// switch has no router (no gateway answers): ADD must still succeed, because
// the gateway check is skipped for migration targets, and its interface must
// be ovn-installed.
func TestPrivilegedMigrationTargetWaitsForInstallOnly(t *testing.T) {
	tb := newTestbed(t)
	tb.ovn.NBCtl(t, "ls-add", "kvt-isolated")
	tb.ovn.AddPort(t, "kvt-isolated", "vm.kvt", "0a:58:0a:4e:00:05", "10.78.0.5")
	// As during a live migration: bound to the source and (additionally) to
	// this chassis, blocked here until the guest's RARP activates it.
	tb.ovn.NBCtl(t, "lsp-set-options", "vm.kvt", "requested-chassis=kvt-source,kvt-node", "activation-strategy=rarp")
	tb.pods.Set(&Pod{Namespace: "kvt", Name: "virt-launcher-vm-target",
		Labels: map[string]string{annotations.KubeVirtMigrationJobUID: "job-1"},
		Annotations: map[string]string{
			annotations.Allocated: "true", annotations.Routed: "true", annotations.IPAddress: "10.78.0.5",
			annotations.MACAddress: "0a:58:0a:4e:00:05", annotations.CIDR: "10.78.0.0/24", annotations.Gateway: "10.78.0.1",
			annotations.LogicalSwitch: "kvt-isolated", annotations.PortName: "vm.kvt",
		}})
	netns := agenttest.AddNetns(t, "mt")
	res := tb.add(t, "dddddddddddd0000", netns, "virt-launcher-vm-target")
	if res.IPs[0].Address.String() != "10.78.0.5/24" {
		t.Fatalf("result %s", res)
	}
	iface, ok := tb.ports.Interface(context.Background(), "dddddddddddd_h")
	if !ok || iface.ExternalIDs[ovsport.OVNInstalledKey] != "true" {
		t.Fatalf("migration target not ovn-installed: %+v", iface)
	}
	tb.del(t, "dddddddddddd0000", netns, "virt-launcher-vm-target")
}
