package detectors

import (
	"math"
	"sort"
	"testing"
	"time"
	"unsafe"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// rounds plays a client-to-server transfer: each round the client sends
// segs segments of mss bytes, waits rtt, and the server acknowledges them
// all, advertising win bytes (window scale 0). idle is the pause after each
// round.
func rounds(c *tconn, n, segs int, mss uint32, rtt, idle time.Duration, win uint16) uint32 {
	seq := uint32(1)
	for range n {
		for range segs {
			c.send(0, PA, seq, 1, mss, 502)
			seq += mss
		}
		c.after(rtt)
		c.send(1, A, 1, seq, 0, win)
		c.after(idle)
	}
	return seq
}

func limitsOf(t *testing.T, e *Engine, flow uint64) *events.FlowLimits {
	t.Helper()
	var r events.FlowRecord
	e.FillFlow(flow, &r)
	if r.Limits.IsZero() {
		t.Fatal("no limits")
	}
	return &r.Limits
}

func TestLimitsFromPackets(t *testing.T) {
	tests := []struct {
		name string
		make func(c *tconn)
		want string
		// minShare is the least share of the dominant limit expected.
		minShare float64
	}{
		{"receiver window", func(c *tconn) {
			// 4 segments fill the 4000-byte window; the receiver frees
			// it slowly.
			c.handshake(wsOpt(0)).after(ms)
			rounds(c, 40, 4, 1000, 10*ms, 0, 4000)
		}, events.LimitRwnd, 0.9},
		{"receiver window, freed in parts", func(c *tconn) {
			// 4 segments fill the 4000-byte window; the receiver frees
			// it a segment at a time, and the sender writes its next
			// round only when all is acknowledged. The kernel counts the
			// wait after a full window as rwnd limited until the sender
			// next transmits, though the window has room by then.
			c.handshake(wsOpt(0)).after(ms)
			seq := uint32(1)
			for range 40 {
				for range 4 {
					c.send(0, PA, seq, 1, 1000, 502)
					seq += 1000
				}
				c.after(ms)
				for i := uint32(3); i <= 3; i-- {
					c.send(1, A, 1, seq-i*1000, 0, 4000).after(3 * ms)
				}
			}
		}, events.LimitRwnd, 0.7},
		{"congestion window", func(c *tconn) {
			c.handshake(wsOpt(0)).after(ms)
			rounds(c, 40, 10, 1000, 10*ms, 0, 60000)
		}, events.LimitCwnd, 0.9},
		{"application", func(c *tconn) {
			c.handshake(wsOpt(0)).after(ms)
			rounds(c, 20, 1, 1000, ms, 100*ms, 60000)
		}, events.LimitApp, 0.9},
		{"handshake", func(c *tconn) {
			// The SYN is retransmitted after a second.
			c.send(0, S, 0, 0, 0, 64240, wsOpt(0)).after(time.Second)
			c.send(0, S, 0, 0, 0, 64240, wsOpt(0)).after(ms)
			c.send(1, SA, 0, 1, 0, 65160, wsOpt(0)).after(ms)
			c.send(0, A, 1, 1, 0, 502).after(ms)
			rounds(c, 2, 1, 1000, ms, 0, 60000)
		}, events.LimitHandshake, 0.9},
		{"recovery", func(c *tconn) {
			c.handshake(wsOpt(0)).after(ms)
			seq := rounds(c, 5, 10, 1000, 10*ms, 0, 60000)
			// A segment is lost: dup ACKs, then a timeout of 300 ms and
			// the retransmission.
			for i := range 10 {
				c.send(0, PA, seq+uint32(i)*1000, 1, 1000, 502)
			}
			c.after(10 * ms)
			for range 9 {
				c.send(1, A, 1, seq, 0, 60000)
			}
			c.after(300 * ms)
			c.send(0, PA, seq, 1, 1000, 502).after(10 * ms)
			c.send(1, A, 1, seq+10000, 0, 60000)
		}, events.LimitRecovery, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConn(1, false, 1000, 5000)
			tt.make(c)
			_, e := runEngine(DefaultConfig(), c.pkts, 0)
			l := limitsOf(t, e, 1).Dir(events.DirC2S)
			if l == nil || l.Source != events.LimitSourcePackets {
				t.Fatalf("c2s limits %+v", l)
			}
			if l.Dominant != tt.want || l.Seconds.Share() < tt.minShare {
				t.Errorf("dominant %s %.2f, want %s >= %.2f; seconds %+v", l.Dominant, l.Seconds.Share(), tt.want, tt.minShare, l.Seconds)
			}
			// The split covers the connection's time exactly.
			dur := float64(c.pkts[len(c.pkts)-1].TS-c.pkts[0].TS) / 1e9
			if got := l.Seconds.Total(); math.Abs(got-dur) > 1e-5 {
				t.Errorf("split %.6f s, connection %.6f s", got, dur)
			}
		})
	}
}

