package attachment

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/kvnet/kvnet/internal/annotations"
)

// Attachment is a pod's network attachment as the controller annotated it.
type Attachment struct {
	// PortName is the OVN logical switch port (OVS iface-id).
	PortName      string
	LogicalSwitch string
	MAC           net.HardwareAddr
	// Addresses are the pod's addresses with their subnet's prefix length,
	// IPv4 first.
	Addresses []netip.Prefix
	// Gateways holds at most one gateway per family, IPv4 first.
	Gateways []netip.Addr
}

// ErrNotAnnotated marks a parse failure that only means "not yet".
var ErrNotAnnotated = errors.New("not annotated yet")

// MissingAnnotations lists the readiness annotations that are not "true".
func MissingAnnotations(ann map[string]string) []string {
	var missing []string
	for _, k := range []string{annotations.Allocated, annotations.Routed} {
		if ann[k] != "true" {
			missing = append(missing, k)
		}
	}
	return missing
}

// Parse reads the allocation annotations of a pod (or of a node,
// for its join port). Addresses get the prefix length of the CIDR of their
// family that contains them.
func Parse(ann map[string]string) (*Attachment, error) {
	if missing := MissingAnnotations(ann); len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotAnnotated, strings.Join(missing, ", "))
	}
	att := &Attachment{PortName: ann[annotations.PortName], LogicalSwitch: ann[annotations.LogicalSwitch]}
	if att.PortName == "" {
		return nil, fmt.Errorf("annotation %s is empty", annotations.PortName)
	}
	mac, err := net.ParseMAC(ann[annotations.MACAddress])
	if err != nil || len(mac) != 6 || mac[0]&1 == 1 {
		return nil, fmt.Errorf("annotation %s=%q is not a unicast Ethernet address", annotations.MACAddress, ann[annotations.MACAddress])
	}
	att.MAC = mac
	cidrs, err := parseList(ann[annotations.CIDR], annotations.CIDR, netip.ParsePrefix)
	if err != nil {
		return nil, err
	}
	ips, err := parseList(ann[annotations.IPAddress], annotations.IPAddress, parseIP)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 || len(ips) > 2 || (len(ips) == 2 && ips[0].Is4() == ips[1].Is4()) {
		return nil, fmt.Errorf("annotation %s=%q must hold one address, or one of each family", annotations.IPAddress, ann[annotations.IPAddress])
	}
	for _, ip := range ips {
		prefix, ok := containing(cidrs, ip)
		if !ok {
			return nil, fmt.Errorf("address %s is in none of %s=%q", ip, annotations.CIDR, ann[annotations.CIDR])
		}
		att.Addresses = append(att.Addresses, netip.PrefixFrom(ip, prefix.Bits()))
	}
	slices.SortStableFunc(att.Addresses, func(a, b netip.Prefix) int { return familyOrder(a.Addr()) - familyOrder(b.Addr()) })
	gws, err := parseList(ann[annotations.Gateway], annotations.Gateway, parseIP)
	if err != nil {
		return nil, err
	}
	for _, a := range att.Addresses { // one gateway per family the pod has
		for _, gw := range gws {
			if gw.Is4() == a.Addr().Is4() {
				att.Gateways = append(att.Gateways, gw)
				break
			}
		}
	}
	return att, nil
}

// parseIP accepts "10.0.0.5" and, leniently, "10.0.0.5/16", and returns the
// address in its canonical form.
func parseIP(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.Unmap().WithZone(""), nil
}

func parseList[T any](value, key string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := parse(part)
		if err != nil {
			return nil, fmt.Errorf("annotation %s=%q: %w", key, value, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func familyOrder(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func containing(cidrs []netip.Prefix, ip netip.Addr) (netip.Prefix, bool) {
	for _, c := range cidrs {
		if c.Contains(ip) {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

// IsMigrationTarget reports whether a pod is the target launcher pod of a
// KubeVirt live migration. Its logical port is bound to two chassis and stays
// blocked here until the guest's RARP activates it, so anything that needs
// traffic (gateway reach, duplicate-address probes) must not run.
func IsMigrationTarget(labels map[string]string) bool {
	_, ok := labels[annotations.KubeVirtMigrationJobUID]
	return ok
}
