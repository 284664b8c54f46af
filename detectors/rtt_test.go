package detectors

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// TestRTTSamples checks the value and reason of the first RTT sample of the
// client's data (the handshake sample aside) and the flow's statistics.
func TestRTTSamples(t *testing.T) {
	tests := []struct {
		name    string
		build   func(c *tconn)
		reason  string
		firstMS float64 // first data sample
		p50MS   float64 // flow median, 0: not checked
	}{
		{
			name: "oldest newly acknowledged segment, not the newest",
			build: func(c *tconn) {
				c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(8*ms).ack(1, 201)
			},
			reason: events.ReasonDataAck, firstMS: 9,
		},
		{
			// A queue of 40 ms behind the capture point; 20 segments per
			// millisecond share one TSval. The sample must be the queueing
			// RTT, never the gap between two segments of the same TSval.
			name: "queueing with millisecond TSvals",
			build: func(c *tconn) {
				seq := uint32(1)
				for i := 0; i < 400; i++ {
					tsv := uint32(100 + i/20)
					c.after(50*time.Microsecond).send(0, PA, seq, 1, 100, 502, tsOpt(tsv, 7))
					seq += 100
				}
				// ACKs for every second segment, each 40 ms after it.
				var acks []events.Packet
				for i := 1; i < 400; i += 2 {
					p := c.pkts[3+i]
					a := events.Packet{TS: p.TS + int64(40*ms)}
					a.Ack = p.Seq + p.Len
					a.Options.TSVal = 7
					a.Options.TSEcr = p.Options.TSVal
					acks = append(acks, a)
				}
				mergeAcks(c, acks)
			},
			reason: events.ReasonDataAck, firstMS: 40.05, p50MS: 40.05,
		},
		{
			name: "retransmitted data is timed by the echo of its new TSval",
			build: func(c *tconn) {
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(10, 1)).after(300*ms).send(0, PA, 1, 1, 100, 502, tsOpt(310, 1))
				c.after(7*ms).send(1, A, 1, 101, 0, 502, tsOpt(2, 310))
			},
			reason: events.ReasonTimestamp, firstMS: 7,
		},
		{
			name: "an echo of the original after a retransmission times the original (spurious)",
			build: func(c *tconn) {
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(10, 1)).after(300*ms).send(0, PA, 1, 1, 100, 502, tsOpt(310, 1))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(2, 10))
			},
			reason: events.ReasonTimestamp, firstMS: 301,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newConn(1, false, 1000, 5000).handshake()
			tc.build(c)
			for i := range c.pkts {
				c.pkts[i].Frame = uint64(i + 1)
			}
			var got []events.Event
			var rec events.FlowRecord
			e := New(DefaultConfig(), func(ev *events.Event) { got = append(got, *ev) })
			for i := range c.pkts {
				e.Packet(&c.pkts[i])
			}
			e.FillFlow(1, &rec)
			var first *events.Event
			for i := range got {
				if got[i].Type == events.TypeRTTSample && got[i].Reason != events.ReasonHandshake {
					first = &got[i]
					break
				}
			}
			if first == nil {
				t.Fatalf("no data RTT sample:%s", describe(got))
			}
			if first.Reason != tc.reason || math.Abs(first.RTTms-tc.firstMS) > 0.001 {
				t.Errorf("first sample %s %.3f ms, want %s %.3f ms", first.Reason, first.RTTms, tc.reason, tc.firstMS)
			}
			if tc.p50MS > 0 && math.Abs(rec.RTTP50MS-tc.p50MS)/tc.p50MS > 0.032 {
				t.Errorf("median %.3f ms over %d samples, want %.3f ms ±3.2 %%", rec.RTTP50MS, rec.RTTSamples, tc.p50MS)
			}
		})
	}
}

// mergeAcks adds server ACKs (TS, Ack, TSval/TSecr set) to c in time order.
func mergeAcks(c *tconn, acks []events.Packet) {
	var out []events.Packet
	i := 0
	for _, p := range c.pkts {
		for i < len(acks) && acks[i].TS <= p.TS {
			out = append(out, c.ackPacket(acks[i]))
			i++
		}
		out = append(out, p)
	}
	for ; i < len(acks); i++ {
		out = append(out, c.ackPacket(acks[i]))
	}
	c.pkts = out
}

