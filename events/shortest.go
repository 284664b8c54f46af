package events

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// The shortest decimal that reads back as a float64, for the figures that
// are not a whole number of millionths: the smoothed RTT in ms (an EWMA in
// nanoseconds divided by 10^6) changes with nearly every event and has 15
// to 17 significant digits. strconv's general shortest search cost about
// 1,300 instructions per figure; for the range of these figures a few
// 64×64-bit products decide it.
//
// v = c·2^-p exactly (c the 53-bit significand). For n digits, the decimal
// nearest to v is m·10^-s with m = round(c·10^s / 2^p), s = n-1-E, E the
// decimal exponent of v; it reads back as v when it lies strictly inside
// v's rounding interval, v ± 2^-p/2, that is when 2·|m·2^p - c·10^s| < 10^s.
// Any decimal of at most 15 digits in the interval is the nearest 15-digit
// one (15-digit decimals are more than an interval apart), so n = 15, 16,
// 17 are tried in turn: the first that reads back is the shortest, and of
// the shortest the nearest, which is what strconv writes. Every case where
// that reasoning needs more care (a tie in the rounding, a decimal on the
// interval's edge, a power of two, whose interval is narrower below, or an
// exponent guessed wrong near a power of ten) is left to strconv.

// shortestMin and shortestMax bound the figures appendShortest writes:
// 10^s then fits 64 bits for every n and 2^p is below 2^63.
const (
	shortestMin = 1e-3
	shortestMax = 1e9
)

// pow10u holds 10^0 to 10^19.
var pow10u = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// pow10f holds 10^-3 to 10^9 as float64, indexed by exponent+3.
var pow10f = [...]float64{1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// appendShortest appends v as strconv.AppendFloat(b, v, 'f', -1, 64) does,
// for shortestMin <= v < shortestMax; ok is false, with b unchanged, for
// any v outside that range or any case it leaves to strconv.
func appendShortest(b []byte, v float64) ([]byte, bool) {
	if !(v >= shortestMin && v < shortestMax) {
		return b, false // NaN too
	}
	fb := math.Float64bits(v)
	frac := fb & (1<<52 - 1)
	if frac == 0 {
		return b, false // a power of two: its interval is narrower below
	}
	c := frac | 1<<52
	e2 := int(fb>>52) - 1023 // 2^e2 <= v < 2^(e2+1), -10 <= e2 <= 29
	p := uint(52 - e2)       // v = c / 2^p, 23 <= p <= 62
	// E = floor(log10(v)): floor(e2·log10(2)) or one more. The float
	// powers below 1 are not exact; an E off by one near a power of ten
	// gives an m out of range below, left to strconv.
	E := (e2 * 78913) >> 18
	if v >= pow10f[E+1+3] {
		E++
	}
	for n := 15; n <= 17; n++ {
		s := n - 1 - E // 6 <= s <= 19
		ps := pow10u[s]
		hi, lo := bits.Mul64(c, ps)
		// m = (hi:lo) >> p, rem the bits shifted out (0 < p < 64: the
		// masks tell the compiler so, sparing the tests for larger).
		m := hi<<((64-p)&63) | lo>>(p&63)
		rem := lo & (1<<(p&63) - 1)
		half := uint64(1) << ((p - 1) & 63)
		var err uint64
		switch {
		case rem < half:
			err = rem
		case rem > half:
			m++
			err = 1<<(p&63) - rem
		default:
			return b, false // a tie
		}
		if m < pow10u[n-1] || m >= pow10u[n] {
			return b, false // E was off by one, or m rounded up to 10^n
		}
		switch d := 2 * err; {
		case d < ps:
			return appendDigits(b, m, n, E), true
		case d == ps:
			return b, false // on the interval's edge
		}
	}
	return b, false
}

// appendDigits writes m, a number of n digits (15 <= n <= 17), as the
// decimal m·10^(E+1-n) in strconv's 'f' form, without trailing zeros.
func appendDigits(b []byte, m uint64, n, E int) []byte {
	// The 17 digits of m (leading zeros for n < 17): one, then two words
	// of eight.
	var x [17]byte
	x[0] = byte('0' + m/1e16)
	binary.LittleEndian.PutUint64(x[1:], digits8(uint32(m/1e8%1e8))|0x3030303030303030)
	binary.LittleEndian.PutUint64(x[9:], digits8(uint32(m%1e8))|0x3030303030303030)
	d := x[17-n:]
	for len(d) > 1 && d[len(d)-1] == '0' {
		d = d[:len(d)-1]
	}
	switch ip := E + 1; { // the digits before the point
	case ip <= 0:
		b = append(b, '0', '.')
		for ; ip < 0; ip++ {
			b = append(b, '0')
		}
		return append(b, d...)
	case ip < len(d):
		b = append(b, d[:ip]...)
		b = append(b, '.')
		return append(b, d[ip:]...)
	default:
		b = append(b, d...)
		for i := len(d); i < ip; i++ {
			b = append(b, '0')
		}
		return b
	}
}
