package events

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkShortest fails when appendShortest writes v differently from
// strconv's shortest 'f' form, or changes b when it leaves v to strconv.
// It reports whether appendShortest wrote v.
func checkShortest(t *testing.T, v float64) bool {
	t.Helper()
	b, ok := appendShortest([]byte("x"), v)
	if !ok {
		if string(b) != "x" {
			t.Fatalf("%v (%#x): left to strconv but wrote %q", v, math.Float64bits(v), b)
		}
		return false
	}
	if want := strconv.FormatFloat(v, 'f', -1, 64); string(b[1:]) != want {
		t.Fatalf("%v (%#x): wrote %s, strconv %s", v, math.Float64bits(v), b[1:], want)
	}
	return true
}

// TestAppendShortest compares appendShortest with strconv on every class
// of figure it writes: smoothed RTTs (an EWMA of samples in ns, in ms),
// counts of ns, µs and other powers of ten in ms, any float of its range,
// and the edges: powers of ten and of two and their neighbours, numbers of
// 15, 16 and 17 digits, and the range's bounds. It also checks that the
// fast path writes nearly all of them (else the test would prove nothing).
func TestAppendShortest(t *testing.T) {
	var wrote, tried int
	check := func(v float64) {
		if checkShortest(t, v) {
			wrote++
		}
		if v >= shortestMin && v < shortestMax {
			tried++
		}
	}
	for _, v := range []float64{shortestMin, shortestMax, math.Nextafter(shortestMin, 0), math.Nextafter(shortestMax, 0),
		0.1, 0.2, 0.3, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, 12.3456789, 123456.789012345, 0.00123456789012345678} {
		check(v)
	}
	for k := -3; k <= 9; k++ {
		p := math.Pow10(k)
		for _, v := range []float64{p, math.Nextafter(p, 0), math.Nextafter(p, math.Inf(1))} {
			check(v)
			check(math.Nextafter(v, 0))
			check(math.Nextafter(v, math.Inf(1)))
		}
	}
	for e := -10; e <= 30; e++ {
		p := math.Ldexp(1, e)
		check(p)
		check(math.Nextafter(p, 0))
		check(math.Nextafter(p, math.Inf(1)))
	}
	r := rand.New(rand.NewPCG(17, 8))
	for range 200_000 {
		// Smoothed RTTs: samples of µs (or ns) counts, gain 1/8.
		srtt := float64(1 + r.Int64N(500_000_000))
		for range 1 + r.IntN(20) {
			rtt := float64(r.Int64N(500_000) * 1000)
			if r.IntN(2) == 0 {
				rtt = float64(r.Int64N(500_000_000))
			}
			srtt += (rtt - srtt) / 8
		}
		check(srtt / 1e6)
		// Counts of ns, µs, tenths, ... in ms or s.
		check(float64(r.Int64N(1e12)) / math.Pow10(1+r.IntN(12)))
		// Anything in the range, by bits.
		lo, hi := math.Float64bits(shortestMin), math.Float64bits(shortestMax)
		check(math.Float64frombits(lo + r.Uint64N(hi-lo)))
		// Decimals of 15 to 17 digits and their neighbours.
		n := 15 + r.IntN(3)
		m := float64(r.Int64N(9*int64(math.Pow10(n-1)))) + math.Pow10(n-1)
		v := m / math.Pow10(n-1-(r.IntN(12)-3))
		check(v)
		check(math.Nextafter(v, 0))
		check(math.Nextafter(v, math.Inf(1)))
	}
	if wrote < tried*99/100 {
		t.Fatalf("appendShortest wrote %d of %d figures in its range: the fast path is not taken", wrote, tried)
	}
	t.Logf("appendShortest wrote %d of %d figures in its range", wrote, tried)
}

// TestJSONFloatSmoothedRTT compares jsonFloat, which takes appendShortest
// for figures that are not whole millionths, with encoding/json on
// smoothed RTTs.
func TestJSONFloatSmoothedRTT(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	srtt := 1e6
	for range 50_000 {
		srtt += (float64(r.Int64N(200_000)*1000) - srtt) / 8
		checkFloat(t, srtt/1e6)
		checkFloat(t, -srtt/1e6)
	}
}

func BenchmarkAppendShortest(b *testing.B) {
	vs := []float64{12.3456789012345, 0.0498765432109876, 153.24187500000001, 7.1234567890123455}
	b.Run("ours", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf, _ = appendShortest(buf[:0], vs[i%len(vs)])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf = strconv.AppendFloat(buf[:0], vs[i%len(vs)], 'f', -1, 64)
		}
	})
}
