package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/vswitch"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// FloorResult is the floor of pod network-ready latency: the same pods
// plugged into OVN by hand, with no kvnet process involved (no apiserver,
// controller, kubelet, CNI or agent), on the same nodes in the same run.
//
// Per pod, in this order: a network namespace with lo up; a veth pair with
// the host end in the node's namespace and eth0 (MAC, address, MTU 1400,
// default route) in the pod's; a logical switch port with addresses and
// port security in NB (one transaction); an OVS port with
// external_ids:iface-id on the node's br-int through the node's OVSDB (one
// transaction); wait for ovn-controller's ovn-installed; ICMP echo to the
// gateway every 10 ms until it answers. Netlink and libovsdb are used
// directly (no process is spawned per pod). All pods are requested at t0 and
// each node plugs Parallel pods at a time (the kubelet stand-in's pod
// workers). The logical switch 10.251.0.0/16 hangs off its own logical
// router, so nothing of kvnet's is touched.
type FloorResult struct {
	Pods     int `json:"pods"`
	Nodes    int `json:"nodes"`
	Parallel int `json:"parallel"`
	// LatencyMs is from t0 to the pod's gateway answering.
	LatencyMs Summary   `json:"latencyMs"`
	Samples   []float64 `json:"samplesMs"`
	// ServiceMs is from a worker taking the pod up to its gateway answering.
	ServiceMs Summary `json:"serviceMs"`
	// StepsMs summarises each step's duration over the pods.
	StepsMs map[string]Summary `json:"stepsMs"`
	TotalMs float64            `json:"totalMs"`
}

// Floor steps, in order.
var floorSteps = []string{"netns", "veth", "nb-lsp", "ovs-port", "ovn-installed", "gateway-ping"}

const (
	floorName   = "kvnet-bench-floor"
	floorPrefix = "10.251.0.0/16"
	floorGW     = "10.251.0.1"
	floorMTU    = 1400
	floorTagKey = "kvnet-bench"
)

// floorNode is one sandbox node as the floor uses it.
type floorNode struct {
	name   string
	ns     netns.NsHandle
	nl     *netlink.Handle
	ovs    client.Client
	brUUID string

	mu        sync.Mutex
	installed map[string]chan struct{} // interface name -> closed once ovn-installed
}

// Floor plugs n pods by hand over cfg's nodes and removes them again.
func Floor(ctx context.Context, cfg sandbox.Config, n, parallel int, progress func(string, ...any)) (FloorResult, error) {
	res := FloorResult{Pods: n, Nodes: cfg.Nodes, Parallel: parallel}
	floorCleanup(cfg) // leftovers of an interrupted run
	defer floorCleanup(cfg)
	lsUUID, err := floorTopology(ctx, cfg)
	if err != nil {
		return res, err
	}
	nb, err := connectOVSDB(ctx, "unix:"+cfg.NBSocket(), nbdb.FullDatabaseModel)
	if err != nil {
		return res, err
	}
	defer nb.Close()
	var nodes []*floorNode
	for i := 1; i <= cfg.Nodes; i++ {
		nd, err := openFloorNode(ctx, cfg, sandbox.NodeName(i))
		if err != nil {
			return res, err
		}
		defer nd.close()
		nodes = append(nodes, nd)
	}
	b := &floorBatch{cfg: cfg, nb: nb, lsUUID: lsUUID, gw: netip.MustParseAddr(floorGW), n: n, progress: progress,
		samples: make([]float64, n), service: make([]float64, n), steps: map[string][]float64{}}
	if err := b.run(ctx, nodes, parallel); err != nil {
		return res, err
	}
	res.TotalMs = b.totalMs
	res.Samples = b.samples
	res.LatencyMs, res.ServiceMs = Summarize(b.samples), Summarize(b.service)
	res.StepsMs = map[string]Summary{}
	for s, xs := range b.steps {
		res.StepsMs[s] = Summarize(xs)
	}
	return res, nil
}

