package conntrack

import (
	"math/rand"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
)

const (
	S = events.FlagSYN
	A = events.FlagACK
	F = events.FlagFIN
	R = events.FlagRST
	P = events.FlagPSH
)

type seg struct {
	fromClient bool
	flags      uint16
	seq, ack   uint32
	len        uint32
	win        uint16
	wscale     int // -1: no option
	at         time.Duration
}

func (s seg) packet(frame int) *events.Packet {
	p := &events.Packet{Frame: uint64(frame), TS: int64(s.at), Flags: s.flags, Seq: s.seq, Ack: s.ack, Len: s.len, Window: s.win}
	src, dst := cli, srv
	if !s.fromClient {
		src, dst = srv, cli
	}
	p.Src, p.SrcPort, p.Dst, p.DstPort = src.Addr(), src.Port(), dst.Addr(), dst.Port()
	if s.wscale >= 0 {
		p.Options.HasWScale, p.Options.WScale = true, uint8(s.wscale)
	}
	return p
}

func run(segs []seg) ([]*events.Packet, []events.FlowRecord) {
	var out []events.FlowRecord
	tb := New(DefaultConfig(), func(c *Conn) {
		var r events.FlowRecord
		c.Record(&r)
		out = append(out, r)
	})
	var ps []*events.Packet
	for i, s := range segs {
		p := s.packet(i + 1)
		tb.Observe(p)
		ps = append(ps, p)
	}
	tb.Flush()
	return ps, out
}

func TestHandshakeRelativeNumbersAndScaling(t *testing.T) {
	ps, recs := run([]seg{
		{true, S, 1000, 0, 0, 64240, 7, 0},
		{false, S | A, 5000, 1001, 0, 65160, 9, time.Millisecond},
		{true, A, 1001, 5001, 0, 502, -1, 2 * time.Millisecond},
		{true, A | P, 1001, 5001, 100, 502, -1, 3 * time.Millisecond},
		{false, A, 5001, 1101, 0, 509, -1, 4 * time.Millisecond},
	})
	if len(recs) != 1 {
		t.Fatalf("%d flows, want 1", len(recs))
	}
	for _, p := range ps {
		if p.Flow != 1 {
			t.Errorf("frame %d flow %d, want 1", p.Frame, p.Flow)
		}
	}
	if ps[1].Dir != events.DirS2C || ps[3].Dir != events.DirC2S {
		t.Errorf("directions %v %v", ps[1].Dir, ps[3].Dir)
	}
	if ps[3].RelSeq != 1 || ps[3].RelAck != 1 || ps[4].RelAck != 101 {
		t.Errorf("relative numbers: seq %d ack %d, ack %d", ps[3].RelSeq, ps[3].RelAck, ps[4].RelAck)
	}
	if ps[0].WindowScaled != 64240 || ps[3].WindowScaled != 502<<7 || ps[4].WindowScaled != 509<<9 {
		t.Errorf("scaled windows %d %d %d", ps[0].WindowScaled, ps[3].WindowScaled, ps[4].WindowScaled)
	}
	r := recs[0]
	if !r.HandshakeSeen || r.HandshakeRTTms != 2 || r.BytesC2S != 100 || r.PacketsS2C != 2 {
		t.Errorf("record %+v", r)
	}
	if r.State != "S1" || r.End != "open" || r.History != "ShADa" {
		t.Errorf("state %s end %s history %s", r.State, r.End, r.History)
	}
}

func TestScalingOffWhenOneSideDidNotOffer(t *testing.T) {
	ps, _ := run([]seg{
		{true, S, 1, 0, 0, 100, 7, 0},
		{false, S | A, 1, 2, 0, 100, -1, 1},
		{true, A, 2, 2, 0, 100, -1, 2},
	})
	if ps[2].WindowScaled != 100 {
		t.Errorf("scaled window %d, want 100 (scaling needs both sides)", ps[2].WindowScaled)
	}
}

