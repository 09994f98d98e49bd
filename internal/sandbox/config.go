package sandbox

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// Ports on loopback of sandbox 0; sandbox N adds 100*N. They avoid every
// port Kubernetes, etcd, OVN and OVS use by default, so a sandbox can run on a
// machine that also runs any of them.
const (
	etcdClientPort     = 12379
	etcdPeerPort       = 12380
	apiServerPort      = 16443
	controllerMgrPort  = 16444
	schedulerPort      = 16445
	controllerMetrics  = 16446
	controllerHealth   = 16447
	webhookPort        = 16448
	KubernetesVersion  = "v1.37.2"
	ServiceClusterCIDR = "10.96.0.0/16"

	underlayBridge = "kvs-br0"
)

// underlayPrefix is the nodes' underlay network. It is TEST-NET-1 (RFC 5737),
// documentation space that no real network routes, and it only ever exists
// inside the sandbox's own namespaces.
var underlayPrefix = netip.MustParsePrefix("192.0.2.0/24")

// Config says where the sandbox lives and what it runs.
type Config struct {
	// ID tells sandboxes on one machine apart (0-9): it offsets every port by
	// 100*ID and is part of every namespace name and of the state directory.
	ID int
	// StateDir holds certificates, databases, logs, sockets and PID records.
	StateDir string
	// RepoDir is the kvnet source tree (bin/ and hack/k8s are found there).
	RepoDir string
	// CacheDir keeps the built control-plane binaries across sandboxes.
	CacheDir string
	// Nodes is the number of nodes (node-1 ... node-N).
	Nodes int
	// Network is "kvnet" (default: kvnet's controller, agents and CNI) or
	// "bridge" (Debian's reference bridge + host-local plugins, no kvnet).
	Network string
	// SkipInstall leaves the Debian packages alone (they must be present).
	SkipInstall bool
}

// DefaultConfig reads KVNET_SANDBOX_DIR and KVNET_CACHE_DIR, falling back to
// /var/lib/kvnet-sandbox and /var/cache/kvnet.
func DefaultConfig(repo string) Config {
	id, _ := strconv.Atoi(os.Getenv("KVNET_SANDBOX_ID"))
	state := "/var/lib/kvnet-sandbox"
	if id != 0 {
		state = fmt.Sprintf("%s-%d", state, id)
	}
	return Config{
		ID:       id,
		StateDir: envOr("KVNET_SANDBOX_DIR", state),
		CacheDir: envOr("KVNET_CACHE_DIR", "/var/cache/kvnet"),
		RepoDir:  repo,
		Nodes:    3,
		Network:  "kvnet",
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Path joins elements under the state directory.
func (c Config) Path(elem ...string) string {
	return filepath.Join(append([]string{c.StateDir}, elem...)...)
}

// Kubeconfig is the admin kubeconfig's path.
func (c Config) Kubeconfig() string { return c.Path("kubeconfig") }

// NBSocket and SBSocket are OVN central's database sockets.
func (c Config) NBSocket() string { return c.Path("ovn", "nb.sock") }
func (c Config) SBSocket() string { return c.Path("ovn", "sb.sock") }

// NodeName is the Kubernetes name of node i (1-based).
func NodeName(i int) string { return fmt.Sprintf("node-%d", i) }

// NetnsPrefix starts the name of every network namespace this sandbox
// creates: "kvs-" for sandbox 0, "kvsN-" for sandbox N.
func (c Config) NetnsPrefix() string {
	if c.ID == 0 {
		return "kvs-"
	}
	return fmt.Sprintf("kvs%d-", c.ID)
}

// NodeNetns is the network namespace of a node.
func (c Config) NodeNetns(node string) string { return c.NetnsPrefix() + node }

// UnderlayNetns holds the Linux bridge that joins the nodes' underlay links.
func (c Config) UnderlayNetns() string { return c.NetnsPrefix() + "underlay" }

// PodNetns is the network namespace the kubelet stand-in makes for a pod.
func (c Config) PodNetns(uid string) string { return c.NetnsPrefix() + "pod-" + uid }

func (c Config) port(base int) int { return base + 100*c.ID }

// Loopback ports of this sandbox's components.
func (c Config) EtcdClientPort() int    { return c.port(etcdClientPort) }
func (c Config) EtcdPeerPort() int      { return c.port(etcdPeerPort) }
func (c Config) APIServerPort() int     { return c.port(apiServerPort) }
func (c Config) ControllerMgrPort() int { return c.port(controllerMgrPort) }
func (c Config) SchedulerPort() int     { return c.port(schedulerPort) }
func (c Config) ControllerMetrics() int { return c.port(controllerMetrics) }
func (c Config) ControllerHealth() int  { return c.port(controllerHealth) }
func (c Config) WebhookPort() int       { return c.port(webhookPort) }

// NodeDir is a node's directory (OVS database and sockets, CNI config, logs).
func (c Config) NodeDir(node string, elem ...string) string {
	return c.Path(append([]string{"nodes", node}, elem...)...)
}

// NodeOVSSocket is the node's Open_vSwitch database socket.
func (c Config) NodeOVSSocket(node string) string { return c.NodeDir(node, "ovs", "db.sock") }

// NodeCNIConfDir is the directory the node's kubelet stand-in reads CNI config from.
func (c Config) NodeCNIConfDir(node string) string { return c.NodeDir(node, "cni", "net.d") }

// CNIBinDir holds the CNI plugins every node may call.
func (c Config) CNIBinDir() string { return c.Path("cni", "bin") }

// AgentSocket is the node agent's CNI socket.
func (c Config) AgentSocket(node string) string { return c.NodeDir(node, "run", "cni.sock") }

// UnderlayAddr is node i's address on the underlay (192.0.2.10+i).
func UnderlayAddr(i int) netip.Addr {
	a := underlayPrefix.Addr().As4()
	a[3] = byte(10 + i)
	return netip.AddrFrom4(a)
}

// K8sBinDir is where the built control-plane binaries are cached.
func (c Config) K8sBinDir() string { return filepath.Join(c.CacheDir, "k8s-"+KubernetesVersion) }