// floorTopology creates the floor's logical router and switch (with ovn-nbctl:
// not timed) and returns the switch's UUID.
func floorTopology(ctx context.Context, cfg sandbox.Config) (string, error) {
	if _, err := runOut(ctx, "ovn-nbctl", "--db=unix:"+cfg.NBSocket(), "--timeout=30",
		"lr-add", floorName, "--",
		"lrp-add", floorName, floorName+"-lrp", "0a:58:0a:fb:00:01", floorGW+"/16", "--",
		"ls-add", floorName, "--",
		"lsp-add", floorName, floorName+"-rtr", "--",
		"lsp-set-type", floorName+"-rtr", "router", "--",
		"lsp-set-addresses", floorName+"-rtr", "router", "--",
		"lsp-set-options", floorName+"-rtr", "router-port="+floorName+"-lrp"); err != nil {
		return "", fmt.Errorf("floor topology: %w", err)
	}
	return runOut(ctx, "ovn-nbctl", "--db=unix:"+cfg.NBSocket(), "--bare", "--columns=_uuid", "find", "Logical_Switch", "name="+floorName)
}

// floorBatch plugs n pods, all requested at t0, `parallel` at a time per node.
type floorBatch struct {
	cfg      sandbox.Config
	nb       client.Client
	lsUUID   string
	gw       netip.Addr
	n        int
	progress func(string, ...any)

	mu      sync.Mutex
	samples []float64 // t0 to ready, by pod
	service []float64 // picked up to ready, by pod
	steps   map[string][]float64
	done    int
	totalMs float64
}

func (b *floorBatch) run(ctx context.Context, nodes []*floorNode, parallel int) error {
	queues := make([]chan int, len(nodes))
	for k := range queues {
		queues[k] = make(chan int, b.n)
	}
	for i := 0; i < b.n; i++ {
		queues[i%len(nodes)] <- i
	}
	for _, q := range queues {
		close(q)
	}
	errc := make(chan error, len(nodes)*parallel)
	var wg sync.WaitGroup
	t0 := time.Now()
	for k, nd := range nodes {
		for w := 0; w < parallel; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range queues[k] {
					picked := time.Now()
					st, err := plugFloorPod(ctx, b.cfg, b.nb, b.lsUUID, nd, i, b.gw)
					if err != nil {
						errc <- fmt.Errorf("floor pod %d on %s: %w", i, nd.name, err)
						return
					}
					b.record(i, t0, picked, st)
				}
			}()
		}
	}
	wg.Wait()
	b.totalMs = ms(time.Since(t0))
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (b *floorBatch) record(i int, t0, picked time.Time, st map[string]time.Duration) {
	end := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.samples[i], b.service[i] = ms(end.Sub(t0)), ms(end.Sub(picked))
	for s, d := range st {
		b.steps[s] = append(b.steps[s], ms(d))
	}
	b.done++
	if b.done%50 == 0 {
		b.progress("  floor: %d/%d pods plugged", b.done, b.n)
	}
}

// floorAddr is pod i's address and MAC.
func floorAddr(i int) (netip.Prefix, net.HardwareAddr) {
	base := netip.MustParsePrefix(floorPrefix).Addr().As4()
	v := binary.BigEndian.Uint32(base[:]) + 10 + uint32(i)
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], v)
	mac := net.HardwareAddr{0x0a, 0x58, a[0], a[1], a[2], a[3]}
	return netip.PrefixFrom(netip.AddrFrom4(a), 16), mac
}

func floorNetns(cfg sandbox.Config, i int) string {
	return fmt.Sprintf("%sfloor-%d", cfg.NetnsPrefix(), i)
}
func floorHostIf(i int) string { return fmt.Sprintf("flr%d", i) }
func floorLSP(i int) string    { return fmt.Sprintf("%s-%d", floorName, i) }

