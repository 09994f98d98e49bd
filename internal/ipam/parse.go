package ipam

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Protocol values of a Subnet's spec.protocol (Kube-OVN's API).
const (
	ProtocolIPv4 = "IPv4"
	ProtocolIPv6 = "IPv6"
	ProtocolDual = "Dual"
)

// ParseAddr parses one IPv4 or IPv6 address into its canonical form: every
// textual form of an IPv6 address (expanded, compressed, any letter case)
// gives the same netip.Addr, and an IPv4-mapped IPv6 address ("::ffff:10.0.0.1")
// becomes the IPv4 address. Zones ("fe80::1%eth0") are rejected. Surrounding
// spaces are ignored. Errors wrap ErrInvalid.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, errorf(ErrInvalid, "address %q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, errorf(ErrInvalid, "address %q has a zone", s)
	}
	return a.Unmap(), nil
}

// ParseCIDR parses one CIDR such as "10.16.0.0/16" or "fd00::/112". The
// address must be the network address (no host bits set: "10.16.0.5/16" is
// rejected with a hint) and IPv4-mapped prefixes are rejected. Errors wrap
// ErrInvalid (case B05: "10.20.0.0/33", "10.20.0/24", "10.20.0.0", "fd00::/129", "").
func ParseCIDR(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return netip.Prefix{}, errorf(ErrInvalid, "CIDR is empty")
	}
	if !strings.Contains(t, "/") {
		return netip.Prefix{}, errorf(ErrInvalid, "CIDR %q has no prefix length (want e.g. %s/24)", s, t)
	}
	p, err := netip.ParsePrefix(t)
	if err != nil {
		return netip.Prefix{}, errorf(ErrInvalid, "CIDR %q is malformed (want e.g. 10.16.0.0/16 or fd00::/112)", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, errorf(ErrInvalid, "CIDR %q is an IPv4-mapped IPv6 prefix; write the IPv4 CIDR", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, errorf(ErrInvalid, "CIDR %q has host bits set (did you mean %s?)", s, m)
	}
	return p, nil
}

// ParseCIDRBlock parses a Subnet's spec.cidrBlock: one CIDR, or an IPv4 and
// an IPv6 CIDR separated by a comma (dual-stack). The result has the IPv4
// prefix first. More than one CIDR of a family is an error. Errors wrap ErrInvalid.
func ParseCIDRBlock(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var seen [2]bool
	for _, part := range strings.Split(s, ",") {
		p, err := ParseCIDR(part)
		if err != nil {
			return nil, err
		}
		fam := familyOf(p.Addr())
		if seen[fam] {
			return nil, errorf(ErrInvalid, "cidrBlock %q has more than one %s CIDR", s, familyName(fam))
		}
		seen[fam] = true
		out = append(out, p)
	}
	if len(out) == 2 && out[0].Addr().Is6() {
		out[0], out[1] = out[1], out[0]
	}
	return out, nil
}

// Range is an inclusive range of addresses of one family, From <= To.
type Range struct{ From, To netip.Addr }

// Contains reports whether a (canonical: unmapped) is inside r.
func (r Range) Contains(a netip.Addr) bool {
	return a.BitLen() == r.From.BitLen() && r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// String formats r as Kube-OVN writes excludeIps: "a" or "a..b".
func (r Range) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.From.String() + ".." + r.To.String()
}

func (r Range) span() span { return span{u128From(r.From), u128From(r.To)} }

// ParseRange parses an excludeIps or IPPool entry: a single address "a", an
// inclusive range "a..b" (both ends included, same family, a <= b), or a CIDR
// "p/len" (all its addresses). Addresses are canonicalised as by ParseAddr.
// Errors wrap ErrInvalid.
func ParseRange(s string) (Range, error) {
	t := strings.TrimSpace(s)
	if from, to, ok := strings.Cut(t, ".."); ok {
		a, err := ParseAddr(from)
		if err != nil {
			return Range{}, errorf(ErrInvalid, "range %q: start is not an IP address", s)
		}
		b, err := ParseAddr(to)
		if err != nil {
			return Range{}, errorf(ErrInvalid, "range %q: end is not an IP address", s)
		}
		if a.Is4() != b.Is4() {
			return Range{}, errorf(ErrInvalid, "range %q mixes IPv4 and IPv6", s)
		}
		if b.Less(a) {
			return Range{}, errorf(ErrInvalid, "range %q: start is after end", s)
		}
		return Range{a, b}, nil
	}
	if strings.Contains(t, "/") {
		p, err := ParseCIDR(t)
		if err != nil {
			return Range{}, err
		}
		first, last := prefixBounds(p)
		return Range{first.addr(p.Addr().Is4()), last.addr(p.Addr().Is4())}, nil
	}
	a, err := ParseAddr(t)
	if err != nil {
		return Range{}, err
	}
	return Range{a, a}, nil
}

// ParseExclude parses one excludeIps entry (see ParseRange) and checks that
// it lies entirely inside the CIDR of its family among cidrs. A range that is
// not inside wraps ErrOutOfRange, a malformed one ErrInvalid (case B06a).
func ParseExclude(s string, cidrs []netip.Prefix) (Range, error) {
	r, err := ParseRange(s)
	if err != nil {
		return Range{}, err
	}
	for _, p := range cidrs {
		if p.Contains(r.From) && p.Contains(r.To) {
			return r, nil
		}
	}
	return Range{}, errorf(ErrOutOfRange, "excludeIps entry %q is not inside cidrBlock %s", s, joinPrefixes(cidrs))
}

// ParseMAC parses a MAC address and returns it in canonical form
// ("0a:1b:2c:3d:4e:5f", lower case). It must be 6 bytes, unicast and not all
// zeros. Errors wrap ErrInvalid.
func ParseMAC(s string) (string, error) {
	m, err := parseMAC(s)
	if err != nil {
		return "", err
	}
	return macString(m), nil
}

func parseMAC(s string) ([6]byte, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return [6]byte{}, errorf(ErrInvalid, "MAC address %q is not a 6-byte MAC (want e.g. 0a:1b:2c:3d:4e:5f)", s)
	}
	m := [6]byte(hw)
	if m[0]&1 != 0 {
		return [6]byte{}, errorf(ErrInvalid, "MAC address %q is multicast; a port needs a unicast MAC", s)
	}
	if m == ([6]byte{}) {
		return [6]byte{}, errorf(ErrInvalid, "MAC address %q is all zeros", s)
	}
	return m, nil
}

