package conntrack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// TestSynAckBeforeSyn: a multi-queue NIC delivered the SYN/ACK to the
// capture before the SYN. Both belong to one connection, with the SYN's
// sender as the client and the handshake complete.
func TestSynAckBeforeSyn(t *testing.T) {
	ps, recs := run([]seg{
		{false, S | A, 5000, 1001, 0, 65160, 9, time.Second},
		{true, S, 1000, 0, 0, 64240, 7, time.Second + time.Microsecond},
		{true, A, 1001, 5001, 0, 502, -1, time.Second + time.Millisecond},
		{true, A | P, 1001, 5001, 100, 502, -1, time.Second + 2*time.Millisecond},
	})
	if len(recs) != 1 {
		t.Fatalf("%d flows, want 1: %+v", len(recs), recs)
	}
	if ps[0].Dir != events.DirS2C || ps[1].Dir != events.DirC2S || recs[0].Client != cli.String() {
		t.Errorf("directions %v %v, client %s", ps[0].Dir, ps[1].Dir, recs[0].Client)
	}
	r := recs[0]
	if !r.HandshakeSeen || r.WScaleC2S != 7 || r.WScaleS2C != 9 || ps[3].RelSeq != 1 || ps[3].WindowScaled != 502<<7 {
		t.Errorf("handshake %v wscale %d/%d relseq %d window %d", r.HandshakeSeen, r.WScaleC2S, r.WScaleS2C, ps[3].RelSeq, ps[3].WindowScaled)
	}
	// A SYN with another ISN after a SYN/ACK is still a new connection.
	_, recs = run([]seg{
		{false, S | A, 5000, 1001, 0, 65160, 9, 0},
		{true, S, 777, 0, 0, 64240, 7, time.Microsecond},
	})
	if len(recs) != 2 {
		t.Errorf("%d flows for a SYN that the SYN/ACK does not answer, want 2", len(recs))
	}
}

// TestMidStreamDirection: without a handshake the server is the side with
// the service's port, whichever side sent first; the window scale stays
// unknown.
func TestMidStreamDirection(t *testing.T) {
	tests := []struct {
		a, b       uint16 // ports of the first sender and its peer
		wantServer uint16
	}{
		{80, 40000, 80},
		{40000, 443, 443},
		{5001, 46004, 5001},
		{46004, 5001, 5001},
		{50000, 50001, 50001}, // no hint: the first sender is the client
		{1000, 2000, 1000},
	}
	for _, tt := range tests {
		tb := New(DefaultConfig(), nil)
		a := netip.MustParseAddr("10.0.0.1")
		b := netip.MustParseAddr("10.0.0.2")
		p := &events.Packet{Frame: 1, Src: a, SrcPort: tt.a, Dst: b, DstPort: tt.b, Flags: A | P, Seq: 10, Ack: 20, Len: 100, Window: 100}
		c := tb.Observe(p)
		if c.Server.Port() != tt.wantServer {
			t.Errorf("ports %d -> %d: server %v, want port %d", tt.a, tt.b, c.Server, tt.wantServer)
		}
		q := &events.Packet{Frame: 2, Src: b, SrcPort: tt.b, Dst: a, DstPort: tt.a, Flags: A, Seq: 20, Ack: 110, Window: 100}
		if tb.Observe(q) != c || p.WindowScaled != -1 || q.WindowScaled != -1 {
			t.Errorf("ports %d -> %d: a second connection, or a window scale guessed (%d %d)", tt.a, tt.b, p.WindowScaled, q.WindowScaled)
		}
		var r events.FlowRecord
		c.Record(&r)
		if r.WScaleC2S != -1 || r.WScaleS2C != -1 || r.HandshakeSeen {
			t.Errorf("record: wscale %d/%d handshake %v", r.WScaleC2S, r.WScaleS2C, r.HandshakeSeen)
		}
	}
}

