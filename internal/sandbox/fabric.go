package sandbox

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startOVNCentral creates the NB and SB databases and starts their
// ovsdb-servers (unix sockets in the state directory) and ovn-northd.
func startOVNCentral(ctx context.Context, c Config) error {
	dir := c.Path("ovn")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	env := []string{"OVN_RUNDIR=" + dir, "OVS_RUNDIR=" + dir, "OVN_LOGDIR=" + dir, "OVN_DBDIR=" + dir}
	for _, db := range []struct{ name, schema, sock string }{
		{"nb", "/usr/share/ovn/ovn-nb.ovsschema", c.NBSocket()},
		{"sb", "/usr/share/ovn/ovn-sb.ovsschema", c.SBSocket()},
	} {
		file := filepath.Join(dir, db.name+".db")
		if err := run(ctx, "ovsdb-tool", "create", file, db.schema); err != nil {
			return err
		}
		if _, err := c.Start(Proc{Name: "ovn/" + db.name + "-ovsdb", Env: env, Args: []string{"ovsdb-server", file,
			"--remote=punix:" + db.sock, "--unixctl=" + filepath.Join(dir, db.name+".ctl"),
			"--log-file=" + filepath.Join(dir, db.name+".log"), "-vconsole:off", "-vfile:info"}}); err != nil {
			return err
		}
		sock := db.sock
		if err := waitFor(ctx, "OVN "+db.name+" database", 10*time.Second, func() (bool, error) {
			_, err := os.Stat(sock)
			return err == nil, err
		}); err != nil {
			return err
		}
	}
	_, err := c.Start(Proc{Name: "ovn/northd", Nice: dataPlaneNice, Env: env, Args: []string{"ovn-northd",
		"--ovnnb-db=unix:" + c.NBSocket(), "--ovnsb-db=unix:" + c.SBSocket(),
		"--log-file=" + filepath.Join(dir, "northd.log"), "-vconsole:off"}})
	return err
}

// createUnderlay makes the underlay namespace with its bridge.
func createUnderlay(ctx context.Context, c Config) error {
	if err := run(ctx, "ip", "netns", "add", c.UnderlayNetns()); err != nil {
		return err
	}
	for _, a := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", underlayBridge, "type", "bridge"},
		{"link", "set", underlayBridge, "up"},
	} {
		if err := run(ctx, append([]string{"ip", "-n", c.UnderlayNetns()}, a...)...); err != nil {
			return err
		}
	}
	return nil
}

// nodeMAC derives a stable locally administered MAC for a node's device.
func nodeMAC(node, dev string) string {
	h := sha256.Sum256([]byte(node + "/" + dev))
	return net.HardwareAddr{0x0a, 0x58, h[0], h[1], h[2], h[3]}.String()
}

