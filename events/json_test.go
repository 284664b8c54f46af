package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// marshal is the reference: encoding/json with HTML escaping, as
// json.Encoder writes by default.
func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func same(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// checkSink compares the hand-written encoders with encoding/json on every
// record a pipeline produces.
type checkSink struct {
	t     *testing.T
	table *conntrack.Table
	n     [3]int
	buf   []byte
}

func (s *checkSink) Packet(p *events.Packet) {
	peer, _ := s.table.Base(p.Flow, p.Dir.Reverse())
	s.buf = p.AppendJSON(s.buf[:0], peer)
	r := p.Record(peer)
	same(s.t, "packet", s.buf, marshal(s.t, &r))
	s.n[0]++
}

func (s *checkSink) Event(e *events.Event) {
	s.buf = e.AppendJSON(s.buf[:0])
	same(s.t, "event", s.buf, marshal(s.t, e))
	s.n[1]++
}

func runSample(t *testing.T, path string, withDetectors bool) *checkSink {
	s := &checkSink{t: t}
	cfg := pipeline.Config{Flows: conntrack.DefaultConfig()}
	if withDetectors {
		cfg.NewDetector = func(emit func(*events.Event)) pipeline.Detector {
			return detectors.New(detectors.DefaultConfig(), emit)
		}
	}
	cfg.OnFlow = func(r *events.FlowRecord) {
		s.buf = r.AppendJSON(s.buf[:0])
		same(t, "flow", s.buf, marshal(t, r))
		s.n[2]++
	}
	p := pipeline.New(cfg)
	s.table = p.Table()
	p.AddSink(s)
	feed.File(t, path, p)
	p.Finish()
	return s
}

// TestAppendJSONSamples: on every sample, every packet record, event and flow
// record encodes to the bytes encoding/json writes.
func TestAppendJSONSamples(t *testing.T) {
	files, err := filepath.Glob("../samples/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := runSample(t, path, true)
			if s.n[0] == 0 || s.n[2] == 0 {
				t.Fatalf("nothing compared: %v", s.n)
			}
			// Without detectors kernel records become events of their own.
			runSample(t, path, false)
		})
	}
}

// TestTimestampFixedWidth: nine fraction digits always, the time package's
// reading of the same instant, and text order equal to time order.
func TestTimestampFixedWidth(t *testing.T) {
	const layout = "2006-01-02T15:04:05.000000000Z07:00"
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []int64{0, 1, -1, 1_700_000_000_000_000_000, 1_700_000_000_100_000_000, math.MaxInt64, math.MinInt64,
		-86400 * 1e9, 951782400 * 1e9 /* 2000-02-29 */, 4107542399999999999}
	for range 20000 {
		cases = append(cases, int64(rng.Uint64()))
	}
	var prev []byte
	var prevTS int64
	for i, ns := range cases {
		got := events.Timestamp(ns).AppendJSON(nil)
		want := `"` + time.Unix(0, ns).UTC().Format(layout) + `"`
		if string(got) != want {
			t.Fatalf("%d: got %s want %s", ns, got, want)
		}
		if len(got) != 32 {
			t.Fatalf("%d: %s is not 30 characters", ns, got)
		}
		var back events.Timestamp
		if err := json.Unmarshal(got, &back); err != nil || int64(back) != ns {
			t.Fatalf("%s read back as %d (%v), want %d", got, back, err, ns)
		}
		if i > 0 && (bytes.Compare(prev, got) < 0) != (prevTS < ns) && prevTS != ns {
			t.Fatalf("text order of %s and %s differs from time order", prev, got)
		}
		prev, prevTS = got, ns
	}
}

