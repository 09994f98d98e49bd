package ipam

import (
	"sort"
	"strings"
)

// span is an inclusive run of addresses [lo, hi] of one family.
type span struct{ lo, hi u128 }

// rangeSet is a set of addresses of one family: spans sorted by address,
// disjoint and never adjacent (touching spans are merged). Memory is one span
// per run of consecutive members, never one entry per address; membership is
// a binary search. Edits in the middle move the tail of the slice, so sets
// edited on every allocation use spanTree instead; rangeSet holds the sets
// that change with the configuration (exclusions, pools) and the algebra
// (union, intersection, difference) used to build lines and status.
type rangeSet []span

// search returns the index of the first span whose hi is >= x.
func (s rangeSet) search(x u128) int {
	return sort.Search(len(s), func(i int) bool { return !s[i].hi.less(x) })
}

func (s rangeSet) contains(x u128) bool {
	i := s.search(x)
	return i < len(s) && !x.less(s[i].lo)
}

// first returns the lowest member.
func (s rangeSet) first() (u128, bool) {
	if len(s) == 0 {
		return u128{}, false
	}
	return s[0].lo, true
}

// count returns the number of members.
func (s rangeSet) count() u128 {
	var n u128
	for _, r := range s {
		n = n.add(r.hi.sub(r.lo).inc())
	}
	return n
}

// add inserts [lo, hi] (lo <= hi), merging with overlapping or adjacent spans.
func (s *rangeSet) add(lo, hi u128) {
	rs := *s
	// Spans from i to j-1 overlap or touch [lo, hi]. The "touch" test is
	// written as r.hi+1 >= lo without overflowing at the top of the space.
	i := sort.Search(len(rs), func(k int) bool { return !rs[k].hi.less(lo) || rs[k].hi.inc().cmp(lo) == 0 })
	j := i
	for j < len(rs) && (!hi.less(rs[j].lo) || hi.inc().cmp(rs[j].lo) == 0) {
		j++
	}
	if i < j {
		if rs[i].lo.less(lo) {
			lo = rs[i].lo
		}
		if hi.less(rs[j-1].hi) {
			hi = rs[j-1].hi
		}
	}
	switch {
	case j-i == 1:
		rs[i] = span{lo, hi}
	case i == j:
		rs = append(rs, span{})
		copy(rs[i+1:], rs[i:])
		rs[i] = span{lo, hi}
	default:
		rs[i] = span{lo, hi}
		rs = append(rs[:i+1], rs[j:]...)
	}
	*s = rs
}

// remove deletes [lo, hi] (lo <= hi) from the set.
func (s *rangeSet) remove(lo, hi u128) {
	rs := *s
	i := rs.search(lo)
	if i == len(rs) || hi.less(rs[i].lo) {
		return
	}
	r := rs[i]
	// Removing from inside one span splits it.
	if r.lo.less(lo) && hi.less(r.hi) {
		rs = append(rs, span{})
		copy(rs[i+1:], rs[i:])
		rs[i] = span{r.lo, lo.dec()}
		rs[i+1] = span{hi.inc(), r.hi}
		*s = rs
		return
	}
	keep := rs[:i]
	if r.lo.less(lo) {
		keep = append(keep, span{r.lo, lo.dec()})
		i++
	}
	j := i
	for j < len(rs) && !hi.less(rs[j].hi) {
		j++
	}
	if j < len(rs) && !hi.less(rs[j].lo) {
		rs[j].lo = hi.inc()
	}
	if len(keep) == 0 {
		*s = rs[j:] // dropping a prefix: no copy (the common take-the-lowest case)
		return
	}
	*s = append(keep, rs[j:]...)
}

// takeFirst removes and returns the lowest member.
func (s *rangeSet) takeFirst() (u128, bool) {
	rs := *s
	if len(rs) == 0 {
		return u128{}, false
	}
	x := rs[0].lo
	if x == rs[0].hi {
		*s = rs[1:]
	} else {
		rs[0].lo = x.inc()
	}
	return x, true
}

// intersect returns the members of both s and t.
func (s rangeSet) intersect(t rangeSet) rangeSet {
	var out rangeSet
	for i, j := 0, 0; i < len(s) && j < len(t); {
		lo, hi := s[i].lo, s[i].hi
		if lo.less(t[j].lo) {
			lo = t[j].lo
		}
		if t[j].hi.less(hi) {
			hi = t[j].hi
		}
		if !hi.less(lo) {
			out = append(out, span{lo, hi})
		}
		if s[i].hi.less(t[j].hi) {
			i++
		} else {
			j++
		}
	}
	return out
}

// subtract returns the members of s that are not in t.
func (s rangeSet) subtract(t rangeSet) rangeSet {
	out := append(rangeSet(nil), s...)
	for _, r := range t {
		out.remove(r.lo, r.hi)
	}
	return out
}

// union returns the members of s or t.
func (s rangeSet) union(t rangeSet) rangeSet {
	out := append(rangeSet(nil), s...)
	for _, r := range t {
		out.add(r.lo, r.hi)
	}
	return out
}

// format writes the set as "a-b,c" (Kube-OVN's status range format): spans
// joined by commas, a single address without a dash.
func (s rangeSet) format(is4 bool) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.lo.addr(is4).String())
		if r.lo != r.hi {
			b.WriteByte('-')
			b.WriteString(r.hi.addr(is4).String())
		}
	}
	return b.String()
}
