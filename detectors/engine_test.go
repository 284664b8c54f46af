package detectors

import (
	"fmt"
	"math/rand"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

func TestRSTStorm(t *testing.T) {
	tests := []struct {
		name   string
		conns  int
		gap    time.Duration
		storms int
	}{
		{"20 resets within a second", 20, 10 * ms, 1},
		{"40 resets within a second still one storm", 40, 10 * ms, 1},
		{"19 resets is no storm", 19, 10 * ms, 0},
		{"20 resets spread over 4 s is no storm", 20, 200 * ms, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cs []*tconn
			for i := 0; i < tc.conns; i++ {
				c := newConn(uint64(i+1), false, 1000, 5000).handshake()
				c.after(ms+time.Duration(i)*tc.gap).send(1, RA, 1, 1, 0, 0)
				cs = append(cs, c)
			}
			evs, _ := runEngine(DefaultConfig(), merge(cs...), 0)
			n := 0
			for _, e := range evs {
				if e.Type == events.TypeTeardownAnomaly && e.Reason == events.ReasonRSTStorm {
					n++
					if e.Count != 20 {
						t.Errorf("storm count %d, want 20", e.Count)
					}
				}
			}
			if n != tc.storms {
				t.Errorf("%d rst_storm events, want %d", n, tc.storms)
			}
		})
	}
}

func TestContextSnapshot(t *testing.T) {
	c := newConn(7, false, 1000, 5000).handshake()
	c.after(ms).data(0, 1, 1000).after(ms).data(0, 1001, 1000).after(10*ms).ack(1, 1001)
	c.after(300*ms).data(0, 1001, 1000)
	var got []events.Event
	e := New(DefaultConfig(), func(ev *events.Event) { got = append(got, *ev) })
	for i := range c.pkts[:3] {
		e.Packet(&c.pkts[i])
	}
	e.Kernel(100, &kblock.Record{Kind: kblock.KindProbe, TS: c.pkts[2].TS, SndCwnd: 10, SRTTus: 2500, Ssthresh: 7,
		Saddr: c.addr[0].Addr(), Sport: c.addr[0].Port(), Daddr: c.addr[1].Addr(), Dport: c.addr[1].Port()}, 7, events.DirC2S)
	// A retransmit record carries the congestion state too, newer than the
	// probe's.
	e.Kernel(101, &kblock.Record{Kind: kblock.KindRetransmit, TS: c.pkts[2].TS + 1, SndCwnd: 5, SRTTus: 3000, Ssthresh: 5,
		Seq: 5000, EndSeq: 6000, Saddr: c.addr[0].Addr(), Sport: c.addr[0].Port(), Daddr: c.addr[1].Addr(), Dport: c.addr[1].Port()}, 7, events.DirC2S)
	for i := range c.pkts[3:] {
		e.Packet(&c.pkts[3+i])
	}
	var re *events.Event
	for i := range got {
		if got[i].Type == events.TypeRetransmission {
			re = &got[i]
		}
	}
	if re == nil {
		t.Fatalf("no retransmission:%s", describe(got))
	}
	if re.Context.BytesInFlight != 1000 {
		t.Errorf("bytes in flight %d, want 1000", re.Context.BytesInFlight)
	}
	if re.Context.KernelCwnd != 5 || re.Context.KernelSRTTus != 3000 || re.Context.KernelSsthr != 5 {
		t.Errorf("kernel context %+v", re.Context)
	}
	if re.Context.SRTTms < 2 || re.Context.SRTTms > 12 {
		t.Errorf("srtt %.3f ms, want between the handshake (2 ms) and data (11 ms) samples", re.Context.SRTTms)
	}
	if re.Src != "10.0.0.7:40000" || re.Dst != "10.9.9.9:80" || re.Seq != 1001 || re.Len != 1000 {
		t.Errorf("event %+v", re)
	}
}

