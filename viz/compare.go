package viz

// The compare views of report.html (drawn by assets/compare.js):
//
//   - #compare=1,4 overlays two to four connections on one axis of time
//     since each connection's first packet (tcpvizData.overlay);
//   - #pair=N shows connection N captured at two points of its path
//     (report --in A --in B, internal/pairing): the time-sequence graph at
//     the upstream capture with the segments the downstream capture never
//     saw marked, and the one-way delay of every segment over time
//     (tcpvizData.pairing).
//
// Every figure comes from the pairing engine; the page only draws it.

import (
	"encoding/json"
	"strconv"

	"github.com/tcpviz/tcpviz/internal/pairing"
)

// overlayConn is one connection's sequence progress for the overlay.
type overlayConn struct {
	Label string `json:"label"`
	Dir   string `json:"dir"` // the direction that carried the data
	// Seq is [seconds since the connection's first packet, highest relative
	// sequence number sent so far (bytes)]: how far the transfer had come,
	// per time bucket.
	Seq points `json:"seq"`
}

// overlayData is tcpvizData.overlay: every selected connection with time
// series (Limits.DetailFlows of them), by flow id.
func (b *builder) overlayData() []byte {
	m := map[string]overlayConn{}
	for _, row := range b.conns {
		fd := b.c.flows[row.Flow]
		if fd == nil || fd.detail == nil || row.Bytes() == 0 {
			continue
		}
		dir := dataDir(fd)
		pts := fd.detail.dir[dir].seq.maxes(fd.first)
		for i := 1; i < len(pts); i++ {
			pts[i].V = max(pts[i].V, pts[i-1].V) // a retransmission is not a step back
		}
		m[strconv.FormatUint(row.Flow, 10)] = overlayConn{Label: connLabel(row), Dir: dirText(dir), Seq: pts}
	}
	js, _ := json.Marshal(m) // numbers and escaped strings: cannot fail
	return js
}

// maxPairPoints bounds each series of a paired connection's view; beyond
// it the delay keeps each chunk's lowest and highest value and the
// time-sequence every n-th segment (the lost ones are all kept, up to the
// same bound).
const maxPairPoints = 20000

// pairSeries is what the page draws of one direction of a paired
// connection. Items are [x s, y, frame in A (0: A never saw it), ns from the
// origin, ...].
type pairSeries struct {
	DelayPts [][]float64 `json:"delay_pts"` // y: one-way delay ms
	Sent     [][]float64 `json:"sent"`      // y: relative sequence; then length
	Lost     [][]float64 `json:"lost"`      // y: relative sequence; then length, upstream frame
	LostACKs [][]float64 `json:"lost_acks"` // y: 0; then upstream frame
	Thinned  bool        `json:"thinned,omitempty"`
}

// pairConn is one paired connection on the page: the engine's figures
// (the JSON of summary --format json) and the series.
type pairConn struct {
	pairing.ConnResult
	Label  string        `json:"label"`
	Series [2]pairSeries `json:"series"` // per direction, as ConnResult.Dirs
}

type pairPage struct {
	Note  string              `json:"note"`
	A     string              `json:"a"`
	B     string              `json:"b"`
	Conns map[string]pairConn `json:"conns"` // by A's flow id
	OnlyA []uint64            `json:"only_a"`
	OnlyB []uint64            `json:"only_b"`
}

// pairingData is tcpvizData.pairing, with times on the report's axis
// (seconds from capture A's first packet). A segment travelling from B to
// A is placed at its arrival in A; one that never arrived at B's time,
// which carries the offset between the two clocks.
func pairingData(r *pairing.Result, origin int64) []byte {
	p := pairPage{Note: pairing.DelayNote, A: r.A, B: r.B, Conns: map[string]pairConn{}, OnlyA: r.OnlyA, OnlyB: r.OnlyB}
	for i := range r.Conns {
		c := &r.Conns[i]
		pc := pairConn{ConnResult: *c, Label: "#" + strconv.FormatUint(c.FlowA, 10) + " " + c.Client + " → " + c.Server}
		for d := range c.Dirs {
			pc.Series[d] = pairSeriesOf(&c.Dirs[d], origin)
		}
		p.Conns[strconv.FormatUint(c.FlowA, 10)] = pc
	}
	js, _ := json.Marshal(p) // numbers and escaped strings: cannot fail
	return js
}