func (c *tconn) ackPacket(a events.Packet) events.Packet {
	saved := c.pkts
	ts := c.ts
	c.pkts, c.ts = nil, a.TS
	c.send(1, A, 1, a.Ack-c.isn[0], 0, 502, tsOpt(a.Options.TSVal, a.Options.TSEcr))
	p := c.pkts[0]
	c.pkts, c.ts = saved, ts
	return p
}

func TestRTTStatsQuantiles(t *testing.T) {
	for _, res := range []struct {
		bits uint8
		tol  float64 // half a bucket's width at most
	}{{rttBits, 0.008}} {
		var s rttStats
		for i := 1; i <= 1000; i++ {
			s.add(float64(i)/10, 1) // 0.1 .. 100 ms
		}
		for _, q := range []struct{ q, want float64 }{{0.5, 50}, {0.95, 95}, {0.01, 1}} {
			if got := s.quantile(q.q); math.Abs(got-q.want)/q.want > res.tol {
				t.Errorf("%d bits: quantile %.2f = %.3f, want %.3f ±%.1f %%", res.bits, q.q, got, q.want, 100*res.tol)
			}
		}
		if s.min != 0.1 || s.max != 100 || s.n != 1000 {
			t.Errorf("min %.3f max %.3f n %d", s.min, s.max, s.n)
		}
	}
}

func TestFillFlowKernelRTT(t *testing.T) {
	c := newConn(3, false, 1000, 5000).handshake()
	e := New(DefaultConfig(), func(*events.Event) {})
	fed := 0
	feed := func() {
		for ; fed < len(c.pkts); fed++ {
			e.Packet(&c.pkts[fed])
		}
	}
	record := func(frame uint64, srtt uint32) {
		feed()
		e.Kernel(frame, &kblock.Record{Kind: kblock.KindProbe, TS: c.ts, SRTTus: srtt, MinRTTus: 20000 - srtt/1000,
			Saddr: c.addr[0].Addr(), Sport: c.addr[0].Port(), Daddr: c.addr[1].Addr(), Dport: c.addr[1].Port()}, 3, events.DirC2S)
	}
	// A record stands for itself and the segments its socket receives
	// until the next: 30 ms for 2, 40 ms for 2, 50 ms for 9. Weighed by
	// time, the 40 ms record would hold the 900 ms pause and be the
	// median; counted once each, too.
	record(10, 0) // no RTT measured yet: no value
	record(11, 30000)
	c.after(time.Millisecond).ack(1, 1)
	record(12, 40000)
	c.after(time.Millisecond).ack(1, 1).after(900 * time.Millisecond)
	record(13, 50000)
	for range 8 {
		c.after(2*time.Millisecond).ack(1, 1)
	}
	feed()
	var rec events.FlowRecord
	e.FillFlow(3, &rec)
	if math.Abs(rec.KernelSRTTP50MS-50)/50 > 0.008 {
		t.Errorf("kernel srtt median %.3f ms, want 50 (the srtt at most of the segments the socket received)", rec.KernelSRTTP50MS)
	}
	if rec.KernelMinRTTMS != 19.95 {
		t.Errorf("kernel min_rtt %.3f ms, want 19.950", rec.KernelMinRTTMS)
	}
}

func TestKernelLossEpisodes(t *testing.T) {
	// Each record: CA state, snd_una, snd_nxt. Recovery from 100 until 200,
	// a second one entered on the ACK that ended it (no Open record between,
	// as after the application shut down its side), a timeout during it
	// (same episode, new end point 400), then Open and a third one.
	recs := []struct {
		ca       uint8
		una, nxt uint32
		want     int
	}{
		{0, 100, 200, 0},
		{3, 100, 200, 1},
		{3, 150, 250, 1},
		{3, 200, 300, 2},
		{4, 220, 400, 2},
		{4, 300, 400, 2},
		{0, 400, 450, 2},
		{3, 420, 500, 3},
	}
	e := New(DefaultConfig(), func(*events.Event) {})
	for i, r := range recs {
		e.kernelCA(7, &kblock.Record{CAState: r.ca, SndUna: r.una, SndNxt: r.nxt})
		if got := e.cmp[7].kernelEpisodes; got != r.want {
			t.Errorf("record %d (ca %d, una %d): %d episodes, want %d", i, r.ca, r.una, got, r.want)
		}
	}
}