func TestMidStreamUnknownScale(t *testing.T) {
	ps, recs := run([]seg{
		{false, A | P, 9000, 100, 10, 300, -1, 0}, // from port 80: the server
		{true, A, 100, 9010, 0, 200, -1, 1},
	})
	if ps[0].WindowScaled != -1 {
		t.Errorf("window scale known without a handshake: %d", ps[0].WindowScaled)
	}
	if ps[0].Dir != events.DirS2C || recs[0].Client != cli.String() {
		t.Errorf("server side not recognised: dir %v client %s", ps[0].Dir, recs[0].Client)
	}
	if ps[0].RelSeq != 1 || ps[1].RelAck != 11 {
		t.Errorf("relative numbers without SYN: seq %d ack %d", ps[0].RelSeq, ps[1].RelAck)
	}
	if recs[0].State != "OTH" {
		t.Errorf("state %s, want OTH", recs[0].State)
	}
}

func TestConnectionsOnOneTuple(t *testing.T) {
	ps, recs := run([]seg{
		{true, S, 100, 0, 0, 1000, -1, 0},
		{true, S, 100, 0, 0, 1000, -1, time.Second}, // SYN retry: same connection
		{false, R | A, 0, 101, 0, 0, -1, time.Second + 1},
		{true, S, 7777, 0, 0, 1000, -1, 2 * time.Second}, // new ISN after RST: new connection
		{false, S | A, 1, 7778, 0, 1000, -1, 2*time.Second + 1},
		{true, A, 7778, 2, 0, 1000, -1, 2*time.Second + 2},
		{true, F | A, 7778, 2, 0, 1000, -1, 3 * time.Second},
		{false, F | A, 2, 7779, 0, 1000, -1, 3*time.Second + 1},
	})
	if ps[1].Flow != 1 || ps[3].Flow != 2 || ps[7].Flow != 2 {
		t.Errorf("flows %d %d %d, want 1 1 2", ps[1].Flow, ps[3].Flow, ps[7].Flow)
	}
	if len(recs) != 2 {
		t.Fatalf("%d flows, want 2", len(recs))
	}
	if recs[0].State != "REJ" || recs[0].End != "refused" {
		t.Errorf("first: %s %s", recs[0].State, recs[0].End)
	}
	if recs[1].State != "SF" || recs[1].End != "fin" || recs[1].History != "ShAFf" {
		t.Errorf("second: %s %s %s", recs[1].State, recs[1].End, recs[1].History)
	}
}

func TestEndStates(t *testing.T) {
	hs := []seg{{true, S, 1, 0, 0, 1, -1, 0}, {false, S | A, 1, 2, 0, 1, -1, 1}, {true, A, 2, 2, 0, 1, -1, 2}}
	tests := []struct {
		name  string
		segs  []seg
		state string
		end   string
	}{
		{"unanswered", []seg{{true, S, 1, 0, 0, 1, -1, 0}}, "S0", "no_answer"},
		{"client reset", append(hs[:3:3], seg{true, R, 2, 0, 0, 0, -1, 3}), "RSTO", "rst"},
		{"server reset", append(hs[:3:3], seg{false, R | A, 2, 2, 0, 0, -1, 3}), "RSTR", "rst"},
		{"client fin only", append(hs[:3:3], seg{true, F | A, 2, 2, 0, 1, -1, 3}), "S2", "half_closed"},
		{"server fin only", append(hs[:3:3], seg{false, F | A, 2, 2, 0, 1, -1, 3}), "S3", "half_closed"},
		{"syn then fin", []seg{{true, S, 1, 0, 0, 1, -1, 0}, {true, F, 2, 0, 0, 1, -1, 1}}, "SH", "half_closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, recs := run(tt.segs)
			if len(recs) != 1 || recs[0].State != tt.state || recs[0].End != tt.end {
				t.Errorf("got %d records; %+v", len(recs), recs)
			}
		})
	}
}

