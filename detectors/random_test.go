package detectors

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// TestRandomSegments feeds garbage: random flags, numbers, options and
// clock jumps (backwards too) across a few connections. The engine must not
// panic, must keep bytes in flight non-negative, and must free everything on
// Close.
func TestRandomSegments(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::9")
	e := New(DefaultConfig(), func(ev *events.Event) {
		if ev.Context.BytesInFlight < 0 {
			t.Fatalf("negative bytes in flight: %+v", ev)
		}
	})
	ts := epoch
	for i := 0; i < 200000; i++ {
		ts += rng.Int64N(20e6) - 1e6
		p := events.Packet{Frame: uint64(i + 1), TS: ts, Src: a, Dst: b, SrcPort: 1, DstPort: 2,
			Seq: rng.Uint32() >> uint(rng.IntN(32)), Ack: rng.Uint32() >> uint(rng.IntN(32)), Flags: uint16(rng.IntN(512)),
			Window: uint16(rng.IntN(3)), Len: uint32(rng.IntN(3)) * 700, Flow: uint64(rng.IntN(5)), Dir: events.Dir(rng.IntN(2)),
			WindowScaled: -1}
		if rng.IntN(4) == 0 {
			p.Options = events.Options{HasTS: true, TSVal: rng.Uint32(), TSEcr: rng.Uint32(), HasWScale: true, WScale: uint8(rng.IntN(20)),
				NumSACK: uint8(rng.IntN(5)), SACK: [4]events.SACKBlock{{Left: rng.Uint32(), Right: rng.Uint32()}}}
		}
		e.Packet(&p)
		switch rng.IntN(1000) {
		case 0:
			e.Advance(ts + rng.Int64N(1e10))
		case 1:
			e.Close(p.Flow)
		case 2:
			e.Kernel(p.Frame, &kblock.Record{Kind: kblock.Kind(rng.IntN(6)), TS: ts, Seq: rng.Uint32(), EndSeq: rng.Uint32(), Segs: uint32(rng.IntN(3)),
				Saddr: a, Sport: 1, Daddr: b, Dport: 2}, p.Flow, p.Dir)
		}
	}
	e.Finish()
	_ = e.Compare()
	for id := uint64(0); id < 5; id++ {
		e.Close(id)
	}
	if len(e.flows) != 0 {
		t.Errorf("%d flows left after Close", len(e.flows))
	}
}

// TestSkippedCallsChangeNothing: wherever the engine skips a call for a
// packet (handshakeDone for handshake, stallDue for checkStall), making it
// anyway changes no state and raises nothing, on random connections
// (handshakes in any order, SYN retries, RSTs and FINs, mid-stream starts,
// equal timestamps, pauses past the stall floor, zero windows).
func TestSkippedCallsChangeNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	raised := 0
	e := New(DefaultConfig(), func(*events.Event) { raised++ })
	flags := []uint16{fSYN, fSYN | fACK, fACK | fFIN, fRST, fRST | fACK, 0}
	ts := epoch
	var hsSkips, stallSkips int
	same := func(i int, p *events.Packet, f *flow, call func()) {
		before, n := *f, raised
		call()
		if !reflect.DeepEqual(before, *f) || raised != n {
			t.Fatalf("packet %d (%+v): a skipped call changed the flow or raised %d events", i, *p, raised-n)
		}
	}
	for i := 0; i < 100000; i++ {
		ts += rng.Int64N(3e6)
		if rng.IntN(500) == 0 {
			ts += rng.Int64N(1e9) // past the stall floor
		}
		fl := fACK
		if rng.IntN(10) == 0 {
			fl = flags[rng.IntN(len(flags))]
		}
		p := events.Packet{Frame: uint64(i + 1), TS: ts, Src: a, Dst: b, SrcPort: 1, DstPort: 2,
			Seq: uint32(i) * 100, Ack: uint32(rng.IntN(i+1)) * 100, Flags: fl, Window: uint16(rng.IntN(50)),
			Len: uint32(rng.IntN(2)) * 100, Flow: uint64(1 + rng.IntN(3)), Dir: events.Dir(rng.IntN(2)), WindowScaled: -1}
		if f := e.flows[p.Flow]; f != nil {
			if p.TS > e.now {
				e.now = p.TS // as Packet sets it before process
			}
			if f.handshakeDone(&p) {
				same(i, &p, f, func() { e.handshake(f, &p) })
				hsSkips++
			}
			for _, d := range []events.Dir{p.Dir, p.Dir ^ 1} {
				if !e.stallDue(&f.h[d&1], &f.h[(d^1)&1]) {
					same(i, &p, f, func() { e.checkStall(f, d, &p) })
					if f.h[d].stallPending() {
						stallSkips++ // skipped for the floor or the ACK, not for want of a stall
					}
				}
			}
		}
		e.Packet(&p)
		if rng.IntN(2000) == 0 {
			e.Close(p.Flow)
		}
	}
	if hsSkips < 50000 || stallSkips < 20000 {
		t.Fatalf("handshake skipped on %d of 100000 packets, checkStall %d times: the test does not exercise them", hsSkips, stallSkips)
	}
}