// plugFloorPod does the floor's steps for pod i and returns their durations.
func plugFloorPod(ctx context.Context, cfg sandbox.Config, nb client.Client, lsUUID string, nd *floorNode, i int, gw netip.Addr) (map[string]time.Duration, error) {
	st := map[string]time.Duration{}
	t := time.Now()
	lap := func(step string) { now := time.Now(); st[step] = now.Sub(t); t = now }
	addr, mac := floorAddr(i)
	// netns
	podNS, err := newNamedNetns(floorNetns(cfg, i))
	if err != nil {
		return nil, err
	}
	defer podNS.Close()
	podNL, err := netlink.NewHandleAt(podNS)
	if err != nil {
		return nil, err
	}
	defer podNL.Close()
	if lo, err := podNL.LinkByName("lo"); err == nil {
		if err := podNL.LinkSetUp(lo); err != nil {
			return nil, err
		}
	}
	lap("netns")
	// veth
	host := floorHostIf(i)
	if err := nd.nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, MTU: floorMTU},
		PeerName: "eth0", PeerHardwareAddr: mac, PeerNamespace: netlink.NsFd(int(podNS))}); err != nil {
		return nil, fmt.Errorf("veth: %w", err)
	}
	hl, err := nd.nl.LinkByName(host)
	if err != nil {
		return nil, err
	}
	if err := nd.nl.LinkSetUp(hl); err != nil {
		return nil, err
	}
	eth0, err := podNL.LinkByName("eth0")
	if err != nil {
		return nil, err
	}
	ipnet := &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), 32)}
	if err := podNL.AddrAdd(eth0, &netlink.Addr{IPNet: ipnet}); err != nil {
		return nil, err
	}
	if err := podNL.LinkSetUp(eth0); err != nil {
		return nil, err
	}
	if err := podNL.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw.AsSlice()}); err != nil {
		return nil, fmt.Errorf("default route: %w", err)
	}
	lap("veth")
	// logical switch port
	ids := fmt.Sprintf("%s %s", mac, addr.Addr())
	lsp := &nbdb.LogicalSwitchPort{UUID: "floorlsp", Name: floorLSP(i), Addresses: []string{ids}, PortSecurity: []string{ids},
		ExternalIDs: map[string]string{floorTagKey: "floor"}}
	ops, err := nb.Create(lsp)
	if err != nil {
		return nil, err
	}
	ls := &nbdb.LogicalSwitch{UUID: lsUUID}
	mut, err := nb.Where(ls).Mutate(ls, model.Mutation{Field: &ls.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{lsp.UUID}})
	if err != nil {
		return nil, err
	}
	if err := transact(ctx, nb, append(ops, mut...)); err != nil {
		return nil, fmt.Errorf("NB: %w", err)
	}
	lap("nb-lsp")
	// OVS port
	wait := nd.expect(host)
	iface := &vswitch.Interface{UUID: "flriface", Name: host, ExternalIDs: map[string]string{"iface-id": floorLSP(i), "attached-mac": mac.String(), floorTagKey: "floor"}}
	port := &vswitch.Port{UUID: "flrport", Name: host, Interfaces: []string{iface.UUID}, ExternalIDs: map[string]string{floorTagKey: "floor"}}
	ops, err = nd.ovs.Create(iface)
	if err != nil {
		return nil, err
	}
	portOps, err := nd.ovs.Create(port)
	if err != nil {
		return nil, err
	}
	ops = append(ops, portOps...)
	br := &vswitch.Bridge{UUID: nd.brUUID}
	mut, err = nd.ovs.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID}})
	if err != nil {
		return nil, err
	}
	if err := transact(ctx, nd.ovs, append(ops, mut...)); err != nil {
		return nil, fmt.Errorf("OVS: %w", err)
	}
	lap("ovs-port")
	select {
	case <-wait:
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("no ovn-installed on %s after 60s", host)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	lap("ovn-installed")
	if err := pingFrom(ctx, podNS, gw, 10*time.Millisecond, 30*time.Second); err != nil {
		return nil, err
	}
	lap("gateway-ping")
	return st, nil
}

func transact(ctx context.Context, c client.Client, ops []ovsdb.Operation) error {
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		return err
	}
	_, err = ovsdb.CheckOperationResults(res, ops)
	return err
}

// connectOVSDB connects a libovsdb client (no monitor).
func connectOVSDB(ctx context.Context, endpoint string, mdl func() (model.ClientDBModel, error)) (client.Client, error) {
	dbModel, err := mdl()
	if err != nil {
		return nil, err
	}
	log := logr.Discard()
	c, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(endpoint), client.WithLogger(&log))
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		return nil, fmt.Errorf("connect %s: %w", endpoint, err)
	}
	return c, nil
}

func openFloorNode(ctx context.Context, cfg sandbox.Config, node string) (*floorNode, error) {
	nd := &floorNode{name: node, installed: map[string]chan struct{}{}}
	var err error
	if nd.ns, err = netns.GetFromName(cfg.NodeNetns(node)); err != nil {
		return nil, err
	}
	if nd.nl, err = netlink.NewHandleAt(nd.ns); err != nil {
		nd.ns.Close()
		return nil, err
	}
	sock := cfg.NodeOVSSocket(node)
	if nd.brUUID, err = runOut(ctx, "ovs-vsctl", "--db=unix:"+sock, "--timeout=10", "get", "Bridge", "br-int", "_uuid"); err != nil {
		nd.close()
		return nil, err
	}
	if nd.ovs, err = connectOVSDB(ctx, "unix:"+sock, vswitch.FullDatabaseModel); err != nil {
		nd.close()
		return nil, err
	}
	nd.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(_ string, m model.Model) { nd.seen(m) },
		UpdateFunc: func(_ string, _, m model.Model) { nd.seen(m) },
	})
	iface := &vswitch.Interface{}
	if _, err := nd.ovs.Monitor(ctx, nd.ovs.NewMonitor(client.WithTable(iface, &iface.Name, &iface.ExternalIDs))); err != nil {
		nd.close()
		return nil, fmt.Errorf("monitor %s interfaces: %w", node, err)
	}
	return nd, nil
}

