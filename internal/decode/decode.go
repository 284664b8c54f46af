// Package decode turns captured frames into normalized TCP packets
// (events.Packet). It uses gopacket's DecodingLayerParser so the hot path
// does not allocate: one Decoder reuses its layers for every frame.
//
// Frames that are not TCP, or that cannot be decoded, are reported with a
// SkipReason so the caller can count them; nothing is dropped silently.
package decode

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
)

// Link types tcpviz decodes (pcap LINKTYPE_* values).
const (
	LinkNull     = 0   // BSD loopback, host-order family
	LinkEthernet = 1   // Ethernet, with 802.1Q and QinQ tags
	LinkRaw      = 101 // raw IPv4/IPv6
	LinkLoop     = 108 // OpenBSD loopback, network-order family
	LinkSLL      = 113 // Linux cooked v1 (tcpdump -i any, older libpcap)
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276 // Linux cooked v2 (tcpdump -i any)
	linkRawAlt   = 12  // raw IP on some BSDs
	linkRawAlt2  = 14
)

// SkipReason says why a frame produced no TCP packet.
type SkipReason uint8

const (
	SkipNone      SkipReason = iota
	SkipLinkType             // link type tcpviz cannot decode
	SkipNotIP                // ARP, LLDP and other non-IP frames
	SkipNotTCP               // UDP, ICMP and other IP protocols
	SkipFragment             // IP fragments: TCP headers are not reassembled
	SkipTruncated            // the snapshot cut the IP or TCP header
	SkipMalformed            // header fields contradict each other
	numSkipReasons
)

var skipNames = [...]string{"", "unsupported_link_type", "not_ip", "not_tcp", "ip_fragment", "truncated", "malformed"}

func (r SkipReason) String() string {
	if int(r) < len(skipNames) {
		return skipNames[r]
	}
	return "unknown"
}

// SkipReasons lists every reason, for reports that show zero counts too.
func SkipReasons() []SkipReason {
	out := make([]SkipReason, 0, numSkipReasons-1)
	for r := SkipLinkType; r < numSkipReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Decoder decodes frames of any supported link type. It is not safe for
// concurrent use; give each goroutine its own.
type Decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	ext   layers.IPv6ExtensionSkipper
	tcp   layers.TCP

	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	slow    bool // tests: gopacket's path for every frame
}

// New returns a Decoder.
func New() *Decoder {
	d := &Decoder{parsers: make(map[gopacket.LayerType]*gopacket.DecodingLayerParser), decoded: make([]gopacket.LayerType, 0, 16)}
	return d
}

func (d *Decoder) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	p := d.parsers[first]
	if p == nil {
		p = gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.ext, &d.tcp)
		p.IgnoreUnsupported = true
		p.IgnorePanic = true // a decoder bug on hostile input becomes a skipped frame, not a crash
		d.parsers[first] = p
	}
	return p
}

func firstLayer(linkType uint16, data []byte) (gopacket.LayerType, bool) {
	switch linkType {
	case LinkEthernet:
		return layers.LayerTypeEthernet, true
	case LinkSLL:
		return layers.LayerTypeLinuxSLL, true
	case LinkSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case LinkNull, LinkLoop:
		return layers.LayerTypeLoopback, true
	case LinkIPv4:
		return layers.LayerTypeIPv4, true
	case LinkIPv6:
		return layers.LayerTypeIPv6, true
	case LinkRaw, linkRawAlt, linkRawAlt2:
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, true
		}
		return layers.LayerTypeIPv4, true
	}
	return 0, false
}

