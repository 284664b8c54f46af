package pipeline_test

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
)

// outSink writes every packet and event as parse-pcap would.
type outSink struct {
	tab *conntrack.Table
	buf bytes.Buffer
	b   []byte
}

func (s *outSink) Packet(p *events.Packet) {
	peer, _ := s.tab.Base(p.Flow, p.Dir.Reverse())
	s.b = append(p.AppendJSON(s.b[:0], peer), '\n')
	s.buf.Write(s.b)
}

func (s *outSink) Event(e *events.Event) {
	s.b = append(e.AppendJSON(s.b[:0]), '\n')
	s.buf.Write(s.b)
}

// hidden is a detector without UseTable: the engine keeps its own copy of
// the SYNs, as it does outside a pipeline.
type hidden struct{ pipeline.Detector }

// sharedAndOwn builds two pipelines that differ only in where the
// detectors find the SYNs of half-open connections: in the table, or in
// their own copy.
func sharedAndOwn(flows conntrack.Config) (pipes [2]*pipeline.Pipeline, outs [2]*outSink) {
	for i := range pipes {
		out := &outSink{}
		cfg := pipeline.Config{Flows: flows, OnFlow: func(r *events.FlowRecord) { out.b = append(r.AppendJSON(out.b[:0]), '\n'); out.buf.Write(out.b) }}
		cfg.NewDetector = func(emit func(*events.Event)) pipeline.Detector {
			d := detectors.New(detectors.DefaultConfig(), emit)
			if i == 1 {
				return hidden{d}
			}
			return d
		}
		pipes[i] = pipeline.New(cfg)
		out.tab = pipes[i].Table()
		pipes[i].AddSink(out)
		outs[i] = out
	}
	return pipes, outs
}

func sameOutput(t *testing.T, name string, outs [2]*outSink) {
	t.Helper()
	a, b := outs[0].buf.Bytes(), outs[1].buf.Bytes()
	if !bytes.Equal(a, b) {
		if os.Getenv("DUMPOUT") != "" {
			os.WriteFile("/tmp/out0", a, 0o644)
			os.WriteFile("/tmp/out1", b, 0o644)
		}
		n := 0
		for n < len(a) && n < len(b) && a[n] == b[n] {
			n++
		}
		lo := max(0, n-300)
		t.Fatalf("%s: outputs differ at byte %d:\n%s\nwant\n%s", name, n, a[lo:min(len(a), n+200)], b[lo:min(len(b), n+200)])
	}
	if len(a) == 0 {
		t.Fatalf("%s: no output", name)
	}
}

// TestTableSYNsSameAsOwn: the detectors reading the SYNs the connection
// table keeps write the same packets, events and summaries as detectors
// keeping their own copy, on random traffic with unanswered SYNs (some
// answered after no_syn_ack), retries, resets, timestamps out of order
// and connections expiring, and on every sample.
func TestTableSYNsSameAsOwn(t *testing.T) {
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		pipes, outs := sharedAndOwn(conntrack.Config{CloseLinger: 5 * time.Second, IdleTimeout: 40 * time.Second, FinLinger: time.Second, MaxClosed: 16})
		ts := int64(time.Hour)
		kept := 0
		for frame := uint64(1); frame <= 4000; frame++ {
			ts += rng.Int64N(int64(400 * time.Millisecond))
			at := ts
			if rng.IntN(50) == 0 {
				at -= int64(2 * time.Second) // written out of order
			}
			cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(rng.IntN(3))}), uint16(1000+rng.IntN(40)))
			fromCli := rng.IntN(3) > 0
			flags := []uint16{events.FlagSYN, events.FlagSYN, events.FlagSYN | events.FlagACK, events.FlagACK,
				events.FlagACK | events.FlagPSH, events.FlagFIN | events.FlagACK, events.FlagRST}[rng.IntN(7)]
			if fromCli && rng.IntN(2) == 0 {
				flags = events.FlagSYN
			}
			p := events.Packet{Frame: frame, TS: at, Flags: flags, Seq: uint32(rng.IntN(3)) * 1000, Ack: uint32(rng.IntN(3))*1000 + 1,
				Window: 500, WireLen: 60}
			p.Src, p.SrcPort, p.Dst, p.DstPort = cli.Addr(), cli.Port(), srv.Addr(), srv.Port()
			if !fromCli {
				p.Src, p.SrcPort, p.Dst, p.DstPort = p.Dst, p.DstPort, p.Src, p.SrcPort
			}
			if flags&events.FlagSYN != 0 {
				p.Options = events.Options{MSS: 1460, HasMSS: true, WScale: 7, HasWScale: true, SACKPerm: true,
					HasTS: rng.IntN(2) == 0, TSVal: uint32(frame)}
			} else if rng.IntN(2) == 0 {
				p.Len = 100
			}
			for i := range pipes {
				q := p
				pipes[i].FeedPacket(&q)
				if _, ok := pipes[i].Table().SYN(q.Flow, new(events.Packet)); i == 0 && ok {
					kept++
				}
			}
			if rng.IntN(200) == 0 {
				ts += int64(15 * time.Second)
				for i := range pipes {
					pipes[i].Advance(ts)
				}
			}
		}
		for i := range pipes {
			pipes[i].Finish()
		}
		if kept == 0 || !bytes.Contains(outs[0].buf.Bytes(), []byte(events.ReasonNoSYNACK)) {
			t.Fatalf("seed %d: %d SYNs kept by the table, no_syn_ack reported: %v", seed, kept, bytes.Contains(outs[0].buf.Bytes(), []byte(events.ReasonNoSYNACK)))
		}
		sameOutput(t, "random", outs)
	}
	files, err := filepath.Glob("../../samples/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("samples: %v", err)
	}
	for _, path := range files {
		pipes, outs := sharedAndOwn(conntrack.DefaultConfig())
		for i := range pipes {
			feed.File(t, path, pipes[i])
			pipes[i].Finish()
		}
		sameOutput(t, filepath.Base(path), outs)
	}
}