func TestExpiryBoundsTheTable(t *testing.T) {
	var expired int
	tb := New(Config{CloseLinger: time.Second, IdleTimeout: time.Minute}, func(*Conn) { expired++ })
	for i := 0; i < 1000; i++ {
		at := time.Duration(i) * 100 * time.Millisecond
		c := netip.AddrPortFrom(cli.Addr(), uint16(10000+i))
		for j, f := range []uint16{S, R} {
			p := &events.Packet{Frame: uint64(2*i + j + 1), TS: int64(at) + int64(j), Flags: f, Seq: 1,
				Src: c.Addr(), SrcPort: c.Port(), Dst: srv.Addr(), DstPort: srv.Port()}
			tb.Observe(p)
		}
	}
	if tb.Len() > 30 {
		t.Errorf("%d connections live after 1000 closed ones; closed connections are not expired", tb.Len())
	}
	tb.Flush()
	if expired != 1000 || tb.Len() != 0 {
		t.Errorf("expired %d, live %d", expired, tb.Len())
	}
}

// TestFinishedConnectionsLeaveAfterFinLinger: once both FINs are
// acknowledged a connection leaves FinLinger after its last packet, at the
// next packet of any connection; one that sees a packet after its end falls
// back to CloseLinger.
func TestFinishedConnectionsLeaveAfterFinLinger(t *testing.T) {
	ms := time.Millisecond
	other := netip.MustParseAddrPort("10.0.0.3:50000")
	tick := func(tb *Table, at time.Duration) {
		// A packet of an unrelated connection moves the clock.
		p := &events.Packet{TS: int64(at), Flags: A, Src: other.Addr(), SrcPort: other.Port(), Dst: srv.Addr(), DstPort: srv.Port()}
		tb.Observe(p)
	}
	for _, tc := range []struct {
		name     string
		late     bool // a retransmitted FIN within the linger
		tickAt   time.Duration
		wantGone bool
	}{
		{"quiet less than the linger", false, 900 * ms, false},
		{"quiet longer than the linger", false, 1100 * ms, true},
		{"late packet after the end", true, 2500 * ms, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gone []uint64
			tb := New(DefaultConfig(), func(c *Conn) { gone = append(gone, c.ID) })
			segs := []seg{
				{true, S, 1000, 0, 0, 64240, 7, 0},
				{false, S | A, 5000, 1001, 0, 65160, 7, 1 * ms},
				{true, A, 1001, 5001, 0, 502, -1, 2 * ms},
				{true, F | A, 1001, 5001, 0, 502, -1, 3 * ms},
				{false, F | A, 5001, 1002, 0, 509, -1, 4 * ms},
				{true, A, 1002, 5002, 0, 502, -1, 5 * ms},
			}
			if tc.late {
				segs = append(segs, seg{false, F | A, 5001, 1002, 0, 509, -1, 500 * ms})
			}
			for i, s := range segs {
				tb.Observe(s.packet(i + 1))
			}
			tick(tb, tc.tickAt)
			if got := slices.Contains(gone, 1); got != tc.wantGone {
				t.Errorf("connection gone: %v, want %v (table: %d)", got, tc.wantGone, tb.Len())
			}
		})
	}
}

// TestZeroWindowTime checks the zero-window time: from a zero-window
// advertisement to the same side's next open window, both sides joined,
// open periods closed at the last packet, SYN/FIN/RST windows ignored.
func TestZeroWindowTime(t *testing.T) {
	ms := time.Millisecond
	hs := []seg{
		{true, S, 1000, 0, 0, 64240, -1, 0},
		{false, S | A, 5000, 1001, 0, 65160, -1, 0},
		{true, A, 1001, 5001, 0, 502, -1, 0},
	}
	for _, tc := range []struct {
		name   string
		segs   []seg
		wantMS float64
		share  float64
	}{
		{"none", []seg{{true, A, 1001, 5001, 10, 502, -1, 100 * ms}}, 0, 0},
		{"closed then opened", []seg{
			{false, A, 5001, 1011, 0, 0, -1, 20 * ms},
			{false, A, 5001, 1011, 0, 0, -1, 30 * ms}, // still zero: the period goes on
			{false, A, 5001, 1011, 0, 100, -1, 60 * ms},
			{true, A, 1011, 5001, 10, 502, -1, 100 * ms},
		}, 40, 0.4},
		{"still closed at the end", []seg{
			{false, A, 5001, 1011, 0, 0, -1, 50 * ms},
			{true, A, 1011, 5001, 0, 502, -1, 100 * ms},
		}, 50, 0.5},
		{"both sides overlap once", []seg{
			{false, A, 5001, 1011, 0, 0, -1, 10 * ms},
			{true, A, 1011, 5001, 0, 0, -1, 20 * ms},
			{false, A, 5001, 1011, 0, 10, -1, 30 * ms},
			{true, A, 1011, 5001, 0, 10, -1, 40 * ms},
			{true, A, 1011, 5001, 0, 10, -1, 100 * ms},
		}, 30, 0.3},
		{"an RST or FIN with window 0 is no zero window", []seg{
			{true, A | F, 1001, 5001, 0, 0, -1, 10 * ms},
			{false, R, 5001, 0, 0, 0, -1, 100 * ms},
		}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, recs := run(append(slices.Clone(hs), tc.segs...))
			if len(recs) != 1 {
				t.Fatalf("%d flows", len(recs))
			}
			r := recs[0]
			if r.ZeroWindowMS != tc.wantMS || r.ZeroWindowShare != tc.share {
				t.Errorf("zero window %v ms, share %v; want %v ms, %v", r.ZeroWindowMS, r.ZeroWindowShare, tc.wantMS, tc.share)
			}
		})
	}
}