// startNode creates node i's namespace, its underlay link and its OVS/OVN
// daemons, configured for geneve over the userspace datapath.
func startNode(ctx context.Context, c Config, i int) error {
	node := NodeName(i)
	ns := c.NodeNetns(node)
	ovsDir := c.NodeDir(node, "ovs")
	ovnDir := c.NodeDir(node, "ovn")
	for _, d := range []string{ovsDir, ovnDir, c.NodeCNIConfDir(node), c.NodeDir(node, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	link := fmt.Sprintf("%sn%d", c.NetnsPrefix(), i)
	steps := [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", c.UnderlayNetns(), "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "-n", c.UnderlayNetns(), "link", "set", link, "master", underlayBridge, "up"},
		{"ip", "-n", ns, "link", "set", "eth0", "address", nodeMAC(node, "eth0"), "up"},
		// Pitfall 3 of SANDBOX-NOTES: OVS reads this veth with AF_PACKET and does
		// not complete partial checksums or split TSO frames.
		{"ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"},
		// Pitfall 4: the node's kernel must not answer underlay ARP for br-phy's address.
		{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"},
		{"ovsdb-tool", "create", filepath.Join(ovsDir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"},
	}
	for _, s := range steps {
		if err := run(ctx, s...); err != nil {
			return err
		}
	}
	env := []string{"OVS_RUNDIR=" + ovsDir, "OVS_LOGDIR=" + ovsDir, "OVS_DBDIR=" + ovsDir, "OVN_RUNDIR=" + ovnDir, "OVN_LOGDIR=" + ovnDir}
	sock := c.NodeOVSSocket(node)
	if _, err := c.Start(Proc{Name: node + "/ovsdb-server", Nice: dataPlaneNice, Netns: ns, Env: env, Args: []string{"ovsdb-server",
		filepath.Join(ovsDir, "conf.db"), "--remote=punix:" + sock,
		"--unixctl=" + filepath.Join(ovsDir, "ovsdb-server.ctl"),
		"--log-file=" + filepath.Join(ovsDir, "ovsdb-server.log"), "-vconsole:off"}}); err != nil {
		return err
	}
	if err := waitFor(ctx, node+" ovsdb-server", 10*time.Second, func() (bool, error) {
		_, err := os.Stat(sock)
		return err == nil, err
	}); err != nil {
		return err
	}
	vsctl := func(args ...string) error {
		return run(ctx, append([]string{"ovs-vsctl", "--db=unix:" + sock, "--timeout=10"}, args...)...)
	}
	addr := UnderlayAddr(i)
	if err := vsctl("--no-wait", "init", "--", "set", "Open_vSwitch", ".",
		"external_ids:system-id="+node, "external_ids:hostname="+node,
		"external_ids:ovn-remote=unix:"+c.SBSocket(),
		"external_ids:ovn-encap-type=geneve", "external_ids:ovn-encap-ip="+addr.String(),
		"external_ids:ovn-bridge-datapath-type=netdev",
		"other_config:vlan-limit=0"); err != nil {
		return err
	}
	if _, err := c.Start(Proc{Name: node + "/ovs-vswitchd", Nice: dataPlaneNice, Netns: ns, Env: env, Args: []string{"ovs-vswitchd",
		"unix:" + sock, "--unixctl=" + filepath.Join(ovsDir, "ovs-vswitchd.ctl"),
		"--log-file=" + filepath.Join(ovsDir, "ovs-vswitchd.log"), "-vconsole:off"}}); err != nil {
		return err
	}
	if err := vsctl("--may-exist", "add-br", "br-phy", "--", "set", "Bridge", "br-phy", "datapath_type=netdev",
		"other_config:hwaddr=\""+nodeMAC(node, "br-phy")+"\"", "--", "--may-exist", "add-port", "br-phy", "eth0"); err != nil {
		return err
	}
	if err := waitFor(ctx, node+" br-phy", 10*time.Second, func() (bool, error) {
		return run(ctx, "ip", "-n", ns, "link", "show", "br-phy") == nil, nil
	}); err != nil {
		return err
	}
	for _, s := range [][]string{
		{"ip", "-n", ns, "addr", "add", addr.String() + "/24", "dev", "br-phy"},
		{"ip", "-n", ns, "link", "set", "br-phy", "up"},
	} {
		if err := run(ctx, s...); err != nil {
			return err
		}
	}
	_, err := c.Start(Proc{Name: node + "/ovn-controller", Nice: dataPlaneNice, Netns: ns, Env: env, Args: []string{"ovn-controller",
		"unix:" + sock, "--log-file=" + filepath.Join(ovnDir, "ovn-controller.log"), "-vconsole:off"}})
	return err
}

// waitChassis waits until every node's Chassis is registered in OVN SB.
func waitChassis(ctx context.Context, c Config) error {
	return waitFor(ctx, "all chassis in OVN SB", 30*time.Second, func() (bool, error) {
		out, err := output(ctx, "ovn-sbctl", "--db=unix:"+c.SBSocket(), "--timeout=5", "--bare", "--columns=name", "list", "Chassis")
		if err != nil {
			return false, err
		}
		return len(strings.Fields(out)) >= c.Nodes, fmt.Errorf("chassis so far: %q", out)
	})
}

// primeUnderlay pings every other node once from each node, so the userspace
// tunnel's neighbour entries exist before pods talk (SANDBOX-NOTES pitfall 5).
func primeUnderlay(ctx context.Context, c Config) {
	for i := 1; i <= c.Nodes; i++ {
		for j := 1; j <= c.Nodes; j++ {
			if i != j {
				_ = run(ctx, "ip", "netns", "exec", c.NodeNetns(NodeName(i)), "ping", "-c1", "-W1", UnderlayAddr(j).String())
			}
		}
	}
}
