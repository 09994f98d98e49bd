package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Pod describes a pod's interface: a veth pair with the host end in the
// agent's namespace and the pod end, IfName, in the pod's namespace.
type Pod struct {
	NetnsPath  string
	IfName     string
	HostIfName string
	MAC        net.HardwareAddr
	MTU        int
	// Addresses carry the subnet's prefix length.
	Addresses []netip.Prefix
	// Gateways get a default route each (one per family).
	Gateways []netip.Addr
	// TxOffloadOff turns tx checksum offload off on both ends (netdev datapath).
	TxOffloadOff bool
}

// SetupPod creates the veth pair and configures the pod end: MAC, MTU,
// addresses (IPv6 without kernel DAD: the controller's IPAM owns uniqueness,
// and DAD would hold the address tentative for a second or more), default
// routes, link up. Leftovers of an earlier attempt with the same names are
// replaced. It returns the host end's MAC.
func SetupPod(p Pod) (net.HardwareAddr, error) {
	podNS, err := ns.GetNS(p.NetnsPath)
	if err != nil {
		return nil, fmt.Errorf("open pod netns %s: %w", p.NetnsPath, err)
	}
	defer podNS.Close()
	if err := deleteLink(p.HostIfName); err != nil {
		return nil, err
	}
	if err := podNS.Do(func(ns.NetNS) error { return deleteLink(p.IfName) }); err != nil {
		return nil, err
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: p.HostIfName, MTU: p.MTU},
		PeerName:         p.IfName,
		PeerHardwareAddr: p.MAC,
		PeerNamespace:    netlink.NsFd(int(podNS.Fd())),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s/%s: %w", p.HostIfName, p.IfName, err)
	}
	mac, err := setupHostEnd(p)
	if err == nil {
		err = podNS.Do(func(ns.NetNS) error { return configurePodEnd(p) })
	}
	if err != nil {
		_ = deleteLink(p.HostIfName) // takes the pod end with it
		return nil, err
	}
	return mac, nil
}

func setupHostEnd(p Pod) (net.HardwareAddr, error) {
	host, err := netlink.LinkByName(p.HostIfName)
	if err != nil {
		return nil, fmt.Errorf("find host veth %s: %w", p.HostIfName, err)
	}
	if p.TxOffloadOff {
		if err := DisableTxOffload(p.HostIfName); err != nil {
			return nil, err
		}
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return nil, fmt.Errorf("set %s up: %w", p.HostIfName, err)
	}
	return host.Attrs().HardwareAddr, nil
}

// configurePodEnd runs inside the pod's namespace.
func configurePodEnd(p Pod) error {
	if lo, err := netlink.LinkByName("lo"); err == nil {
		_ = netlink.LinkSetUp(lo)
	}
	link, err := netlink.LinkByName(p.IfName)
	if err != nil {
		return fmt.Errorf("find pod interface %s: %w", p.IfName, err)
	}
	if p.TxOffloadOff {
		if err := DisableTxOffload(p.IfName); err != nil {
			return err
		}
	}
	for _, a := range p.Addresses {
		addr := &netlink.Addr{IPNet: prefixIPNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("add address %s to %s: %w", a, p.IfName, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", p.IfName, err)
	}
	for _, gw := range p.Gateways {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: defaultDst(gw), Gw: gw.AsSlice()}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("add default route via %s on %s: %w", gw, p.IfName, err)
		}
	}
	return nil
}

// TeardownPod removes the pod's veth pair. It succeeds when the links or the
// namespace are already gone.
func TeardownPod(hostIfName, netnsPath, ifName string) error {
	if err := deleteLink(hostIfName); err != nil {
		return err
	}
	if netnsPath == "" || ifName == "" {
		return nil
	}
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error { return deleteLink(ifName) })
	var notExist ns.NSPathNotExistErr
	var notNS ns.NSPathNotNSErr
	if err != nil && !errors.As(err, &notExist) && !errors.As(err, &notNS) {
		return fmt.Errorf("clean pod netns %s: %w", netnsPath, err)
	}
	return nil
}

// CheckPod verifies that the pod end is configured as p says.
func CheckPod(p Pod) error {
	return ns.WithNetNSPath(p.NetnsPath, func(ns.NetNS) error { return checkPodEnd(p) })
}

func checkPodEnd(p Pod) error {
	link, err := netlink.LinkByName(p.IfName)
	if err != nil {
		return fmt.Errorf("find pod interface %s: %w", p.IfName, err)
	}
	attrs := link.Attrs()
	if p.MAC != nil && attrs.HardwareAddr.String() != p.MAC.String() {
		return fmt.Errorf("%s has MAC %s, want %s", p.IfName, attrs.HardwareAddr, p.MAC)
	}
	if p.MTU > 0 && attrs.MTU != p.MTU {
		return fmt.Errorf("%s has MTU %d, want %d", p.IfName, attrs.MTU, p.MTU)
	}
	if attrs.Flags&net.FlagUp == 0 {
		return fmt.Errorf("%s is down", p.IfName)
	}
	addrs, err := addrList(link)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", p.IfName, err)
	}
	for _, want := range p.Addresses {
		if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return ipNetPrefix(a.IPNet) == want }) {
			return fmt.Errorf("%s lacks address %s", p.IfName, want)
		}
	}
	routes, err := routeList(link)
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", p.IfName, err)
	}
	for _, gw := range p.Gateways {
		if !slices.ContainsFunc(routes, func(r netlink.Route) bool { return isDefaultVia(r, gw) }) {
			return fmt.Errorf("%s lacks a default route via %s", p.IfName, gw)
		}
	}
	return nil
}

func isDefaultVia(r netlink.Route, gw netip.Addr) bool {
	got, ok := netip.AddrFromSlice(r.Gw)
	if !ok || got.Unmap() != gw {
		return false
	}
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}

// deleteLink deletes a link of the current namespace; a missing link is fine.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil
		}
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// LinkExists reports whether the current namespace has a link of that name.
func LinkExists(name string) (bool, error) {
	_, err := netlink.LinkByName(name)
	if err == nil {
		return true, nil
	}
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return false, nil
	}
	return false, fmt.Errorf("find link %s: %w", name, err)
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func ipNetPrefix(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), ones)
}

func defaultDst(gw netip.Addr) *net.IPNet {
	if gw.Is4() {
		return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
}
