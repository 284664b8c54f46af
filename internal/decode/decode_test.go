package decode

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
)

var (
	mac1 = net.HardwareAddr{0, 1, 2, 3, 4, 5}
	mac2 = net.HardwareAddr{0, 1, 2, 3, 4, 6}
	v4a  = net.IP{10, 0, 0, 1}
	v4b  = net.IP{10, 0, 0, 2}
	v6a  = net.ParseIP("2001:db8::1")
	v6b  = net.ParseIP("2001:db8::2")
)

func tcpLayer(payload int) (*layers.TCP, gopacket.Payload) {
	t := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 0xfffffff0, Ack: 77, ACK: true, PSH: true, Window: 501,
		DataOffset: 0,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 5, 0, 0, 0, 9}},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindSACK, OptionLength: 10, OptionData: []byte{0, 0, 0, 100, 0, 0, 0, 200}},
		}}
	return t, gopacket.Payload(make([]byte, payload))
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		if tcp, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			for _, n := range ls {
				if ip, ok := n.(gopacket.NetworkLayer); ok {
					tcp.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: v4a, DstIP: v4b}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, NextHeader: next, HopLimit: 64, SrcIP: v6a, DstIP: v6b}
}

func TestDecodeLinkTypes(t *testing.T) {
	eth := func(et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: et}
	}
	tcp4, pay := tcpLayer(100)
	v4frame := func(link ...gopacket.SerializableLayer) []byte {
		tcp, pay := tcpLayer(100)
		return serialize(t, append(link, ip4(layers.IPProtocolTCP), tcp, pay)...)
	}
	v6frame := func(link ...gopacket.SerializableLayer) []byte {
		tcp, pay := tcpLayer(100)
		return serialize(t, append(link, ip6(layers.IPProtocolTCP), tcp, pay)...)
	}
	_ = tcp4
	_ = pay
	sll2 := func(inner []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], 0x0800)
		binary.BigEndian.PutUint32(h[4:], 3) // ifindex
		binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
		h[10] = 4                            // outgoing
		h[11] = 6                            // address length
		copy(h[12:], mac1)
		return append(h, inner...)
	}
	sll1 := func(inner []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], 4) // sent by us
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], mac1)
		binary.BigEndian.PutUint16(h[14:], 0x0800)
		return append(h, inner...)
	}
	rawV4 := v4frame()
	tests := []struct {
		name string
		link uint16
		data []byte
		v6   bool
	}{
		{"ethernet ipv4", LinkEthernet, v4frame(eth(layers.EthernetTypeIPv4)), false},
		{"ethernet ipv6", LinkEthernet, v6frame(eth(layers.EthernetTypeIPv6)), true},
		{"802.1q", LinkEthernet, v4frame(eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}), false},
		{"qinq", LinkEthernet, v4frame(eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 8, Type: layers.EthernetTypeIPv4}), false},
		{"linux sll", LinkSLL, sll1(rawV4), false},
		{"linux sll2", LinkSLL2, sll2(rawV4), false},
		// An IPoIB interface's address is 20 bytes: the header says so and
		// holds the first 8, as libpcap writes it.
		{"linux sll, address length 20", LinkSLL, func() []byte { f := sll1(rawV4); f[5] = 20; return f }(), false},
		{"linux sll2, address length 20", LinkSLL2, func() []byte { f := sll2(rawV4); f[11] = 20; return f }(), false},
		{"raw ipv4", LinkRaw, rawV4, false},
		{"raw ipv6", LinkRaw, v6frame(), true},
		{"ipv4 link type", LinkIPv4, rawV4, false},
		{"ipv6 link type", LinkIPv6, v6frame(), true},
		{"bsd null", LinkNull, v4frame(&layers.Loopback{Family: layers.ProtocolFamilyIPv4}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New()
			var p events.Packet
			ok, why := d.Decode(tt.link, tt.data, uint32(len(tt.data)), &p)
			if !ok {
				t.Fatalf("not decoded: %v", why)
			}
			wantSrc := netip.MustParseAddr("10.0.0.1")
			if tt.v6 {
				wantSrc = netip.MustParseAddr("2001:db8::1")
			}
			if p.Src != wantSrc || p.SrcPort != 40000 || p.DstPort != 443 {
				t.Errorf("endpoints %v:%d -> %v:%d", p.Src, p.SrcPort, p.Dst, p.DstPort)
			}
			if p.Seq != 0xfffffff0 || p.Ack != 77 || p.Window != 501 || p.Len != 100 {
				t.Errorf("seq %d ack %d win %d len %d", p.Seq, p.Ack, p.Window, p.Len)
			}
			if p.Flags != events.FlagACK|events.FlagPSH {
				t.Errorf("flags %s", events.FlagString(p.Flags))
			}
			o := p.Options
			if !o.HasTS || o.TSVal != 5 || o.TSEcr != 9 || o.NumSACK != 1 || o.SACK[0] != (events.SACKBlock{Left: 100, Right: 200}) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestDecodeLengthFromIPHeader(t *testing.T) {
	// A snapshot that cut the payload: the length comes from the IP header.
	tcp, pay := tcpLayer(1000)
	full := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay)
	var p events.Packet
	if ok, why := New().Decode(LinkEthernet, full[:96], uint32(len(full)), &p); !ok {
		t.Fatalf("not decoded: %v", why)
	}
	if p.Len != 1000 || p.WireLen != uint32(len(full)) || p.CapLen != 96 {
		t.Errorf("len %d wire %d cap %d", p.Len, p.WireLen, p.CapLen)
	}
	// The IPv4 identification is kept, on the fast path and gopacket's.
	ip := ip4(layers.IPProtocolTCP)
	ip.Id = 0xbeef
	withID := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip, tcp, pay)
	for _, slow := range []bool{false, true} {
		d := New()
		d.slow = slow
		if ok, why := d.Decode(LinkEthernet, withID, uint32(len(withID)), &p); !ok || p.IPID != 0xbeef {
			t.Errorf("slow=%v: ok %v %v, IP ID %#x, want 0xbeef", slow, ok, why, p.IPID)
		}
	}
	// Ethernet padding after a short segment is not payload.
	tcp, pay = tcpLayer(0)
	small := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay)
	padded := append(small, make([]byte, 6)...)
	if ok, why := New().Decode(LinkEthernet, padded, uint32(len(padded)), &p); !ok || p.Len != 0 || len(p.Payload) != 0 {
		t.Errorf("padded frame: ok %v %v len %d payload %d", ok, why, p.Len, len(p.Payload))
	}
}

