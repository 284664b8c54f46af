package decode

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/rewrap"
)

func segment(t *testing.T, v6 bool, n int) []byte {
	tcp, _ := tcpLayer(0)
	pay := make([]byte, n)
	for i := range pay {
		pay[i] = byte(i * 7)
	}
	if v6 {
		return serialize(t, ip6(layers.IPProtocolTCP), tcp, gopacketPayload(pay))
	}
	ip := ip4(layers.IPProtocolTCP)
	ip.Id = 4321
	return serialize(t, ip, tcp, gopacketPayload(pay))
}

// feed decodes raw IP frames in order at 1 ms steps and returns, per
// frame, whether it produced a packet and why not.
func feed(d *Decoder, frames [][]byte, p *events.Packet, start time.Duration) []SkipReason {
	out := make([]SkipReason, len(frames))
	for i, f := range frames {
		p.TS = int64(start) + int64(i)*int64(time.Millisecond)
		ok, why := d.Decode(LinkRaw, f, uint32(len(f)), p)
		if ok {
			why = SkipNone
		}
		out[i] = why
	}
	return out
}

func TestFragmentReassembly(t *testing.T) {
	const n = 3000
	for _, v6 := range []bool{false, true} {
		seg := segment(t, v6, n)
		var fr [][]byte
		if v6 {
			fr = rewrap.Fragment6(seg, 1232, 99)
		} else {
			fr = rewrap.Fragment4(seg, 1480)
		}
		if len(fr) != 3 {
			t.Fatalf("%d fragments", len(fr))
		}
		wantPay := seg[len(seg)-n:]
		tests := []struct {
			name  string
			order []int
			done  int // index in order of the frame that completes the datagram
		}{
			{"in order", []int{0, 1, 2}, 2},
			{"last first", []int{2, 0, 1}, 2},
			{"first last", []int{1, 2, 0}, 2},
			{"duplicate", []int{0, 0, 2, 1}, 3},
		}
		for _, tt := range tests {
			t.Run(map[bool]string{false: "ipv4 ", true: "ipv6 "}[v6]+tt.name, func(t *testing.T) {
				d := New()
				frames := make([][]byte, len(tt.order))
				sum := 0
				for i, j := range tt.order {
					frames[i] = fr[j]
				}
				for _, j := range []int{0, 1, 2} {
					sum += len(fr[j])
				}
				var p events.Packet
				got := feed(d, frames, &p, 0)
				for i, why := range got {
					if (why == SkipNone) != (i == tt.done) || (why != SkipNone && why != SkipFragment) {
						t.Fatalf("frame %d: %v (all %v)", i, why, got)
					}
				}
				if p.Len != n || !bytes.Equal(p.Payload, wantPay) || p.SrcPort != 40000 {
					t.Errorf("reassembled: len %d payload equal %v port %d", p.Len, bytes.Equal(p.Payload, wantPay), p.SrcPort)
				}
				if tt.name != "duplicate" && int(p.CapLen) != sum {
					t.Errorf("caplen %d, want %d (all fragments)", p.CapLen, sum)
				}
				want := "ip/frag"
				if v6 {
					want = "ip6/frag"
				}
				if p.Encap != want {
					t.Errorf("encap %q", p.Encap)
				}
				if s := d.FragStats(); s.Reassembled != 1 || s.Held != 0 {
					t.Errorf("stats %+v", s)
				}
			})
		}
	}
}

// TestFragmentOverlap: overlapping IPv6 fragments abandon the datagram
// (RFC 5722), and its later fragments are dropped too; IPv4 reassembles.
func TestFragmentOverlap(t *testing.T) {
	seg := segment(t, true, 3000)
	fr := rewrap.Fragment6(seg, 1232, 7)
	// A fragment overlapping the first two: offset 1224, 16 bytes, more.
	over := append([]byte(nil), fr[1][:40+8+16]...)
	binary.BigEndian.PutUint16(over[40+2:], uint16(1224)|1)
	binary.BigEndian.PutUint16(over[4:], 8+16)
	d := New()
	var p events.Packet
	got := feed(d, [][]byte{fr[0], over, fr[1], fr[2]}, &p, 0)
	want := []SkipReason{SkipFragment, SkipFragmentDropped, SkipFragmentDropped, SkipFragmentDropped}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("ipv6 overlap: %v, want %v", got, want)
		}
	}
	if s := d.FragStats(); s.Overlaps != 1 || s.Held != 0 || s.Reassembled != 0 {
		t.Errorf("stats %+v", s)
	}

	seg4 := segment(t, false, 3000)
	fr4 := rewrap.Fragment4(seg4, 1480)
	// Conflicting bytes at offset 1480..1496, sent before the real ones.
	o4 := append([]byte(nil), fr4[1][:20+16]...)
	for i := 20; i < len(o4); i++ {
		o4[i] = 0xee
	}
	binary.BigEndian.PutUint16(o4[2:], 20+16)
	binary.BigEndian.PutUint16(o4[6:], 0x2000|1480/8)
	d = New()
	got = feed(d, [][]byte{fr4[0], o4, fr4[1], fr4[2]}, &p, 0)
	if got[3] != SkipNone || p.Len != 3000 {
		t.Fatalf("ipv4 overlap: %v len %d", got, p.Len)
	}
	// Offsets equal: the later fragment wins (Wireshark's order).
	if pay := seg4[len(seg4)-3000:]; !bytes.Equal(p.Payload, pay) {
		t.Errorf("ipv4 overlap: payload differs from the real fragments")
	}
}

