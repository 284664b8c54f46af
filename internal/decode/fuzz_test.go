package decode

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/rewrap"
)

// FuzzDecode feeds arbitrary frames of every supported link type to the
// decoder. It must never panic, and what it accepts must be self-consistent.
func FuzzDecode(f *testing.F) {
	tcp, pay := tcpLayer(20)
	t := &testing.T{}
	f.Add(uint16(LinkEthernet), serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay))
	tcp, pay = tcpLayer(0)
	f.Add(uint16(LinkRaw), serialize(t, ip6(layers.IPProtocolTCP), tcp, pay))
	// Every encapsulation, around a segment in IPv4 and in IPv6.
	for _, e := range rewrap.All() {
		for _, v6 := range []bool{false, true} {
			if (v6 && e.V4Only) || (!v6 && e.V6Only) {
				continue
			}
			tcp, pay := tcpLayer(8)
			ip := serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
			if v6 {
				ip = serialize(t, ip6(layers.IPProtocolTCP), tcp, pay)
			}
			frame, err := rewrap.Frame(e, ip, v6, true)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(e.LinkType, frame)
		}
	}
	// A first IPv4 fragment.
	tcp, pay = tcpLayer(4)
	fr := serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
	fr[6] |= 0x20
	f.Add(uint16(LinkRaw), fr)
	f.Add(uint16(LinkRaw), ipv6WithExtensions(t))
	// Teredo with its authentication and origin indication headers.
	tcp, pay = tcpLayer(8)
	teredoHdrs := []byte{0, 1, 1, 1, 'i', 'a', 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0x12, 0x34, 0xc6, 0x33, 0x64, 0x01}
	f.Add(uint16(LinkRaw), serialize(t, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 3544, DstPort: 40001},
		gopacketPayload(append(teredoHdrs, serialize(t, ip6(layers.IPProtocolTCP), tcp, pay)...))))
	// Every shape of the direct path.
	for _, l := range directLinks {
		for _, v6 := range []bool{false, true} {
			f.Add(l.link, append(l.hdr(v6), plainIP(8)(t, v6)...))
		}
	}
	f.Add(uint16(LinkSLL2), make([]byte, 20))
	f.Add(uint16(LinkNull), []byte{2, 0, 0, 0, 0x45})
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		// Fresh decoders: a fragment held from an earlier input must not
		// make an input's outcome depend on the ones before it.
		d, slow := New(), New()
		slow.slow = true
		sameDecode(t, d, slow, link, data, uint32(len(data)))
		var p events.Packet
		ok, why := d.Decode(link, data, uint32(len(data)), &p)
		if !ok {
			if why == SkipNone {
				t.Fatal("rejected without a reason")
			}
			return
		}
		if int(p.CapLen) != len(data) || len(p.Payload) > int(p.Len) {
			t.Fatalf("inconsistent packet: caplen %d of %d, payload %d of %d", p.CapLen, len(data), len(p.Payload), p.Len)
		}
		if p.Options.NumSACK > 4 {
			t.Fatalf("%d SACK blocks", p.Options.NumSACK)
		}
	})
}

// streamRecord appends one record of a FuzzDecodeStream input: the
// milliseconds to advance the capture clock, the frame's length, the frame.
func streamRecord(b []byte, advanceMS uint8, frame []byte) []byte {
	b = append(b, advanceMS)
	b = binary.BigEndian.AppendUint16(b, uint16(len(frame)))
	return append(b, frame...)
}

func stream(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		b = streamRecord(b, 1, f)
	}
	return b
}

// ipv6WithExtensions is an IPv6 TCP segment behind hop-by-hop, routing,
// destination options, an atomic fragment header and AH.
func ipv6WithExtensions(t *testing.T) []byte {
	tcp, pay := tcpLayer(16)
	seg := serialize(t, ip6(layers.IPProtocolTCP), tcp, pay)
	hdr, l4 := append([]byte(nil), seg[:40]...), seg[40:]
	hdr[6] = byte(layers.IPProtocolIPv6HopByHop)
	ext := []byte{
		byte(layers.IPProtocolIPv6Routing), 0, 1, 4, 0, 0, 0, 0, // hop-by-hop: PadN
		byte(layers.IPProtocolIPv6Destination), 0, 4, 0, 0, 0, 0, 0, // routing, segments left 0
		byte(layers.IPProtocolIPv6Fragment), 0, 1, 4, 0, 0, 0, 0, // destination options
		byte(layers.IPProtocolAH), 0, 0, 0, 0, 0, 0, 9, // atomic fragment (RFC 6946)
		byte(layers.IPProtocolTCP), 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // AH, 96-bit ICV
	}
	out := append(append(hdr, ext...), l4...)
	binary.BigEndian.PutUint16(out[4:], uint16(len(out)-40))
	return out
}