func TestDecodeIPv6ExtensionHeaders(t *testing.T) {
	tcp, pay := tcpLayer(10)
	// IPv6 -> destination options (8 bytes) -> TCP, built by hand.
	inner := serialize(t, ip6(layers.IPProtocolTCP), tcp, pay)
	hdr := append([]byte(nil), inner[:40]...)
	rest := inner[40:]
	hdr[6] = byte(layers.IPProtocolIPv6Destination)
	binary.BigEndian.PutUint16(hdr[4:], uint16(len(rest)+8))
	dst := []byte{byte(layers.IPProtocolTCP), 0, 1, 4, 0, 0, 0, 0} // PadN
	frame := append(append(hdr, dst...), rest...)
	var p events.Packet
	if ok, why := New().Decode(LinkRaw, frame, uint32(len(frame)), &p); !ok {
		t.Fatalf("not decoded: %v", why)
	}
	if p.Len != 10 || p.SrcPort != 40000 {
		t.Errorf("len %d sport %d", p.Len, p.SrcPort)
	}
}

func TestDecodeSkips(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}
	tcp, pay := tcpLayer(0)
	good := serialize(t, eth, ip4(layers.IPProtocolTCP), tcp, pay)
	udp := serialize(t, eth, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, gopacket.Payload([]byte{1}))
	arp := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: 1, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			SourceHwAddress: mac1, SourceProtAddress: v4a, DstHwAddress: mac2, DstProtAddress: v4b})
	frag := append([]byte(nil), good...)
	frag[14+6] |= 0x20 // more fragments
	ihl := append([]byte(nil), good...)
	ihl[14] = 0x44 // IHL 4
	doff := append([]byte(nil), good...)
	doff[14+20+12] = 0x40 // data offset 4
	doffPast := append([]byte(nil), good...)
	doffPast[14+20+12] = 0xf0 // data offset 15: past the packet
	tests := []struct {
		name string
		link uint16
		data []byte
		want SkipReason
		orig int // original length; 0 means the whole frame was captured
	}{
		{"udp", LinkEthernet, udp, SkipNotTCP, 0},
		{"arp", LinkEthernet, arp, SkipNotIP, 0},
		{"fragment not in 8-byte units", LinkEthernet, frag, SkipFragmentDropped, 0},
		{"ihl below 5", LinkEthernet, ihl, SkipMalformed, 0},
		{"tcp data offset below 5", LinkEthernet, doff, SkipMalformed, 0},
		{"tcp data offset past packet", LinkEthernet, doffPast, SkipMalformed, 0},
		{"tcp header cut by snaplen", LinkEthernet, good[:14+20+10], SkipTruncated, len(good)},
		{"ip header cut by snaplen", LinkEthernet, good[:14+10], SkipTruncated, len(good)},
		{"ip header short on the wire", LinkEthernet, good[:14+10], SkipMalformed, 0},
		{"unknown link type", 147, good, SkipLinkType, 0},
		{"empty", LinkEthernet, nil, SkipMalformed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p events.Packet
			orig := tt.orig
			if orig == 0 {
				orig = len(tt.data)
			}
			ok, why := New().Decode(tt.link, tt.data, uint32(orig), &p)
			if ok || why != tt.want {
				t.Errorf("got ok=%v reason %v, want %v", ok, why, tt.want)
			}
		})
	}
}

