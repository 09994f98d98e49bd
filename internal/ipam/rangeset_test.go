package ipam

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestU128(t *testing.T) {
	max := u128{^uint64(0), ^uint64(0)}
	tests := []struct {
		x    u128
		want string
	}{
		{u128{}, "0"},
		{u128{lo: 42}, "42"},
		{u128{hi: 1}, "18446744073709551616"},
		{max, "340282366920938463463374607431768211455"},
		{u128{hi: 1}.sub(u128{lo: 2}), "18446744073709551614"},
	}
	for _, tt := range tests {
		if got := tt.x.String(); got != tt.want {
			t.Errorf("String(%#v) = %s, want %s", tt.x, got, tt.want)
		}
	}
	if max.inc() != (u128{}) || (u128{}).dec() != max {
		t.Error("inc/dec do not wrap at 2^128")
	}
	for _, s := range []string{"0.0.0.0", "10.1.2.3", "255.255.255.255", "::", "fd00::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1:2:3:4:5:6:7:8"} {
		a := netip.MustParseAddr(s)
		if got := u128From(a).addr(a.Is4()); got != a {
			t.Errorf("round trip of %s = %s", a, got)
		}
	}
}

func TestPrefixBounds(t *testing.T) {
	tests := []struct{ prefix, first, last string }{
		{"10.16.0.0/16", "10.16.0.0", "10.16.255.255"},
		{"10.0.0.0/8", "10.0.0.0", "10.255.255.255"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"10.0.0.7/32", "10.0.0.7", "10.0.0.7"},
		{"fd00::/64", "fd00::", "fd00::ffff:ffff:ffff:ffff"},
		{"fd00::/63", "fd00::", "fd00::1:ffff:ffff:ffff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"fd00::/120", "fd00::", "fd00::ff"},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		first, last := prefixBounds(p)
		if got := first.addr(p.Addr().Is4()).String(); got != tt.first {
			t.Errorf("%s first = %s, want %s", tt.prefix, got, tt.first)
		}
		if got := last.addr(p.Addr().Is4()).String(); got != tt.last {
			t.Errorf("%s last = %s, want %s", tt.prefix, got, tt.last)
		}
	}
}

// TestRangeSetModel checks rangeSet against a set of integers under random
// adds and removes, including its invariant (sorted, disjoint, not adjacent).
func TestRangeSetModel(t *testing.T) {
	const universe = 64
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var s rangeSet
		model := map[uint64]bool{}
		for range 40 {
			lo := r.Uint64N(universe)
			hi := lo + r.Uint64N(6)
			add := r.IntN(2) == 0
			if add {
				s.add(u128{lo: lo}, u128{lo: hi})
			} else {
				s.remove(u128{lo: lo}, u128{lo: hi})
			}
			for x := lo; x <= hi; x++ {
				model[x] = add
			}
			checkAgainst(t, round, s, func(x uint64) bool { return model[x] })
		}
	}
}

func checkAgainst(t *testing.T, round int, s rangeSet, member func(uint64) bool) {
	t.Helper()
	n := uint64(0)
	for x := uint64(0); x < 80; x++ {
		if got := s.contains(u128{lo: x}); got != member(x) {
			t.Fatalf("round %d: contains(%d) = %v, want %v; set %v", round, x, got, member(x), s)
		}
		if member(x) {
			n++
		}
	}
	if c := s.count(); c != (u128{lo: n}) {
		t.Fatalf("round %d: count = %v, want %d", round, c, n)
	}
	for i := 1; i < len(s); i++ {
		if !s[i-1].hi.inc().less(s[i].lo) {
			t.Fatalf("round %d: spans %v and %v overlap or touch", round, s[i-1], s[i])
		}
	}
	for _, sp := range s {
		if sp.hi.less(sp.lo) {
			t.Fatalf("round %d: empty span %v", round, sp)
		}
	}
}

func TestRangeSetAlgebra(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func() (rangeSet, map[uint64]bool) {
		var s rangeSet
		m := map[uint64]bool{}
		for range 8 {
			lo := r.Uint64N(60)
			hi := lo + r.Uint64N(5)
			s.add(u128{lo: lo}, u128{lo: hi})
			for x := lo; x <= hi; x++ {
				m[x] = true
			}
		}
		return s, m
	}
	for round := range 300 {
		a, am := gen()
		b, bm := gen()
		checkAgainst(t, round, a.intersect(b), func(x uint64) bool { return am[x] && bm[x] })
		checkAgainst(t, round, a.subtract(b), func(x uint64) bool { return am[x] && !bm[x] })
		checkAgainst(t, round, a.union(b), func(x uint64) bool { return am[x] || bm[x] })
		// The operands are not modified.
		checkAgainst(t, round, a, func(x uint64) bool { return am[x] })
	}
}