func TestAckHistory(t *testing.T) {
	var a ackHistory
	if _, ok := a.at(10); ok {
		t.Fatal("empty history answered")
	}
	for i := uint32(1); i <= ackHistLen+4; i++ {
		a.push(i*100, float64(i))
	}
	a.set(99) // a SACK sample after the newest ACK
	for _, c := range []struct {
		una  uint32
		want float64
		ok   bool
	}{
		{2000, 99, true},         // at or past the newest ACK
		{1950, 19, true},         // between two ACKs: the older one
		{900, 9, true},           // still remembered
		{400, 0, false},          // overwritten
		{1<<31 + 3000, 0, false}, // behind every entry in sequence space
	} {
		got, ok := a.at(c.una)
		if ok != c.ok || got != c.want {
			t.Errorf("at(%d) = %v, %v; want %v, %v", c.una, got, ok, c.want, c.ok)
		}
	}
}

// TestSACKRunsSameAsWalk checks that skipping runs of SACKed segments marks
// the same segments and returns the same first newly SACKed one as walking
// every segment a block covers, on random windows, SACK blocks, cumulative
// ACKs and pushes (sequence numbers wrapping).
func TestSACKRunsSameAsWalk(t *testing.T) {
	walk := func(r *segRing, p *events.Packet) (segEntry, bool) {
		live := r.e[r.head:]
		var first segEntry
		found := false
		for i := 0; i < int(p.Options.NumSACK); i++ {
			b := p.Options.SACK[i]
			if !events.SeqGreater(b.Left, p.Ack) {
				continue
			}
			for j := range live {
				s := &live[j]
				if events.SeqLess(s.seq, b.Left) || !events.SeqLEQ(s.end, b.Right) || s.sacked {
					continue
				}
				s.sacked = true
				if !found || events.SeqLess(s.seq, first.seq) {
					first, found = *s, true
				}
			}
		}
		return first, found && !first.resent
	}
	const mss = 100
	for seed := int64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var a, b segRing
		base := uint32(math.MaxUint32 - 5000) // wraps during the run
		next, una := base, base
		for step := 0; step < 400; step++ {
			switch x := rng.Intn(10); {
			case x < 4: // send a segment
				e := segEntry{seq: next, end: next + mss, ts: int64(step), frame: uint64(step + 1), resent: rng.Intn(8) == 0}
				a.push(e)
				b.push(e)
				next += mss
			case x < 5 && una != next: // cumulative ACK
				una += mss * uint32(1+rng.Intn(int((next-una)/mss)))
				oa, na, ra := a.ack(una)
				ob, nb, rb := b.ack(una)
				oa.run, ob.run = 0, 0
				if oa != ob || na != nb || ra != rb {
					t.Fatalf("seed %d step %d: ack differs", seed, step)
				}
			default: // a duplicate ACK with SACK blocks
				p := &events.Packet{Ack: una, Options: events.Options{NumSACK: uint8(1 + rng.Intn(3))}}
				for i := range int(p.Options.NumSACK) {
					lo := una + mss*uint32(rng.Intn(30)) - uint32(rng.Intn(2))*mss
					p.Options.SACK[i] = events.SACKBlock{Left: lo, Right: lo + mss*uint32(1+rng.Intn(12)) + uint32(rng.Intn(2))*50}
				}
				fa, oka := a.sack(p)
				fb, okb := walk(&b, p)
				fa.run, fb.run = 0, 0
				if fa != fb || oka != okb {
					t.Fatalf("seed %d step %d: sack %+v %v, walk %+v %v", seed, step, fa, oka, fb, okb)
				}
			}
			for i := a.head; i < len(a.e); i++ {
				if a.e[i].sacked != b.e[i-a.head+b.head].sacked {
					t.Fatalf("seed %d step %d: segment %d SACKed %v, walk %v", seed, step, i-a.head, a.e[i].sacked, !a.e[i].sacked)
				}
			}
		}
	}
}