func TestKernelComparison(t *testing.T) {
	tests := []struct {
		name                  string
		kernel                [][2]uint32 // relative [seq, end) of kernel retransmit records
		segs                  []uint32
		wire                  [][2]uint32 // relative retransmissions on the wire
		kernelN, inferred, mt int
		precision, recall     float64
	}{
		{"one for one", [][2]uint32{{1001, 2001}}, []uint32{1}, [][2]uint32{{1001, 2001}}, 1, 1, 1, 1, 1},
		{"GSO record of 2 segments seen as two wire segments", [][2]uint32{{1001, 3001}}, []uint32{2}, [][2]uint32{{1001, 2001}, {2001, 3001}}, 2, 2, 2, 1, 1},
		{"kernel retransmission not seen on the wire", [][2]uint32{{1001, 2001}, {5001, 6001}}, []uint32{1, 1}, [][2]uint32{{1001, 2001}}, 2, 1, 1, 1, 0.5},
		{"a segment sent again twice: each copy is one record's", [][2]uint32{{1001, 2001}, {1001, 2001}}, []uint32{1, 1}, [][2]uint32{{1001, 2001}, {1001, 2001}}, 2, 2, 2, 1, 1},
		{"a copy more than the records", [][2]uint32{{1001, 2001}}, []uint32{1}, [][2]uint32{{1001, 2001}, {1001, 2001}}, 1, 2, 1, 0.5, 1},
		{"inferred retransmission the kernel did not make", [][2]uint32{{1001, 2001}}, []uint32{1}, [][2]uint32{{1001, 2001}, {3001, 4001}}, 1, 2, 1, 0.5, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, e := sentAndAcked(6)
			frame := uint64(len(c.pkts))
			for i, k := range tc.kernel {
				frame++
				e.Kernel(frame, &kblock.Record{Kind: kblock.KindRetransmit, TS: c.ts, Seq: 1000 + k[0], EndSeq: 1000 + k[1], Segs: tc.segs[i],
					Saddr: c.addr[0].Addr(), Sport: c.addr[0].Port(), Daddr: c.addr[1].Addr(), Dport: c.addr[1].Port()}, 3, events.DirC2S)
			}
			for _, w := range tc.wire {
				c.after(50*time.Microsecond).data(0, w[0], w[1]-w[0])
				p := c.pkts[len(c.pkts)-1]
				frame++
				p.Frame = frame
				e.Packet(&p)
			}
			e.Close(3)
			got := e.Compare()
			if len(got) != 1 {
				t.Fatalf("%d comparisons, want 1", len(got))
			}
			r := got[0]
			if r.Flow != 3 || r.Kernel != tc.kernelN || r.Inferred != tc.inferred || r.Matched != tc.mt || r.Precision != tc.precision || r.Recall != tc.recall {
				t.Errorf("got %+v, want kernel %d inferred %d matched %d precision %v recall %v", r, tc.kernelN, tc.inferred, tc.mt, tc.precision, tc.recall)
			}
			if kc := e.KernelCheck(3); kc == nil || *kc != r.RetransCheck {
				t.Errorf("KernelCheck %+v, want %+v", kc, r.RetransCheck)
			}
		})
	}
}

// TestKernelOpenSameAsWalk checks that a wire retransmission matches the
// record a walk of every slot in order would match (the first not yet
// shown on the wire, close in time, overlapping), and that the set of open
// slots stays what the records' counts say, on random records (GSO ones,
// copies of one range) and wire retransmissions, past the ring's length.
func TestKernelOpenSameAsWalk(t *testing.T) {
	src := netip.MustParseAddrPort("10.0.0.1:40000")
	for seed := int64(1); seed <= 100; seed++ {
		rng := rand.New(rand.NewSource(seed))
		e := New(DefaultConfig(), func(*events.Event) {})
		f := &flow{id: 1}
		ts := int64(1e9)
		for step := range 600 {
			ts += int64(rng.Intn(20)) * int64(ms)
			seq := 1000 + 1000*uint32(rng.Intn(40))
			segs := 1 + rng.Intn(3)
			if rng.Intn(2) == 0 {
				e.kernelRetrans(1, &kblock.Record{Kind: kblock.KindRetransmit, TS: ts, Seq: seq, EndSeq: seq + 1000*uint32(segs),
					Segs: uint32(segs), Saddr: src.Addr(), Sport: src.Port()})
			} else if c := e.cmp[1]; c != nil {
				end := seq + 1000 + 500*uint32(rng.Intn(2))
				want := -1
				for i := range c.kern {
					k := &c.kern[i]
					if k.counted < k.segs && abs(ts-k.ts) <= int64(e.cfg.KernelMatchWindow) && overlaps(seq, end, k.seq, k.end) {
						want = i
						break
					}
				}
				before := slices.Clone(c.kern)
				e.inferred(f, &events.Packet{TS: ts, Seq: seq, Len: end - seq, Src: src.Addr(), SrcPort: src.Port()}, events.RetransFast, false)
				for i := range c.kern {
					if changed := c.kern[i] != before[i]; changed != (i == want) {
						t.Fatalf("seed %d step %d: slot %d changed %v, want the match in slot %d", seed, step, i, changed, want)
					}
				}
			}
			if c := e.cmp[1]; c != nil {
				for i, k := range c.kern {
					if open := c.open&(1<<i) != 0; open != (k.counted < k.segs) {
						t.Fatalf("seed %d step %d: slot %d open %v, counted %d of %d", seed, step, i, open, k.counted, k.segs)
					}
				}
			}
		}
	}
}

// sentAndAcked is connection 3 after its handshake: n segments of 1,000
// bytes, the first acknowledged, then 300 ms of quiet, fed to a new engine
// (the kernel comparison's tests add records and retransmissions to it).
func sentAndAcked(n uint32) (*tconn, *Engine) {
	c := newConn(3, false, 1000, 5000).handshake()
	for i := uint32(0); i < n; i++ {
		c.after(100*time.Microsecond).data(0, 1+i*1000, 1000)
	}
	c.after(5*ms).ack(1, 1001)
	c.after(300 * ms)
	e := New(DefaultConfig(), func(*events.Event) {})
	for i := range c.pkts {
		e.Packet(&c.pkts[i])
	}
	return c, e
}

