package cniserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kvnet/kvnet/internal/agent/attachment"
	"github.com/kvnet/kvnet/internal/agent/cniapi"
	"github.com/kvnet/kvnet/internal/agent/netconf"
	"github.com/kvnet/kvnet/internal/agent/ovsport"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/ovn/vswitch"
)

// OVS external_ids the agent writes on pod ports, besides ovsport's keys.
const (
	podNameKey      = "pod_name"
	podNamespaceKey = "pod_namespace"
	ipKey           = "ip"
	vendorKey       = "vendor"
	containerIDKey  = "kvnet.io/container-id"
	ifNameKey       = "kvnet.io/ifname"
	networkKey      = "kvnet.io/network"
)

// Ports is the Open_vSwitch database as the handler uses it (ovsport.Client).
type Ports interface {
	EnsurePort(ctx context.Context, p ovsport.Port) error
	DeletePort(ctx context.Context, name string) error
	FindPorts(ctx context.Context, match map[string]string) ([]ovsport.PortInfo, error)
	WaitInstalled(ctx context.Context, name string) error
	Interface(ctx context.Context, name string) (*vswitch.Interface, bool)
}

// Datapath is the kernel side (netconf in the agent).
type Datapath interface {
	SetupPod(p netconf.Pod) (net.HardwareAddr, error)
	TeardownPod(hostIfName, netnsPath, ifName string) error
	CheckPod(p netconf.Pod) error
	Ping(ctx context.Context, netnsPath string, dst netip.Addr) error
}

// Kernel is the Datapath of a real node.
type Kernel struct{}

func (Kernel) SetupPod(p netconf.Pod) (net.HardwareAddr, error) { return netconf.SetupPod(p) }
func (Kernel) TeardownPod(host, netns, ifName string) error {
	return netconf.TeardownPod(host, netns, ifName)
}
func (Kernel) CheckPod(p netconf.Pod) error { return netconf.CheckPod(p) }
func (Kernel) Ping(ctx context.Context, netns string, dst netip.Addr) error {
	return netconf.PingFrom(ctx, netns, dst)
}

// GatewayPolicy says whether a subnet turned the gateway check off
// (Subnet spec.disableGatewayCheck).
type GatewayPolicy interface {
	GatewayCheckDisabled(subnet string) bool
}

// Config tunes the handler.
type Config struct {
	NodeName string
	// Bridge is the integration bridge (br-int).
	Bridge string
	MTU    int
	// NetdevDatapath turns tx offload off on both veth ends (userspace datapath).
	NetdevDatapath bool
	// WaitTimeout bounds each wait of an ADD: for the controller's
	// annotations, for ovn-installed, and for the gateway.
	WaitTimeout time.Duration
	// GatewayCheck pings the gateway from a new pod before ADD returns.
	GatewayCheck bool
	// Observe, if set, is told the outcome (CNI error code, 0 for success)
	// and duration of every command, for metrics.
	Observe func(command string, code uint, d time.Duration)
}

// Handler carries out CNI commands. It is safe for concurrent use; calls for
// the same container are serialized.
type Handler struct {
	cfg      Config
	pods     Pods
	ports    Ports
	dp       Datapath
	gwPolicy GatewayPolicy
	ready    func() error
	log      *slog.Logger

	mu    sync.Mutex
	locks map[string]*containerLock
}

type containerLock struct {
	mu   sync.Mutex
	refs int
}

// NewHandler builds a handler. gwPolicy may be nil (the check is then only
// governed by cfg.GatewayCheck); ready answers STATUS (nil: always ready).
func NewHandler(cfg Config, pods Pods, ports Ports, dp Datapath, gwPolicy GatewayPolicy, ready func() error, log *slog.Logger) *Handler {
	if ready == nil {
		ready = func() error { return nil }
	}
	return &Handler{cfg: cfg, pods: pods, ports: ports, dp: dp, gwPolicy: gwPolicy, ready: ready, log: log,
		locks: map[string]*containerLock{}}
}

