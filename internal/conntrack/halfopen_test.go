package conntrack

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// TestHalfOpenRecordsChangeNothing runs random traffic (SYN retries, scans,
// handshakes, resets, tuples reused, idle gaps past every timeout, IPv4 and
// IPv6, tunnels) through a table that keeps half-open connections as
// records and one that makes every connection a Conn: every packet's
// fields, the connections looked up by id and by tuple, and every summary
// must be the same.
func TestHalfOpenRecordsChangeNothing(t *testing.T) {
	for seed := range uint64(25) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := Config{CloseLinger: 3 * time.Second, IdleTimeout: 20 * time.Second, FinLinger: time.Second, MaxClosed: 4}
		recs := [2]map[uint64]events.FlowRecord{{}, {}}
		var tbs [2]*Table
		for i := range tbs {
			tbs[i] = New(cfg, func(c *Conn) {
				var r events.FlowRecord
				c.Record(&r)
				if _, dup := recs[i][c.ID]; dup {
					t.Fatalf("seed %d: connection %d left twice", seed, c.ID)
				}
				recs[i][c.ID] = r
			})
		}
		tbs[1].compactSYN = false
		addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
			netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:10.0.0.1")}
		ts := int64(time.Hour)
		kept := 0
		for frame := uint64(1); frame <= 2000; frame++ {
			ts += rng.Int64N(int64(2 * time.Second))
			if rng.IntN(200) == 0 {
				ts += int64(30 * time.Second)
			}
			src := netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], uint16(1000+rng.IntN(6)))
			dst := netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], 80)
			if rng.IntN(2) == 0 {
				src, dst = dst, src
			}
			flags := []uint16{S, S, S, S | A, A, A | P, F | A, R, R | A, S | F}[rng.IntN(10)]
			p := events.Packet{Frame: frame, TS: ts, Src: src.Addr(), SrcPort: src.Port(), Dst: dst.Addr(), DstPort: dst.Port(),
				Flags: flags, Seq: uint32(rng.IntN(4)) * 1000, Ack: uint32(rng.IntN(4)) * 1000, Window: uint16(rng.IntN(3)),
				WireLen: uint32(60 + rng.IntN(10)), Encap: []string{"eth/ip", "eth/vlan:1/ip"}[rng.IntN(2)]}
			if rng.IntN(3) == 0 {
				p.Len = 100
			}
			if rng.IntN(10) == 0 {
				p.Tunnel = events.MakeTunnel(events.TunnelVXLAN, uint32(rng.IntN(2)))
			}
			if rng.IntN(2) == 0 {
				p.Options = events.Options{MSS: 1460, HasMSS: true, WScale: uint8(rng.IntN(9)), HasWScale: true}
			}
			q := p
			tbs[0].Observe(&p)
			tbs[1].Observe(&q)
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("seed %d frame %d: packet\n%+v\nwant\n%+v", seed, frame, p, q)
			}
			var syn events.Packet
			if now, ok := tbs[0].SYN(p.Flow, &syn); ok {
				if now != p.TS {
					t.Fatalf("seed %d frame %d: SYN's clock %d, want its time %d", seed, frame, now, p.TS)
				}
				kept++
				if !reflect.DeepEqual(syn, p) {
					t.Fatalf("seed %d frame %d: SYN kept as\n%+v\nwant\n%+v", seed, frame, syn, p)
				}
			}
			switch rng.IntN(8) {
			case 0:
				id := uint64(rng.IntN(int(p.Flow) + 2))
				d := events.Dir(rng.IntN(2))
				b0, ok0 := tbs[0].Base(id, d)
				b1, ok1 := tbs[1].Base(id, d)
				if ok0 != ok1 || b0 != b1 {
					t.Fatalf("seed %d frame %d: Base(%d) known %v, want %v", seed, frame, id, ok0, ok1)
				}
			case 1:
				id := uint64(rng.IntN(int(p.Flow) + 2))
				c0, c1 := tbs[0].Get(id), tbs[1].Get(id)
				if (c0 == nil) != (c1 == nil) {
					t.Fatalf("seed %d frame %d: Get(%d) %v, want %v", seed, frame, id, c0, c1)
				}
				if c0 != nil {
					a, b := *c0, *c1
					a.Extra, b.Extra = nil, nil
					if fmt.Sprint(a) != fmt.Sprint(b) || !reflect.DeepEqual(c0.Extra, c1.Extra) {
						t.Fatalf("seed %d frame %d: Get(%d) %+v, want %+v", seed, frame, id, c0, c1)
					}
				}
			case 3:
				// Events counted on a half-open connection, which stays one.
				id := uint64(rng.IntN(int(p.Flow) + 2))
				x0, x1 := tbs[0].Extra(id), tbs[1].Extra(id)
				if (x0 == nil) != (x1 == nil) {
					t.Fatalf("seed %d frame %d: Extra(%d) %v, want %v", seed, frame, id, x0, x1)
				}
				if x0 != nil {
					x0.CountEvent("handshake_anomaly")
					x1.CountEvent("handshake_anomaly")
				}
			case 2:
				c0, d0, ok0 := tbs[0].Lookup(src, dst)
				c1, d1, ok1 := tbs[1].Lookup(src, dst)
				if ok0 != ok1 || d0 != d1 || ok0 && c0.ID != c1.ID {
					t.Fatalf("seed %d frame %d: Lookup differs", seed, frame)
				}
			}
			if tbs[0].Len() != tbs[1].Len() {
				t.Fatalf("seed %d frame %d: %d connections, want %d", seed, frame, tbs[0].Len(), tbs[1].Len())
			}
		}
		if kept == 0 {
			t.Fatalf("seed %d: no half-open record was kept", seed)
		}
		tbs[0].Flush()
		tbs[1].Flush()
		if !reflect.DeepEqual(recs[0], recs[1]) {
			ids := slices.Sorted(func(yield func(uint64) bool) {
				for id := range recs[1] {
					if !yield(id) {
						return
					}
				}
			})
			for _, id := range ids {
				if !reflect.DeepEqual(recs[0][id], recs[1][id]) {
					t.Fatalf("seed %d: connection %d\n%+v\nwant\n%+v", seed, id, recs[0][id], recs[1][id])
				}
			}
			t.Fatalf("seed %d: %d summaries, want %d", seed, len(recs[0]), len(recs[1]))
		}
	}
}