func TestLimitsDirectionsWithDataOnly(t *testing.T) {
	c := newConn(1, false, 1000, 5000)
	c.handshake(wsOpt(0)).after(ms)
	rounds(c, 3, 2, 1000, ms, 0, 60000)
	_, e := runEngine(DefaultConfig(), c.pkts, 0)
	l := limitsOf(t, e, 1)
	if l.Dir(events.DirC2S) == nil || l.Dir(events.DirS2C) != nil {
		t.Errorf("limits c2s %v s2c %v: want c2s only", l.C2S, l.S2C)
	}
}

func TestLimitsGoodput(t *testing.T) {
	c := newConn(1, false, 1000, 5000)
	c.handshake(wsOpt(0)).after(ms)
	// 10 rounds of 10 kB every 100 ms: 100 kB acknowledged over 0.9 s
	// from the first data to the last ACK.
	rounds(c, 10, 10, 1000, 0, 100*ms, 60000)
	_, e := runEngine(DefaultConfig(), c.pkts, 0)
	l := limitsOf(t, e, 1).C2S
	want := 100000 * 8 / 0.9
	if math.Abs(l.GoodputAvgBps-want) > 1 {
		t.Errorf("goodput avg %.0f bit/s, want %.0f", l.GoodputAvgBps, want)
	}
	if l.GoodputPeakBps < l.GoodputAvgBps {
		t.Errorf("goodput peak %.0f below average %.0f", l.GoodputPeakBps, l.GoodputAvgBps)
	}
}

// A direction whose limit changes half-way raises one limit_change.
func TestLimitChangeEvent(t *testing.T) {
	c := newConn(1, false, 1000, 5000)
	c.handshake(wsOpt(0)).after(ms)
	seq := rounds(c, 20, 1, 1000, ms, 100*ms, 60000) // 2 s application limited
	for range 200 {                                  // then 2 s receiver-window limited
		for range 4 {
			c.send(0, PA, seq, 1, 1000, 502)
			seq += 1000
		}
		c.after(10 * ms)
		c.send(1, A, 1, seq, 0, 4000)
	}
	evs, e := runEngine(DefaultConfig(), c.pkts, 0)
	var changes []events.Event
	for _, ev := range evs {
		if ev.Type == events.TypeLimitChange {
			changes = append(changes, ev)
		}
	}
	// Flush the last windows as the pipeline does at the end.
	limitsOf(t, e, 1)
	if len(changes) != 1 {
		t.Fatalf("%d limit_change events, want 1: %+v", len(changes), changes)
	}
	ch := changes[0]
	if ch.Limit == nil || ch.Limit.From != events.LimitApp || ch.Limit.To != events.LimitRwnd || ch.Dir != events.DirC2S ||
		ch.Limit.Source != events.LimitSourcePackets || ch.Kind != events.LimitRwnd {
		t.Fatalf("limit_change %+v %+v", ch, ch.Limit)
	}
	if span := time.Duration(ch.Limit.End - ch.Limit.Start); span != DefaultConfig().LimitWindow {
		t.Errorf("window %v, want %v", span, DefaultConfig().LimitWindow)
	}
	// The change happens about 2 s after the start.
	at := time.Duration(int64(ch.Limit.Start) - c.pkts[0].TS)
	if at < 1500*ms || at > 2500*ms {
		t.Errorf("change at %v, want about 2 s", at)
	}
}