// FuzzDecodeStream feeds a sequence of frames to one decoder, as a capture
// does, so that the state kept between frames is fuzzed too: IPv4 and IPv6
// fragment reassembly (out of order, duplicate, overlapping, never
// completed), its timeout and its memory bounds, which are set small here so
// that eviction happens within a few frames. The input is a list of
// records: one byte of milliseconds to advance the capture clock, two bytes
// of frame length, the frame.
func FuzzDecodeStream(f *testing.F) {
	t := &testing.T{}
	v4 := segment(t, false, 3000)
	v6 := segment(t, true, 3000)
	f4 := rewrap.Fragment4(v4, 1480)
	f6 := rewrap.Fragment6(v6, 1232, 7)
	f.Add(uint16(LinkRaw), stream(f6...))
	f.Add(uint16(LinkRaw), stream(f6[2], f6[0], f6[0], f6[1]))
	f.Add(uint16(LinkRaw), stream(f4[2], f4[1], f4[0]))
	f.Add(uint16(LinkRaw), stream(f4[0], f4[0], f4[2], f4[1]))
	// IPv6 overlap (RFC 5722): a 16-byte fragment across the first two.
	over := append([]byte(nil), f6[1][:40+8+16]...)
	binary.BigEndian.PutUint16(over[40+2:], uint16(1224)|1)
	binary.BigEndian.PutUint16(over[4:], 8+16)
	f.Add(uint16(LinkRaw), stream(f6[0], over, f6[1], f6[2]))
	// IPv4 overlap: conflicting bytes first, the real ones after.
	o4 := append([]byte(nil), f4[1][:20+16]...)
	binary.BigEndian.PutUint16(o4[2:], 20+16)
	f.Add(uint16(LinkRaw), stream(f4[0], o4, f4[1], f4[2]))
	// Never completed: the last fragment after the timeout.
	var late []byte
	late = streamRecord(late, 1, f6[0])
	late = streamRecord(late, 1, f6[1])
	late = streamRecord(late, 200, f6[2])
	f.Add(uint16(LinkRaw), late)
	// More datagrams than the limits hold: first fragments of six.
	var many [][]byte
	for id := range 6 {
		fr := rewrap.Fragment6(v6, 1232, uint32(100+id))
		many = append(many, fr[0], fr[1])
	}
	f.Add(uint16(LinkRaw), stream(many...))
	// A fragmented VXLAN packet, in Ethernet frames.
	tcp, pay := tcpLayer(1400)
	inner := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolTCP), tcp, pay)
	u := &layers.UDP{SrcPort: 50000, DstPort: 4789}
	outer := ip6(layers.IPProtocolUDP)
	u.SetNetworkLayerForChecksum(outer)
	vx := serialize(t, outer, u, &layers.VXLAN{ValidIDFlag: true, VNI: 9}, gopacketPayload(inner))
	var eth [][]byte
	for _, fr := range rewrap.Fragment6(vx, 800, 5) {
		eth = append(eth, append([]byte{0, 1, 2, 3, 4, 6, 0, 1, 2, 3, 4, 5, 0x86, 0xdd}, fr...))
	}
	f.Add(uint16(LinkEthernet), stream(eth...))
	f.Add(uint16(LinkRaw), stream(ipv6WithExtensions(t)))
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		cfg := DefaultConfig()
		cfg.Fragments = FragConfig{Timeout: 50 * time.Millisecond, MaxBytes: 8 << 10, MaxPairBytes: 6 << 10, MaxDatagrams: 4}
		d := NewWithConfig(cfg)
		var p events.Packet
		var ts int64
		for n := 0; len(data) >= 3 && n < 64; n++ {
			ts += int64(data[0]) * int64(time.Millisecond)
			l := min(int(binary.BigEndian.Uint16(data[1:])), len(data)-3)
			frame := data[3 : 3+l]
			data = data[3+l:]
			p.TS = ts
			ok, why := d.Decode(link, frame, uint32(len(frame)), &p)
			if !ok && why == SkipNone {
				t.Fatalf("frame %d rejected without a reason", n+1)
			}
			if ok && len(p.Payload) > int(p.Len) {
				t.Fatalf("frame %d: payload %d of %d", n+1, len(p.Payload), p.Len)
			}
			if s := d.FragStats(); s.Held < 0 || s.Held > cfg.Fragments.MaxBytes || s.MaxHeld > cfg.Fragments.MaxBytes {
				t.Fatalf("frame %d: fragment memory %+v beyond %d", n+1, s, cfg.Fragments.MaxBytes)
			}
		}
		d.Flush()
		if s := d.FragStats(); s.Held != 0 {
			t.Fatalf("after Flush %d bytes held", s.Held)
		}
	})
}