// TestFragmentNeverCompleted: an incomplete datagram is dropped after the
// timeout and its memory returned; at Flush the rest are counted.
func TestFragmentNeverCompleted(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		seg := segment(t, v6, 3000)
		fr := rewrap.Fragment4(seg, 1480)
		if v6 {
			fr = rewrap.Fragment6(seg, 1232, 5)
		}
		d := New()
		var p events.Packet
		feed(d, fr[:2], &p, 0)
		if s := d.FragStats(); s.Held == 0 {
			t.Fatalf("v6=%v: nothing held: %+v", v6, s)
		}
		// The last fragment 31 s later: the datagram has expired, so this one
		// starts a new datagram that never completes.
		if got := feed(d, fr[2:], &p, 31*time.Second); got[0] != SkipFragment {
			t.Fatalf("v6=%v: late fragment: %v", v6, got)
		}
		s := d.FragStats()
		if s.Expired != 1 || s.Reassembled != 0 {
			t.Errorf("v6=%v: stats %+v", v6, s)
		}
		d.Flush()
		if s := d.FragStats(); s.Expired != 2 || s.Held != 0 {
			t.Errorf("v6=%v: after flush %+v", v6, s)
		}
	}
}

// TestFragmentMemoryBounded: a flood of incomplete datagrams from many
// senders never holds more than MaxBytes, one sender never more than
// MaxPairBytes, and a complete datagram still gets through afterwards.
func TestFragmentMemoryBounded(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Fragments.MaxBytes = 256 << 10
		cfg.Fragments.MaxPairBytes = 32 << 10
		d := NewWithConfig(cfg)
		seg := segment(t, v6, 3000)
		whole := rewrap.Fragment4(seg, 1480)
		if v6 {
			whole = rewrap.Fragment6(seg, 1232, 1)
		}
		var p events.Packet
		for i := range 5000 {
			f := append([]byte(nil), whole[0]...)
			if v6 {
				binary.BigEndian.PutUint32(f[40+4:], uint32(i)) // a new datagram each time
				f[8+15] = byte(i % 50)                          // from 50 senders
			} else {
				binary.BigEndian.PutUint16(f[4:], uint16(i))
				f[12], f[13] = 10, byte(i%50)
			}
			p.TS = int64(i) * int64(time.Microsecond)
			if ok, why := d.Decode(LinkRaw, f, uint32(len(f)), &p); ok || (why != SkipFragment && why != SkipFragmentDropped) {
				t.Fatalf("v6=%v: datagram %d: %v %v", v6, i, ok, why)
			}
			if s := d.FragStats(); s.Held > cfg.Fragments.MaxBytes {
				t.Fatalf("v6=%v: held %d > %d", v6, s.Held, cfg.Fragments.MaxBytes)
			}
		}
		for pk, n := range d.frag.pairs {
			if n > cfg.Fragments.MaxPairBytes {
				t.Errorf("v6=%v: pair %v holds %d", v6, net.IP(pk.src[:]), n)
			}
		}
		s := d.FragStats()
		if s.Evicted == 0 || s.MaxHeld > cfg.Fragments.MaxBytes {
			t.Errorf("v6=%v: stats %+v", v6, s)
		}
		got := feed(d, whole, &p, time.Second)
		if got[len(got)-1] != SkipNone || p.Len != 3000 {
			t.Errorf("v6=%v: after the flood: %v", v6, got)
		}
	}
}

// TestFragmentedTunnel: the outer IPv4 packet of a VXLAN tunnel is
// fragmented; the inner TCP segment comes out of the reassembled datagram
// with the tunnel's VNI.
func TestFragmentedTunnel(t *testing.T) {
	tcp, pay := tcpLayer(1400)
	inner := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay)
	u := &layers.UDP{SrcPort: 50000, DstPort: 4789}
	out := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 77, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
	u.SetNetworkLayerForChecksum(out)
	outer := serialize(t, out, u, &layers.VXLAN{ValidIDFlag: true, VNI: 9}, gopacketPayload(inner))
	d := New()
	var p events.Packet
	got := feed(d, rewrap.Fragment4(outer, 800), &p, 0)
	if got[len(got)-1] != SkipNone || p.Len != 1400 || p.Tunnel != events.MakeTunnel(events.TunnelVXLAN, 9) || p.Encap != "ip/frag/udp/vxlan/eth/ip" {
		t.Errorf("%v len %d tunnel %v encap %q", got, p.Len, p.Tunnel, p.Encap)
	}
}

func gopacketPayload(b []byte) gopacket.Payload { return gopacket.Payload(b) }