// TestResetConnectionsLeaveAfterFinLinger: a connection ended by a RST
// leaves FinLinger after its last packet, like one that ended with FINs;
// packets after the RST (the peer's data still in flight, more resets)
// start the linger again instead of keeping it for CloseLinger.
func TestResetConnectionsLeaveAfterFinLinger(t *testing.T) {
	ms := time.Millisecond
	other := netip.MustParseAddrPort("10.0.0.3:50000")
	for _, tc := range []struct {
		name     string
		after    []seg // after the RST
		tickAt   time.Duration
		wantGone bool
	}{
		{"quiet less than the linger", nil, 900 * ms, false},
		{"quiet longer than the linger", nil, 1100 * ms, true},
		{"in-flight data after the reset, quiet less than the linger since", []seg{
			{false, P | A, 5001, 1101, 1000, 509, -1, 600 * ms},
			{true, R, 1101, 0, 0, 0, -1, 601 * ms},
		}, 1500 * ms, false},
		{"in-flight data after the reset, quiet longer than the linger since", []seg{
			{false, P | A, 5001, 1101, 1000, 509, -1, 600 * ms},
			{true, R, 1101, 0, 0, 0, -1, 601 * ms},
		}, 1700 * ms, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gone []uint64
			tb := New(DefaultConfig(), func(c *Conn) { gone = append(gone, c.ID) })
			segs := append([]seg{
				{true, S, 1000, 0, 0, 64240, 7, 0},
				{false, S | A, 5000, 1001, 0, 65160, 7, 1 * ms},
				{true, A, 1001, 5001, 0, 502, -1, 2 * ms},
				{true, P | A, 1001, 5001, 100, 502, -1, 3 * ms},
				{true, R | A, 1101, 5001, 0, 0, -1, 4 * ms},
			}, tc.after...)
			for i, s := range segs {
				tb.Observe(s.packet(i + 1))
			}
			// Packets of an unrelated connection move the clock, first
			// half-way (the queue is looked at on every packet).
			for _, at := range []time.Duration{tc.tickAt / 2, tc.tickAt} {
				tb.Observe(&events.Packet{TS: int64(at), Flags: A, Src: other.Addr(), SrcPort: other.Port(), Dst: srv.Addr(), DstPort: srv.Port()})
			}
			if got := slices.Contains(gone, 1); got != tc.wantGone {
				t.Errorf("connection gone: %v, want %v (table: %d)", got, tc.wantGone, tb.Len())
			}
		})
	}
}

