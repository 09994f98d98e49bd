package ipam

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// Request asks for addresses (and a MAC) in one subnet for one owner.
//
// For each family of the subnet the address comes from, in this order of
// precedence: the owner's existing holding; IPs; Candidates; Pool; the
// subnet's dynamic space.
type Request struct {
	// Subnet is the subnet (logical switch) name.
	Subnet string
	// Owner keys the allocation, e.g. "pod.namespace" or "vm.namespace"
	// (plus the provider for a secondary NIC). Required.
	Owner string
	// IPs are static addresses, at most one per family, any textual form;
	// an element may itself be a comma-separated list (the ip_address
	// annotation value); empty elements are ignored. Addresses inside
	// excludeIps are allowed (B06).
	IPs []string
	// MAC is a static MAC ("0a:1b:2c:3d:4e:5f"); empty generates one.
	MAC string
	// Pool names an IP pool of the subnet to draw dynamic addresses from.
	// A family in which the pool has no addresses is drawn from the
	// subnet's dynamic space.
	Pool string
	// Candidates is an explicit list of addresses (the ip_pool annotation
	// given as addresses): per family, the first one that is free is taken.
	// Candidates follow the rules of static addresses (excluded ones are
	// allowed); a candidate outside the subnet is an error, one that is
	// held, the gateway or reserved is skipped.
	Candidates []string
}

// Allocation is what one owner holds in one subnet.
type Allocation struct {
	Subnet, Owner string
	// IPs holds at most one address per family, IPv4 first. It is shorter
	// than the subnet's family count only after AddOrUpdateSubnet reported
	// the owner as invalid; Allocate for the owner then fills the gap.
	IPs []netip.Addr
	// MAC is in canonical form, "0a:1b:2c:3d:4e:5f".
	MAC string
}