// item is a packet or a kernel record, merged by time.
type item struct {
	ts  int64
	pkt *events.Packet
	rec *kblock.Record
}

// The kernel's chronographs are the source when the sending socket has
// them: the split is theirs (busy beyond rwnd/sndbuf is cwnd; the rest of
// the time is application; the handshake comes from packets).
func TestLimitsFromKernel(t *testing.T) {
	c := newConn(1, false, 1000, 5000)
	c.handshake(wsOpt(0)).after(ms)
	start := c.pkts[0].TS
	rounds(c, 100, 4, 1000, 10*ms, 0, 4000) // about 1 s, receiver-window limited
	end := c.ts
	var items []item
	for i := range c.pkts {
		items = append(items, item{ts: c.pkts[i].TS, pkt: &c.pkts[i]})
	}
	// Records every 100 ms from 10 ms after the handshake: busy 80 % of
	// the time, of which 75 % receiver-window limited and 5 % send-buffer.
	hsEnd := c.pkts[2].TS
	var last int64
	for ts := hsEnd + int64(10*ms); ts <= end; ts += int64(100 * ms) {
		el := ts - hsEnd
		busy := el * 8 / 10
		items = append(items, item{ts: ts, rec: &kblock.Record{Kind: kblock.KindProbe, TS: ts,
			Saddr: c.addr[0].Addr(), Sport: c.addr[0].Port(), Daddr: c.addr[1].Addr(), Dport: c.addr[1].Port(),
			Has:    kblock.HasChrono | kblock.HasWScale,
			BusyUS: uint64(busy / 1000), RwndLimitedUS: uint64(busy * 75 / 100 / 1000), SndbufLimitedUS: uint64(busy * 5 / 100 / 1000)}})
		last = ts
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].ts < items[j].ts })
	e := New(DefaultConfig(), func(*events.Event) {})
	for i, it := range items {
		if it.pkt != nil {
			e.Packet(it.pkt)
		} else {
			e.Kernel(uint64(i+1), it.rec, 1, events.DirC2S)
		}
	}
	l := limitsOf(t, e, 1).C2S
	if l.Source != events.LimitSourceKernel || l.Kernel == nil || l.Packets == nil {
		t.Fatalf("limits %+v", l)
	}
	busy := float64((last-hsEnd)*8/10) / 1e9
	total := float64(max(end, last)-start) / 1e9
	hs := float64(hsEnd-start) / 1e9
	want := events.LimitSeconds{Rwnd: busy * 0.75, Sndbuf: busy * 0.05, Cwnd: busy * 0.20, Handshake: hs, App: total - hs - busy}
	got, wa := l.Seconds.Array(), want.Array()
	for i := range got {
		if math.Abs(got[i]-wa[i]) > 1e-5 {
			t.Errorf("%s: %.6f s, want %.6f s", events.LimitNames[i], got[i], wa[i])
		}
	}
	if math.Abs(l.Kernel.Busy-busy) > 1e-5 || math.Abs(l.Kernel.RwndLimited-busy*0.75) > 1e-5 {
		t.Errorf("kernel chronographs %+v, want busy %.6f", l.Kernel, busy)
	}
	if l.Dominant != events.LimitRwnd || l.Packets.Dominant != events.LimitRwnd {
		t.Errorf("dominant kernel %s, packets %s: want rwnd for both", l.Dominant, l.Packets.Dominant)
	}
	if l.Packets.Agreement < 0.9 {
		t.Errorf("agreement %.2f, want >= 0.9", l.Packets.Agreement)
	}
}