// Handle runs one CNI command and classifies any failure as a CNI error.
func (h *Handler) Handle(ctx context.Context, req *cniapi.Request) (json.RawMessage, *types.Error) {
	start := time.Now()
	log := h.log.With("command", req.Command, "container", req.ContainerID, "ifname", req.IfName)
	result, err := h.dispatch(ctx, req, log)
	var cniErr *types.Error
	if err != nil {
		cniErr = toCNIError(err)
		log.Error("CNI command failed", "code", cniErr.Code, "msg", cniErr.Msg, "details", cniErr.Details,
			"duration", time.Since(start))
	} else {
		log.Info("CNI command done", "duration", time.Since(start))
	}
	if h.cfg.Observe != nil {
		code := uint(0)
		if cniErr != nil {
			code = cniErr.Code
		}
		h.cfg.Observe(req.Command, code, time.Since(start))
	}
	return result, cniErr
}

func (h *Handler) dispatch(ctx context.Context, req *cniapi.Request, log *slog.Logger) (json.RawMessage, error) {
	conf, err := cniapi.ParseNetConf(req.Config)
	if err != nil {
		return nil, coded(types.ErrInvalidNetworkConfig, "invalid kvnet network configuration", err)
	}
	switch req.Command {
	case "STATUS":
		if err := h.ready(); err != nil {
			return nil, coded(types.ErrPluginNotAvailable, "kvnet agent not ready", err)
		}
		return nil, nil
	case "GC":
		return nil, h.gc(ctx, conf, req.Config, log)
	case "ADD", "DEL", "CHECK":
	default:
		return nil, coded(types.ErrInvalidEnvironmentVariables, "unknown CNI command "+req.Command, nil)
	}
	if req.ContainerID == "" || req.IfName == "" || (req.Netns == "" && req.Command != "DEL") {
		return nil, coded(types.ErrInvalidEnvironmentVariables, "CNI_CONTAINERID, CNI_IFNAME and CNI_NETNS are required",
			fmt.Errorf("container %q, ifname %q, netns %q", req.ContainerID, req.IfName, req.Netns))
	}
	unlock := h.lock(req.ContainerID)
	defer unlock()
	switch req.Command {
	case "ADD":
		return h.add(ctx, conf, req, log)
	case "DEL":
		return nil, h.del(ctx, req)
	default:
		return nil, h.check(ctx, req)
	}
}

func (h *Handler) lock(containerID string) func() {
	h.mu.Lock()
	l := h.locks[containerID]
	if l == nil {
		l = &containerLock{}
		h.locks[containerID] = l
	}
	l.refs++
	h.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		h.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(h.locks, containerID)
		}
		h.mu.Unlock()
	}
}

func (h *Handler) add(ctx context.Context, conf *cniapi.NetConf, req *cniapi.Request, log *slog.Logger) (json.RawMessage, error) {
	ref, err := parsePodRef(req.Args)
	if err != nil {
		return nil, err
	}
	log = log.With("pod", ref.String())
	waitCtx, cancel := context.WithTimeout(ctx, h.cfg.WaitTimeout)
	pod, att, err := waitForAttachment(waitCtx, h.pods, ref, h.cfg.NodeName)
	cancel()
	if err != nil {
		return nil, err
	}
	hostIf := HostIfName(req.ContainerID, req.IfName)
	podNet := h.podNet(req, hostIf, att)
	if err := h.ports.DeletePort(ctx, hostIf); err != nil { // leftover of an earlier attempt
		return nil, coded(cniapi.ErrOVS, "remove stale OVS port "+hostIf, err)
	}
	hostMAC, err := h.dp.SetupPod(podNet)
	if err != nil {
		return nil, coded(cniapi.ErrNetlink, "set up the pod's interface", err)
	}
	if err := h.ports.EnsurePort(ctx, h.portSpec(conf, req, ref, hostIf, att)); err != nil {
		return nil, coded(cniapi.ErrOVS, "plug "+hostIf+" into "+h.cfg.Bridge, err)
	}
	if skipInstalled(pod) {
		log.Info("migration target on a single-chassis port: not waiting for ovn-installed")
	} else {
		waitCtx, cancel = context.WithTimeout(ctx, h.cfg.WaitTimeout)
		err = h.ports.WaitInstalled(waitCtx, hostIf)
		cancel()
		if err != nil {
			return nil, coded(types.ErrTryAgainLater, "timed out waiting for ovn-controller to install port "+att.PortName, err)
		}
	}
	if err := h.checkGateway(ctx, pod, att, req.Netns, log); err != nil {
		return nil, err
	}
	res := buildResult(resultInput{Attachment: att, HostIfName: hostIf, HostMAC: hostMAC,
		IfName: req.IfName, Netns: req.Netns, MTU: h.cfg.MTU})
	data, err := encodeResult(res, conf.CNIVersion)
	if err != nil {
		return nil, coded(types.ErrIncompatibleCNIVersion, "encode the CNI result", err)
	}
	log.Info("pod plugged", "port", att.PortName, "addresses", att.Addresses, "mac", att.MAC.String())
	return data, nil
}

