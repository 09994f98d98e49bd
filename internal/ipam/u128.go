package ipam

import (
	"math"
	"math/bits"
	"net/netip"
	"strconv"
)

// u128 is an unsigned 128-bit integer: an IPv6 address (or an IPv4 address
// in the low 32 bits) as a number, so ranges of any family share one
// arithmetic. hi holds the most significant word.
type u128 struct{ hi, lo uint64 }

// u128From returns a's numeric value. a must be valid and unmapped.
func u128From(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var x u128
	for i := range 8 {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[i+8])
	}
	return x
}

// addr converts x back to an address of the given family. For IPv4 only the
// low 32 bits are used.
func (x u128) addr(is4 bool) netip.Addr {
	if is4 {
		v := uint32(x.lo)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	var b [16]byte
	for i := range 8 {
		b[7-i] = byte(x.hi >> (8 * i))
		b[15-i] = byte(x.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func (x u128) cmp(y u128) int {
	switch {
	case x.hi < y.hi:
		return -1
	case x.hi > y.hi:
		return 1
	case x.lo < y.lo:
		return -1
	case x.lo > y.lo:
		return 1
	}
	return 0
}

func (x u128) less(y u128) bool { return x.cmp(y) < 0 }

func (x u128) add(y u128) u128 {
	lo, c := bits.Add64(x.lo, y.lo, 0)
	hi, _ := bits.Add64(x.hi, y.hi, c)
	return u128{hi, lo}
}

func (x u128) sub(y u128) u128 {
	lo, b := bits.Sub64(x.lo, y.lo, 0)
	hi, _ := bits.Sub64(x.hi, y.hi, b)
	return u128{hi, lo}
}

func (x u128) inc() u128 { return x.add(u128{lo: 1}) }
func (x u128) dec() u128 { return x.sub(u128{lo: 1}) }

func (x u128) isZero() bool { return x.hi == 0 && x.lo == 0 }

// prefixBounds returns the first and last address of p as numbers.
func prefixBounds(p netip.Prefix) (first, last u128) {
	first = u128From(p.Masked().Addr())
	hostBits := p.Addr().BitLen() - p.Bits()
	var mask u128 // 2^hostBits - 1
	switch {
	case hostBits >= 128:
		mask = u128{math.MaxUint64, math.MaxUint64}
	case hostBits >= 64:
		mask = u128{hi: 1<<(hostBits-64) - 1, lo: math.MaxUint64}
	default:
		mask = u128{lo: 1<<hostBits - 1}
	}
	return first, first.add(mask)
}

// float64 converts x to the nearest float64 (exact below 2^53).
func (x u128) float64() float64 {
	return float64(x.hi)*(1<<64) + float64(x.lo)
}

// String formats x in decimal.
func (x u128) String() string {
	if x.hi == 0 {
		return strconv.FormatUint(x.lo, 10)
	}
	// Repeated division by 10^19 (the largest power of ten in a uint64).
	const chunk = 10_000_000_000_000_000_000
	var parts []uint64
	for !x.isZero() {
		var r uint64
		x.hi, r = bits.Div64(0, x.hi, chunk)
		x.lo, r = bits.Div64(r, x.lo, chunk)
		parts = append(parts, r)
	}
	s := strconv.FormatUint(parts[len(parts)-1], 10)
	for i := len(parts) - 2; i >= 0; i-- {
		d := strconv.FormatUint(parts[i], 10)
		for range 19 - len(d) {
			s += "0"
		}
		s += d
	}
	return s
}