func TestRangeSetEdges(t *testing.T) {
	max := u128{^uint64(0), ^uint64(0)}
	var s rangeSet
	s.add(u128{}, max)
	if c := s.count(); !c.isZero() { // 2^128 wraps to 0: the only overflow, never reached by a real CIDR line
		t.Fatalf("count of the full space = %v", c)
	}
	s.remove(max, max)
	s.remove(u128{}, u128{})
	if len(s) != 1 || s[0].lo != (u128{lo: 1}) || s[0].hi != max.dec() {
		t.Fatalf("after removing both ends: %v", s)
	}
	s.add(max, max)
	if len(s) != 1 || s[0].hi != max {
		t.Fatalf("adding the top address did not merge: %v", s)
	}
	if got := (rangeSet{{u128{lo: 0x0a000002}, u128{lo: 0x0a000009}}, {u128{lo: 0x0a00000c}, u128{lo: 0x0a00000c}}}).format(true); got != "10.0.0.2-10.0.0.9,10.0.0.12" {
		t.Fatalf("format = %q", got)
	}
}

// TestLineOrder checks the three parts of a line: the current round lowest
// first, then waiting releases, with the latest releases in FIFO order last.
func TestLineOrder(t *testing.T) {
	var l line
	l.reset(rangeSet{{u128{lo: 1}, u128{lo: 5}}}, nil, nil, line{}, false)
	take := func() uint64 {
		x, ok := l.take()
		if !ok {
			t.Fatal("line is empty")
		}
		return x.lo
	}
	if a, b := take(), take(); a != 1 || b != 2 {
		t.Fatalf("first round = %d, %d; want 1, 2", a, b)
	}
	l.release(u128{lo: 2})
	l.release(u128{lo: 1})
	// 3, 4, 5 are never used: they come first; then 2 and 1 in release order.
	var got []uint64
	for range 5 {
		got = append(got, take())
	}
	want := []uint64{3, 4, 5, 2, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
	if _, ok := l.take(); ok {
		t.Fatal("line not empty")
	}
}

func TestLineRecentOverflow(t *testing.T) {
	var l line
	n := uint64(recentMax + 10)
	l.reset(rangeSet{{u128{lo: 0}, u128{lo: n - 1}}}, nil, nil, line{}, false)
	for range n {
		l.take()
	}
	// Release in descending order. The 10 oldest releases (n-1 .. n-10)
	// spill out of the queue: the first spill finds the current round empty
	// and becomes it alone; the other nine wait for the next round, which
	// starts at the first of them (n-2) and wraps; the queue follows in
	// release order.
	for x := n; x > 0; x-- {
		l.release(u128{lo: x - 1})
	}
	if c := l.count(); c != (u128{lo: n}) {
		t.Fatalf("count = %v, want %d", c, n)
	}
	want := []uint64{n - 1, n - 2}
	for x := n - 10; x < n-2; x++ {
		want = append(want, x)
	}
	for x := n - 10; x > 0; x-- {
		want = append(want, x-1)
	}
	for i, w := range want {
		if x, _ := l.take(); x.lo != w {
			t.Fatalf("take %d = %d, want %d", i, x.lo, w)
		}
	}
	if _, ok := l.take(); ok {
		t.Fatal("line not empty")
	}
}

// TestSpanTreeModel checks spanTree against a set of integers under random
// single-address adds and removes, and its conversion to and from rangeSet.
func TestSpanTreeModel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 100 {
		var seed rangeSet
		model := map[uint64]bool{}
		for range 5 {
			lo := r.Uint64N(70)
			hi := lo + r.Uint64N(8)
			seed.add(u128{lo: lo}, u128{lo: hi})
			for x := lo; x <= hi; x++ {
				model[x] = true
			}
		}
		tr := newSpanTree(seed)
		for range 300 {
			x := r.Uint64N(80)
			if r.IntN(2) == 0 {
				tr.add(u128{lo: x})
				model[x] = true
			} else {
				tr.remove(u128{lo: x})
				delete(model, x)
			}
			s := tr.set()
			checkAgainst(t, round, s, func(x uint64) bool { return model[x] })
			if tr.size != s.count() || tr.spans != len(s) {
				t.Fatalf("round %d: size %v spans %d, set %v", round, tr.size, tr.spans, s)
			}
			for x := uint64(0); x < 80; x++ {
				if tr.contains(u128{lo: x}) != model[x] {
					t.Fatalf("round %d: contains(%d) wrong", round, x)
				}
				want, ok := uint64(0), false
				for y := x; y < 80; y++ {
					if model[y] {
						want, ok = y, true
						break
					}
				}
				if got, gok := tr.ceil(u128{lo: x}); gok != ok || (ok && got.lo != want) {
					t.Fatalf("round %d: ceil(%d) = %v, %v; want %d, %v", round, x, got, gok, want, ok)
				}
			}
		}
	}
}
