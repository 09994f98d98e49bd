package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Logf prints progress lines.
type Logf func(format string, args ...any)

// Up brings the whole sandbox up and returns once every node is Ready (and,
// with the kvnet network, kvnet's controller and agents are serving). A
// leftover sandbox (crashed or still running) is taken down first.
func Up(ctx context.Context, c Config, log Logf) error {
	start := time.Now()
	if leftovers(c) {
		log("removing the previous sandbox")
		if err := Down(ctx, c, log); err != nil {
			return err
		}
	}
	if !c.SkipInstall {
		if err := EnsurePackages(ctx, log); err != nil {
			return err
		}
	}
	if err := EnsureControlPlane(ctx, c, log); err != nil {
		return err
	}
	if err := checkBinaries(c); err != nil {
		return err
	}
	if err := os.MkdirAll(c.StateDir, 0o755); err != nil {
		return err
	}
	if err := EnsurePKI(c); err != nil {
		return err
	}
	log("starting control plane and OVN fabric (%d nodes)", c.Nodes)
	fabricErr := make(chan error, 1)
	go func() { fabricErr <- startFabric(ctx, c) }()
	if err := startControlPlane(ctx, c); err != nil {
		return fmt.Errorf("control plane: %w (logs in %s)", err, c.Path("logs"))
	}
	if err := <-fabricErr; err != nil {
		return fmt.Errorf("OVN fabric: %w (logs in %s)", err, c.Path("logs"))
	}
	if err := installCNI(c); err != nil {
		return err
	}
	if err := ApplyManifests(ctx, c, filepath.Join(c.RepoDir, "config", "kubevirt")); err != nil {
		return fmt.Errorf("install KubeVirt CRDs: %w", err)
	}
	if _, err := c.Start(Proc{Name: "kubevirt", Args: []string{c.bin("kvnet"), "sandbox", "kubevirt", "--state-dir=" + c.StateDir, fmt.Sprintf("--id=%d", c.ID)}}); err != nil {
		return err
	}
	if c.Network == "kvnet" {
		if err := ApplyManifests(ctx, c, filepath.Join(c.RepoDir, "config", "crd")); err != nil {
			return fmt.Errorf("install kvnet CRDs: %w", err)
		}
		if err := StartController(c); err != nil {
			return err
		}
	}
	for i := 1; i <= c.Nodes; i++ {
		if err := StartKubelet(c, NodeName(i)); err != nil {
			return err
		}
	}
	if c.Network == "kvnet" {
		for i := 1; i <= c.Nodes; i++ {
			if err := StartAgent(c, NodeName(i)); err != nil {
				return err
			}
		}
		if err := RegisterWebhook(ctx, c); err != nil {
			return err
		}
	}
	if err := waitNodesReady(ctx, c, 90*time.Second); err != nil {
		return err
	}
	if c.Network == "kvnet" {
		if err := waitAgents(ctx, c, 90*time.Second); err != nil {
			return err
		}
		if err := waitDefaultSubnet(ctx, c, 60*time.Second); err != nil {
			return err
		}
	}
	if err := checkAlive(c); err != nil {
		return err
	}
	log("sandbox up in %s: %d nodes Ready", time.Since(start).Round(100*time.Millisecond), c.Nodes)
	log("  export KUBECONFIG=%s", c.Kubeconfig())
	return nil
}

func startFabric(ctx context.Context, c Config) error {
	if err := startOVNCentral(ctx, c); err != nil {
		return err
	}
	if err := createUnderlay(ctx, c); err != nil {
		return err
	}
	for i := 1; i <= c.Nodes; i++ {
		if err := startNode(ctx, c, i); err != nil {
			return fmt.Errorf("%s: %w", NodeName(i), err)
		}
	}
	if err := waitChassis(ctx, c); err != nil {
		return err
	}
	primeUnderlay(ctx, c)
	return nil
}

// Binaries kvnet's build puts in bin/.
var kvnetBinaries = []string{"kvnet", "kvnet-controller", "kvnet-agent", "kvnet-cni"}

func (c Config) bin(name string) string { return filepath.Join(c.RepoDir, "bin", name) }

func checkBinaries(c Config) error {
	need := []string{"kvnet"}
	if c.Network == "kvnet" {
		need = kvnetBinaries
	}
	for _, b := range need {
		if _, err := os.Stat(c.bin(b)); err != nil {
			return fmt.Errorf("%s is missing: run `make` first", c.bin(b))
		}
	}
	return nil
}

// StartController starts kvnet-controller in the host namespace.
// Extra controller flags (space-separated) come from KVNET_CONTROLLER_ARGS,
// e.g. the migration benchmark's "--migration-mode=naive".
func StartController(c Config) error {
	wh, err := webhookArgs(c)
	if err != nil {
		return err
	}
	args := append([]string{c.bin("kvnet-controller"),
		"--kubeconfig=" + c.Kubeconfig(), "--ovn-nb-addr=unix:" + c.NBSocket(),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", c.ControllerMetrics()),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", c.ControllerHealth()),
	}, wh...)
	args = append(args, strings.Fields(os.Getenv("KVNET_CONTROLLER_ARGS"))...)
	_, err = c.Start(Proc{Name: "kvnet-controller", Args: args})
	return err
}