// A SYN's retransmit record spans one sequence number: it must not set the
// segment size by which a data retransmission seen on the wire before its
// own record is counted.
func TestKernelComparisonSYNRecord(t *testing.T) {
	c, e := sentAndAcked(4)
	rec := func(frame uint64, seq, end uint32, flags uint8) {
		e.Kernel(frame, &kblock.Record{Kind: kblock.KindRetransmit, TS: c.ts, Seq: seq, EndSeq: end, Segs: 1, TCPFlags: flags,
			Saddr: c.addr[0].Addr(), Sport: c.addr[0].Port(), Daddr: c.addr[1].Addr(), Dport: c.addr[1].Port()}, 3, events.DirC2S)
	}
	frame := uint64(len(c.pkts))
	rec(frame+1, 1000, 1001, uint8(events.FlagSYN)) // the SYN sent again, earlier in the connection
	c.after(50*time.Microsecond).data(0, 1001, 1000)
	p := c.pkts[len(c.pkts)-1]
	p.Frame = frame + 2
	e.Packet(&p)
	rec(frame+3, 2001, 3001, 0) // its record, after the packet as the capture sees them
	e.Close(3)
	got := e.Compare()
	if len(got) != 1 || got[0].Inferred != 1 || got[0].Matched != 1 || got[0].Kernel != 2 {
		t.Fatalf("got %+v, want 1 inferred segment, matched, of the kernel's 2", got)
	}
}

func TestKernelEvents(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		kind kblock.Kind
		typ  string
	}{
		{kblock.KindProbe, events.TypeKernelSample},
		{kblock.KindRetransmit, events.TypeKernelRetransmit},
		{kblock.KindState, events.TypeKernelState},
		{kblock.KindReset, events.TypeKernelReset},
	}
	for _, tc := range tests {
		var got []events.Event
		e := New(DefaultConfig(), func(ev *events.Event) { got = append(got, *ev) })
		rec := &kblock.Record{Kind: tc.kind, TS: epoch, Saddr: a, Sport: 1, Daddr: b, Dport: 2}
		e.Kernel(9, rec, 0, events.DirS2C)
		if len(got) != 1 || got[0].Type != tc.typ || got[0].Frame != 9 || got[0].Kernel != rec || got[0].Src != "10.0.0.1:1" || got[0].Dir != events.DirS2C {
			t.Errorf("%v: got %+v", tc.kind, got)
		}
	}
}

func TestStateIsBounded(t *testing.T) {
	e := New(DefaultConfig(), func(*events.Event) {})
	for i := 0; i < 1000; i++ {
		c := newConn(uint64(i+1), false, 1000, 5000).handshake()
		c.after(ms).data(0, 1, 100).after(ms).data(0, 201, 100).after(400*ms).data(0, 101, 100)
		for j := range c.pkts {
			e.Packet(&c.pkts[j])
		}
		e.Close(uint64(i + 1))
	}
	if len(e.flows) != 0 || len(e.cmp) != 0 {
		t.Errorf("after Close: %d flows, %d comparisons kept", len(e.flows), len(e.cmp))
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		env     map[string]string
		check   func(Config) bool
		wantErr bool
	}{
		{map[string]string{EnvDupAckThreshold: "4"}, func(c Config) bool { return c.DupAckThreshold == 4 }, false},
		{map[string]string{EnvAckStallFloor: "1.5s", EnvAckStallFactor: "2.5"}, func(c Config) bool {
			return c.AckStallFloor == 1500*ms && c.AckStallFactor == 2.5
		}, false},
		{map[string]string{EnvRSTStormCount: "5", EnvStormWindow: "250ms", EnvRTTSamples: "false"}, func(c Config) bool {
			return c.RSTStormCount == 5 && c.StormWindow == 250*ms && !c.RTTSamples
		}, false},
		{map[string]string{EnvDupAckThreshold: "zero"}, nil, true},
		{map[string]string{EnvAckStallFloor: "-1s"}, nil, true},
		{map[string]string{EnvAckStallFactor: "0"}, nil, true},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			testConfigEnv(t, tc.env, tc.check, tc.wantErr)
		})
	}
}

func testConfigEnv(t *testing.T, env map[string]string, check func(Config) bool, wantErr bool) {
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := ConfigFromEnv(DefaultConfig())
	switch {
	case wantErr && err == nil:
		t.Errorf("%v: no error", env)
	case !wantErr && err != nil:
		t.Errorf("%v: %v", env, err)
	case !wantErr && !check(c):
		t.Errorf("%v: got %+v", env, c)
	}
}