// IPString returns the addresses comma-separated, IPv4 first: the value of
// the ip_address annotation.
func (a Allocation) IPString() string {
	s := make([]string, len(a.IPs))
	for i, ip := range a.IPs {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

// parsedRequest is a Request checked against the subnet's families.
type parsedRequest struct {
	static [2]netip.Addr
	cands  [2][]netip.Addr
	mac    [6]byte
	hasMAC bool
	pool   string
}

func (s *subnet) parseRequest(req Request) (parsedRequest, error) {
	var p parsedRequest
	if req.Owner == "" {
		return p, errorf(ErrInvalid, "subnet %q: request has no owner", s.name)
	}
	for _, e := range req.IPs {
		for _, part := range strings.Split(e, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			a, err := s.parseMember(part, "static IP")
			if err != nil {
				return p, err
			}
			fam := familyOf(a)
			if p.static[fam].IsValid() && p.static[fam] != a {
				return p, errorf(ErrInvalid, "subnet %q: more than one static %s address requested (%s, %s)", s.name, familyName(fam), p.static[fam], a)
			}
			p.static[fam] = a
		}
	}
	for _, c := range req.Candidates {
		if strings.TrimSpace(c) == "" {
			continue
		}
		a, err := s.parseMember(c, "candidate")
		if err != nil {
			return p, err
		}
		p.cands[familyOf(a)] = append(p.cands[familyOf(a)], a)
	}
	if req.MAC != "" {
		m, err := parseMAC(req.MAC)
		if err != nil {
			return p, fmt.Errorf("subnet %q: %w", s.name, err)
		}
		p.mac, p.hasMAC = m, true
	}
	if req.Pool != "" {
		if _, ok := s.pools[req.Pool]; !ok {
			return p, errorf(ErrNoSuchPool, "subnet %q: IP pool %q", s.name, req.Pool)
		}
		p.pool = req.Pool
	}
	return p, nil
}

// parseMember parses an address that must lie inside the subnet's CIDR of its family.
func (s *subnet) parseMember(str, what string) (netip.Addr, error) {
	a, err := ParseAddr(str)
	if err != nil {
		return a, errorf(ErrInvalid, "subnet %q: %s %q is not an IP address", s.name, what, str)
	}
	f := s.fams[familyOf(a)]
	if f == nil {
		return a, errorf(ErrOutOfRange, "subnet %q: %s %s: the subnet has no %s CIDR", s.name, what, a, familyName(familyOf(a)))
	}
	if !f.prefix.Contains(a) {
		return a, errorf(ErrOutOfRange, "subnet %q: %s %s is not inside %s", s.name, what, a, f.prefix)
	}
	return a, nil
}

// allocate gives owner what p asks for, or fails without changing anything:
// every address (one per family) and the MAC are chosen first and committed
// together, so a dual-stack request never holds one family alone.
func (s *subnet) allocate(owner string, p parsedRequest) (*holding, error) {
	h := s.owners[owner]
	var picks [2]netip.Addr
	var from [2]*line // the line of a dynamic pick
	for fam, f := range s.fams {
		if f == nil {
			continue
		}
		if h != nil && h.ips[fam].IsValid() {
			if p.static[fam].IsValid() && p.static[fam] != h.ips[fam] {
				return nil, errorf(ErrConflict, "subnet %q: owner %s already holds %s, not %s; release it first", s.name, owner, h.ips[fam], p.static[fam])
			}
			continue
		}
		a, l, err := s.pick(f, owner, p, fam)
		if err != nil {
			return nil, err
		}
		picks[fam], from[fam] = a, l
	}
	mac, err := s.pickMAC(owner, h, p)
	if err != nil {
		return nil, err
	}
	if h == nil {
		h = &holding{mac: mac, macStr: macString(mac)}
		if s.owners == nil {
			s.owners, s.macs = map[string]*holding{}, map[[6]byte]string{}
		}
		s.owners[owner] = h
		s.macs[mac] = owner
	}
	for fam, a := range picks {
		if a.IsValid() {
			s.fams[fam].hold(u128From(a), owner, from[fam])
			h.ips[fam] = a
		}
	}
	return h, nil
}

// pick chooses the address of one family for an owner that holds none in
// it, and returns the line it comes from if it is a dynamic pick.
func (s *subnet) pick(f *family, owner string, p parsedRequest, fam int) (netip.Addr, *line, error) {
	if a := p.static[fam]; a.IsValid() {
		return a, nil, s.checkStatic(f, a)
	}
	if cs := p.cands[fam]; len(cs) > 0 {
		for _, c := range cs {
			if s.checkStatic(f, c) == nil {
				return c, nil, nil
			}
		}
		return netip.Addr{}, nil, errorf(ErrNoAvailable, "subnet %q: none of the candidate %s addresses for %s is free", s.name, familyName(fam), owner)
	}
	l, what := &f.random, "the subnet"
	if ps := f.pools[p.pool]; p.pool != "" && ps != nil {
		l, what = &ps.free, "IP pool "+p.pool
	}
	x, ok := l.peek()
	if !ok {
		return netip.Addr{}, nil, errorf(ErrNoAvailable, "subnet %q: %s has no free %s address for %s", s.name, what, familyName(fam), owner)
	}
	return x.addr(f.is4), l, nil
}

// checkStatic reports why a (inside f's CIDR) cannot be given to a new owner.
func (s *subnet) checkStatic(f *family, a netip.Addr) error {
	x := u128From(a)
	if reason, sentinel := f.assignableReason(x); reason != "" {
		return errorf(sentinel, "subnet %q: %s %s", s.name, a, reason)
	}
	if holder, ok := f.holders[x]; ok {
		return errorf(ErrConflict, "subnet %q: %s is held by %s", s.name, a, holder)
	}
	return nil
}

// pickMAC returns the MAC of a new holding, or checks the request against
// the MAC of an existing one (h != nil).
func (s *subnet) pickMAC(owner string, h *holding, p parsedRequest) ([6]byte, error) {
	switch {
	case h != nil && p.hasMAC && p.mac != h.mac:
		return h.mac, errorf(ErrMACConflict, "subnet %q: owner %s already has MAC %s, not %s; release it first", s.name, owner, macString(h.mac), macString(p.mac))
	case h != nil:
		return h.mac, nil
	case p.hasMAC:
		if holder, ok := s.macs[p.mac]; ok {
			return p.mac, errorf(ErrMACConflict, "subnet %q: MAC %s is held by %s", s.name, macString(p.mac), holder)
		}
		return p.mac, nil
	}
	for {
		m := randomMAC()
		if _, taken := s.macs[m]; !taken {
			return m, nil
		}
	}
}

// randomMAC returns a random locally administered unicast MAC: 46 random
// bits, with the first octet's multicast bit clear and its
// locally-administered bit set (so it cannot collide with a vendor MAC).
func randomMAC() [6]byte {
	v := rand.Uint64()
	m := [6]byte{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	m[0] = m[0]&^0x01 | 0x02
	return m
}
