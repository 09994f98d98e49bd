package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/kvnet/kvnet/internal/agent/attachment"
	"github.com/kvnet/kvnet/internal/agent/netconf"
	"github.com/kvnet/kvnet/internal/agent/ovsport"
)

// DefaultVPC is the default VPC's router; Subnets with an empty spec.vpc
// belong to it too.
const DefaultVPC = "ovn-cluster"

// Subnet is what the join reconcile knows about a Subnet object.
type Subnet struct {
	Name  string
	CIDRs []netip.Prefix
	VPC   string
}

// Source feeds the join reconcile: informers in the agent, fixed data in tests.
type Source interface {
	// NodeAnnotations returns this node's annotations; false until it is known.
	NodeAnnotations() (map[string]string, bool)
	Subnets() []Subnet
	// Changed returns a channel closed at the next change of the node or of
	// any subnet; take it before reading.
	Changed() <-chan struct{}
}

// PortOVS is what Join needs from the Open_vSwitch database.
type PortOVS interface {
	EnsurePort(ctx context.Context, p ovsport.Port) error
}

// JoinConfig tunes Join.
type JoinConfig struct {
	Bridge   string
	LinkName string
	MTU      int
	// Resync re-applies the state even without a change (someone may have
	// removed a route by hand).
	Resync time.Duration
	// LinkWait bounds the wait for OVS to create the internal device.
	LinkWait time.Duration
}

// Join keeps the node's join interface and its routes to pod subnets.
type Join struct {
	cfg JoinConfig
	ovs PortOVS
	src Source
	log *slog.Logger
}

// JoinFirstSynced is logged (INFO) when the join network is first in sync
// after the agent starts.
const JoinFirstSynced = "join network in sync since start"

// NewJoin builds the reconciler; Run starts it.
func NewJoin(cfg JoinConfig, ovs PortOVS, src Source, log *slog.Logger) *Join {
	return &Join{cfg: cfg, ovs: ovs, src: src, log: log}
}

// errNodeNotReady: the controller has not annotated the node yet.
var errNodeNotReady = errors.New("node not annotated yet")

// Run reconciles on every change, on every resync tick, and after a failure
// (with a one-second pause), until ctx ends.
func (j *Join) Run(ctx context.Context) {
	synced := false
	for {
		changed := j.src.Changed()
		wait := j.cfg.Resync
		switch err := j.Reconcile(ctx); {
		case errors.Is(err, errNodeNotReady):
			wait = j.cfg.Resync
		case err != nil:
			j.log.Error("join network reconcile failed", "err", err)
			wait = time.Second
		case !synced:
			synced = true
			j.log.Info(JoinFirstSynced) // once per start: tests wait on it after a restart
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-changed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Reconcile brings the join port, its device and its routes to the state the
// node's annotations and the subnets ask for.
func (j *Join) Reconcile(ctx context.Context) error {
	ann, ok := j.src.NodeAnnotations()
	if !ok {
		return errNodeNotReady
	}
	att, err := attachment.Parse(ann)
	if errors.Is(err, attachment.ErrNotAnnotated) {
		return errNodeNotReady
	}
	if err != nil {
		return fmt.Errorf("node join annotations: %w", err)
	}
	err = j.ovs.EnsurePort(ctx, ovsport.Port{
		Bridge: j.cfg.Bridge, Name: j.cfg.LinkName, Type: "internal", MAC: att.MAC.String(), MTURequest: j.cfg.MTU,
		ExternalIDs: map[string]string{
			ovsport.IfaceIDKey: att.PortName, ovsport.AttachedMACKey: att.MAC.String(),
			ovsport.OwnerKey: ovsport.OwnerAgent, "vendor": "kvnet",
		},
	})
	if err != nil {
		return fmt.Errorf("plug join port %s: %w", j.cfg.LinkName, err)
	}
	if err := j.waitLink(ctx); err != nil {
		return err
	}
	err = netconf.ConfigureNodeLink(netconf.NodeLink{Name: j.cfg.LinkName, MAC: att.MAC, MTU: j.cfg.MTU, Addresses: att.Addresses})
	if err != nil {
		return fmt.Errorf("configure join interface: %w", err)
	}
	routes := DesiredRoutes(att, j.src.Subnets())
	if err := netconf.SyncRoutes(j.cfg.LinkName, routes); err != nil {
		return fmt.Errorf("sync join routes: %w", err)
	}
	j.log.Debug("join network in sync", "port", att.PortName, "addresses", att.Addresses, "routes", len(routes))
	return nil
}

// waitLink waits for ovs-vswitchd to create the internal port's device.
func (j *Join) waitLink(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.LinkWait)
	defer cancel()
	for {
		ok, err := netconf.LinkExists(j.cfg.LinkName)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("OVS did not create device %s: %w", j.cfg.LinkName, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// DesiredRoutes lists the node's routes to pod subnets: every CIDR of every
// default-VPC subnet other than the join subnet itself, via the join gateway
// of the same family. CIDRs overlapping the join network are left out (they
// are on-link), as are families the node has no join gateway for.
func DesiredRoutes(join *attachment.Attachment, subnets []Subnet) []netconf.Route {
	var out []netconf.Route
	for _, s := range subnets {
		if (s.VPC != "" && s.VPC != DefaultVPC) || s.Name == join.LogicalSwitch {
			continue
		}
		for _, c := range s.CIDRs {
			c = c.Masked()
			gw, ok := gatewayFor(join.Gateways, c.Addr())
			if !ok || slices.ContainsFunc(join.Addresses, func(a netip.Prefix) bool { return a.Masked().Overlaps(c) }) {
				continue
			}
			r := netconf.Route{Dst: c, Via: gw}
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b netconf.Route) int {
		if c := a.Dst.Addr().Compare(b.Dst.Addr()); c != 0 {
			return c
		}
		return a.Dst.Bits() - b.Dst.Bits()
	})
	return out
}

func gatewayFor(gws []netip.Addr, a netip.Addr) (netip.Addr, bool) {
	for _, gw := range gws {
		if gw.Is4() == a.Is4() {
			return gw, true
		}
	}
	return netip.Addr{}, false
}
