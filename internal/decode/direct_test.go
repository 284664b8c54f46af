package decode

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
)

// directLink is a link header of a shape decodeDirect decodes, around an
// IPv4 or IPv6 packet.
type directLink struct {
	name string
	link uint16
	hdr  func(v6 bool) []byte
	path string // the IP element is added
}

func etherTypeOf(v6 bool) []byte {
	if v6 {
		return []byte{0x86, 0xdd}
	}
	return []byte{0x08, 0x00}
}

func macs() []byte { return append(append([]byte(nil), mac2...), mac1...) }

func family(v4, v6 uint32, order binary.AppendByteOrder) func(bool) []byte {
	return func(isV6 bool) []byte {
		if isV6 {
			return order.AppendUint32(nil, v6)
		}
		return order.AppendUint32(nil, v4)
	}
}

var directLinks = []directLink{
	{"ethernet", LinkEthernet, func(v6 bool) []byte { return append(macs(), etherTypeOf(v6)...) }, "eth/"},
	{"vlan", LinkEthernet, func(v6 bool) []byte {
		// Priority 7 and the drop bit around id 7.
		return append(append(macs(), 0x81, 0x00, 0xf0, 0x07), etherTypeOf(v6)...)
	}, "eth/vlan:7/"},
	{"qinq", LinkEthernet, func(v6 bool) []byte {
		return append(append(macs(), 0x88, 0xa8, 0x0f, 0xff, 0x81, 0x00, 0x00, 0x64), etherTypeOf(v6)...)
	}, "eth/vlan:4095/vlan:100/"},
	{"vlan-9100", LinkEthernet, func(v6 bool) []byte {
		return append(append(macs(), 0x91, 0x00, 0x00, 0x00), etherTypeOf(v6)...)
	}, "eth/vlan:0/"},
	{"sll", LinkSLL, func(v6 bool) []byte {
		return append([]byte{0, 4, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0}, etherTypeOf(v6)...)
	}, "sll/"},
	{"sll2", LinkSLL2, func(v6 bool) []byte {
		return append(etherTypeOf(v6), 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 0, 1, 2, 3, 4, 5, 0, 0)
	}, "sll2/"},
	{"null", LinkNull, family(2, 30, binary.LittleEndian), "null/"},
	{"null-big-endian", LinkNull, family(2, 10, binary.BigEndian), "null/"},
	{"loop", LinkLoop, family(2, 24, binary.BigEndian), "null/"},
	{"loop-freebsd", LinkLoop, family(2, 28, binary.BigEndian), "null/"},
	{"raw", LinkRaw, func(bool) []byte { return nil }, ""},
	{"raw-12", linkRawAlt, func(bool) []byte { return nil }, ""},
	{"raw-14", linkRawAlt2, func(bool) []byte { return nil }, ""},
	{"raw-ipv4", LinkIPv4, func(bool) []byte { return nil }, ""},
	{"raw-ipv6", LinkIPv6, func(bool) []byte { return nil }, ""},
}

// directPacket is a variant of an IP packet in a frame, and whether the
// direct path decodes it.
type directPacket struct {
	name   string
	ip     func(t *testing.T, v6 bool) []byte
	pad    int  // bytes after the IP packet (Ethernet padding, a trailer)
	cut    int  // bytes the snapshot cut from the end
	direct bool // decodeDirect decodes it without gopacket
}

func plainIP(payload int) func(*testing.T, bool) []byte {
	return func(t *testing.T, v6 bool) []byte {
		tcp, pay := tcpLayer(payload)
		if v6 {
			return serialize(t, ip6(layers.IPProtocolTCP), tcp, pay)
		}
		return serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
	}
}

// withIPLength sets the IP header's length to the packet's plus more.
func withIPLength(more int) func(*testing.T, bool) []byte {
	return func(t *testing.T, v6 bool) []byte {
		b := plainIP(30)(t, v6)
		if v6 {
			binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40+more))
		} else {
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)+more))
		}
		return b
	}
}

// withIPOptions is an IPv4 packet with a 4-byte option list, or an IPv6
// one behind extension headers.
func withIPOptions(t *testing.T, v6 bool) []byte {
	if v6 {
		return ipv6WithExtensions(t)
	}
	b := plainIP(10)(t, false)
	out := append(append(append([]byte(nil), b[:20]...), 1, 1, 1, 0), b[20:]...)
	out[0] = 0x46
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	return out
}

