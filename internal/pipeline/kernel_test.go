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
// event type, severity and record fields with the detectors on and off.
func TestKernelEventsSameWithoutDetectors(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	recs := []kblock.Record{
		{Kind: kblock.KindProbe, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, SndCwnd: 10},
		{Kind: kblock.KindRetransmit, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, Seq: 1000, EndSeq: 2448, CAState: 4, HasTimer: true},
		{Kind: kblock.KindState, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, OldState: 1, NewState: 4},
		{Kind: kblock.KindReset, Saddr: a, Daddr: b, Sport: 40000, Dport: 80, ResetDir: 1},
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
		for i := range recs {
			r := recs[i]
			r.TS = int64(1e18) + int64(i)*1e6
			p.FeedKernel(uint64(i+1), &r)
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
	if len(on) != len(recs) || len(off) != len(recs) {
		t.Fatalf("%d events with detectors, %d without, want %d each", len(on), len(off), len(recs))
	}
	for i := range recs {
		x, y := on[i], off[i]
		if x.Type != y.Type || x.Severity != y.Severity || x.Len != y.Len || x.Cause != y.Cause || x.Note != y.Note {
			t.Errorf("record %d: with detectors %s/%s len %d cause %q note %q; without %s/%s len %d cause %q note %q",
				i, x.Type, x.Severity, x.Len, x.Cause, x.Note, y.Type, y.Severity, y.Len, y.Cause, y.Note)
		}
	}
	if on[1].Severity != events.SevWarn || on[1].Cause != kblock.CauseLoss {
		t.Errorf("kernel retransmission in Loss: %s cause %q, want warn and %q", on[1].Severity, on[1].Cause, kblock.CauseLoss)
	}
}
