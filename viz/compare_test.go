package viz

import (
	"encoding/json"
	"testing"

	"github.com/tcpviz/tcpviz/internal/pairing"
)

// TestPairSeries: the page's series of a paired direction hold the
// engine's segments: every lost data segment and ACK, every delay while
// under the bound, and beyond it each chunk's extremes (so the lowest and
// highest delay survive thinning); items sit on A's clock.
func TestPairSeries(t *testing.T) {
	const origin = int64(1_000_000_000_000)
	mk := func(n int, fromA bool) *pairing.DirStats {
		s := &pairing.DirStats{Dir: "c2s", From: "a"}
		if !fromA {
			s.From = "b"
		}
		for i := range n {
			g := pairing.SegPair{Up: uint64(i + 1), Down: uint64(i + 101), TS: origin + int64(i)*1e6, Delay: int64(2e6 + (i%7)*1e5),
				RelSeq: uint32(1 + i*1000), Len: 1000, Data: i%5 != 4}
			if i%13 == 6 {
				g.Down, g.Delay = 0, 0 // lost
			}
			if i == n/2 {
				g.Delay = 50e6 // one spike
			}
			s.Segs = append(s.Segs, g)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		n     int
		fromA bool
	}{{"small from A", 500, true}, {"small from B", 500, false}, {"thinned", 3*maxPairPoints + 17, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := mk(tc.n, tc.fromA)
			d := pairSeriesOf(s, origin)
			var lostData, lostACK, crossed, data int
			maxDelay, minDelay := 0.0, 1e9
			for _, g := range s.Segs {
				switch {
				case g.Lost() && g.Data:
					lostData++
				case g.Lost():
					lostACK++
				default:
					crossed++
					maxDelay = max(maxDelay, float64(g.Delay)/1e6)
					minDelay = min(minDelay, float64(g.Delay)/1e6)
				}
				if g.Data {
					data++
				}
			}
			if len(d.Lost) != lostData || len(d.LostACKs) != lostACK {
				t.Errorf("lost items %d data, %d ACKs; engine %d, %d", len(d.Lost), len(d.LostACKs), lostData, lostACK)
			}
			thinned := tc.n > maxPairPoints
			if d.Thinned != thinned || (!thinned && (len(d.DelayPts) != crossed || len(d.Sent) != data)) || len(d.DelayPts) > maxPairPoints+2 || len(d.Sent) > maxPairPoints {
				t.Errorf("thinned %v: %d delay points of %d, %d sent of %d", d.Thinned, len(d.DelayPts), crossed, len(d.Sent), data)
			}
			hi, lo := 0.0, 1e9
			for i, it := range d.DelayPts {
				hi, lo = max(hi, it[1]), min(lo, it[1])
				if tc.fromA && i > 0 && it[3] < d.DelayPts[i-1][3] {
					t.Fatalf("delay items out of time order at %d", i)
				}
			}
			if hi != maxDelay || lo != minDelay {
				t.Errorf("delay range on the page %v..%v ms, engine %v..%v", lo, hi, minDelay, maxDelay)
			}
			// On A's clock: from B, a segment that arrived sits at its arrival.
			first := d.DelayPts[0]
			g := s.Segs[0]
			want := float64(g.TS - origin)
			if !tc.fromA {
				want += float64(g.Delay)
			}
			if first[3] != want || first[0] != want/1e9 {
				t.Errorf("first delay item at %v ns (%v s), want %v", first[3], first[0], want)
			}
			if _, err := json.Marshal(d); err != nil {
				t.Fatal(err)
			}
		})
	}
}
