package ipam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// famChecker is an independent model of one family of a subnet: which
// addresses are dynamic, free or held, and when each was released. It checks
// what the IPAM hands out against the guarantees of doc.go.
type famChecker struct {
	t       testing.TB
	prefix  netip.Prefix
	gateway netip.Addr
	dynamic map[netip.Addr]bool  // never reserved nor excluded
	free    map[netip.Addr]int64 // free dynamic addresses -> release number, 0 = never used
	holder  map[netip.Addr]string
	rel     int64 // releases of dynamic addresses so far
}

func newFamChecker(t testing.TB, prefix, gateway string, excludes []string) *famChecker {
	c := &famChecker{t: t, prefix: netip.MustParsePrefix(prefix), gateway: netip.MustParseAddr(gateway),
		dynamic: map[netip.Addr]bool{}, free: map[netip.Addr]int64{}, holder: map[netip.Addr]string{}}
	first := c.prefix.Addr()
	last := first
	for a := first; c.prefix.Contains(a); a = a.Next() {
		last = a
	}
	for a := first; c.prefix.Contains(a); a = a.Next() {
		excluded := false
		for _, e := range excludes {
			if r, err := ParseRange(e); err == nil && r.Contains(a) {
				excluded = true
			}
		}
		if a != first && !(a.Is4() && a == last) && a != c.gateway && !excluded {
			c.dynamic[a] = true
			c.free[a] = 0
		}
	}
	return c
}

// expectStatic returns the sentinel a static request for a should fail with, or nil.
func (c *famChecker) expectStatic(a netip.Addr) error {
	switch {
	case !c.prefix.Contains(a):
		return ErrOutOfRange
	case a == c.gateway:
		return ErrGateway
	case a == c.prefix.Addr() || (a.Is4() && a.Next().IsValid() && !c.prefix.Contains(a.Next())):
		return ErrReserved
	case c.holder[a] != "":
		return ErrConflict
	}
	return nil
}

// gotStatic records a static allocation that succeeded.
func (c *famChecker) gotStatic(a netip.Addr, owner string) {
	if h := c.holder[a]; h != "" && h != owner {
		c.t.Fatalf("%s given to %s while held by %s", a, owner, h)
	}
	c.holder[a] = owner
	delete(c.free, a)
}

// gotDynamic checks and records a dynamic allocation.
func (c *famChecker) gotDynamic(a netip.Addr, owner string) {
	c.t.Helper()
	if h := c.holder[a]; h != "" {
		c.t.Fatalf("%s given to %s while held by %s", a, owner, h)
	}
	if !c.dynamic[a] {
		c.t.Fatalf("dynamic allocation returned %s: gateway, reserved, excluded or outside %s", a, c.prefix)
	}
	seq, ok := c.free[a]
	if !ok {
		c.t.Fatalf("dynamic allocation returned %s, which is not free", a)
	}
	// Never-used addresses first, lowest first.
	var lowestNew netip.Addr
	for f, s := range c.free {
		if s == 0 && (!lowestNew.IsValid() || f.Less(lowestNew)) {
			lowestNew = f
		}
	}
	if lowestNew.IsValid() && a != lowestNew {
		c.t.Fatalf("dynamic allocation returned %s (release #%d) while never-used %s is free", a, seq, lowestNew)
	}
	// While fewer than recentMax releases followed it, a released address
	// comes back only when every other free address was released after it.
	if seq > 0 && c.rel-seq < recentMax {
		for f, s := range c.free {
			if f != a && s < seq {
				c.t.Fatalf("dynamic allocation returned %s (release #%d of %d) while %s (release #%d) is free", a, seq, c.rel, f, s)
			}
		}
	}
	c.holder[a] = owner
	delete(c.free, a)
}

func (c *famChecker) released(a netip.Addr) {
	delete(c.holder, a)
	if c.dynamic[a] {
		c.rel++
		c.free[a] = c.rel
	}
}

func (c *famChecker) checkUsage(using int, available Count) {
	c.t.Helper()
	if using != len(c.holder) || available.String() != fmt.Sprint(len(c.free)) {
		c.t.Fatalf("usage: using %d available %s; model: using %d available %d", using, available, len(c.holder), len(c.free))
	}
}

// churnChecker drives one single-family subnet with live owners.
type churnChecker struct {
	m      *IPAM
	subnet string
	fam    *famChecker
	live   []Allocation
}

