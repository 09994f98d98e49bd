package netconf

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol tags the routes kvnet owns (rtm_protocol), so a sync removes
// exactly its own stale routes and nothing another component installed.
const RouteProtocol netlink.RouteProtocol = 75

// NodeLink is the desired state of a node-side interface such as ovn0.
type NodeLink struct {
	Name string
	MAC  net.HardwareAddr
	MTU  int
	// Addresses carry the subnet's prefix length; other global addresses on
	// the link are removed.
	Addresses []netip.Prefix
}

// Route is a route over a node link.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// ConfigureNodeLink brings an existing link (OVS creates internal ports) to
// the desired MAC, MTU and addresses and sets it up. It changes only what
// differs, so calling it again costs nothing and disturbs no traffic.
func ConfigureNodeLink(l NodeLink) error {
	link, err := netlink.LinkByName(l.Name)
	if err != nil {
		return fmt.Errorf("find link %s: %w", l.Name, err)
	}
	attrs := link.Attrs()
	if l.MAC != nil && attrs.HardwareAddr.String() != l.MAC.String() {
		if err := netlink.LinkSetHardwareAddr(link, l.MAC); err != nil {
			return fmt.Errorf("set MAC of %s: %w", l.Name, err)
		}
	}
	if l.MTU > 0 && attrs.MTU != l.MTU {
		if err := netlink.LinkSetMTU(link, l.MTU); err != nil {
			return fmt.Errorf("set MTU of %s: %w", l.Name, err)
		}
	}
	if err := syncAddresses(link, l.Addresses); err != nil {
		return err
	}
	if attrs.Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("set %s up: %w", l.Name, err)
		}
	}
	return nil
}

func syncAddresses(link netlink.Link, want []netip.Prefix) error {
	name := link.Attrs().Name
	have, err := addrList(link)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", name, err)
	}
	for _, a := range have {
		p := ipNetPrefix(a.IPNet)
		if a.Scope != unix.RT_SCOPE_UNIVERSE || slices.Contains(want, p) {
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", p, name, err)
		}
	}
	for _, p := range want {
		if slices.ContainsFunc(have, func(a netlink.Addr) bool { return ipNetPrefix(a.IPNet) == p }) {
			continue
		}
		addr := &netlink.Addr{IPNet: prefixIPNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("add address %s to %s: %w", p, name, err)
		}
	}
	return nil
}

// SyncRoutes makes the kvnet-owned routes over link exactly want: missing
// ones are added, changed ones replaced, and kvnet routes not wanted any
// more removed. Routes of other owners are not touched.
func SyncRoutes(linkName string, want []Route) error {
	link, err := netlink.LinkByName(linkName)
	if err != nil {
		return fmt.Errorf("find link %s: %w", linkName, err)
	}
	have, err := routeList(link)
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", linkName, err)
	}
	for _, r := range have {
		if r.Protocol != RouteProtocol {
			continue
		}
		if slices.Contains(want, routeOf(r)) {
			continue
		}
		if err := netlink.RouteDel(&r); err != nil {
			return fmt.Errorf("remove stale route %s over %s: %w", r.Dst, linkName, err)
		}
	}
	for _, w := range want {
		if slices.ContainsFunc(have, func(r netlink.Route) bool { return r.Protocol == RouteProtocol && routeOf(r) == w }) {
			continue
		}
		r := &netlink.Route{
			LinkIndex: link.Attrs().Index, Dst: prefixIPNet(w.Dst), Gw: w.Via.AsSlice(),
			Protocol: RouteProtocol,
		}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("add route %s via %s over %s: %w", w.Dst, w.Via, linkName, err)
		}
	}
	return nil
}

func routeOf(r netlink.Route) Route {
	var out Route
	out.Dst = ipNetPrefix(r.Dst)
	if gw, ok := netip.AddrFromSlice(r.Gw); ok {
		out.Via = gw.Unmap()
	}
	return out
}