// StartKubelet starts node's kubelet stand-in (it also forwards the node
// namespace's 127.0.0.1 apiserver port to the real apiserver).
func StartKubelet(c Config, node string) error {
	_, err := c.Start(Proc{Name: node + "/kubelet", Args: []string{c.bin("kvnet"), "sandbox", "kubelet",
		"--node=" + node, "--state-dir=" + c.StateDir, fmt.Sprintf("--id=%d", c.ID)}})
	return err
}

// StartAgent starts node's kvnet-agent inside the node's namespace.
func StartAgent(c Config, node string) error {
	_, err := c.Start(Proc{Name: node + "/kvnet-agent", Netns: c.NodeNetns(node), Args: []string{c.bin("kvnet-agent"),
		"--node-name=" + node, "--kubeconfig=" + c.Kubeconfig(),
		"--ovs-db=unix:" + c.NodeOVSSocket(node), "--cni-socket=" + c.AgentSocket(node)}})
	return err
}

// installCNI fills the shared CNI bin dir and writes each node's conflist.
func installCNI(c Config) error {
	if err := os.MkdirAll(c.CNIBinDir(), 0o755); err != nil {
		return err
	}
	ents, _ := os.ReadDir("/usr/lib/cni")
	for _, e := range ents {
		_ = os.Symlink(filepath.Join("/usr/lib/cni", e.Name()), filepath.Join(c.CNIBinDir(), e.Name()))
	}
	if c.Network == "kvnet" {
		if err := os.Symlink(c.bin("kvnet-cni"), filepath.Join(c.CNIBinDir(), "kvnet-cni")); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	for i := 1; i <= c.Nodes; i++ {
		node := NodeName(i)
		conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"kvnet","plugins":[{"type":"kvnet-cni","socket":%q}]}`, c.AgentSocket(node))
		if c.Network == "bridge" {
			conf = fmt.Sprintf(`{"cniVersion":"1.0.0","name":"sandbox-bridge","plugins":[{"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,`+
				`"ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.%d.0/24"}]],"dataDir":%q}}]}`, i, c.NodeDir(node, "host-local"))
		}
		if err := os.WriteFile(filepath.Join(c.NodeCNIConfDir(node), "10-kvnet.conflist"), []byte(conf+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// leftovers reports whether anything of an earlier sandbox remains.
func leftovers(c Config) bool {
	if len(c.Running()) > 0 {
		return true
	}
	if _, err := os.Stat(c.StateDir); err == nil {
		return true
	}
	return len(sandboxNetns(c)) > 0
}

func sandboxNetns(c Config) []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), c.NetnsPrefix()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// rssKiB is a process's resident set size in KiB (0 if unknown).
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// checkAlive fails when a process the sandbox started has already exited.
func checkAlive(c Config) error {
	ents, _ := os.ReadDir(c.procDir())
	running := c.Running()
	var dead []string
	for _, e := range ents {
		name := strings.ReplaceAll(strings.TrimSuffix(e.Name(), ".pid"), "_", "/")
		if _, ok := running[name]; !ok {
			dead = append(dead, fmt.Sprintf("%s (log %s)", name, c.LogFile(name)))
		}
	}
	if len(dead) > 0 {
		return fmt.Errorf("exited early: %s", strings.Join(dead, ", "))
	}
	return nil
}

// Down stops every recorded process by PID, deletes every kvs- namespace
// (which takes their links with them) and removes the state directory.
func Down(ctx context.Context, c Config, log Logf) error {
	c.StopAll()
	var errs []error
	for _, ns := range sandboxNetns(c) {
		// Gone meanwhile (another down racing this one) is what we want.
		if err := run(ctx, "ip", "netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(c.StateDir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		log("sandbox removed")
	}
	return errors.Join(errs...)
}

// Status prints what runs, where the logs are, and the nodes.
func Status(ctx context.Context, c Config, log Logf) error {
	if _, err := os.Stat(c.StateDir); err != nil {
		log("no sandbox at %s", c.StateDir)
		return nil
	}
	running := c.Running()
	names := make([]string, 0, len(running))
	for n := range running {
		names = append(names, n)
	}
	sort.Strings(names)
	log("processes (%d running):", len(names))
	var total int64
	for _, n := range names {
		rss := rssKiB(running[n])
		total += rss
		log("  %-28s pid %-7d rss %7.1f MiB  log %s", n, running[n], float64(rss)/1024, c.LogFile(n))
	}
	log("memory: %.0f MiB resident in all", float64(total)/1024)
	log("namespaces: %s", strings.Join(sandboxNetns(c), " "))
	log("kubeconfig: %s", c.Kubeconfig())
	return printNodes(ctx, c, log)
}
