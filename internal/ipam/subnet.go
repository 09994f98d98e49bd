package ipam

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
)

// family is one address family of a subnet: its CIDR and the bookkeeping of
// the addresses in it. All sets hold numbers (u128) of this family only.
type family struct {
	prefix      netip.Prefix
	is4         bool
	first, last u128 // the CIDR's network address and last address
	p2p         bool // point-to-point prefix: nothing but the gateway reserved
	gateway     u128
	// excluded holds the excludeIps addresses: never handed out dynamically,
	// still allowed for static requests (case B06, see doc.go).
	excluded rangeSet
	// holders maps every held address to its owner; used is the same set as
	// ranges, for the using-range status string.
	holders map[u128]string
	used    spanTree
	// random is the free space of dynamic requests without a pool; pools
	// holds the free space of each named pool that has addresses in this family.
	random line
	pools  map[string]*poolSpace
}

// poolSpace is a pool's share of one family.
type poolSpace struct {
	members rangeSet // the pool's addresses, clipped to the family's CIDR
	free    line     // members that are assignable, not excluded and not held
}

func newFamily(p netip.Prefix, gw netip.Addr, excludes []Range) *family {
	f := &family{prefix: p, is4: p.Addr().Is4(), gateway: u128From(gw)}
	f.first, f.last = prefixBounds(p)
	f.p2p = reservedReason(p, f.first) == "" && reservedReason(p, f.last) == ""
	for _, r := range excludes {
		if r.From.Is4() == f.is4 {
			sp := r.span()
			f.excluded.add(sp.lo, sp.hi)
		}
	}
	return f
}

// assignableReason returns why x can never be held in f ("" if it can):
// outside the CIDR, the network or broadcast address, or the gateway. The
// returned sentinel classifies the reason.
func (f *family) assignableReason(x u128) (string, error) {
	switch {
	case x.less(f.first) || f.last.less(x):
		return "is not inside " + f.prefix.String(), ErrOutOfRange
	case x == f.gateway:
		return "is the gateway of " + f.prefix.String(), ErrGateway
	case f.p2p || (x != f.first && x != f.last):
		return "", nil
	}
	if r := reservedReason(f.prefix, x); r != "" {
		return "is the " + r + " of " + f.prefix.String(), ErrReserved
	}
	return "", nil
}

// assignable returns the addresses of the CIDR that may ever be held: all
// but the network, broadcast and gateway addresses.
func (f *family) assignable() rangeSet {
	s := rangeSet{{f.first, f.last}}
	for _, x := range []u128{f.first, f.last, f.gateway} {
		if r, _ := f.assignableReason(x); r != "" {
			s.remove(x, x)
		}
	}
	return s
}

// lineFor returns the line a free x belongs to, or nil when x is never
// handed out dynamically (excluded, or not assignable).
func (f *family) lineFor(x u128) *line {
	if f.excluded.contains(x) {
		return nil
	}
	if r, _ := f.assignableReason(x); r != "" {
		return nil
	}
	if len(f.pools) > 0 {
		for _, ps := range f.pools {
			if ps.members.contains(x) {
				return &ps.free
			}
		}
	}
	return &f.random
}

// hold records x as owned by owner and takes it out of its line: l if the
// caller knows it (a dynamic pick), else the one lineFor finds.
func (f *family) hold(x u128, owner string, l *line) {
	f.record(x, owner)
	if l == nil {
		l = f.lineFor(x)
	}
	if l != nil {
		l.remove(x)
	}
}

// record notes x as held by owner (maps are created on first use, so an
// empty subnet stays small).
func (f *family) record(x u128, owner string) {
	if f.holders == nil {
		f.holders = map[u128]string{}
	}
	f.holders[x] = owner
	f.used.add(x)
}

// free returns x: it joins the end of its line (see line).
func (f *family) free(x u128) {
	delete(f.holders, x)
	f.used.remove(x)
	if l := f.lineFor(x); l != nil {
		l.release(x)
	}
}

// rebuild recomputes every line from the CIDR, exclusions, pools and held
// addresses. The release order of the lines of src (the family being
// replaced, or f itself) is kept for the addresses that are still free, so a
// subnet or pool update does not move recently released addresses to the
// front of the line.
func (f *family) rebuild(pools map[string][]Range, src *family) {
	var next rangeSet
	var recent []u128
	walks := map[string]line{} // copies of src's lines, by pool name ("" = the subnet's)
	lines := map[string]*line{"": &src.random}
	for name, ps := range src.pools {
		lines[name] = &ps.free
	}
	for name, l := range lines {
		next = next.union(l.next.set())
		recent = append(recent, l.recent.items()...)
		walks[name] = *l
	}
	base := f.assignable().subtract(f.excluded).subtract(f.used.set())
	randomFree := base
	f.pools = nil
	for name, rs := range pools {
		var members rangeSet
		for _, r := range rs {
			if r.From.Is4() == f.is4 {
				sp := r.span()
				members.add(sp.lo, sp.hi)
			}
		}
		members = members.intersect(rangeSet{{f.first, f.last}})
		if len(members) == 0 {
			continue
		}
		ps := &poolSpace{members: members}
		w, ok := walks[name]
		ps.free.reset(base.intersect(members), next, recent, w, ok)
		if f.pools == nil {
			f.pools = map[string]*poolSpace{}
		}
		f.pools[name] = ps
		randomFree = randomFree.subtract(members)
	}
	f.random.reset(randomFree, next, recent, walks[""], true)
}

// holding is what one owner holds in a subnet.
type holding struct {
	ips    [2]netip.Addr // by family; the zero Addr where nothing is held
	mac    [6]byte
	macStr string // mac in canonical form
}