func newChurnChecker(t testing.TB, m *IPAM, subnet string) *churnChecker {
	s := m.subnets[subnet]
	f := s.fams[0]
	return &churnChecker{m: m, subnet: subnet, fam: newFamChecker(t, f.prefix.String(), f.gateway.addr(true).String(), nil)}
}

func (c *churnChecker) allocate(owner string) {
	a, err := c.m.Allocate(Request{Subnet: c.subnet, Owner: owner})
	if err != nil {
		if errors.Is(err, ErrNoAvailable) && len(c.fam.free) == 0 {
			return
		}
		c.fam.t.Fatalf("Allocate(%s): %v (model free: %d)", owner, err, len(c.fam.free))
	}
	c.fam.gotDynamic(a.IPs[0], owner)
	c.live = append(c.live, a)
}

func (c *churnChecker) release(i int) {
	a := c.live[i]
	c.live = append(c.live[:i], c.live[i+1:]...)
	c.m.Release(c.subnet, a.Owner)
	c.fam.released(a.IPs[0])
}

// FuzzNeverTwice runs a random sequence of operations on a small dual-stack
// subnet with exclusions and checks every result against the model: no
// address is ever held twice, dynamic allocation never returns the gateway,
// a reserved or an excluded address, follows the end-of-line order, static
// requests fail exactly when they must, and usage counts agree.
func FuzzNeverTwice(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0, 0, 2, 2, 0})
	f.Add([]byte{3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63})
	f.Add([]byte{0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 2, 6, 10, 1, 5, 9})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{15, 15, 2, 15, 19, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 66, 130, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		excludes := []string{"10.0.0.3..10.0.0.4", "fd00::8"}
		m := newIPAM(t, SubnetConfig{Name: "s", CIDRBlock: "10.0.0.0/28,fd00::/124", Gateway: "10.0.0.1,fd00::1", ExcludeIPs: excludes})
		v4 := newFamChecker(t, "10.0.0.0/28", "10.0.0.1", excludes)
		v6 := newFamChecker(t, "fd00::/124", "fd00::1", excludes)
		var live []Allocation
		for i, op := range ops {
			owner := fmt.Sprint("o", i)
			switch op % 4 {
			case 0, 1: // dynamic
				a, err := m.Allocate(Request{Subnet: "s", Owner: owner})
				if err != nil {
					if !errors.Is(err, ErrNoAvailable) || (len(v4.free) > 0 && len(v6.free) > 0) {
						t.Fatalf("op %d: Allocate: %v", i, err)
					}
					continue
				}
				if len(v4.free) == 0 || len(v6.free) == 0 {
					t.Fatalf("op %d: allocated %v with the model exhausted", i, a.IPs)
				}
				v4.gotDynamic(a.IPs[0], owner)
				v6.gotDynamic(a.IPs[1], owner)
				live = append(live, a)
			case 2: // release
				if len(live) == 0 {
					m.Release("s", "unknown")
					continue
				}
				j := int(op>>2) % len(live)
				a := live[j]
				live = append(live[:j], live[j+1:]...)
				m.Release("s", a.Owner)
				v4.released(a.IPs[0])
				v6.released(a.IPs[1])
			case 3: // static IPv4 (any address of the /28, in an odd textual form), dynamic IPv6
				ip := netip.AddrFrom4([4]byte{10, 0, 0, op >> 4})
				want := v4.expectStatic(ip)
				if want == nil && len(v6.free) == 0 {
					want = ErrNoAvailable
				}
				a, err := m.Allocate(Request{Subnet: "s", Owner: owner, IPs: []string{"::ffff:" + ip.String()}})
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Fatalf("op %d: static %s: %v, want %v", i, ip, err, want)
				}
				if err == nil {
					v4.gotStatic(a.IPs[0], owner)
					v6.gotDynamic(a.IPs[1], owner)
					live = append(live, a)
				}
			}
			u := usage(t, m, "s")
			v4.checkUsage(u.V4Using, u.V4Available)
			v6.checkUsage(u.V6Using, u.V6Available)
		}
		// Idempotence: every live owner gets the same again.
		for _, a := range live {
			b := mustAllocate(t, m, Request{Subnet: "s", Owner: a.Owner})
			if b.IPString() != a.IPString() || b.MAC != a.MAC {
				t.Fatalf("re-allocation of %s = %+v, want %+v", a.Owner, b, a)
			}
		}
	})
}