// expect returns a channel closed once interface name is ovn-installed.
func (nd *floorNode) expect(name string) <-chan struct{} {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.chanLocked(name)
}

func (nd *floorNode) chanLocked(name string) chan struct{} {
	ch, ok := nd.installed[name]
	if !ok {
		ch = make(chan struct{})
		nd.installed[name] = ch
	}
	return ch
}

func (nd *floorNode) seen(m model.Model) {
	iface, ok := m.(*vswitch.Interface)
	if !ok || iface.ExternalIDs["ovn-installed"] != "true" || !strings.HasPrefix(iface.Name, "flr") {
		return
	}
	nd.mu.Lock()
	defer nd.mu.Unlock()
	ch := nd.chanLocked(iface.Name)
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (nd *floorNode) close() {
	if nd.ovs != nil {
		nd.ovs.Close()
	}
	if nd.nl != nil {
		nd.nl.Close()
	}
	nd.ns.Close()
}

// newNamedNetns creates /run/netns/name without leaving this goroutine's
// thread in it.
func newNamedNetns(name string) (netns.NsHandle, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return 0, err
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		// The thread is stuck in the new namespace: let it die with the goroutine.
		return h, fmt.Errorf("return to the original netns: %w", serr)
	}
	runtime.UnlockOSThread()
	return h, err
}

// pingFrom sends ICMP echo requests to dst from inside the namespace every
// interval until one is answered.
func pingFrom(ctx context.Context, ns netns.NsHandle, dst netip.Addr, interval, timeout time.Duration) error {
	conn, err := icmpIn(ns)
	if err != nil {
		return err
	}
	defer conn.Close()
	id := rand.IntN(0xffff)
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for seq := 1; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("kvnet-floor")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := conn.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return fmt.Errorf("ping %s: %w", dst, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(interval))
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				break // deadline: send the next request
			}
			if ip, ok := peer.(*net.IPAddr); !ok || !ip.IP.Equal(dst.AsSlice()) {
				continue
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id {
				return nil
			}
		}
	}
	return fmt.Errorf("no echo reply from %s after %s", dst, timeout)
}

// icmpIn opens a raw ICMP socket inside ns (the socket stays there).
func icmpIn(ns netns.NsHandle) (*icmp.PacketConn, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	conn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if serr := netns.Set(orig); serr != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("return to the original netns: %w", serr)
	}
	runtime.UnlockOSThread()
	return conn, err
}

// floorCleanup removes everything Floor makes: its NB router and switch
// (with their ports), its OVS ports on every node and its namespaces (their
// veths go with them).
func floorCleanup(cfg sandbox.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, _ = runOut(ctx, "ovn-nbctl", "--db=unix:"+cfg.NBSocket(), "--timeout=30", "--if-exists", "ls-del", floorName, "--", "--if-exists", "lr-del", floorName)
	for i := 1; i <= cfg.Nodes; i++ {
		sock := "--db=unix:" + cfg.NodeOVSSocket(sandbox.NodeName(i))
		names, err := runOut(ctx, "ovs-vsctl", sock, "--timeout=30", "--bare", "--columns=name", "find", "Port", "external_ids:"+floorTagKey+"=floor")
		if err != nil || names == "" {
			continue
		}
		args := []string{sock, "--timeout=60"}
		for _, p := range strings.Fields(names) {
			args = append(args, "--", "--if-exists", "del-port", "br-int", p)
		}
		_, _ = runOut(ctx, "ovs-vsctl", args...)
	}
	ents, _ := os.ReadDir("/run/netns")
	prefix := floorNetns(cfg, 0)
	prefix = prefix[:len(prefix)-1]
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			_ = netns.DeleteNamed(filepath.Base(e.Name()))
		}
	}
}