// subnet is the IPAM state of one Subnet.
type subnet struct {
	name   string
	fams   [2]*family // by family; nil where the subnet has no CIDR
	owners map[string]*holding
	macs   map[[6]byte]string
	pools  map[string][]Range // pool name -> entries, inside the CIDRs when set
	cfg    SubnetConfig       // the configuration in effect
}

func (s *subnet) allocation(owner string, h *holding) Allocation {
	n := 0
	for _, ip := range h.ips {
		if ip.IsValid() {
			n++
		}
	}
	a := Allocation{Subnet: s.name, Owner: owner, MAC: h.macStr, IPs: make([]netip.Addr, 0, n)}
	for _, ip := range h.ips {
		if ip.IsValid() {
			a.IPs = append(a.IPs, ip)
		}
	}
	return a
}

// release frees everything owner holds.
func (s *subnet) release(owner string) {
	h := s.owners[owner]
	if h == nil {
		return
	}
	for fam, ip := range h.ips {
		if ip.IsValid() {
			s.fams[fam].free(u128From(ip))
		}
	}
	delete(s.macs, h.mac)
	delete(s.owners, owner)
}

// configure builds the subnet's families from cfg and moves the existing
// holdings over. Addresses that are no longer valid (outside the new CIDR,
// now the gateway, network or broadcast address) are dropped from their
// holdings; the affected owners are returned, sorted. On error s is unchanged.
func (s *subnet) configure(cfg SubnetConfig) ([]string, error) {
	if s.fams != ([2]*family{}) && cfg.CIDRBlock == s.cfg.CIDRBlock && cfg.Gateway == s.cfg.Gateway && slices.Equal(cfg.ExcludeIPs, s.cfg.ExcludeIPs) {
		return nil, nil // unchanged: keep the lines as they are (reconciles repeat this often)
	}
	cidrs, err := ParseCIDRBlock(cfg.CIDRBlock)
	if err != nil {
		return nil, fmt.Errorf("subnet %q: %w", cfg.Name, err)
	}
	gws, err := parseGateways(cidrs, cfg.Gateway)
	if err != nil {
		return nil, fmt.Errorf("subnet %q: %w", cfg.Name, err)
	}
	excludes := make([]Range, 0, len(cfg.ExcludeIPs))
	for _, e := range cfg.ExcludeIPs {
		r, err := ParseExclude(e, cidrs)
		if err != nil {
			return nil, fmt.Errorf("subnet %q: %w", cfg.Name, err)
		}
		excludes = append(excludes, r)
	}
	var fams [2]*family
	for i, p := range cidrs {
		fams[familyOf(p.Addr())] = newFamily(p, gws[i], excludes)
	}
	var invalid []string
	for owner, h := range s.owners {
		bad := false
		for fam, ip := range h.ips {
			if !ip.IsValid() {
				continue
			}
			x := u128From(ip)
			if f := fams[fam]; f != nil {
				if r, _ := f.assignableReason(x); r == "" {
					f.record(x, owner)
					continue
				}
			}
			h.ips[fam] = netip.Addr{}
			bad = true
		}
		if bad {
			invalid = append(invalid, owner)
		}
	}
	for fam, f := range fams {
		if f != nil {
			src := s.fams[fam]
			if src == nil {
				src = f
			}
			f.rebuild(s.pools, src)
		}
	}
	s.fams = fams
	s.cfg = cfg
	s.cfg.ExcludeIPs = slices.Clone(cfg.ExcludeIPs)
	sort.Strings(invalid)
	return invalid, nil
}

// setPool adds or replaces pool name (entries as ParseRange takes them). The
// entries must be inside the subnet's CIDRs and must not overlap another pool.
func (s *subnet) setPool(name string, entries []string) error {
	if name == "" {
		return errorf(ErrInvalid, "subnet %q: IP pool name is empty", s.name)
	}
	if len(entries) == 0 {
		return errorf(ErrInvalid, "subnet %q: IP pool %q has no addresses", s.name, name)
	}
	var cidrs []netip.Prefix
	for _, f := range s.fams {
		if f != nil {
			cidrs = append(cidrs, f.prefix)
		}
	}
	rs := make([]Range, 0, len(entries))
	for _, e := range entries {
		r, err := ParseRange(e)
		if err != nil {
			return fmt.Errorf("subnet %q: IP pool %q: %w", s.name, name, err)
		}
		f := s.fams[familyOf(r.From)]
		if f == nil || !f.prefix.Contains(r.From) || !f.prefix.Contains(r.To) {
			return errorf(ErrOutOfRange, "subnet %q: IP pool %q: %q is not inside cidrBlock %s", s.name, name, e, joinPrefixes(cidrs))
		}
		for other, ors := range s.pools {
			for _, o := range ors {
				if other != name && o.From.Is4() == r.From.Is4() && !o.To.Less(r.From) && !r.To.Less(o.From) {
					return errorf(ErrInvalid, "subnet %q: IP pool %q: %s overlaps IP pool %q (%s)", s.name, name, r, other, o)
				}
			}
		}
		rs = append(rs, r)
	}
	pools := maps.Clone(s.pools)
	if pools == nil {
		pools = map[string][]Range{}
	}
	pools[name] = rs
	s.setPools(pools)
	return nil
}

// setPools replaces the pool definitions and recomputes the lines.
func (s *subnet) setPools(pools map[string][]Range) {
	s.pools = pools
	for _, f := range s.fams {
		if f != nil {
			f.rebuild(pools, f)
		}
	}
}