// TestTunnelIdentifierSeparatesTenants: the same 4-tuple in two VNIs at the
// same time is two connections; GTP-U TEIDs, which differ per direction,
// are not part of the key. The record carries the path and the identifier.
func TestTunnelIdentifierSeparatesTenants(t *testing.T) {
	var recs []events.FlowRecord
	tb := New(DefaultConfig(), func(c *Conn) {
		var r events.FlowRecord
		c.Record(&r)
		recs = append(recs, r)
	})
	obs := func(s seg, tun events.Tunnel, encap string) *events.Packet {
		p := s.packet(len(recs) + 1)
		p.Tunnel, p.Encap = tun, encap
		tb.Observe(p)
		return p
	}
	vni := func(n uint32) events.Tunnel { return events.MakeTunnel(events.TunnelVXLAN, n) }
	const path = "eth/ip/udp/vxlan/eth/ip"
	p1 := obs(seg{true, S, 1, 0, 0, 100, -1, 0}, vni(10), path)
	p2 := obs(seg{true, S, 2, 0, 0, 100, -1, 1}, vni(20), path)
	p3 := obs(seg{false, S | A, 9, 2, 0, 100, -1, 2}, vni(20), path)
	p4 := obs(seg{false, S | A, 8, 2, 0, 100, -1, 3}, vni(10), path)
	if p1.Flow == p2.Flow || p3.Flow != p2.Flow || p4.Flow != p1.Flow {
		t.Errorf("flows %d %d %d %d: want two connections split by VNI", p1.Flow, p2.Flow, p3.Flow, p4.Flow)
	}
	teid := func(n uint32) events.Tunnel { return events.MakeTunnel(events.TunnelGTPU, n) }
	q1 := obs(seg{true, S, 1, 0, 0, 100, -1, 4}, teid(0x100), "eth/ip/udp/gtpu/ip")
	q2 := obs(seg{false, S | A, 9, 2, 0, 100, -1, 5}, teid(0x200), "eth/ip/udp/gtpu/ip")
	if q1.Flow != q2.Flow {
		t.Errorf("GTP-U: flows %d %d, want one connection", q1.Flow, q2.Flow)
	}
	tb.Flush()
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs[:2] {
		if r.Encap != path || r.Tunnel == nil || r.Tunnel.Kind != "vxlan" || r.Tunnel.PeerID != nil {
			t.Errorf("flow %d: encap %q tunnel %+v", r.Flow, r.Encap, r.Tunnel)
		}
	}
	if recs[0].Tunnel.ID != 10 || recs[1].Tunnel.ID != 20 {
		t.Errorf("VNIs %d %d", recs[0].Tunnel.ID, recs[1].Tunnel.ID)
	}
	g := recs[2].Tunnel
	if g == nil || g.Kind != "gtpu" || g.ID != 0x100 || g.PeerID == nil || *g.PeerID != 0x200 {
		t.Errorf("GTP-U record tunnel %+v", g)
	}
}

// TestTunnelIdentifierPerDirection: an overlay that uses one VNI each way
// (a real Geneve capture does: VNI 11 from the client, 10 back) carries one
// connection, as tshark counts it; a reply whose acknowledgment does not
// fit, or a tuple already seen both ways in another VNI, stays apart.
func TestTunnelIdentifierPerDirection(t *testing.T) {
	geneve := func(n uint32) events.Tunnel { return events.MakeTunnel(events.TunnelGeneve, n) }
	tests := []struct {
		name  string
		segs  []seg
		tuns  []uint32
		flows []uint64
	}{
		{"handshake each way", []seg{
			{true, S, 1000, 0, 0, 100, -1, 0},
			{false, S | A, 5000, 1001, 0, 100, -1, 1},
			{true, A, 1001, 5001, 0, 100, -1, 2},
			{false, A | P, 5001, 1001, 10, 100, -1, 3},
		}, []uint32{11, 10, 11, 10}, []uint64{1, 1, 1, 1}},
		{"mid-stream", []seg{
			{false, A | P, 5001, 1001, 10, 100, -1, 0},
			{true, A, 1001, 5011, 0, 100, -1, 1},
		}, []uint32{10, 11}, []uint64{1, 1}},
		{"reply that does not fit", []seg{
			{true, S, 1000, 0, 0, 100, -1, 0},
			{false, S | A, 5000, 0x90000000, 0, 100, -1, 1},
		}, []uint32{11, 10}, []uint64{1, 2}},
		{"a second tenant after both ways were seen", []seg{
			{true, S, 1000, 0, 0, 100, -1, 0},
			{false, S | A, 5000, 1001, 0, 100, -1, 1},
			{true, S, 7000, 0, 0, 100, -1, 2},
			{false, S | A, 9000, 7001, 0, 100, -1, 3},
		}, []uint32{11, 11, 30, 30}, []uint64{1, 1, 2, 2}},
	}
	for _, tt := range tests {
		tb := New(DefaultConfig(), nil)
		for i, s := range tt.segs {
			p := s.packet(i + 1)
			p.Tunnel = geneve(tt.tuns[i])
			if c := tb.Observe(p); c.ID != tt.flows[i] {
				t.Errorf("%s: packet %d in flow %d, want %d", tt.name, i+1, c.ID, tt.flows[i])
			}
		}
		if want := tt.flows[len(tt.flows)-1]; tb.Len() != int(want) {
			t.Errorf("%s: %d connections in the table, want %d", tt.name, tb.Len(), want)
		}
		if tt.name == "handshake each way" {
			var r events.FlowRecord
			tb.Get(1).Record(&r)
			if r.Tunnel == nil || r.Tunnel.ID != 11 || r.Tunnel.PeerID == nil || *r.Tunnel.PeerID != 10 {
				t.Errorf("record tunnel %+v", r.Tunnel)
			}
		}
		tb.Flush()
		if tb.Len() != 0 || len(tb.conns) != 0 || len(tb.half) != 0 {
			t.Errorf("%s: after Flush %d connections, %d keys, %d half-seen", tt.name, tb.Len(), len(tb.conns), len(tb.half))
		}
	}
}