// A capture that missed the handshake learns the window scale from a
// kernel record and still sees the receiver's window.
func TestLimitsWindowScaleFromKernel(t *testing.T) {
	c := newConn(1, false, 1000, 5000)
	// No handshake: windows are scaled by 2^4 (4000 bytes = 250).
	seq := uint32(1)
	var items []item
	for range 50 {
		for range 4 {
			c.send(0, PA, seq, 1, 1000, 502)
			seq += 1000
		}
		c.after(10 * ms)
		c.send(1, A, 1, seq, 0, 250)
	}
	for i := range c.pkts {
		items = append(items, item{ts: c.pkts[i].TS, pkt: &c.pkts[i]})
	}
	rec := &kblock.Record{Kind: kblock.KindProbe, TS: c.pkts[1].TS, Saddr: c.addr[0].Addr(), Sport: c.addr[0].Port(),
		Daddr: c.addr[1].Addr(), Dport: c.addr[1].Port(), Has: kblock.HasWScale, SndWScale: 4}
	items = append(items, item{ts: rec.TS, rec: rec})
	sort.SliceStable(items, func(i, j int) bool { return items[i].ts < items[j].ts })
	e := New(DefaultConfig(), func(*events.Event) {})
	for i, it := range items {
		if it.pkt != nil {
			e.Packet(it.pkt)
		} else {
			e.Kernel(uint64(i+1), it.rec, 1, events.DirC2S)
		}
	}
	l := limitsOf(t, e, 1).C2S
	if l.Source != events.LimitSourcePackets || l.Dominant != events.LimitRwnd || l.MaxWindow != 4000 {
		t.Errorf("limits %+v, want rwnd from packets with a 4000-byte window", l)
	}
}

func TestLimitsOff(t *testing.T) {
	c := newConn(1, false, 1000, 5000)
	c.handshake(wsOpt(0)).after(ms)
	rounds(c, 3, 2, 1000, ms, 0, 60000)
	cfg := DefaultConfig()
	cfg.Limits = false
	_, e := runEngine(cfg, c.pkts, 0)
	var r events.FlowRecord
	e.FillFlow(1, &r)
	if !r.Limits.IsZero() {
		t.Errorf("limits %+v with Limits off", r.Limits)
	}
}

// mssOpt announces a maximum segment size.
func mssOpt(n uint16) opt { return func(o *events.Options) { o.HasMSS, o.MSS = true, n } }

