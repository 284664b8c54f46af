package viz

import (
	"math"
	"sort"
)

// agg is what one time bucket remembers of the values added to it.
type agg struct {
	n        uint32
	min, max float64
	sum      float64
	last     float64
}

func (a *agg) add(v float64) {
	if a.n == 0 || v < a.min {
		a.min = v
	}
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.n++
	a.sum += v
	a.last = v
}

func (a *agg) merge(b agg) {
	if b.n == 0 {
		return
	}
	if a.n == 0 {
		*a = b
		return
	}
	a.min = math.Min(a.min, b.min)
	a.max = math.Max(a.max, b.max)
	a.n += b.n
	a.sum += b.sum
	a.last = b.last
}

// buckets is a time series downsampled while it is collected: values fall
// into fixed-width time buckets, and when the series would need more than
// limit buckets the width doubles and neighbours merge. Memory is bounded by
// limit whatever the length of the capture, and the result is min/max per
// bucket, which keeps spikes visible (unlike averaging or striding).
type buckets struct {
	lo, hi int64 // earliest and latest time added
	t0     int64 // start of bucket 0, ns
	width  int64 // ns per bucket
	limit  int
	b      []agg
}

// initialBucketWidth is fine enough for sub-millisecond loopback transfers;
// the width doubles as the span grows.
const initialBucketWidth = int64(100_000) // 100 µs

func newBuckets(limit int) *buckets {
	if limit < 2 {
		limit = 2
	}
	return &buckets{limit: limit, width: initialBucketWidth}
}

// maxTS bounds the times a series accepts (year 2116): untrusted input
// could otherwise make bucket arithmetic overflow.
const maxTS = int64(1) << 62

// alignDown rounds t down to a multiple of w (t >= 0).
func alignDown(t, w int64) int64 { return t - t%w }

func (s *buckets) add(ts int64, v float64) {
	ts = min(max(ts, 0), maxTS)
	if len(s.b) == 0 {
		s.t0 = alignDown(ts, s.width)
		s.lo, s.hi = ts, ts
	}
	s.lo, s.hi = min(s.lo, ts), max(s.hi, ts)
	if ts < s.t0 {
		// Capture timestamps can step backwards a little; fold into bucket 0
		// rather than growing the series to the left.
		ts = s.t0
	}
	// Unsigned: the distance between two int64 times always fits.
	i := uint64(ts-s.t0) / uint64(s.width)
	for i >= uint64(s.limit) {
		s.coarsen()
		i = uint64(ts-s.t0) / uint64(s.width)
	}
	for uint64(len(s.b)) <= i {
		s.b = append(s.b, agg{})
	}
	s.b[i].add(v)
}

// coarsen doubles the bucket width, merging pairs of buckets. t0 is aligned
// down to the new width so that bucket boundaries stay on a common grid.
func (s *buckets) coarsen() {
	nw := s.width * 2
	nt0 := alignDown(s.t0, nw)
	off := (s.t0 - nt0) / s.width // 0 or 1 old buckets before the old start
	out := make([]agg, (int64(len(s.b))+off+1)/2)
	for i, a := range s.b {
		out[(int64(i)+off)/2].merge(a)
	}
	s.b, s.t0, s.width = out, nt0, nw
}

// point is one plotted value: time in seconds since the capture's first
// packet (every chart's x axis) and the value.
type point struct {
	T float64
	V float64
}

// relSec is ts (ns) in seconds from origin, exact to the nanosecond for any
// capture shorter than 104 days; untrusted times saturate.
func relSec(ts, origin int64) float64 {
	d := ts - origin
	if (ts > origin) != (d > 0) && ts != origin {
		return (float64(ts) - float64(origin)) / 1e9
	}
	return float64(d) / 1e9
}

// mid is where bucket i is drawn: its middle, but never before the first or
// after the last time added (a point must not leave the capture's range).
func (s *buckets) mid(i int) int64 {
	return min(max(s.t0+int64(i)*s.width+s.width/2, s.lo), s.hi)
}

// minMax returns two points per non-empty bucket (min then max), the form
// that draws a faithful envelope at any zoom level up to the bucket width.
func (s *buckets) minMax(origin int64) []point {
	var out []point
	for i, a := range s.b {
		if a.n == 0 {
			continue
		}
		t := relSec(s.mid(i), origin)
		out = append(out, point{t, a.min})
		if a.max != a.min {
			out = append(out, point{t, a.max})
		}
	}
	return out
}

// maxes returns one point per non-empty bucket with its maximum.
func (s *buckets) maxes(origin int64) []point {
	var out []point
	for i, a := range s.b {
		if a.n != 0 {
			out = append(out, point{relSec(s.mid(i), origin), a.max})
		}
	}
	return out
}

// breakGaps inserts a gap (a null value) where consecutive points are much
// further apart than usual, so a line is not drawn across a stretch with no
// samples (an idle connection's srtt is unknown, not the average of its ends).
func breakGaps(ps []point) []point {
	if len(ps) < 3 {
		return ps
	}
	gaps := make([]float64, 0, len(ps)-1)
	for i := 1; i < len(ps); i++ {
		if d := ps[i].T - ps[i-1].T; d > 0 {
			gaps = append(gaps, d)
		}
	}
	if len(gaps) == 0 {
		return ps
	}
	sort.Float64s(gaps)
	limit := max(10*gaps[len(gaps)/2], 0.2) // 10 typical gaps, at least 200 ms
	out := make([]point, 0, len(ps)+8)
	for i, p := range ps {
		if i > 0 && p.T-ps[i-1].T > limit {
			out = append(out, point{(p.T + ps[i-1].T) / 2, math.NaN()})
		}
		out = append(out, p)
	}
	return out
}

