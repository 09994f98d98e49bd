package node

import (
	"context"
	"fmt"

	"github.com/kvnet/kvnet/internal/agent/ovsport"
)

// Bootstrap settings.
type BootstrapConfig struct {
	NodeName string
	// Bridge is the integration bridge, "br-int".
	Bridge string
	// DatapathType is "netdev" (userspace) or "system" (kernel).
	DatapathType string
	// OVNRemote, EncapIP and EncapType, when OVNRemote is set, are written to
	// the Open_vSwitch row for ovn-controller together with system-id.
	OVNRemote string
	EncapIP   string
	EncapType string
}

// BridgeOVS is what Bootstrap needs from the Open_vSwitch database.
type BridgeOVS interface {
	EnsureBridge(ctx context.Context, name, datapathType string) error
	SetExternalIDs(ctx context.Context, ids map[string]string) error
}

// Bootstrap ensures the integration bridge and, if configured, the settings
// ovn-controller reads. It is idempotent.
func Bootstrap(ctx context.Context, cfg BootstrapConfig, ovs BridgeOVS) error {
	if err := ovs.EnsureBridge(ctx, cfg.Bridge, cfg.DatapathType); err != nil {
		return fmt.Errorf("bootstrap node: %w", err)
	}
	ids := ovnExternalIDs(cfg)
	if len(ids) == 0 {
		return nil
	}
	if err := ovs.SetExternalIDs(ctx, ids); err != nil {
		return fmt.Errorf("bootstrap node: %w", err)
	}
	return nil
}

// ovnExternalIDs are the Open_vSwitch external_ids for ovn-controller; none
// unless an OVN remote is configured (then the deployment manages them).
func ovnExternalIDs(cfg BootstrapConfig) map[string]string {
	if cfg.OVNRemote == "" {
		return nil
	}
	ids := map[string]string{
		"ovn-remote": cfg.OVNRemote,
		"system-id":  cfg.NodeName,
		"ovn-bridge": cfg.Bridge,
	}
	if cfg.EncapIP != "" {
		ids["ovn-encap-ip"] = cfg.EncapIP
	}
	if cfg.EncapType != "" {
		ids["ovn-encap-type"] = cfg.EncapType
	}
	if cfg.DatapathType == "netdev" {
		ids["ovn-bridge-datapath-type"] = "netdev"
	}
	return ids
}

var _ BridgeOVS = (*ovsport.Client)(nil)