// Decode fills p from one frame. data is the captured bytes and origLen the
// frame's length on the wire. On success p holds the wire fields (Flow, Dir
// and the relative numbers are left for the flow table) and Payload points
// into data.
func (d *Decoder) Decode(linkType uint16, data []byte, origLen uint32, p *events.Packet) (bool, SkipReason) {
	if linkType == LinkEthernet && !d.slow && fastEthIPv4TCP(data, origLen, p) {
		return true, SkipNone
	}
	first, ok := firstLayer(linkType, data)
	if !ok {
		return false, SkipLinkType
	}
	d.decoded = d.decoded[:0]
	err := d.parser(first).DecodeLayers(data, &d.decoded)

	var sawIP4, sawIP6, sawTCP, sawFrag bool
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			sawIP4 = true
		case layers.LayerTypeIPv6:
			sawIP6 = true
		case layers.LayerTypeIPv6Fragment:
			sawFrag = true
		case layers.LayerTypeTCP:
			sawTCP = true
		}
	}
	if !sawIP4 && !sawIP6 {
		if err != nil {
			return false, failure(data, origLen)
		}
		return false, SkipNotIP
	}
	if sawIP4 && (d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0) {
		return false, SkipFragment
	}
	if sawFrag {
		return false, SkipFragment
	}
	if !sawTCP {
		if err != nil {
			return false, failure(data, origLen)
		}
		if (sawIP4 && d.ip4.Protocol == layers.IPProtocolTCP) || (sawIP6 && d.lastIP6Next() == layers.IPProtocolTCP) {
			return false, SkipTruncated // the TCP header itself was cut
		}
		return false, SkipNotTCP
	}
	if err != nil {
		// Layers after TCP (payload protocols) are never decoded, so an error
		// here concerns the TCP header.
		return false, failure(data, origLen)
	}

	tcp := &d.tcp
	hdrLen := int(tcp.DataOffset) * 4
	var payLen int
	if sawIP4 {
		p.Src = netip.AddrFrom4([4]byte(d.ip4.SrcIP.To4()))
		p.Dst = netip.AddrFrom4([4]byte(d.ip4.DstIP.To4()))
		payLen = int(d.ip4.Length) - int(d.ip4.IHL)*4 - hdrLen
	} else {
		p.Src = netip.AddrFrom16([16]byte(d.ip6.SrcIP))
		p.Dst = netip.AddrFrom16([16]byte(d.ip6.DstIP))
		// The IPv6 payload length covers extension headers, the TCP header and
		// the data. gopacket already removed a hop-by-hop header from Payload.
		tcpBytes := len(tcp.Contents) + len(tcp.Payload)
		ext := len(d.ip6.Payload) - tcpBytes
		if d.ip6.HopByHop != nil {
			ext += d.ip6.HopByHop.ActualLength
		}
		payLen = int(d.ip6.Length) - ext - hdrLen
	}
	if payLen < 0 {
		return false, SkipMalformed
	}
	if uint32(len(data)) >= origLen && len(tcp.Payload) < payLen {
		// The whole frame was captured, yet the IP length claims more TCP
		// data than it holds: a phantom segment, not a snapshot cut.
		return false, SkipMalformed
	}
	p.SrcPort = uint16(tcp.SrcPort)
	p.DstPort = uint16(tcp.DstPort)
	p.Seq = tcp.Seq
	p.Ack = tcp.Ack
	flags := tcpFlags(tcp.Contents)
	p.Flags = flags
	p.Window = tcp.Window
	p.Len = uint32(payLen)
	p.CapLen = uint32(len(data))
	p.WireLen = origLen
	p.Payload = tcp.Payload
	if len(p.Payload) > payLen {
		p.Payload = p.Payload[:payLen] // Ethernet padding
	}
	parseOptions(tcp.Contents[20:], &p.Options)
	p.Flow, p.Dir, p.RelSeq, p.RelAck, p.WindowScaled = 0, 0, 0, 0, -1
	return true, SkipNone
}

func tcpFlags(hdr []byte) uint16 {
	f := uint16(hdr[13])
	if hdr[12]&1 != 0 {
		f |= events.FlagNS
	}
	return f
}

// lastIP6Next is the protocol the IPv6 chain announced last: the IPv6 header's
// next header, or that of the last extension header decoded.
func (d *Decoder) lastIP6Next() layers.IPProtocol {
	for i := len(d.decoded) - 1; i >= 0; i-- {
		switch d.decoded[i] {
		case layers.LayerTypeIPv6:
			return d.ip6.NextHeader
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			return d.ext.NextHeader
		}
	}
	return 0
}

// failure classifies a frame whose headers failed to decode: cut by the
// snapshot length when the frame was captured short, malformed otherwise.
func failure(data []byte, origLen uint32) SkipReason {
	if uint32(len(data)) < origLen {
		return SkipTruncated
	}
	return SkipMalformed
}

// parseOptions reads the TCP options that tcpviz uses. A malformed option
// list stops parsing at the bad option; what was read before is kept.
func parseOptions(b []byte, o *events.Options) {
	*o = events.Options{}
	for len(b) > 0 {
		kind := b[0]
		if kind == 0 { // end of list
			return
		}
		if kind == 1 { // NOP
			b = b[1:]
			continue
		}
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return
		}
		l := int(b[1])
		v := b[2:l]
		switch kind {
		case 2:
			if len(v) == 2 {
				o.MSS, o.HasMSS = binary.BigEndian.Uint16(v), true
			}
		case 3:
			if len(v) == 1 {
				o.WScale, o.HasWScale = min(v[0], 14), true // RFC 7323: larger shifts are treated as 14
			}
		case 4:
			o.SACKPerm = true
		case 5:
			for n := 0; len(v) >= 8 && n < len(o.SACK); n++ {
				o.SACK[n] = events.SACKBlock{Left: binary.BigEndian.Uint32(v), Right: binary.BigEndian.Uint32(v[4:])}
				o.NumSACK++
				v = v[8:]
			}
		case 8:
			if len(v) == 8 {
				o.HasTS, o.TSVal, o.TSEcr = true, binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
			}
		default:
			o.HasUnknown = true
		}
		b = b[l:]
	}
}