// addBin's shortcut to the latest bucket and its search keep the histogram
// what a map gives: each bucket once, in order, with its weights summed.
func TestAddBinSameAsSearch(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for run := range 50 {
		var s rttStats
		want := map[int]float64{}
		i := rng.Intn(rttOctaves << rttBits)
		for range 2000 {
			switch rng.Intn(3) {
			case 0: // anywhere
				i = rng.Intn(rttOctaves << rttBits)
			case 1: // nearby
				i = max(0, min(rttOctaves<<rttBits-1, i+rng.Intn(7)-3))
			}
			w := float64(rng.Intn(1000) + 1)
			s.addBin(i, w)
			want[i] += w
		}
		if len(s.hist) != len(want) {
			t.Fatalf("run %d: %d buckets, want %d", run, len(s.hist), len(want))
		}
		for k, b := range s.hist {
			if k > 0 && s.hist[k-1].i >= b.i {
				t.Fatalf("run %d: buckets out of order at %d: %d then %d", run, k, s.hist[k-1].i, b.i)
			}
			if b.w != want[b.i] {
				t.Fatalf("run %d: bucket %d weighs %v, want %v", run, b.i, b.w, want[b.i])
			}
		}
	}
}

// TestMarkResentSameAsWalk checks that markResent, which searches for its
// first segment while the ring's segments are in step, marks the same
// segments and returns the same frame as a walk from the oldest, on random
// windows with gaps, overlapping and oversized segments, evictions, ACKs
// and retransmissions anywhere (sequence numbers wrapping); and that the
// search does skip segments when they are in step.
func TestMarkResentSameAsWalk(t *testing.T) {
	walk := func(r *segRing, seq, end uint32) uint64 {
		var first uint64
		for i := r.head; i < len(r.e); i++ {
			s := &r.e[i]
			if !events.SeqLess(s.seq, end) {
				break
			}
			if events.SeqLess(seq, s.end) {
				s.resent = true
				if first == 0 {
					first = s.frame
				}
			}
		}
		return first
	}
	const mss = 100
	skipped := 0
	for seed := int64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var a, b segRing
		base := uint32(math.MaxUint32 - 20000) // wraps during the run
		next, una := base, base
		odd := seed%3 == 0 // segments out of step now and then
		for step := range 1500 {
			switch x := rng.Intn(20); {
			case x < 9: // send a segment
				seq, end := next, next+mss
				switch y := rng.Intn(60); {
				case !odd:
				case y == 0: // starts below the one before
					seq -= mss / 2
				case y == 4: // starts half the sequence space below
					seq -= 1<<31 - mss
				case y == 1: // after a gap past maxStep
					seq += maxStep
					end += maxStep
				case y == 2: // longer than maxStep
					end += maxStep
				case y == 3: // half the sequence space away
					seq += 1 << 31
					end += 1 << 31
				}
				e := segEntry{seq: seq, end: end, frame: uint64(step + 1)}
				a.push(e)
				b.push(e)
				next = end
			case x < 11 && a.len() > 0: // cumulative ACK
				una = a.e[a.head+rng.Intn(a.len())].end
				oa, na, ra := a.ack(una)
				ob, nb, rb := b.ack(una)
				if oa != ob || na != nb || ra != rb {
					t.Fatalf("seed %d step %d: ack differs", seed, step)
				}
			default: // a retransmission
				seq := una + uint32(rng.Intn(int(next-una)+2*mss)) - mss
				if rng.Intn(10) == 0 {
					seq = rng.Uint32()
				}
				end := seq + uint32(rng.Intn(3*mss))
				if a.len() > 0 && a.skipEnded(seq, end) > a.head {
					skipped++
				}
				fa, fb := a.markResent(seq, end), walk(&b, seq, end)
				if fa != fb {
					t.Fatalf("seed %d step %d: markResent(%d, %d) = %d, walk %d", seed, step, seq, end, fa, fb)
				}
			}
			for i := a.head; i < len(a.e); i++ {
				if a.e[i].resent != b.e[i-a.head+b.head].resent {
					t.Fatalf("seed %d step %d: segment %d resent %v, walk %v", seed, step, i-a.head, a.e[i].resent, !a.e[i].resent)
				}
			}
		}
	}
	if skipped == 0 {
		t.Error("the search never skipped a segment")
	}
}