// withFragment is a first IPv4 fragment, or an IPv6 jumbogram length.
func withFragment(t *testing.T, v6 bool) []byte {
	b := plainIP(16)(t, v6)
	if v6 {
		binary.BigEndian.PutUint16(b[4:], 0)
	} else {
		b[6] |= 0x20
	}
	return b
}

var directPackets = []directPacket{
	{name: "whole", ip: plainIP(100), direct: true},
	{name: "no-payload", ip: plainIP(0), direct: true},
	{name: "padded", ip: plainIP(0), pad: 6, direct: true},
	{name: "payload-cut", ip: plainIP(100), cut: 60, direct: true},
	{name: "header-cut", ip: plainIP(100), cut: 100 + 12, direct: false}, // in the options: cutOptions
	{name: "ip-cut", ip: plainIP(0), cut: 32 + 8, direct: false},
	{name: "length-beyond-frame", ip: withIPLength(20), direct: true},
	{name: "length-beyond-cut-frame", ip: withIPLength(20), cut: 10, direct: true},
	{name: "length-short", ip: withIPLength(-40), direct: false},
	{name: "ip-options", ip: withIPOptions, direct: false},
	{name: "fragment", ip: withFragment, direct: false},
}

// TestDirectPathShapes: each link and IP shape of decodeDirect, whole,
// padded and cut, gives what gopacket's path gives, and takes the direct
// path exactly where it should.
func TestDirectPathShapes(t *testing.T) {
	fast, slow := New(), New()
	slow.slow = true
	for _, l := range directLinks {
		for _, v6 := range []bool{false, true} {
			if (l.link == LinkIPv4 && v6) || (l.link == LinkIPv6 && !v6) {
				continue
			}
			for _, c := range directPackets {
				frame := append(l.hdr(v6), c.ip(t, v6)...)
				frame = append(frame, make([]byte, c.pad)...)
				origLen := uint32(len(frame))
				frame = frame[:len(frame)-c.cut]
				before := fast.general
				ok := sameDecode(t, fast, slow, l.link, frame, origLen)
				direct := fast.general == before
				if direct != c.direct {
					t.Errorf("%s v6=%v %s: direct path %v, want %v", l.name, v6, c.name, direct, c.direct)
				}
				if direct && !ok {
					t.Errorf("%s v6=%v %s: direct path without a packet", l.name, v6, c.name)
				}
			}
		}
	}
}

// TestDirectPathEncap: the path string of each shape.
func TestDirectPathEncap(t *testing.T) {
	d := New()
	for _, l := range directLinks {
		for _, v6 := range []bool{false, true} {
			if (l.link == LinkIPv4 && v6) || (l.link == LinkIPv6 && !v6) {
				continue
			}
			want := l.path + "ip"
			if v6 {
				want = l.path + "ip6"
			}
			frame := append(l.hdr(v6), plainIP(10)(t, v6)...)
			var p events.Packet
			if ok, why := d.Decode(l.link, frame, uint32(len(frame)), &p); !ok || p.Encap != want {
				t.Errorf("%s v6=%v: %v %v encap %q, want %q", l.name, v6, ok, why, p.Encap, want)
			}
		}
	}
}

// TestDirectPathDeclines: link headers next to the shapes decodeDirect
// decodes go to gopacket's path, and both paths agree on them.
func TestDirectPathDeclines(t *testing.T) {
	fast, slow := New(), New()
	slow.slow = true
	for _, c := range []struct {
		name string
		link uint16
		hdr  []byte
		v6   bool
	}{
		{"three-tags", LinkEthernet, append(macs(), 0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 8, 0), false},
		{"arp", LinkEthernet, append(macs(), 0x08, 0x06), false},
		{"sll-vlan", LinkSLL, []byte{0, 4, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0x81, 0, 0, 7, 8, 0}, false},
		{"null-family", LinkNull, []byte{31, 0, 0, 0}, true},
		{"loop-too-large", LinkLoop, []byte{0, 0, 1, 2}, true},
		{"raw-version", LinkRaw, []byte{0x55}, false},
		{"ipv6-link-ipv4", LinkIPv6, nil, false},
	} {
		frame := append(append([]byte(nil), c.hdr...), plainIP(10)(t, c.v6)...)
		before := fast.general
		sameDecode(t, fast, slow, c.link, frame, uint32(len(frame)))
		if fast.general == before {
			t.Errorf("%s: direct path", c.name)
		}
	}
}
