package events

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkFloat fails when jsonFloat writes f differently from encoding/json.
func checkFloat(t *testing.T, f float64) {
	t.Helper()
	want, err := json.Marshal(f)
	if err != nil {
		return // NaN, ±Inf: encoding/json refuses them; the schema has none
	}
	if got := jsonFloat(nil, f); string(got) != string(want) {
		t.Fatalf("%v (%#x): wrote %s, encoding/json %s", f, math.Float64bits(f), got, want)
	}
}

// TestJSONFloat compares jsonFloat, and so its integer fast path
// (appendMicros), with encoding/json on the figures the records hold
// (microseconds as seconds, shares rounded to four decimals, whole rates),
// around the fast path's bounds, and on arbitrary floats.
func TestJSONFloat(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e-6, -1e-6, 1e-7, 0.000001499, 0.3752,
		1e9, 1e9 - 1e-6, -(1e9 - 1e-6), 999999999.999999, 1e15, 1e15 - 1, -(1e15 - 1), 1e15 + 2, 1e21, 1 << 53,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.Nextafter(1e-6, 0), math.Nextafter(0.1, 1), 0.1 + 0.2} {
		checkFloat(t, f)
		checkFloat(t, -f)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 30_000 {
		checkFloat(t, float64(r.Int64N(1e15))/1e6)                 // µs as seconds
		checkFloat(t, float64(r.Int64N(1e6))/1e6)                  // under a second
		checkFloat(t, math.Round(r.Float64()*1e4)/1e4)             // a share
		checkFloat(t, math.Round(r.Float64()*1e12))                // a rate in bit/s
		checkFloat(t, float64(r.Int64N(1e9))/1e3)                  // ms with µs
		checkFloat(t, r.Float64()*math.Pow(10, r.Float64()*40-20)) // anything
		checkFloat(t, math.Float64frombits(r.Uint64()))
		// Next to a whole number of millionths.
		m := float64(r.Int64N(1e15)) / 1e6
		checkFloat(t, math.Nextafter(m, 0))
		checkFloat(t, math.Nextafter(m, 2e9))
	}
}

// FuzzJSONFloat looks for a float jsonFloat writes differently from
// encoding/json.
func FuzzJSONFloat(f *testing.F) {
	f.Add(0.001499)
	f.Add(0.3752)
	f.Add(3605803.0)
	f.Add(12.345678901234567)
	f.Fuzz(func(t *testing.T, x float64) {
		checkFloat(t, x)
		checkFloat(t, math.Round(x*1e6)/1e6)
		// x's significand at a scale of appendShortest's range.
		if frac, exp := math.Frexp(math.Abs(x)); frac != 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			v := math.Ldexp(frac, (exp%40+40)%40-9)
			checkShortest(t, v)
			checkFloat(t, v)
		}
	})
}

func BenchmarkJSONFloat(b *testing.B) {
	for _, c := range []struct {
		name string
		f    float64
	}{{"micros", 0.001499}, {"share", 0.3752}, {"rate", 3605803}, {"other", 12.3456789}} {
		b.Run(c.name, func(b *testing.B) {
			var buf []byte
			for b.Loop() {
				buf = jsonFloat(buf[:0], c.f)
			}
		})
	}
}

// TestAppendIntegers compares appendInt and appendUint with strconv around
// their fast paths' bounds and on random numbers of every length.
func TestAppendIntegers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	t.Run("int", func(t *testing.T) {
		checkAppend(t, appendInt, func(n int64) string { return strconv.FormatInt(n, 10) },
			[]int64{0, 1, 9, 10, 11, 99, 100, 101, 1000, 9999, 10000, 10001, 99999999, 1e8, 1e8 + 1, 1e16 - 1, 1e16, -1, -10, math.MinInt64, math.MaxInt64},
			func() int64 { return r.Int64N(int64(math.Pow10(1 + r.IntN(10)))) })
	})
	t.Run("uint", func(t *testing.T) {
		checkAppend(t, appendUint, func(n uint64) string { return strconv.FormatUint(n, 10) },
			[]uint64{0, 9, 10, 99999999, 1e8, 1e8 + 1, 100000001, math.MaxUint32, 1e16 - 1, 1e16, math.MaxUint64},
			func() uint64 { return r.Uint64N(uint64(math.Pow10(1 + r.IntN(19)))) })
	})
}

// checkAppend runs appendFn on the bounds and on 100,000 random numbers and
// compares each result with want's.
func checkAppend[T int64 | uint64](t *testing.T, appendFn func([]byte, T) []byte, want func(T) string, bounds []T, random func() T) {
	t.Helper()
	for i := range len(bounds) + 100_000 {
		var n T
		if i < len(bounds) {
			n = bounds[i]
		} else {
			n = random()
		}
		if got := string(appendFn(nil, n)); got != want(n) {
			t.Fatalf("append(%d) = %s, want %s", n, got, want(n))
		}
	}
}

// TestDigits8 checks the lane arithmetic of digits8 against strconv: every
// value of each 4-digit half (the halves are computed in lanes that do not
// touch), and every number below 10^5. (Every number below 10^8 was checked
// once; it takes seconds.)
func TestDigits8(t *testing.T) {
	check := func(n uint32) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], digits8(n)|0x3030303030303030)
		if want := strconv.FormatUint(uint64(n)+1e8, 10)[1:]; string(b[:]) != want {
			t.Fatalf("digits8(%d) = %q, want %q", n, b[:], want)
		}
	}
	for k := range uint32(10000) {
		check(k*10000 + k*7919%10000)
	}
	for n := range uint32(100000) {
		check(n)
	}
}
