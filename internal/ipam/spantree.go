package ipam

import "math/rand/v2"

// spanTree is a set of addresses like rangeSet (disjoint, non-adjacent
// spans), kept in a treap so that adding or removing one address costs
// O(log n) expected in the number of spans n, however fragmented the set.
// It holds the sets that change on every allocation (a line's rounds, the
// held addresses); rangeSet serves the rest. Spans are edited in place when
// an address extends or shrinks one, so the common case allocates nothing.
type spanTree struct {
	root  *treapNode
	spans int
	size  u128       // number of addresses
	spare *treapNode // one deleted node kept for the next insert
}

type treapNode struct {
	s           span
	prio        uint32
	left, right *treapNode
}

// around returns the span with the largest lo <= x (floor) and the span
// with the smallest lo > x (above), either nil, in one descent.
func (t *spanTree) around(x u128) (floor, above *treapNode) {
	for n := t.root; n != nil; {
		if x.less(n.s.lo) {
			above, n = n, n.left
		} else {
			floor, n = n, n.right
		}
	}
	return floor, above
}

// floor returns the span with the largest lo <= x, or nil.
func (t *spanTree) floor(x u128) *treapNode {
	var best *treapNode
	for n := t.root; n != nil; {
		if x.less(n.s.lo) {
			n = n.left
		} else {
			best, n = n, n.right
		}
	}
	return best
}

func (t *spanTree) contains(x u128) bool {
	f := t.floor(x)
	return f != nil && !f.s.hi.less(x)
}

// ceil returns the lowest member >= x.
func (t *spanTree) ceil(x u128) (u128, bool) {
	f, a := t.around(x)
	if f != nil && !f.s.hi.less(x) {
		return x, true
	}
	if a != nil {
		return a.s.lo, true
	}
	return u128{}, false
}

// first returns the lowest member.
func (t *spanTree) first() (u128, bool) {
	n := t.root
	if n == nil {
		return u128{}, false
	}
	for n.left != nil {
		n = n.left
	}
	return n.s.lo, true
}

func (t *spanTree) empty() bool { return t.root == nil }

// add inserts the single address x.
func (t *spanTree) add(x u128) {
	f, a := t.around(x)
	if f != nil && !f.s.hi.less(x) {
		return
	}
	joinLeft := f != nil && f.s.hi.inc() == x
	joinRight := a != nil && x.inc() == a.s.lo
	switch {
	case joinLeft && joinRight:
		f.s.hi = a.s.hi
		t.delete(a.s.lo)
	case joinLeft:
		f.s.hi = x
	case joinRight:
		a.s.lo = x // still above f: the order is kept
	default:
		t.insert(span{x, x})
	}
	t.size = t.size.inc()
}

// remove deletes the single address x and reports whether it was a member.
func (t *spanTree) remove(x u128) bool {
	f := t.floor(x)
	if f == nil || f.s.hi.less(x) {
		return false
	}
	switch {
	case f.s.lo == f.s.hi:
		t.delete(f.s.lo)
	case x == f.s.lo:
		f.s.lo = x.inc()
	case x == f.s.hi:
		f.s.hi = x.dec()
	default:
		hi := f.s.hi
		f.s.hi = x.dec()
		t.insert(span{x.inc(), hi})
	}
	t.size = t.size.dec()
	return true
}

// set returns the members as a rangeSet.
func (t *spanTree) set() rangeSet {
	out := make(rangeSet, 0, t.spans)
	var walk func(*treapNode)
	walk = func(n *treapNode) {
		if n != nil {
			walk(n.left)
			out = append(out, n.s)
			walk(n.right)
		}
	}
	walk(t.root)
	return out
}

// newSpanTree returns a tree holding the members of s.
func newSpanTree(s rangeSet) spanTree {
	var t spanTree
	for _, r := range s {
		t.insert(r)
		t.size = t.size.add(r.hi.sub(r.lo).inc())
	}
	return t
}

// insert adds a span that is disjoint from and not adjacent to every other.
func (t *spanTree) insert(s span) {
	n := t.spare
	if n != nil {
		t.spare = nil
		*n = treapNode{}
	} else {
		n = new(treapNode)
	}
	n.s, n.prio = s, rand.Uint32()
	t.root = treapInsert(t.root, n)
	t.spans++
}

// delete removes the span starting at lo.
func (t *spanTree) delete(lo u128) {
	var gone *treapNode
	t.root = treapDelete(t.root, lo, &gone)
	if gone != nil {
		t.spans--
		t.spare = gone
	}
}

func treapInsert(root, n *treapNode) *treapNode {
	if root == nil {
		return n
	}
	if n.s.lo.less(root.s.lo) {
		root.left = treapInsert(root.left, n)
		if root.left.prio > root.prio {
			l := root.left
			root.left, l.right = l.right, root
			return l
		}
		return root
	}
	root.right = treapInsert(root.right, n)
	if root.right.prio > root.prio {
		r := root.right
		root.right, r.left = r.left, root
		return r
	}
	return root
}

func treapDelete(root *treapNode, lo u128, gone **treapNode) *treapNode {
	if root == nil {
		return nil
	}
	switch c := lo.cmp(root.s.lo); {
	case c < 0:
		root.left = treapDelete(root.left, lo, gone)
	case c > 0:
		root.right = treapDelete(root.right, lo, gone)
	default:
		*gone = root
		return treapMerge(root.left, root.right)
	}
	return root
}

// treapMerge joins two treaps where every span of a is below every span of b.
func treapMerge(a, b *treapNode) *treapNode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = treapMerge(a.right, b)
		return a
	}
	b.left = treapMerge(a, b.left)
	return b
}