// limitsPacket's steady path (more data from a cwnd-limited sender, the
// flight within the room the last inference found) changes nothing: the
// records and limit_change events are those of the full inference on
// every packet.
func TestLimitsSteadyPathSame(t *testing.T) {
	window := func() []events.Packet {
		c := newConn(1, false, 1000, 5000)
		c.handshake(wsOpt(2), mssOpt(1000)).after(ms)
		seq := rounds(c, 30, 10, 1000, 5*ms, 0, 15000) // room for the flight
		for range 60 {                                 // then the window fills
			for range 6 {
				c.send(0, PA, seq, 1, 1000, 502).after(ms)
				seq += 1000
			}
			c.after(10 * ms)
			c.send(1, A, 1, seq, 0, 1500)
		}
		rounds(c, 20, 8, 1000, 3*ms, 60*ms, 15000) // and the application pauses
		return c.pkts
	}
	loss := func() []events.Packet {
		c := newConn(1, false, 1000, 5000)
		c.handshake(wsOpt(0), mssOpt(1000)).after(ms)
		seq := rounds(c, 5, 10, 1000, 10*ms, 0, 60000)
		for i := range 10 {
			c.send(0, PA, seq+uint32(i)*1000, 1, 1000, 502).after(ms)
		}
		c.after(10 * ms)
		for range 3 {
			c.send(1, A, 1, seq, 0, 60000).after(ms)
		}
		c.send(0, PA, seq, 1, 1000, 502).after(10 * ms)
		c.send(1, A, 1, seq+10000, 0, 60000).after(ms)
		rounds(c, 5, 10, 1000, 10*ms, 0, 60000)
		return c.pkts
	}
	// Both directions carry data and each sender acknowledges the other's:
	// its bare ACKs change nothing of its own direction.
	exchange := func() []events.Packet {
		c := newConn(1, false, 1000, 5000)
		c.handshake(wsOpt(0), mssOpt(1000)).after(ms)
		cseq, sseq := uint32(1), uint32(1)
		// Data outstanding, a silence past the gap test, then the
		// sender's bare ACK: the silence is accounted on it.
		c.send(0, PA, cseq, sseq, 300, 60000).after(30 * ms)
		cseq += 300
		c.send(0, A, cseq, sseq, 0, 60000).after(ms)
		c.send(1, A, sseq, cseq, 0, 20000).after(ms)
		for i := range 30 {
			c.send(0, PA, cseq, sseq, 300, 60000).after(ms)
			cseq += 300
			for j := range 6 {
				if j == 3 && i%3 == 0 {
					// More from the client mid-response: the server's next
					// data acknowledges it.
					c.send(0, PA, cseq, sseq, 100, 60000).after(ms / 4)
					cseq += 100
				}
				c.send(1, PA, sseq, cseq, 1000, 20000).after(ms / 2)
				sseq += 1000
				if j%2 == 1 || i%5 == 0 {
					c.send(0, A, cseq, sseq, 0, 60000).after(ms / 2)
				}
			}
			c.after(time.Duration(i%4) * 7 * ms) // silences past the gap test, some
		}
		c.send(0, A, cseq-1, sseq, 0, 60000).after(ms)    // a keep-alive
		c.send(0, A, cseq+2000, sseq, 0, 60000).after(ms) // a bare ACK past a gap moves the next sequence number
		c.send(1, PA, sseq, cseq, 1000, 20000).after(ms)
		c.send(0, A, cseq+2000, sseq+1000, 0, 60000).after(ms)
		return c.pkts
	}
	for _, tc := range []struct {
		name   string
		pkts   []events.Packet
		window time.Duration // LimitWindow; 0 the default
	}{
		{"exchange", exchange(), 0},
		{"exchange, short windows", exchange(), 10 * ms}, // windows often end on a bare ACK
		{"window and pauses", window(), 0},
		{"loss", loss(), 0},
		{"bulk without MSS", bulkTransfer(30000, 100), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs [2]events.FlowRecord
			var all [2][]byte // every event, as written
			var changes [2][]events.Event
			cfg := DefaultConfig()
			if tc.window > 0 {
				cfg.LimitWindow = tc.window
			}
			for i, slow := range []bool{false, true} {
				e := New(cfg, func(ev *events.Event) {
					all[i] = append(ev.AppendJSON(all[i]), '\n')
					if ev.Type == events.TypeLimitChange {
						changes[i] = append(changes[i], *ev)
					}
				})
				e.limGeneral = slow
				for j := range tc.pkts {
					e.Packet(&tc.pkts[j])
				}
				e.FillFlow(1, &recs[i])
				e.Finish()
			}
			if recs[0].Limits.Dir(events.DirC2S) == nil {
				t.Fatal("no limits")
			}
			got, want := recs[0].AppendJSON(nil), recs[1].AppendJSON(nil)
			if string(got) != string(want) {
				t.Errorf("steady path:\n%s\nfull inference:\n%s", got, want)
			}
			if string(all[0]) != string(all[1]) {
				t.Errorf("events differ without the steady path")
			}
			if len(changes[0]) != len(changes[1]) {
				t.Fatalf("%d limit_change events, %d without the steady path", len(changes[0]), len(changes[1]))
			}
			for i := range changes[0] {
				if a, b := changes[0][i].AppendJSON(nil), changes[1][i].AppendJSON(nil); string(a) != string(b) {
					t.Errorf("limit_change %d: %s, without the steady path %s", i, a, b)
				}
			}
		})
	}
}

// TestLimStateSize keeps a connection's limits state in six cache lines:
// a field more puts it in the next size class, whose objects straddle
// lines, and every packet of a short connection then touches more of them.
func TestLimStateSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is for 64-bit machines")
	}
	if n := unsafe.Sizeof(flowLimits{}); n != 384 {
		t.Errorf("flowLimits is %d bytes, want 384 (limDir %d)", n, unsafe.Sizeof(limDir{}))
	}
}