// randString mixes what JSON escaping cares about: quotes, backslashes,
// control characters, HTML characters, U+2028, invalid UTF-8, multibyte.
func randString(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", `"`, `\`, "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f",
		"\x7f", "é", "日本", "\u2028", "\u2029", "\xff", "\xc3", "\xed\xa0\x80", "💥", "bash", "10.0.0.1:80"}
	n := r.IntN(8)
	var b strings.Builder
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(10) {
	case 8:
		return float64(r.Int64N(2e6)) / 1e6 // microseconds as seconds, around one
	case 9:
		return math.Nextafter(float64(r.Int64N(1e6))/1e6, 1) // next to them
	case 0:
		return 0
	case 1:
		return r.Float64() * 1e-7
	case 2:
		return r.Float64() * 1e25
	case 3:
		return -r.Float64() * 1000
	case 4:
		return float64(r.IntN(1000))
	case 5:
		return math.Copysign(0, -1)
	}
	return r.Float64() * 1000
}

func randAddr(r *rand.Rand) netip.Addr {
	switch r.IntN(4) {
	case 0:
		return netip.Addr{}
	case 1:
		var a [16]byte
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(a)
	case 2:
		return netip.AddrFrom4([4]byte{10, byte(r.Uint32()), 0, byte(r.Uint32())}).WithZone("")
	}
	return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
}

func maybe[T any](r *rand.Rand, v T) T {
	if r.IntN(2) == 0 {
		var zero T
		return zero
	}
	return v
}

// TestAppendJSONRandom compares the encoders with encoding/json on random
// records, every optional field present or absent.
func TestAppendJSONRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var buf []byte
	for range 20000 {
		k := &kblock.Record{Kind: kblock.Kind(r.IntN(6)), Cookie: maybe(r, r.Uint64()), Saddr: randAddr(r), Daddr: randAddr(r),
			Sport: uint16(r.Uint32()), Dport: maybe(r, uint16(r.Uint32())), SndCwnd: maybe(r, r.Uint32()), Ssthresh: maybe(r, r.Uint32()),
			SRTTus: maybe(r, r.Uint32()), RTTVarus: maybe(r, r.Uint32()), SndWnd: maybe(r, r.Uint32()), RcvWnd: maybe(r, r.Uint32()),
			PacketsOut: maybe(r, r.Uint32()), RetransOut: maybe(r, r.Uint32()), LostOut: maybe(r, r.Uint32()), SackedOut: maybe(r, r.Uint32()),
			Delivered: maybe(r, r.Uint32()), TotalRetrans: maybe(r, r.Uint32()), SndUna: maybe(r, r.Uint32()), SndNxt: maybe(r, r.Uint32()),
			RcvNxt: maybe(r, r.Uint32()), MSS: maybe(r, r.Uint32()), CAState: maybe(r, uint8(r.Uint32())), PacingRate: maybe(r, r.Uint64()),
			Seq: maybe(r, r.Uint32()), EndSeq: maybe(r, r.Uint32()), TCPFlags: maybe(r, uint8(r.Uint32())), Segs: maybe(r, r.Uint32()),
			OldState: maybe(r, uint8(r.Uint32())), NewState: maybe(r, uint8(r.Uint32())), PID: maybe(r, r.Uint32()), Comm: randString(r),
			BytesAcked: maybe(r, r.Uint64()), BytesRecv: maybe(r, r.Uint64()), SpanNS: maybe(r, r.Uint64()), ResetDir: maybe(r, uint8(r.Uint32())),
			Has: uint16(r.IntN(512)), BusyUS: r.Uint64(), RwndLimitedUS: maybe(r, r.Uint64()), SndbufLimitedUS: maybe(r, r.Uint64()),
			CwndLimited: r.IntN(2) == 0, AppLimited: r.IntN(2) == 0, RateDelivered: maybe(r, r.Uint32()), RateIntervalUS: r.Uint32(),
			MinRTTus: maybe(r, r.Uint32()), Unsent: maybe(r, r.Uint32()), WmemQueued: r.Uint32(), Sndbuf: r.Uint32(),
			SndWScale: uint8(r.IntN(15)), RcvWScale: maybe(r, uint8(r.IntN(15))),
			HasTimer: r.IntN(2) == 0, TimerPending: maybe(r, uint8(r.IntN(6))), Retransmits: maybe(r, uint8(r.Uint32()))}
		e := &events.Event{Type: randString(r), Frame: r.Uint64(), TS: events.Timestamp(r.Int64()), Flow: maybe(r, r.Uint64()),
			Dir: events.Dir(r.IntN(2)), Src: randString(r), Dst: randString(r), Severity: events.Severity(randString(r)),
			Kind: randString(r), Reason: randString(r), Seq: maybe(r, r.Uint32()), Len: maybe(r, r.Uint32()), Ack: maybe(r, r.Uint32()),
			Count: maybe(r, int(r.Int32())), RefFrame: maybe(r, r.Uint64()), RTTms: randFloat(r), Window: maybe(r, r.Int64()-r.Int64()),
			Note: randString(r), Confirmed: []*bool{nil, events.True, events.False}[r.IntN(3)],
			DegreeSegs: maybe(r, int(r.Int32())), DegreeMS: randFloat(r), Cause: randString(r), Context: events.Context{BytesInFlight: r.Int64() - r.Int64(), SRTTms: randFloat(r),
				KernelCwnd: maybe(r, r.Uint32()), KernelSRTTus: maybe(r, r.Uint32()), KernelSsthr: maybe(r, r.Uint32())},
			Kernel: maybe(r, k), Limit: maybe(r, &events.LimitChange{Source: randString(r), From: randString(r), To: randString(r),
				Share: randFloat(r), Start: events.Timestamp(r.Int64()), End: events.Timestamp(r.Int64())})}
		buf = e.AppendJSON(buf[:0])
		same(t, "event", buf, marshal(t, e))

		p := &events.Packet{Frame: r.Uint64(), TS: r.Int64(), Src: randAddr(r), Dst: randAddr(r), SrcPort: uint16(r.Uint32()),
			DstPort: uint16(r.Uint32()), Seq: r.Uint32(), Ack: r.Uint32(), Flags: uint16(r.Uint32()), Window: uint16(r.Uint32()),
			Len: r.Uint32(), Flow: r.Uint64(), Dir: events.Dir(r.IntN(2)), RelSeq: r.Uint32(), RelAck: r.Uint32(),
			WindowScaled: r.Int64N(1<<40) - 1<<20}
		p.Options = events.Options{MSS: maybe(r, uint16(r.Uint32())), WScale: uint8(r.IntN(15)), HasWScale: r.IntN(2) == 0,
			SACKPerm: r.IntN(2) == 0, HasTS: r.IntN(2) == 0, TSVal: r.Uint32(), TSEcr: r.Uint32(), NumSACK: uint8(r.IntN(5))}
		for i := range p.Options.SACK {
			p.Options.SACK[i] = events.SACKBlock{Left: r.Uint32(), Right: r.Uint32()}
		}
		peer := r.Uint32()
		buf = p.AppendJSON(buf[:0], peer)
		rec := p.Record(peer)
		same(t, "packet", buf, marshal(t, &rec))

		fr := &events.FlowRecord{Type: "flow", Flow: r.Uint64(), Client: randString(r), Server: randString(r),
			ClientAddr: randString(r), ServerAddr: randString(r), ClientPort: uint16(r.Uint32()), ServerPort: uint16(r.Uint32()),
			First: events.Timestamp(r.Int64()), Last: events.Timestamp(r.Int64()), DurationMS: randFloat(r),
			FirstFrame: r.Uint64(), LastFrame: r.Uint64(), PacketsC2S: r.Uint64(), PacketsS2C: r.Uint64(), BytesC2S: r.Uint64(),
			BytesS2C: r.Uint64(), WireC2S: r.Uint64(), WireS2C: r.Uint64(), HandshakeSeen: r.IntN(2) == 0,
			HandshakeRTTms: randFloat(r), WScaleC2S: r.IntN(16) - 1, WScaleS2C: r.IntN(16) - 1, MSSC2S: maybe(r, uint16(r.Uint32())),
			MSSS2C: maybe(r, uint16(r.Uint32())), SACKPermitted: r.IntN(2) == 0, End: randString(r), State: randString(r),
			History: randString(r), ZeroWindowMS: randFloat(r), ZeroWindowShare: randFloat(r), Retransmitted: maybe(r, r.Uint64()), RTTMinMS: randFloat(r), RTTAvgMS: randFloat(r),
			RTTMaxMS: randFloat(r), RTTSamples: maybe(r, r.IntN(1000)), PID: maybe(r, r.Uint32()), Comm: randString(r),
			Limits: events.FlowLimits{C2S: maybe(r, randDirLimits(r)), S2C: maybe(r, randDirLimits(r))}}
		if n := r.IntN(5); n > 0 {
			fr.Events = make(map[string]int)
			for range n {
				fr.Events[randString(r)] = r.IntN(1 << 20)
			}
		}
		fr.Encap = maybe(r, randString(r))
		if r.IntN(2) == 0 {
			fr.Tunnel = &events.FlowTunnel{Kind: randString(r), ID: r.Uint32()}
			if r.IntN(2) == 0 {
				id := r.Uint32()
				fr.Tunnel.PeerID = &id
			}
		}
		if r.IntN(2) == 0 {
			fr.KernelRetrans = &events.RetransCheck{Kernel: r.IntN(100), Inferred: r.IntN(100), Matched: r.IntN(100),
				Precision: randFloat(r), Recall: randFloat(r), KernelLossEpisodes: r.IntN(9), InferredLossEpisodes: r.IntN(9),
				KindsCompared: r.IntN(50), KindsAgreed: r.IntN(50), RTTRecords: r.IntN(50), KernelSRTTP50MS: randFloat(r),
				InferredSRTTP50MS: randFloat(r)}
		}
		buf = fr.AppendJSON(buf[:0])
		same(t, "flow", buf, marshal(t, fr))
	}
}

// FuzzEventJSON lets `go test -fuzz` look for a string or number the
// encoders write differently from encoding/json.
func FuzzEventJSON(f *testing.F) {
	f.Add("retransmission", "10.0.0.1:80", "<&>\u2028", 1.5, int64(1_700_000_000_123_456_789))
	f.Fuzz(func(t *testing.T, typ, src, note string, rtt float64, ts int64) {
		if math.IsNaN(rtt) || math.IsInf(rtt, 0) {
			return // encoding/json refuses them; the schema has none
		}
		e := &events.Event{Type: typ, Src: src, Dst: note, Note: note, RTTms: rtt, TS: events.Timestamp(ts),
			Kernel: &kblock.Record{Comm: note}}
		same(t, "event", e.AppendJSON(nil), marshal(t, e))
	})
}

// BenchmarkEventJSON compares the hand-written encoder with encoding/json on
// a typical detector event.
func BenchmarkEventJSON(b *testing.B) {
	e := &events.Event{Type: events.TypeRetransmission, Frame: 123456, TS: 1_700_000_000_123_456_789, Flow: 17,
		Src: "10.0.0.1:43210", Dst: "10.0.0.2:5201", Severity: events.SevWarn, Kind: events.RetransFast, Seq: 1234567,
		Len: 1448, Context: events.Context{BytesInFlight: 123456, SRTTms: 12.345}}
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = e.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		enc := json.NewEncoder(io.Discard)
		for b.Loop() {
			_ = enc.Encode(e)
		}
	})
}

func randDirLimits(r *rand.Rand) events.DirLimits {
	sec := func() events.LimitSeconds {
		return events.LimitSeconds{Rwnd: randFloat(r), Cwnd: randFloat(r), Sndbuf: randFloat(r), App: randFloat(r),
			Recovery: randFloat(r), Handshake: randFloat(r)}
	}
	// A limit's name half of the time (written from a table), any string
	// otherwise.
	dominant := randString(r)
	if r.IntN(2) == 0 {
		dominant = events.LimitNames[r.IntN(len(events.LimitNames))]
	}
	return events.DirLimits{Source: randString(r), Dominant: dominant, Seconds: sec(),
		GoodputAvgBps: randFloat(r), GoodputPeakBps: randFloat(r), MaxWindow: maybe(r, r.Int64N(1<<30)) - 1,
		Kernel:  maybe(r, &events.KernelChrono{Busy: randFloat(r), RwndLimited: randFloat(r), SndbufLimited: randFloat(r)}),
		Packets: maybe(r, &events.PacketLimits{Seconds: sec(), Dominant: randString(r), Agreement: randFloat(r)})}
}

// TestWriterSameAsMarshal: the Writer keeps the text of the last
// timestamp's second and of the last smoothed RTT between events; its lines
// are still those encoding/json writes, through runs of one second, steps
// across seconds, days and the epoch, repeated, changing and negative
// zero RTTs, and runs of events on one connection and direction between
// others (endpoints that need escaping among them).
func TestWriterSameAsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 17))
	srtts := []float64{0, 0.038875, 12.345, 1e-7, 0.04, math.Copysign(0, -1), 250}
	var out, want bytes.Buffer
	w := events.NewWriter(&out, 4096)
	ts := int64(1_700_000_000_999_999_990)
	// Connections with the same endpoints, or the same id, as another.
	conns := []struct {
		flow     uint64
		src, dst string
	}{{1, "10.0.0.1:1", "10.0.0.2:2"}, {2, "10.0.0.1:1", "10.0.0.2:2"}, {1, "10.0.0.1:1", "10.0.0.2:3"},
		{3, "[fe80::1%<eth0>]:1", "10.0.0.2:2"}, {4, "", "10.0.0.2:2"}, {1 << 40, "10.0.0.1:1", "10.0.0.1:1"},
		{9, "10.0.0.9:9", "10.0.0.2:2"}, {17, "10.0.0.1:1", "10.0.0.2:2"}} // 9 and 17 share the writer's slot of 1
	flow, dir, src, dst := conns[0].flow, events.DirC2S, conns[0].src, conns[0].dst
	for i := range 20000 {
		switch r.IntN(10) {
		case 0:
			ts += r.Int64N(3 * 86400e9) // another day
		case 1:
			ts = r.Int64N(4e9) - 2e9 // around the epoch, both sides
		case 2:
			ts -= r.Int64N(2e9) // back in time
		default:
			ts += r.Int64N(300e6) // mostly the same second
		}
		if r.IntN(3) == 0 {
			c := conns[r.IntN(len(conns))]
			flow, dir, src, dst = c.flow, events.Dir(r.IntN(2)), c.src, c.dst
			if dir == events.DirS2C {
				src, dst = dst, src
			}
		}
		e := &events.Event{Type: events.TypeDupAck, Frame: uint64(i), TS: events.Timestamp(ts), Flow: flow,
			Dir: dir, Src: src, Dst: dst, Severity: events.SevInfo, Seq: r.Uint32(), Ack: r.Uint32N(1e5),
			RefFrame: r.Uint64N(uint64(math.Pow10(r.IntN(20)))),
			Context:  events.Context{BytesInFlight: r.Int64N(1 << 20), SRTTms: srtts[r.IntN(len(srtts))]}}
		if r.IntN(4) == 0 {
			e.Context.SRTTms = randFloat(r)
		}
		w.Event(e)
		want.Write(marshal(t, e))
		want.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want.Bytes()) {
		got, exp := bytes.Split(out.Bytes(), []byte{'\n'}), bytes.Split(want.Bytes(), []byte{'\n'})
		for i := range min(len(got), len(exp)) {
			if !bytes.Equal(got[i], exp[i]) {
				t.Fatalf("line %d:\n got %s\nwant %s", i+1, got[i], exp[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(got), len(exp))
	}
}

// BenchmarkFlowLimitsJSON encodes the limits of a short connection's flow
// record (both directions inferred from packets), the figures most records
// of a connection-heavy capture carry.
func BenchmarkFlowLimitsJSON(b *testing.B) {
	c2s := events.DirLimits{Source: events.LimitSourcePackets, Seconds: events.LimitSeconds{Rwnd: 0.001, Cwnd: 0.0005, App: 0.0015, Handshake: 0.001},
		Dominant: events.LimitApp, GoodputAvgBps: 387355, GoodputPeakBps: 387355, MaxWindow: 64256}
	s2c := events.DirLimits{Source: events.LimitSourcePackets, Seconds: events.LimitSeconds{Cwnd: 0.001499, App: 0.001501, Handshake: 0.001},
		Dominant: events.LimitApp, GoodputAvgBps: 3605803, GoodputPeakBps: 3605803, MaxWindow: 64256}
	r := &events.FlowRecord{Limits: events.FlowLimits{C2S: c2s, S2C: s2c}}
	var buf []byte
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}

// TestLimitsFiguresJSON writes the limits' figures at the edges of the
// in-place paths (zero, millionths below one, whole numbers below 1e8) and
// just past them, each as every member of a direction and with buffers of
// every spare room up to the growth step, and compares with encoding/json.
func TestLimitsFiguresJSON(t *testing.T) {
	figs := []float64{0, math.Copysign(0, -1), 1e-6, 0.000001, 0.0005, 0.001499, 0.1, 0.999999, 0.9999995,
		math.Nextafter(0.001, 1), math.Nextafter(1, 0), 1e-7, 1, 9, 10, 387355, 3605803, 99999999, 1e8,
		1.5, 12345678.5, 1e15, 1e21, 1e-9, -0.001, -1, -3605803, math.MaxFloat64}
	var buf []byte
	for i, f := range figs {
		for _, src := range []string{events.LimitSourcePackets, events.LimitSourceKernel, "x"} {
			g := figs[(i+1)%len(figs)]
			l := events.DirLimits{Source: src, Seconds: events.LimitSeconds{Rwnd: f, Cwnd: g, Sndbuf: f, App: g, Recovery: f, Handshake: g},
				Dominant: events.LimitApp, GoodputAvgBps: f, GoodputPeakBps: g, MaxWindow: 64256}
			r := &events.FlowRecord{Limits: events.FlowLimits{C2S: l, S2C: l}}
			want := marshal(t, r)
			for room := 0; room < len(want)+64; room += 3 {
				// The record's members before the limits use part of
				// the room: the limits start with any spare.
				buf = r.AppendJSON(make([]byte, 3, 3+room))
				same(t, fmt.Sprintf("figure %v, room %d", f, room), buf[3:], want)
			}
		}
	}
}
