package conntrack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// TestRejoin: a packet that continues a connection after it left the table
// (ended and quiet past the linger, or idle past the timeout) rejoins it
// under its id, with its sequence bases and window scales, as Wireshark's
// tcp.stream does; a SYN that opens a new connection does not. The
// connection then writes a second record, marked resumed.
func TestRejoin(t *testing.T) {
	ms := time.Millisecond
	hs := []seg{
		{true, S, 1000, 0, 0, 64240, 7, 0},
		{false, S | A, 5000, 1001, 0, 65160, 9, 1 * ms},
		{true, A, 1001, 5001, 0, 502, -1, 2 * ms},
		{true, P | A, 1001, 5001, 100, 502, -1, 3 * ms},
	}
	reset := append(append([]seg(nil), hs...), seg{true, R | A, 1101, 5001, 0, 0, -1, 4 * ms})
	for _, tc := range []struct {
		name     string
		first    []seg
		later    seg
		maxEnded int
		rejoins  bool
	}{
		{"data after the idle timeout", hs, seg{false, A, 5001, 1101, 10, 509, -1, 20 * time.Minute}, DefaultMaxEnded, true},
		{"data after a reset and the linger", reset, seg{false, P | A, 5001, 1101, 10, 509, -1, 20 * time.Minute}, DefaultMaxEnded, true},
		{"the same SYN replayed after a reset", reset, seg{true, S, 1000, 0, 0, 64240, 7, 20 * time.Minute}, DefaultMaxEnded, true},
		{"a SYN with a new ISN after a reset", reset, seg{true, S, 9000, 0, 0, 64240, 7, 20 * time.Minute}, DefaultMaxEnded, false},
		{"a SYN from the old server", reset, seg{false, S, 5000, 0, 0, 64240, 7, 20 * time.Minute}, DefaultMaxEnded, false},
		{"nothing remembered", hs, seg{false, A, 5001, 1101, 10, 509, -1, 20 * time.Minute}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxEnded = tc.maxEnded
			var recs []events.FlowRecord
			tb := New(cfg, func(c *Conn) {
				var r events.FlowRecord
				c.Record(&r)
				recs = append(recs, r)
			})
			for i, s := range tc.first {
				tb.Observe(s.packet(i + 1))
			}
			// Another connection's packet moves the clock past the idle
			// timeout and the linger: the connection leaves.
			other := netip.MustParseAddrPort("10.0.0.3:50000")
			tb.Observe(&events.Packet{TS: int64(16 * time.Minute), Flags: A, Src: other.Addr(), SrcPort: other.Port(), Dst: srv.Addr(), DstPort: srv.Port()})
			if tb.Len() != 1 {
				t.Fatalf("%d connections live, want only the other one", tb.Len())
			}
			p := tc.later.packet(len(tc.first) + 2)
			tb.Observe(p)
			tb.Flush()
			if len(recs) != 3 {
				t.Fatalf("%d records, want 3", len(recs))
			}
			if recs[1].Flow == 2 {
				recs = append(recs[:1], recs[2]) // the other connection's
			} else {
				recs = recs[:2]
			}
			if got := p.Flow == recs[0].Flow; got != tc.rejoins {
				t.Fatalf("later packet in flow %d, first connection %d: rejoined %v, want %v", p.Flow, recs[0].Flow, got, tc.rejoins)
			}
			r := recs[1]
			wantResumed, wantID := 0, uint64(3)
			if tc.rejoins {
				wantResumed, wantID = 1, 1
			}
			if recs[0].Resumed != 0 || r.Resumed != wantResumed || r.Flow != wantID {
				t.Errorf("records: flow %d resumed %d, then flow %d resumed %d; want flow 1 resumed 0, then flow %d resumed %d",
					recs[0].Flow, recs[0].Resumed, r.Flow, r.Resumed, wantID, wantResumed)
			}
			if r.PacketsC2S+r.PacketsS2C != 1 || r.FirstFrame != p.Frame || r.LastFrame != p.Frame {
				t.Errorf("second record covers %d packets, frames %d-%d; want the later packet alone (frame %d)",
					r.PacketsC2S+r.PacketsS2C, r.FirstFrame, r.LastFrame, p.Frame)
			}
			if !tc.rejoins {
				return
			}
			// Sequence numbers stay relative to the ISNs, windows scaled
			// as the handshake said, the client stays the client.
			wantRel := uint32(1)
			if p.Flags&events.FlagSYN != 0 {
				wantRel = 0
			}
			if p.RelSeq != wantRel || r.Client != recs[0].Client || r.WScaleC2S != 7 || r.WScaleS2C != 9 {
				t.Errorf("rejoined: rel seq %d (want %d), client %s (want %s), wscale %d/%d (want 7/9)",
					p.RelSeq, wantRel, r.Client, recs[0].Client, r.WScaleC2S, r.WScaleS2C)
			}
			if p.Flags&events.FlagSYN == 0 && p.WindowScaled != int64(p.Window)<<9 {
				t.Errorf("window scaled %d, want %d", p.WindowScaled, int64(p.Window)<<9)
			}
		})
	}
}

// TestRejoinBounded: only the last MaxEnded connections that left are
// remembered; a packet on an older one's tuple starts a new connection.
func TestRejoinBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEnded = 10
	tb := New(cfg, nil)
	port := func(i int) netip.AddrPort { return netip.AddrPortFrom(cli.Addr(), uint16(20000+i)) }
	pkt := func(i int, at time.Duration, flags uint16) *events.Packet {
		c := port(i)
		return &events.Packet{TS: int64(at), Flags: flags, Seq: 1, Ack: 1, Src: c.Addr(), SrcPort: c.Port(), Dst: srv.Addr(), DstPort: srv.Port()}
	}
	// Connections reset 2 s apart leave one by one, in order, a FinLinger
	// after their reset.
	const n = 30
	for i := range n {
		tb.Observe(pkt(i, time.Duration(i)*2*time.Second, R))
	}
	tb.Observe(pkt(n, 20*time.Minute, A))
	if tb.Len() != 1 {
		t.Fatalf("%d connections live, want 1", tb.Len())
	}
	for i := range n {
		p := pkt(i, 21*time.Minute, A)
		tb.Observe(p)
		rejoined := p.Flow == uint64(i+1)
		if want := i >= n-cfg.MaxEnded; rejoined != want {
			t.Errorf("connection %d: rejoined %v, want %v (flow %d)", i+1, rejoined, want, p.Flow)
		}
	}
}