// total is the sum of every value added.
func (s *buckets) total() float64 {
	var t float64
	for _, a := range s.b {
		t += a.sum
	}
	return t
}

// thinned keeps at most limit items of a stream, spread evenly over it: it
// keeps every stride-th item and, when full, drops every other kept item and
// doubles the stride. Seen counts everything offered.
type thinned[T any] struct {
	limit  int
	stride uint64
	Seen   uint64
	Items  []T
}

func newThinned[T any](limit int) *thinned[T] {
	if limit < 2 {
		limit = 2
	}
	return &thinned[T]{limit: limit, stride: 1}
}

func (t *thinned[T]) add(v T) {
	n := t.Seen
	t.Seen++
	if n%t.stride != 0 {
		return
	}
	if len(t.Items) >= t.limit {
		kept := t.Items[:0]
		for i := 0; i < len(t.Items); i += 2 {
			kept = append(kept, t.Items[i])
		}
		t.Items = kept
		t.stride *= 2
		if n%t.stride != 0 {
			return
		}
	}
	t.Items = append(t.Items, v)
}

// tally counts items per time bin on the same absolute grid as buckets:
// bin i covers [t0+i*width, t0+(i+1)*width), t0 is a multiple of width, and
// every width is initialBucketWidth times a power of two. Two tallies (or a
// tally and a report's columns) therefore always nest: a wider bin is an
// exact union of narrower ones, so re-binning never splits or guesses.
//
// Times are relative to the capture's first packet, so the report's columns
// start at +0 s; earlier timestamps (clocks stepping back) count in the
// first bin.
type tally struct {
	t0    int64
	width int64
	limit int
	n     []uint32
}

func newTally(limit int) *tally {
	return &tally{limit: max(limit, 2), width: initialBucketWidth}
}

func (s *tally) add(ts int64) {
	ts = min(max(ts, 0), maxTS)
	if len(s.n) == 0 {
		s.t0 = alignDown(ts, s.width)
	}
	for ts < s.t0 {
		// Earlier than the first bin (a flow's packets are not always in
		// time order): grow to the left by whole bins, coarsening if the
		// span no longer fits.
		k := (s.t0 - alignDown(ts, s.width)) / s.width
		if int64(len(s.n))+k > int64(s.limit) {
			s.coarsen()
			continue
		}
		s.n = append(make([]uint32, k, int64(len(s.n))+k), s.n...)
		s.t0 -= k * s.width
	}
	i := uint64(ts-s.t0) / uint64(s.width)
	for i >= uint64(s.limit) {
		s.coarsen()
		i = uint64(ts-s.t0) / uint64(s.width)
	}
	for uint64(len(s.n)) <= i {
		s.n = append(s.n, 0)
	}
	s.n[i]++
}

func (s *tally) coarsen() {
	nw := s.width * 2
	nt0 := alignDown(s.t0, nw)
	off := (s.t0 - nt0) / s.width
	out := make([]uint32, (int64(len(s.n))+off+1)/2)
	for i, v := range s.n {
		out[(int64(i)+off)/2] += v
	}
	s.n, s.t0, s.width = out, nt0, nw
}

// total is the number of items counted.
func (s *tally) total() uint64 {
	var t uint64
	for _, v := range s.n {
		t += uint64(v)
	}
	return t
}

// columns is a grid of equal, aligned time columns for the heatmap.
type columns struct {
	t0    int64 // start of column 0 (a multiple of width)
	width int64
	n     int
	cell  int64 // the bin width a column holds a whole number of
}

// newColumns divides [first, last] into at most want equal columns. A
// column is a whole number of cells of the widest series' bin width, and
// cells start on multiples of it, so every bin of every series (whose widths
// all divide the widest, on the same grid) lies inside exactly one column.
func newColumns(first, last int64, want int, widths ...int64) columns {
	cell := initialBucketWidth
	for _, x := range widths {
		cell = max(cell, x)
	}
	want = max(want, 1)
	first = min(max(first, 0), maxTS)
	last = min(max(last, first), maxTS)
	t0 := alignDown(first, cell)
	cells := (alignDown(last, cell)-t0)/cell + 1
	per := (cells + int64(want) - 1) / int64(want)
	per = max(min(per, maxTS/cell), 1) // untrusted times: keep width*n within int64
	return columns{t0: t0, width: per * cell, n: int((cells + per - 1) / per), cell: cell}
}

// col is the column of a bin starting at start; bins outside the grid go to
// its first or last column.
func (g columns) col(start int64) int {
	k := int64(0)
	if start >= g.t0 {
		k = (start - g.t0) / g.width
	}
	return int(max(min(k, int64(g.n-1)), 0))
}

// counts adds a tally's counts into the grid's columns.
func (g columns) counts(s *tally) []uint64 {
	out := make([]uint64, g.n)
	for i, v := range s.n {
		if v != 0 {
			out[g.col(s.t0+int64(i)*s.width)] += uint64(v)
		}
	}
	return out
}

// sums adds a bucket series' sums into the grid's columns.
func (g columns) sums(s *buckets) []float64 {
	out := make([]float64, g.n)
	if s == nil {
		return out
	}
	for i, a := range s.b {
		if a.n != 0 {
			out[g.col(s.t0+int64(i)*s.width)] += a.sum
		}
	}
	return out
}

// start and mid give column k's start and middle (ns).
func (g columns) start(k int) int64 { return g.t0 + int64(k)*g.width }
func (g columns) mid(k int) int64   { return g.start(k) + g.width/2 }
