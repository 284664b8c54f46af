package detectors

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// twin runs two engines in step, one with the per-packet shortcuts and one
// on the general path (general and limGeneral): after every packet the
// connection's state must be the same, and so must every event and record.
type twin struct {
	t        testing.TB
	a, b     *Engine
	out      [2][]byte
	packets  int
	compared int
}

func newTwin(t testing.TB, cfg Config) *twin {
	w := &twin{t: t}
	w.a = New(cfg, func(ev *events.Event) { w.out[0] = append(ev.AppendJSON(w.out[0]), '\n') })
	w.b = New(cfg, func(ev *events.Event) { w.out[1] = append(ev.AppendJSON(w.out[1]), '\n') })
	w.b.general, w.b.limGeneral = true, true
	return w
}

func (w *twin) Packet(p *events.Packet) {
	q := *p
	w.a.Packet(p)
	w.b.Packet(&q)
	w.packets++
	fa, fb := w.a.flows[p.Flow], w.b.flows[p.Flow]
	if (fa == nil) != (fb == nil) || fa != nil && !reflect.DeepEqual(fa, fb) {
		w.t.Fatalf("frame %d (%+v): the connection's state differs\nshortcuts: %+v\ngeneral:   %+v", p.Frame, *p, fa, fb)
	}
	if fa != nil {
		w.compared++
	}
	if len(w.out[0]) != len(w.out[1]) {
		w.diff("frame")
	}
}

func (w *twin) Kernel(frame uint64, rec *kblock.Record, flow uint64, dir events.Dir) {
	r := *rec
	w.a.Kernel(frame, rec, flow, dir)
	w.b.Kernel(frame, &r, flow, dir)
}

func (w *twin) Advance(now int64) { w.a.Advance(now); w.b.Advance(now) }

func (w *twin) Finish() { w.a.Finish(); w.b.Finish() }

func (w *twin) CloseFlow(id uint64, r *events.FlowRecord) {
	rb := *r
	w.a.CloseFlow(id, r)
	w.b.CloseFlow(id, &rb)
	w.out[0] = append(r.AppendJSON(w.out[0]), '\n')
	w.out[1] = append(rb.AppendJSON(w.out[1]), '\n')
}

// end writes the records of the connections still open and compares all.
func (w *twin) end(flows uint64) {
	w.Finish()
	for id := uint64(0); id <= flows; id++ {
		if w.a.flows[id] != nil {
			var r events.FlowRecord
			w.CloseFlow(id, &r)
		}
	}
	w.diff("end")
}

func (w *twin) diff(at string) {
	w.t.Helper()
	if string(w.out[0]) != string(w.out[1]) {
		a, b := firstDiff(w.out[0], w.out[1])
		w.t.Fatalf("%s: with the shortcuts\n%s\non the general path\n%s", at, a, b)
	}
}

// TestShortcutsSame runs random connections (messy ones: losses,
// reordering, SACK, zero windows, probes, keep-alives, wraparound; short
// ones of many shapes; and garbage: random flags, numbers and options)
// through an engine with the per-packet shortcuts and one without, in
// step: every connection's state after every packet, every event and
// every record must be the same.
func TestShortcutsSame(t *testing.T) {
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 17))
		var cs []*tconn
		n := 10 + r.IntN(20)
		for i := range n {
			if i%2 == 0 {
				cs = append(cs, randomConn(r, uint64(i+1)))
			} else {
				cs = append(cs, randomShort(r, uint64(i+1), epoch+int64(i)*int64(us(r, 5000))))
			}
		}
		w := newTwin(t, DefaultConfig())
		pkts := merge(cs...)
		for i := range pkts {
			w.Packet(&pkts[i])
		}
		w.end(uint64(n))
		if w.compared < len(pkts)*9/10 {
			t.Fatalf("seed %d: the state compared after %d of %d packets", seed, w.compared, len(pkts))
		}
	}
	// Garbage, a few connections at a time.
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	w := newTwin(t, DefaultConfig())
	ts := epoch
	seq := [2]uint32{rng.Uint32(), rng.Uint32()}
	for i := range 30000 {
		ts += rng.Int64N(3e6) - 1e5
		d := events.Dir(rng.IntN(2))
		p := events.Packet{Frame: uint64(i + 1), TS: ts, Src: a, Dst: b, SrcPort: 1, DstPort: 2,
			Seq: seq[d], Ack: seq[d^1] - uint32(rng.IntN(3))*1000, Flags: fACK, Window: uint16(rng.IntN(3)) * 1000,
			Len: uint32(rng.IntN(3)) * 1000, Flow: uint64(1 + rng.IntN(3)), Dir: d, WindowScaled: -1}
		switch rng.IntN(20) {
		case 0:
			p.Flags = uint16(rng.IntN(512))
		case 1:
			p.Seq = rng.Uint32()
		case 2:
			p.Len = rng.Uint32()
		case 3:
			p.Len = 1
		case 4:
			p.Seq -= uint32(rng.IntN(3)) * 1000
		}
		if rng.IntN(4) == 0 {
			p.Options = events.Options{HasTS: true, TSVal: uint32(ts / 1e6), TSEcr: uint32(ts/1e6) - uint32(rng.IntN(20)),
				NumSACK: uint8(rng.IntN(4))}
			for j := range p.Options.NumSACK {
				l := p.Ack + uint32(rng.IntN(8))*1000
				p.Options.SACK[j] = events.SACKBlock{Left: l, Right: l + uint32(1+rng.IntN(3))*1000}
			}
		}
		seq[d] = p.Seq + p.Len
		w.Packet(&p)
		if rng.IntN(3000) == 0 {
			var rec events.FlowRecord
			w.CloseFlow(p.Flow, &rec)
		}
	}
	w.end(3)
}

// TestShortcutsSameSamples does the same on every capture in samples/,
// through the pipeline (connection table, relative numbers, kernel
// records).
func TestShortcutsSameSamples(t *testing.T) {
	files := oracleCaptures(t)
	if len(files) == 0 {
		t.Skip("no captures in samples/")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var w *twin
			det := func(emit func(*events.Event)) pipeline.Detector {
				w = newTwin(t, DefaultConfig())
				return w
			}
			if err := tsharkoracle.RunPipeline(path, det); err != nil {
				t.Fatal(err)
			}
			w.diff("end")
			if w.packets > 0 && w.compared == 0 {
				t.Fatal("no state compared")
			}
		})
	}
}
