package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
)

// cniRuntime calls CNI plugins the way a container runtime on the node does.
type cniRuntime struct {
	nodeNetns string   // path of the node's network namespace
	confDir   string   // the node's CNI config dir
	binDirs   []string // where plugin binaries are found
	cacheDir  string   // libcni's result cache
}

// podNet identifies one pod sandbox for CNI.
type podNet struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	UID         string `json:"uid"`
	ContainerID string `json:"containerID"`
	Netns       string `json:"netns"` // name under /run/netns
	IfName      string `json:"ifName"`
}

func (p podNet) netnsPath() string { return filepath.Join("/run/netns", p.Netns) }

func (p podNet) runtimeConf() *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: p.ContainerID,
		NetNS:       p.netnsPath(),
		IfName:      p.IfName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", p.ContainerID},
			{"K8S_POD_UID", p.UID},
		},
	}
}

// confList loads the first network configuration list of the node's config
// dir in lexical order, as the kubelet's CNI manager picks the default network.
func (r *cniRuntime) confList() (*libcni.NetworkConfigList, error) {
	files, err := libcni.ConfFiles(r.confDir, []string{".conflist"})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CNI network config in %s", r.confDir)
	}
	return libcni.NetworkConfFromFile(files[0])
}

// inNode runs fn on a thread inside the node's network namespace, so the
// plugin processes libcni starts are born there.
func (r *cniRuntime) inNode(fn func() error) error {
	nodeNS, err := ns.GetNS(r.nodeNetns)
	if err != nil {
		return err
	}
	defer nodeNS.Close()
	return nodeNS.Do(func(ns.NetNS) error { return fn() })
}

func (r *cniRuntime) cni() *libcni.CNIConfig {
	return libcni.NewCNIConfigWithCacheDir(r.binDirs, r.cacheDir, nil)
}

// setUp creates the pod's network namespace and runs ADD; on failure the
// namespace stays for the retry (the runtime keeps its sandbox too).
func (r *cniRuntime) setUp(ctx context.Context, p podNet) (*types100.Result, error) {
	if _, err := os.Stat(p.netnsPath()); errors.Is(err, os.ErrNotExist) {
		if out, err := exec.CommandContext(ctx, "ip", "netns", "add", p.Netns).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("create netns %s: %w: %s", p.Netns, err, out)
		}
		if out, err := exec.CommandContext(ctx, "ip", "-n", p.Netns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("loopback up in %s: %w: %s", p.Netns, err, out)
		}
	}
	list, err := r.confList()
	if err != nil {
		return nil, err
	}
	var res types.Result
	if err := r.inNode(func() error {
		var aerr error
		res, aerr = r.cni().AddNetworkList(ctx, list, p.runtimeConf())
		return aerr
	}); err != nil {
		return nil, err
	}
	return types100.NewResultFromResult(res)
}

// check runs CHECK for a pod whose sandbox exists.
func (r *cniRuntime) check(ctx context.Context, p podNet) error {
	list, err := r.confList()
	if err != nil {
		return err
	}
	return r.inNode(func() error { return r.cni().CheckNetworkList(ctx, list, p.runtimeConf()) })
}

// tearDown runs DEL and removes the namespace. DEL runs even when the
// namespace is already gone (plugins must then clean up what they can).
func (r *cniRuntime) tearDown(ctx context.Context, p podNet) error {
	list, err := r.confList()
	if err != nil {
		return err
	}
	rt := p.runtimeConf()
	if _, err := os.Stat(p.netnsPath()); err != nil {
		rt.NetNS = ""
	}
	if err := r.inNode(func() error { return r.cni().DelNetworkList(ctx, list, rt) }); err != nil {
		return err
	}
	if _, err := os.Stat(p.netnsPath()); err == nil {
		if out, err := exec.CommandContext(ctx, "ip", "netns", "del", p.Netns).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "No such file") {
			return fmt.Errorf("delete netns %s: %w: %s", p.Netns, err, out)
		}
	}
	return nil
}