// macString formats m as "0a:1b:2c:3d:4e:5f" (net.HardwareAddr's form,
// without its intermediate allocations).
func macString(m [6]byte) string {
	const hex = "0123456789abcdef"
	var b [17]byte
	for i, v := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i], b[3*i+1] = hex[v>>4], hex[v&0xf]
	}
	return string(b[:])
}

// DefaultGateway returns the gateway a subnet gets when spec.gateway is
// empty: the first address after the network address (Kube-OVN's default).
func DefaultGateway(p netip.Prefix) netip.Addr {
	first, last := prefixBounds(p)
	if first == last {
		return first.addr(p.Addr().Is4())
	}
	return first.inc().addr(p.Addr().Is4())
}

// ValidateSubnet checks a Subnet's address fields as the API takes them:
// cidrBlock ("10.16.0.0/16" or "10.16.0.0/16,fd00::/112"), gateway ("" for
// the default, else one address per CIDR, comma-separated), excludeIps
// (ParseExclude entries) and protocol ("", "IPv4", "IPv6" or "Dual", which
// must match the CIDR families). A gateway must lie inside its CIDR and must
// not be the IPv4 network or broadcast address nor the IPv6 all-zeros
// (subnet-router anycast) address (case B02). The first problem found is
// returned, wrapping ErrInvalid or ErrOutOfRange.
func ValidateSubnet(cidrBlock, gateway string, excludeIPs []string, protocol string) error {
	cidrs, err := ParseCIDRBlock(cidrBlock)
	if err != nil {
		return err
	}
	if err := checkProtocol(cidrs, protocol); err != nil {
		return err
	}
	if _, err := parseGateways(cidrs, gateway); err != nil {
		return err
	}
	for _, e := range excludeIPs {
		if _, err := ParseExclude(e, cidrs); err != nil {
			return err
		}
	}
	return nil
}

func checkProtocol(cidrs []netip.Prefix, protocol string) error {
	want := ProtocolIPv4
	switch {
	case len(cidrs) == 2:
		want = ProtocolDual
	case cidrs[0].Addr().Is6():
		want = ProtocolIPv6
	}
	switch protocol {
	case "", want:
		return nil
	case ProtocolIPv4, ProtocolIPv6, ProtocolDual:
		return errorf(ErrInvalid, "protocol %s does not match cidrBlock %s (%s)", protocol, joinPrefixes(cidrs), want)
	}
	return errorf(ErrInvalid, "protocol %q is not one of IPv4, IPv6, Dual", protocol)
}

// parseGateways returns one gateway per prefix, in the order of cidrs. An
// empty gateway string selects DefaultGateway for every prefix.
func parseGateways(cidrs []netip.Prefix, gateway string) ([]netip.Addr, error) {
	gws := make([]netip.Addr, len(cidrs))
	if strings.TrimSpace(gateway) == "" {
		for i, p := range cidrs {
			gws[i] = DefaultGateway(p)
		}
		return gws, nil
	}
	parts := strings.Split(gateway, ",")
	if len(parts) != len(cidrs) {
		return nil, errorf(ErrInvalid, "gateway %q must give one address per CIDR of %s", gateway, joinPrefixes(cidrs))
	}
	for _, part := range parts {
		a, err := ParseAddr(part)
		if err != nil {
			return nil, errorf(ErrInvalid, "gateway %q is not an IP address", part)
		}
		i := slices.IndexFunc(cidrs, func(p netip.Prefix) bool { return p.Addr().Is4() == a.Is4() })
		switch {
		case i < 0 || !cidrs[i].Contains(a):
			return nil, errorf(ErrOutOfRange, "gateway %s is not inside cidrBlock %s", a, joinPrefixes(cidrs))
		case gws[i].IsValid():
			return nil, errorf(ErrInvalid, "gateway %q gives two %s addresses", gateway, familyName(familyOf(a)))
		}
		if reservedReason(cidrs[i], u128From(a)) != "" {
			return nil, errorf(ErrInvalid, "gateway %s is the %s of %s", a, reservedReason(cidrs[i], u128From(a)), cidrs[i])
		}
		gws[i] = a
	}
	return gws, nil
}

// reservedReason names why x can never be assigned in p ("network address",
// "broadcast address") or returns "". Point-to-point prefixes (IPv4 /31 and
// /32, IPv6 /127 and /128) reserve nothing (RFC 3021, RFC 6164).
func reservedReason(p netip.Prefix, x u128) string {
	if p.Addr().BitLen()-p.Bits() <= 1 {
		return ""
	}
	first, last := prefixBounds(p)
	switch {
	case x == first && p.Addr().Is4():
		return "network address"
	case x == first:
		return "network (subnet-router anycast) address"
	case x == last && p.Addr().Is4():
		return "broadcast address"
	}
	return ""
}

// familyOf returns 0 for IPv4 and 1 for IPv6: the index of a family in the
// per-family arrays of this package.
func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func familyName(fam int) string {
	if fam == 0 {
		return "IPv4"
	}
	return "IPv6"
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
