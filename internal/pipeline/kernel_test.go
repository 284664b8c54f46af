package pipeline_test

import (
	"net/netip"
	"testing"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

type eventLog []events.Event

func (l *eventLog) Packet(*events.Packet) {}
func (l *eventLog) Event(e *events.Event) { *l = append(*l, *e) }

// TestKernelEventsSameWithoutDetectors: a kernel record becomes the same
// event (type, severity, ends, connection, direction and record fields)
// with the detectors on and off: records of either end of a connection
// (whose ends the detectors take from the connection), of another port,
// of no connection, IPv4 and IPv6.
func TestKernelEventsSameWithoutDetectors(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::2%eth0")
	tests := []struct {
		name string
		rec  kblock.Record
	}{
		{"probe", kblock.Record{Kind: kblock.KindProbe, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, SndCwnd: 10}},
		{"retransmit", kblock.Record{Kind: kblock.KindRetransmit, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, Seq: 1000, EndSeq: 2448, CAState: 4, HasTimer: true}},
		{"state", kblock.Record{Kind: kblock.KindState, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, OldState: 1, NewState: 4}},
		{"reset", kblock.Record{Kind: kblock.KindReset, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, ResetDir: 1}},
		{"server's probe", kblock.Record{Kind: kblock.KindProbe, Saddr: b, Daddr: a, Sport: 80, Dport: 40000, SndCwnd: 7}},
		{"server's retransmit", kblock.Record{Kind: kblock.KindRetransmit, Saddr: b, Daddr: a, Sport: 80, Dport: 40000, Seq: 5, EndSeq: 6}},
		{"other port", kblock.Record{Kind: kblock.KindProbe, Saddr: a, Daddr: b, Sport: 40001, Dport: 80, SndCwnd: 3}},
		{"no port yet", kblock.Record{Kind: kblock.KindState, Saddr: a, Daddr: b, Dport: 80, OldState: 7, NewState: 2}},
		{"IPv6", kblock.Record{Kind: kblock.KindProbe, Saddr: a6, Daddr: b6, Sport: 40000, Dport: 443, SndCwnd: 10}},
		{"IPv6 server's", kblock.Record{Kind: kblock.KindRetransmit, Saddr: b6, Daddr: a6, Sport: 443, Dport: 40000, Seq: 9, EndSeq: 10}},
		{"no address", kblock.Record{Kind: kblock.KindProbe, Sport: 40000, Dport: 80}},
	}
	run := func(withDetectors bool) eventLog {
		cfg := pipeline.Config{Flows: conntrack.DefaultConfig()}
		if withDetectors {
			cfg.NewDetector = func(emit func(*events.Event)) pipeline.Detector {
				return detectors.New(detectors.DefaultConfig(), emit)
			}
		}
		p := pipeline.New(cfg)
		var log eventLog
		p.AddSink(&log)
		frame := uint64(0)
		ts := int64(1e18)
		// Two connections, each a SYN and its SYN/ACK.
		for _, c := range [][2]netip.Addr{{a, b}, {a6, b6}} {
			port := uint16(80 + 363*(frame/2))
			for i, pk := range []events.Packet{{Src: c[0], Dst: c[1], SrcPort: 40000, DstPort: port, Seq: 1, Flags: events.FlagSYN},
				{Src: c[1], Dst: c[0], SrcPort: port, DstPort: 40000, Seq: 100, Ack: 2, Flags: events.FlagSYN | events.FlagACK}} {
				frame++
				pk.Frame, pk.TS = frame, ts+int64(frame)*1e6+int64(i)
				p.FeedPacket(&pk)
			}
		}
		for _, tc := range tests {
			r := tc.rec
			frame++
			r.TS = ts + int64(frame)*1e6
			p.FeedKernel(frame, &r)
		}
		p.Finish()
		return log
	}
	on, off := run(true), run(false)
	kernelOnly := func(l eventLog) eventLog {
		var out eventLog
		for _, e := range l {
			if e.Kernel != nil {
				out = append(out, e)
			}
		}
		return out
	}
	on, off = kernelOnly(on), kernelOnly(off)
	if len(on) != len(tests) || len(off) != len(tests) {
		t.Fatalf("%d events with detectors, %d without, want %d each", len(on), len(off), len(tests))
	}
	for i, tc := range tests {
		x, y := on[i], off[i]
		if x.Type != y.Type || x.Severity != y.Severity || x.Len != y.Len || x.Cause != y.Cause || x.Note != y.Note ||
			x.Src != y.Src || x.Dst != y.Dst || x.Flow != y.Flow || x.Dir != y.Dir || x.Frame != y.Frame || x.TS != y.TS {
			t.Errorf("%s: with detectors %s/%s %s > %s flow %d %s frame %d len %d cause %q note %q; without %s/%s %s > %s flow %d %s frame %d len %d cause %q note %q",
				tc.name, x.Type, x.Severity, x.Src, x.Dst, x.Flow, x.Dir, x.Frame, x.Len, x.Cause, x.Note,
				y.Type, y.Severity, y.Src, y.Dst, y.Flow, y.Dir, y.Frame, y.Len, y.Cause, y.Note)
		}
		if want := netip.AddrPortFrom(tc.rec.Saddr, tc.rec.Sport).String(); x.Src != want {
			t.Errorf("%s: src %q, want %q", tc.name, x.Src, want)
		}
		if want := netip.AddrPortFrom(tc.rec.Daddr, tc.rec.Dport).String(); x.Dst != want {
			t.Errorf("%s: dst %q, want %q", tc.name, x.Dst, want)
		}
	}
	if on[1].Severity != events.SevWarn || on[1].Cause != kblock.CauseLoss {
		t.Errorf("kernel retransmission in Loss: %s cause %q, want warn and %q", on[1].Severity, on[1].Cause, kblock.CauseLoss)
	}
	if on[0].Flow == 0 || on[4].Flow != on[0].Flow || on[4].Dir == on[0].Dir || on[8].Flow == 0 || on[9].Flow != on[8].Flow {
		t.Errorf("records not matched to their connections: flows %d %d %d %d, dirs %s %s", on[0].Flow, on[4].Flow, on[8].Flow, on[9].Flow, on[0].Dir, on[4].Dir)
	}
}