// TestDecodeLikeWireshark: frames that Wireshark still decodes as TCP, and
// so tcpviz does: TCP options cut by the snapshot length (the fixed header
// and the options present, no payload), and an IP length that claims more
// than a whole-captured frame holds (the segment is what the frame holds).
func TestDecodeLikeWireshark(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}
	tcp, pay := tcpLayer(100)
	good := serialize(t, eth, ip4(layers.IPProtocolTCP), tcp, pay)
	tcp, pay = tcpLayer(100)
	good6 := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolTCP), tcp, pay)
	long4 := append([]byte(nil), good...)
	long4[14+2], long4[14+3] = 0xff, 0xff
	long6 := append([]byte(nil), good6...)
	long6[14+4], long6[14+5] = 0xff, 0xff
	tests := []struct {
		name    string
		data    []byte
		orig    int
		wantLen uint32
		wantTS  bool
	}{
		{"options cut by the snapshot", good[:14+20+32], len(good), 100, true},
		{"IPv6 options cut by the snapshot", good6[:14+40+24], len(good6), 100, false},
		{"IPv4 total length past the frame", long4, len(long4), 100, true},
		{"IPv6 payload length past the frame", long6, len(long6), 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p events.Packet
			ok, why := New().Decode(LinkEthernet, tt.data, uint32(tt.orig), &p)
			if !ok {
				t.Fatalf("skipped: %v", why)
			}
			if p.Len != tt.wantLen || p.SrcPort != 40000 || p.Seq != 0xfffffff0 || p.Ack != 77 || p.Window != 501 || p.Options.HasTS != tt.wantTS {
				t.Errorf("len %d port %d seq %#x ack %d window %d ts %v", p.Len, p.SrcPort, p.Seq, p.Ack, p.Window, p.Options.HasTS)
			}
			if len(p.Payload) > int(p.Len) {
				t.Errorf("payload %d of %d", len(p.Payload), p.Len)
			}
		})
	}
}

func TestParseOptionsMalformed(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
		want events.Options
	}{
		{"mss then overrun", []byte{2, 4, 5, 0xb4, 8, 200}, events.Options{MSS: 1460, HasMSS: true}},
		{"zero length", []byte{3, 0, 7}, events.Options{}},
		{"wscale clamped", []byte{3, 3, 20}, events.Options{WScale: 14, HasWScale: true}},
		{"sack permitted and eol", []byte{4, 2, 0, 2, 4, 1, 1}, events.Options{SACKPerm: true}},
		{"odd sack length", []byte{5, 14, 0, 0, 0, 1, 0, 0, 0, 2, 9, 9, 9, 9}, events.Options{NumSACK: 1, SACK: [4]events.SACKBlock{{Left: 1, Right: 2}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o events.Options
			parseOptions(tt.opts, &o)
			if o != tt.want {
				t.Errorf("got %+v, want %+v", o, tt.want)
			}
		})
	}
}

func BenchmarkDecodeEthernetIPv4(b *testing.B) {
	t := &testing.T{}
	tcp, pay := tcpLayer(1448)
	frame := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay)[:128]
	d := New()
	var p events.Packet
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ok, _ := d.Decode(LinkEthernet, frame, 1514, &p); !ok {
			b.Fatal("not decoded")
		}
	}
}