// TestClosedConnectionsBounded: however fast connections close, at most
// MaxClosed closed ones stay in the table; the oldest leave first, each
// once, and connections still open are never pushed out.
func TestClosedConnectionsBounded(t *testing.T) {
	const maxClosed = 100
	for _, shape := range []struct {
		name string
		end  []uint16 // flags after the handshake, client and server in turn
	}{
		{"reset", []uint16{R | A}},
		// FINs both ways, the last ACK not captured: kept for CloseLinger.
		{"fins not acknowledged", []uint16{F | A, F | A}},
	} {
		t.Run(shape.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxClosed = maxClosed
			var gone []uint64
			tb := New(cfg, func(c *Conn) { gone = append(gone, c.ID) })
			// An open connection first, then 5,000 connections that close,
			// 4,000 a second: 4,000 close within a FinLinger, all within a
			// CloseLinger.
			open := netip.MustParseAddrPort("10.9.9.9:33333")
			tb.Observe(&events.Packet{TS: 0, Flags: S, Seq: 1, Src: open.Addr(), SrcPort: open.Port(), Dst: srv.Addr(), DstPort: srv.Port()})
			frame := uint64(1)
			peak := 0
			for i := range 5000 {
				at := int64(i) * int64(time.Second) / 4000
				c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 40000)
				flags := append([]uint16{S, S | A, A}, shape.end...)
				for j, f := range flags {
					frame++
					p := &events.Packet{Frame: frame, TS: at + int64(j)*1000, Flags: f, Seq: 100, Ack: 1,
						Src: c.Addr(), SrcPort: c.Port(), Dst: srv.Addr(), DstPort: srv.Port()}
					if j%2 == 1 {
						p.Src, p.SrcPort, p.Dst, p.DstPort = srv.Addr(), srv.Port(), c.Addr(), c.Port()
					}
					tb.Observe(p)
				}
				peak = max(peak, tb.Len())
			}
			// The open connection, at most maxClosed closed ones, and the one
			// that closed last (it is counted from the next packet on).
			if peak > maxClosed+2 {
				t.Errorf("peak table size %d, want at most %d", peak, maxClosed+2)
			}
			if slices.Contains(gone, 1) {
				t.Errorf("the open connection was pushed out")
			}
			if !slices.IsSorted(gone) {
				t.Errorf("closed connections did not leave oldest first")
			}
			tb.Flush()
			slices.Sort(gone)
			if len(gone) != 5001 || len(slices.Compact(gone)) != 5001 {
				t.Errorf("%d connections left the table (some twice?), want 5001", len(gone))
			}
		})
	}
}

// TestCacheSameAsLookup runs random packets on a few 4-tuples (handshakes,
// FIN and RST, tuple reuse, tunnels with and without tenants, expiry) through
// a table that looks every packet up by its key and one that reuses the
// previous packet's connection: every packet must get the same connection,
// direction and relative numbers, and the same connections must leave.
func TestCacheSameAsLookup(t *testing.T) {
	addrs := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"),
		netip.MustParseAddrPort("10.0.0.3:40001"), netip.MustParseAddrPort("[2001:db8::1]:443"),
	}
	tunnels := []events.Tunnel{0, events.MakeTunnel(events.TunnelVXLAN, 7), events.MakeTunnel(events.TunnelVXLAN, 8),
		events.MakeTunnel(events.TunnelGTPU, 9)}
	flags := []uint16{events.FlagSYN, events.FlagSYN | events.FlagACK, events.FlagACK, events.FlagACK, events.FlagACK,
		events.FlagACK | events.FlagFIN, events.FlagRST, events.FlagACK | events.FlagPSH}
	for seed := int64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewSource(seed))
		cfg := DefaultConfig()
		cfg.MaxClosed = 3
		var leftA, leftB []uint64
		a := New(cfg, func(c *Conn) { leftA = append(leftA, c.ID) })
		b := New(cfg, func(c *Conn) { leftB = append(leftB, c.ID) })
		a.noCache = true
		ts := int64(1e18)
		for i := 0; i < 3000; i++ {
			src, dst := addrs[rng.Intn(len(addrs))], addrs[rng.Intn(len(addrs))]
			if src == dst || (src.Addr().Is4() != dst.Addr().Is4()) {
				continue
			}
			ts += rng.Int63n(int64(3 * time.Second))
			p := events.Packet{Frame: uint64(i + 1), TS: ts, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
				Seq: uint32(rng.Intn(4)) * 1000, Ack: uint32(rng.Intn(4)) * 1000, Flags: flags[rng.Intn(len(flags))],
				Window: uint16(rng.Intn(3)), Len: uint32(rng.Intn(2)) * 100, Tunnel: tunnels[rng.Intn(len(tunnels))]}
			q := p
			a.Observe(&p)
			b.Observe(&q)
			if !sameObserved(&p, &q) {
				t.Fatalf("seed %d packet %d: by key %+v, cached %+v", seed, i, p, q)
			}
			// Lookup (a kernel record's tuple) takes the cache too: the
			// packet's own tuple either way, and another.
			for _, tup := range [][2]netip.AddrPort{{src, dst}, {dst, src}, {addrs[rng.Intn(len(addrs))], addrs[rng.Intn(len(addrs))]}} {
				ca, da, oka := a.Lookup(tup[0], tup[1])
				cb, db, okb := b.Lookup(tup[0], tup[1])
				if oka != okb || da != db || (ca == nil) != (cb == nil) || ca != nil && ca.ID != cb.ID {
					t.Fatalf("seed %d packet %d: Lookup %v by key %v %v %v, cached %v %v %v", seed, i, tup, ca, da, oka, cb, db, okb)
				}
			}
		}
		a.Flush()
		b.Flush()
		if !slices.Equal(leftA, leftB) {
			t.Fatalf("seed %d: connections left %v by key, %v cached", seed, leftA, leftB)
		}
	}
}