// TestHalfOpenScan: a scan of more SYNs than a chunk holds, a third of
// them answered; the rest are found by id and by tuple, in arrival order,
// and leave in id order.
func TestHalfOpenScan(t *testing.T) {
	const n = 3*synChunk + 100
	var left []uint64
	tb := New(DefaultConfig(), func(c *Conn) { left = append(left, c.ID) })
	pkt := func(i int, flags uint16, fromCli bool) *events.Packet {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), uint16(20000+i%1000))
		p := &events.Packet{Frame: uint64(i + 1), TS: int64(time.Hour) + int64(i)*1000, Flags: flags, Seq: uint32(i), Ack: uint32(i) + 1,
			Src: c.Addr(), SrcPort: c.Port(), Dst: srv.Addr(), DstPort: 80}
		if !fromCli {
			p.Src, p.SrcPort, p.Dst, p.DstPort = p.Dst, p.DstPort, p.Src, p.SrcPort
		}
		return p
	}
	for i := range n {
		tb.Observe(pkt(i, S, true))
	}
	for i := 0; i < n; i += 3 {
		if p := pkt(i, S|A, false); tb.Observe(p) == nil || p.Flow != uint64(i+1) || p.Dir != events.DirS2C {
			t.Fatalf("SYN/ACK %d: flow %d dir %v", i, p.Flow, p.Dir)
		}
	}
	if tb.Len() != n || tb.syns.live != n-(n+2)/3 {
		t.Fatalf("%d connections, %d half-open", tb.Len(), tb.syns.live)
	}
	var after uint64
	for i := range n {
		if i%3 == 0 {
			continue
		}
		id, ts, ok := tb.NextSYN(after)
		if !ok || id != uint64(i+1) || ts != pkt(i, S, true).TS {
			t.Fatalf("after %d: %d %d %v, want %d", after, id, ts, ok, i+1)
		}
		var syn events.Packet
		if _, ok := tb.SYN(id, &syn); !ok || syn.Seq != uint32(i) {
			t.Fatalf("SYN %d: %v %d", id, ok, syn.Seq)
		}
		after = id
	}
	if _, _, ok := tb.NextSYN(after); ok {
		t.Fatalf("a SYN after the last")
	}
	tb.Flush()
	if len(left) != n || !slices.IsSorted(left) {
		t.Fatalf("%d connections left, in id order: %v", len(left), slices.IsSorted(left))
	}
}

// TestHalfOpenChurnAllocates: connections answered right after their SYN
// (short connections) empty the slab again and again; its compaction
// keeps the first chunk instead of allocating a new one each time.
func TestHalfOpenChurnAllocates(t *testing.T) {
	tests := []struct {
		name  string
		batch int // SYNs kept before the first is answered
	}{
		{"one at a time", 1},
		{"a few open", 8},
		{"a few dozen open", 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s synTable
			i := 0
			round := func() {
				for range 200 {
					s.add(synRec{id: uint64(i + 1), k: key{ap: uint16(i), bp: uint16(i >> 16)}})
					i++
					if s.live >= tc.batch {
						pos, ok := s.byID(uint64(i - tc.batch + 1))
						if !ok {
							t.Fatalf("record %d not found", i-tc.batch+1)
						}
						s.remove(pos)
					}
				}
			}
			round() // the first chunk and the index
			if n := testing.AllocsPerRun(20, round); n != 0 {
				t.Errorf("%.1f allocations per 200 SYNs, want 0", n)
			}
		})
	}
}