func pairSeriesOf(s *pairing.DirStats, origin int64) pairSeries {
	out := pairSeries{DelayPts: [][]float64{}, Sent: [][]float64{}, Lost: [][]float64{}, LostACKs: [][]float64{}}
	fromA := s.From == "a"
	var crossed, sent int
	for i := range s.Segs {
		if !s.Segs[i].Lost() {
			crossed++
		}
		if s.Segs[i].Data {
			sent++
		}
	}
	stride := max(1, (sent+maxPairPoints-1)/maxPairPoints)
	chunk := max(1, (2*crossed+maxPairPoints-1)/maxPairPoints)
	out.Thinned = stride > 1 || chunk > 1
	var lo, hi []float64 // the chunk's lowest and highest delay
	n, k := 0, 0
	for i := range s.Segs {
		g := &s.Segs[i]
		ts, frame := g.TS, g.Up // where A saw it
		if !fromA {
			ts, frame = g.TS+g.Delay, g.Down
		}
		if g.Lost() {
			ts = g.TS // never reached A (from B: B's clock)
			if !fromA {
				frame = 0
			}
		}
		x, ns := relSec(ts, origin), float64(ts-origin)
		switch {
		case g.Lost() && g.Data:
			if len(out.Lost) < maxPairPoints {
				out.Lost = append(out.Lost, []float64{x, float64(g.RelSeq), float64(frame), ns, float64(g.Len), float64(g.Up)})
			}
		case g.Lost():
			if len(out.LostACKs) < maxPairPoints {
				out.LostACKs = append(out.LostACKs, []float64{x, 0, float64(frame), ns, float64(g.Up)})
			}
		}
		if g.Data {
			if k%stride == 0 {
				out.Sent = append(out.Sent, []float64{x, float64(g.RelSeq), float64(frame), ns, float64(g.Len)})
			}
			k++
		}
		if g.Lost() {
			continue
		}
		it := []float64{x, float64(g.Delay/1000) / 1000, float64(frame), ns}
		if chunk == 1 {
			out.DelayPts = append(out.DelayPts, it)
			continue
		}
		if lo == nil || it[1] < lo[1] {
			lo = it
		}
		if hi == nil || it[1] > hi[1] {
			hi = it
		}
		if n++; n == chunk {
			out.DelayPts = appendLoHi(out.DelayPts, lo, hi)
			lo, hi, n = nil, nil, 0
		}
	}
	if lo != nil {
		out.DelayPts = appendLoHi(out.DelayPts, lo, hi)
	}
	return out
}

// appendLoHi appends a chunk's extremes in time order.
func appendLoHi(pts [][]float64, lo, hi []float64) [][]float64 {
	switch {
	case lo[3] == hi[3]:
		return append(pts, lo)
	case lo[3] < hi[3]:
		return append(pts, lo, hi)
	}
	return append(pts, hi, lo)
}

// PairRow is one paired connection in the report's table.
type PairRow struct {
	FlowA, FlowB   uint64
	Client, Server string
	Match, Near    string
	Dirs           [2]pairing.DirStats
}

func pairRows(r *pairing.Result) []PairRow {
	rows := make([]PairRow, 0, len(r.Conns))
	for i := range r.Conns {
		c := &r.Conns[i]
		near := "A"
		if c.NearClient == "b" {
			near = "B"
		}
		if c.Position == pairing.PositionOrder {
			near += " (assumed)"
		}
		rows = append(rows, PairRow{FlowA: c.FlowA, FlowB: c.FlowB, Client: c.Client, Server: c.Server, Match: c.Match, Near: near, Dirs: c.Dirs})
	}
	return rows
}

// compareViews writes the overlay's data and, with a second capture, the
// pairing's: the table on the report and the data of the #pair=N views.
func (b *builder) compareViews() {
	b.r.SetData("overlay", b.overlayData())
	pr := b.opts.Pairing
	if pr == nil {
		return
	}
	b.r.SetData("pairing", pairingData(pr, b.c.first))
	b.r.Pairs = pairRows(pr)
	b.r.PairNote = pairing.DelayNote
	b.r.PairOnlyA, b.r.PairOnlyB = pr.OnlyA, pr.OnlyB
}