// CountEvent's shortcut for a run of one type counts as the list does:
// every type once, in order of first occurrence, with its number.
func TestCountEventRuns(t *testing.T) {
	types := []string{"dup_ack", "loss_infer", "retransmission", "rtt_sample", "dup_ack2"[:7]}
	rng := rand.New(rand.NewSource(3))
	var x Extra
	var order []string
	want := map[string]int{}
	for range 5000 {
		typ := types[rng.Intn(len(types)-1)]
		if rng.Intn(4) == 0 {
			typ = types[len(types)-1] // equal to dup_ack, another string
		}
		if want[typ] == 0 {
			order = append(order, typ)
		}
		want[typ]++
		x.CountEvent(typ)
		if rng.Intn(3) == 0 { // runs
			x.CountEvent(typ)
			want[typ]++
		}
	}
	if len(x.Events) != len(order) {
		t.Fatalf("%d types counted, want %d: %v", len(x.Events), len(order), x.Events)
	}
	for i, c := range x.Events {
		if c.Type != order[i] || c.Count != want[c.Type] {
			t.Errorf("type %d: %s %d, want %s %d", i, c.Type, c.Count, order[i], want[order[i]])
		}
	}
}

// Observe's shortcut for steady connections changes nothing: random
// connections (handshakes in any order, mid-stream starts, data, bare ACKs,
// zero windows, FINs, RSTs, SACK permitted anywhere) through a table with
// it and one without give the same packets and the same records.
func TestSteadySameAsUpdate(t *testing.T) {
	tuples := [][2]netip.AddrPort{
		{cli, srv},
		{netip.MustParseAddrPort("10.0.0.3:40001"), netip.MustParseAddrPort("10.0.0.2:443")},
		{netip.MustParseAddrPort("[2001:db8::1]:50000"), netip.MustParseAddrPort("[2001:db8::2]:8080")},
	}
	flags := []uint16{A, A, A, A | P, A, A, A, S, S | A, A | F, R, A | R, 0}
	hits := 0
	total := 0
	for seed := int64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var recA, recB []events.FlowRecord
		cfg := DefaultConfig()
		a := New(cfg, func(c *Conn) { var r events.FlowRecord; c.Record(&r); recA = append(recA, r) })
		b := New(cfg, func(c *Conn) { var r events.FlowRecord; c.Record(&r); recB = append(recB, r) })
		a.noSteady = true
		ts := int64(1e18)
		tup := tuples[0]
		for i := 0; i < 4000; i++ {
			if rng.Intn(20) == 0 {
				tup = tuples[rng.Intn(len(tuples))]
			}
			src, dst := tup[0], tup[1]
			if rng.Intn(2) == 0 {
				src, dst = dst, src
			}
			fl := A
			if rng.Intn(8) == 0 {
				fl = flags[rng.Intn(len(flags))]
			}
			ts += rng.Int63n(int64(50 * time.Millisecond))
			if rng.Intn(400) == 0 {
				ts += int64(2 * time.Second) // sweeps, closed connections leaving
			}
			p := events.Packet{Frame: uint64(i + 1), TS: ts, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
				Seq: uint32(i) * 100, Ack: uint32(rng.Intn(i+1)) * 100, Flags: fl,
				Window: uint16(1 + rng.Intn(1000)), Len: uint32(rng.Intn(2)) * 100, WireLen: 66 + uint32(rng.Intn(1400))}
			if rng.Intn(20) == 0 {
				p.Window = 0
			}
			if rng.Intn(10) == 0 {
				p.Options.SACKPerm = true
			}
			if fl&S != 0 {
				p.Options.HasWScale, p.Options.WScale, p.Options.MSS = rng.Intn(2) == 0, uint8(rng.Intn(9)), 1460
			}
			q := p
			a.Observe(&p)
			if c, _ := b.cached(src, dst, 0); c != nil && c.steady {
				hits++
			}
			total++
			b.Observe(&q)
			if !sameObserved(&p, &q) {
				t.Fatalf("seed %d packet %d: through update %+v, shortcut %+v", seed, i, p, q)
			}
		}
		a.Flush()
		b.Flush()
		if !reflect.DeepEqual(recA, recB) {
			for i := range min(len(recA), len(recB)) {
				if !reflect.DeepEqual(recA[i], recB[i]) {
					t.Fatalf("seed %d: record %d through update\n%+v\nshortcut\n%+v", seed, i, recA[i], recB[i])
				}
			}
			t.Fatalf("seed %d: %d records through update, %d with the shortcut", seed, len(recA), len(recB))
		}
	}
	if hits < total/2 {
		t.Fatalf("the shortcut took %d of %d packets: the test does not exercise it", hits, total)
	}
}