func (h *Handler) podNet(req *cniapi.Request, hostIf string, att *attachment.Attachment) netconf.Pod {
	return netconf.Pod{
		NetnsPath: req.Netns, IfName: req.IfName, HostIfName: hostIf, MAC: att.MAC, MTU: h.cfg.MTU,
		Addresses: att.Addresses, Gateways: att.Gateways, TxOffloadOff: h.cfg.NetdevDatapath,
	}
}

func (h *Handler) portSpec(conf *cniapi.NetConf, req *cniapi.Request, ref podRef, hostIf string, att *attachment.Attachment) ovsport.Port {
	ips := make([]string, 0, len(att.Addresses))
	for _, a := range att.Addresses {
		ips = append(ips, a.Addr().String())
	}
	return ovsport.Port{Bridge: h.cfg.Bridge, Name: hostIf, ExternalIDs: map[string]string{
		ovsport.IfaceIDKey:     att.PortName,
		ovsport.AttachedMACKey: att.MAC.String(),
		podNameKey:             ref.Name,
		podNamespaceKey:        ref.Namespace,
		ipKey:                  strings.Join(ips, ","),
		vendorKey:              "kvnet",
		ovsport.OwnerKey:       ovsport.OwnerAgent,
		containerIDKey:         req.ContainerID,
		ifNameKey:              req.IfName,
		networkKey:             conf.Name,
	}}
}

// skipInstalled reports whether the controller told the agent not to wait
// for ovn-installed (annotations.SkipOVNInstalled). Only a migration target
// may: its port stays on the source chassis until the migration ends when
// the controller runs the benchmark-only naive hand-over.
func skipInstalled(pod *Pod) bool {
	return attachment.IsMigrationTarget(pod.Labels) && pod.Annotations[annotations.SkipOVNInstalled] == "true"
}

// checkGateway pings each gateway from the pod, unless the pod is a
// migration target, the subnet opted out, or the check is off.
func (h *Handler) checkGateway(ctx context.Context, pod *Pod, att *attachment.Attachment, netns string, log *slog.Logger) error {
	switch {
	case !h.cfg.GatewayCheck || len(att.Gateways) == 0:
		return nil
	case attachment.IsMigrationTarget(pod.Labels):
		log.Info("migration target: skipping the gateway check")
		return nil
	case h.gwPolicy != nil && h.gwPolicy.GatewayCheckDisabled(att.LogicalSwitch):
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.WaitTimeout)
	defer cancel()
	for _, gw := range att.Gateways {
		if err := h.dp.Ping(ctx, netns, gw); err != nil {
			return coded(cniapi.ErrGatewayUnreachable, fmt.Sprintf("pod cannot reach its gateway %s", gw), err)
		}
	}
	return nil
}

