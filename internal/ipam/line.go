package ipam

// recentMax bounds line.recent: the number of latest releases kept in
// strict release order.
const recentMax = 128

// line is the free space one kind of dynamic request draws from, ordered so
// that a released address goes to the end of the line. Three parts, handed
// out in this order:
//
//   - cur: the current round, walked forward from start and wrapping once;
//   - next: older releases, waiting for the next round. When cur is empty,
//     next becomes cur, starting at the first address that entered next, so
//     a steady cyclic churn keeps its release order across rounds. The swap
//     is eager: cur is empty only when next is;
//   - recent: the latest releases (at most recentMax), oldest first, handed
//     out only when cur and next are empty. When recent is full its oldest
//     entry moves to next.
//
// So an address is reused only after every address of the round current at
// its release, and never while anything is free that is older than one of
// the recentMax latest releases. Memory: two span trees and a bounded queue.
type line struct {
	cur, next spanTree
	recent    fifo
	// start is where the walk through cur begins (its lowest address after
	// a reset); nextStart is the first address that entered an empty next.
	start, nextStart u128
}

// take removes and returns the next address of the line.
func (l *line) take() (u128, bool) {
	x, ok := l.peek()
	if ok {
		l.remove(x)
	}
	return x, ok
}

// peek returns the address take would return, without removing it: the
// first member of cur at or after start, else (wrapping) the first of cur,
// else the oldest recent release. Because cur only shrinks during a round,
// the walk needs no cursor beyond start.
func (l *line) peek() (u128, bool) {
	if x, ok := l.cur.ceil(l.start); ok {
		return x, true
	}
	if x, ok := l.cur.first(); ok {
		return x, true
	}
	if l.recent.n > 0 {
		return l.recent.at(0), true
	}
	return u128{}, false
}

// remove takes a specific address out of the line.
func (l *line) remove(x u128) {
	if !l.cur.remove(x) && !l.next.remove(x) {
		if i := l.recent.index(x); i >= 0 {
			l.recent.removeAt(i)
		}
	}
	l.settle()
}

// release puts x at the end of the line.
func (l *line) release(x u128) {
	if l.recent.n == recentMax {
		old := l.recent.pop()
		if l.next.empty() {
			l.nextStart = old
		}
		l.next.add(old)
	}
	l.recent.push(x)
	l.settle()
}

func (l *line) contains(x u128) bool {
	return l.cur.contains(x) || l.next.contains(x) || l.recent.index(x) >= 0
}

// all returns every address of the line as a set.
func (l *line) all() rangeSet {
	s := l.cur.set().union(l.next.set())
	for i := range l.recent.n {
		x := l.recent.at(i)
		s.add(x, x)
	}
	return s
}

func (l *line) count() u128 {
	return l.cur.size.add(l.next.size).add(u128{lo: uint64(l.recent.n)})
}

// settle starts the next round when the current one is empty.
func (l *line) settle() {
	if l.cur.empty() && !l.next.empty() {
		l.cur, l.next = l.next, spanTree{}
		l.start = l.nextStart
	}
}

// reset refills the line with free, keeping the order of the lines being
// replaced where it applies: addresses of recent (oldest first) stay in the
// queue, those of next stay in next. If ok, walk is the replaced line of the
// same space, whose walk positions carry over. The rest is the current round.
func (l *line) reset(free, next rangeSet, recent []u128, walk line, ok bool) {
	nextSet := free.intersect(next)
	*l = line{cur: newSpanTree(free.subtract(nextSet)), next: newSpanTree(nextSet)}
	if ok {
		l.start, l.nextStart = walk.start, walk.nextStart
	}
	for _, x := range recent {
		if l.cur.remove(x) {
			l.release(x)
		}
	}
	l.settle()
}

// fifo is a bounded queue of addresses (at most recentMax), in a ring
// buffer allocated on first use.
type fifo struct {
	buf     []u128
	head, n int
}

func (q *fifo) at(i int) u128 { return q.buf[(q.head+i)%len(q.buf)] }

// push appends x; the queue must not be full.
func (q *fifo) push(x u128) {
	if q.buf == nil {
		q.buf = make([]u128, recentMax)
	}
	q.buf[(q.head+q.n)%len(q.buf)] = x
	q.n++
}

// pop removes and returns the oldest entry; the queue must not be empty.
func (q *fifo) pop() u128 {
	x := q.buf[q.head]
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return x
}

func (q *fifo) index(x u128) int {
	for i := range q.n {
		if q.at(i) == x {
			return i
		}
	}
	return -1
}

func (q *fifo) removeAt(i int) {
	for ; i < q.n-1; i++ {
		q.buf[(q.head+i)%len(q.buf)] = q.at(i + 1)
	}
	q.n--
}

// items returns the entries, oldest first.
func (q *fifo) items() []u128 {
	out := make([]u128, q.n)
	for i := range out {
		out[i] = q.at(i)
	}
	return out
}