// sameObserved reports whether two tables filled in the same connection,
// direction, relative numbers and scaled window for a packet.
func sameObserved(p, q *events.Packet) bool {
	return p.Flow == q.Flow && p.Dir == q.Dir && p.RelSeq == q.RelSeq && p.RelAck == q.RelAck && p.WindowScaled == q.WindowScaled
}

// TestGoneMatchesByID: a connection's gone mark, which the done and closed
// queues read instead of looking its id up, says whether the table no
// longer holds it, through ends by FIN and RST, late packets, a tuple
// reused and a connection back from the ended ones, with few closed kept.
func TestGoneMatchesByID(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"few closed", func(c *Config) { c.MaxClosed = 2 }},
		{"short lingers", func(c *Config) { c.FinLinger, c.CloseLinger = time.Millisecond, 5*time.Millisecond }},
	}
	flags := []uint16{S, S | A, A, A, A | P, F | A, F | A, R, R | A}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.cfg(&cfg)
			tb := New(cfg, nil)
			rng := rand.New(rand.NewSource(1))
			seen := map[*Conn]bool{}
			ts := int64(time.Hour)
			for i := range 20000 {
				ts += rng.Int63n(int64(time.Millisecond))
				c := netip.AddrPortFrom(cli.Addr(), uint16(40000+rng.Intn(6)))
				p := &events.Packet{Frame: uint64(i + 1), TS: ts, Flags: flags[rng.Intn(len(flags))],
					Seq: (rng.Uint32() % 4) * 1000, Ack: (rng.Uint32() % 4) * 1000, Window: 100,
					Src: c.Addr(), SrcPort: c.Port(), Dst: srv.Addr(), DstPort: srv.Port()}
				if p.Flags&P != 0 {
					p.Len = 100
				}
				if rng.Intn(2) == 0 {
					p.Src, p.SrcPort, p.Dst, p.DstPort = p.Dst, p.DstPort, p.Src, p.SrcPort
				}
				if got := tb.Observe(p); got != nil {
					seen[got] = true
				}
				for _, c := range tb.byID {
					seen[c] = true
				}
				for c := range seen {
					if c.gone != (tb.byID[c.ID] != c) {
						t.Fatalf("packet %d: connection %d gone %v, in the table %v", i, c.ID, c.gone, tb.byID[c.ID] == c)
					}
				}
				if len(seen) > 200 { // only the table's and a few gone ones
					for c := range seen {
						if c.gone {
							delete(seen, c)
						}
					}
				}
			}
		})
	}
}