// del removes the pod's OVS port(s) and veth; everything already gone is fine.
func (h *Handler) del(ctx context.Context, req *cniapi.Request) error {
	hostIf := HostIfName(req.ContainerID, req.IfName)
	names := []string{hostIf}
	found, err := h.ports.FindPorts(ctx, map[string]string{containerIDKey: req.ContainerID, ifNameKey: req.IfName})
	if err != nil {
		return coded(cniapi.ErrOVS, "find the container's OVS ports", err)
	}
	for _, p := range found {
		if p.Name != hostIf {
			names = append(names, p.Name)
		}
	}
	for _, name := range names {
		if err := h.ports.DeletePort(ctx, name); err != nil {
			return coded(cniapi.ErrOVS, "remove OVS port "+name, err)
		}
		if err := h.dp.TeardownPod(name, req.Netns, req.IfName); err != nil {
			return coded(cniapi.ErrNetlink, "remove the pod's interface", err)
		}
	}
	return nil
}

// check verifies that the pod's interface and OVS port are as ADD left them.
func (h *Handler) check(ctx context.Context, req *cniapi.Request) error {
	ref, err := parsePodRef(req.Args)
	if err != nil {
		return err
	}
	pod, ok := h.pods.Get(ref.Namespace, ref.Name)
	if !ok {
		return coded(types.ErrTryAgainLater, fmt.Sprintf("pod %s is not known on node %s", ref, h.cfg.NodeName), nil)
	}
	att, err := attachment.Parse(pod.Annotations)
	if err != nil {
		return coded(cniapi.ErrPodAnnotations, fmt.Sprintf("pod %s has no usable kvnet annotations", ref), err)
	}
	hostIf := HostIfName(req.ContainerID, req.IfName)
	if err := h.dp.CheckPod(h.podNet(req, hostIf, att)); err != nil {
		return coded(cniapi.ErrNetlink, "pod interface differs from its attachment", err)
	}
	iface, ok := h.ports.Interface(ctx, hostIf)
	switch {
	case !ok:
		return coded(cniapi.ErrOVS, "OVS interface "+hostIf+" is missing", nil)
	case iface.ExternalIDs[ovsport.IfaceIDKey] != att.PortName:
		return coded(cniapi.ErrOVS, fmt.Sprintf("OVS interface %s is bound to %q, want %q",
			hostIf, iface.ExternalIDs[ovsport.IfaceIDKey], att.PortName), nil)
	case iface.ExternalIDs[ovsport.OVNInstalledKey] != "true" && !skipInstalled(pod):
		return coded(cniapi.ErrOVS, "OVS interface "+hostIf+" is not ovn-installed", nil)
	}
	return nil
}

// gc removes the ports (and veths) of this network whose attachment the
// runtime no longer lists. Without a valid-attachments list it does nothing:
// an absent list must not read as "nothing is valid".
func (h *Handler) gc(ctx context.Context, conf *cniapi.NetConf, raw []byte, log *slog.Logger) error {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(raw, &present); err != nil {
		return coded(types.ErrInvalidNetworkConfig, "invalid kvnet network configuration", err)
	}
	if _, ok := present["cni.dev/valid-attachments"]; !ok {
		return nil
	}
	valid := make(map[types.GCAttachment]bool, len(conf.ValidAttachments))
	for _, a := range conf.ValidAttachments {
		valid[a] = true
	}
	ports, err := h.ports.FindPorts(ctx, map[string]string{ovsport.OwnerKey: ovsport.OwnerAgent, networkKey: conf.Name})
	if err != nil {
		return coded(cniapi.ErrOVS, "list pod ports", err)
	}
	var errs []error
	for _, p := range ports {
		id, ifName := p.ExternalIDs[containerIDKey], p.ExternalIDs[ifNameKey]
		if id == "" || valid[types.GCAttachment{ContainerID: id, IfName: ifName}] {
			continue
		}
		log.Info("GC: removing stale attachment", "port", p.Name, "container", id, "ifname", ifName)
		unlock := h.lock(id)
		err := h.ports.DeletePort(ctx, p.Name)
		if err == nil {
			err = h.dp.TeardownPod(p.Name, "", "")
		}
		unlock()
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return coded(cniapi.ErrOVS, "remove stale attachments", err)
	}
	return nil
}
