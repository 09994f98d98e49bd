package cniserver

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/kvnet/kvnet/internal/agent/attachment"
)

// resultInput is what an ADD learned, enough to describe the attachment.
type resultInput struct {
	Attachment *attachment.Attachment
	HostIfName string
	HostMAC    net.HardwareAddr
	IfName     string
	Netns      string
	MTU        int
}

// buildResult describes the attachment as a CNI 1.0 result: the host and the
// pod interface, the pod's addresses with their gateways, and the default
// routes.
func buildResult(in resultInput) *current.Result {
	podIdx := 1
	res := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: in.HostIfName, Mac: in.HostMAC.String(), Mtu: in.MTU},
			{Name: in.IfName, Mac: in.Attachment.MAC.String(), Mtu: in.MTU, Sandbox: in.Netns},
		},
	}
	for _, a := range in.Attachment.Addresses {
		ipc := &current.IPConfig{Interface: &podIdx, Address: *ipNet(a)}
		if gw, ok := gatewayFor(in.Attachment.Gateways, a.Addr()); ok {
			ipc.Gateway = gw.AsSlice()
		}
		res.IPs = append(res.IPs, ipc)
	}
	for _, gw := range in.Attachment.Gateways {
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if gw.Is6() {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		res.Routes = append(res.Routes, &types.Route{Dst: *ipNet(dst), GW: gw.AsSlice()})
	}
	return res
}

// encodeResult converts the result to the configuration's CNI version.
func encodeResult(res *current.Result, cniVersion string) (json.RawMessage, error) {
	if cniVersion == "" {
		cniVersion = current.ImplementedSpecVersion
	}
	converted, err := res.GetAsVersion(cniVersion)
	if err != nil {
		return nil, fmt.Errorf("convert result to CNI %s: %w", cniVersion, err)
	}
	data, err := json.Marshal(converted)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return data, nil
}

func gatewayFor(gws []netip.Addr, a netip.Addr) (netip.Addr, bool) {
	for _, gw := range gws {
		if gw.Is4() == a.Is4() {
			return gw, true
		}
	}
	return netip.Addr{}, false
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
