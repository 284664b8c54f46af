// Package decode turns captured frames into normalized TCP packets
// (events.Packet), through any stack of link layers, tunnels and overlays
// down to the innermost TCP header: VLAN/QinQ/PBB, MPLS, PPPoE and PPP,
// LLC/SNAP, FDDI, Cisco HDLC, 802.11 (with radiotap), NFLOG, GRE (keys,
// sequence numbers, transparent Ethernet, ERSPAN I/II/III, 802.11 from
// Wi-Fi controllers), VXLAN, VXLAN-GPE, Geneve, GTP-U, IP-in-IP, Teredo and
// AYIYA. IPv4 and IPv6 fragments are reassembled.
//
// gopacket's layers do the decoding where they have a DecodingLayer; small
// decoders in layers.go cover the rest. One Decoder reuses its layers for
// every frame: plain Ethernet/IPv4/TCP does not allocate.
//
// Frames that are not TCP, or that cannot be decoded, are reported with a
// SkipReason (and for unsupported encapsulations a Detail naming the
// protocol) so the caller can count them; nothing is dropped silently.
package decode

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
)

// Link types tcpviz decodes (pcap LINKTYPE_* values).
const (
	LinkNull         = 0   // BSD loopback, host-order family
	LinkEthernet     = 1   // Ethernet, with 802.1Q and QinQ tags
	LinkPPP          = 9   // PPP
	LinkFDDI         = 10  // FDDI
	LinkPPPHDLC      = 50  // PPP in HDLC-like framing
	LinkRaw          = 101 // raw IPv4/IPv6
	LinkCHDLC        = 104 // Cisco HDLC
	Link80211        = 105 // 802.11 without radiotap
	LinkLoop         = 108 // OpenBSD loopback, network-order family
	LinkSLL          = 113 // Linux cooked v1 (tcpdump -i any, older libpcap)
	LinkRadiotap     = 127 // 802.11 with a radiotap header
	LinkIPv4         = 228
	LinkIPv6         = 229
	LinkNFLOG        = 239 // Linux NFLOG
	LinkSLL2         = 276 // Linux cooked v2 (tcpdump -i any)
	LinkPPPoE        = 51  // PPPoE session without Ethernet (BSD sppp)
	LinkATM1483      = 100 // LLC/SNAP over ATM (RFC 1483)
	LinkEnc          = 109 // OpenBSD IPsec enc
	LinkPflog        = 117 // OpenBSD/FreeBSD pf log
	LinkPrism        = 119 // 802.11 with a Prism monitor header
	LinkAVS          = 163 // 802.11 with an AVS monitor header
	LinkJuniperEther = 178 // Ethernet captured on a Juniper router
	LinkPPI          = 192 // Per-Packet Information, then 802.11 or Ethernet
	LinkMPLS         = 219 // an MPLS label stack
	LinkIPoIB        = 242 // IP over InfiniBand
	LinkPktap        = 258 // Apple PKTAP
	linkRawAlt       = 12  // raw IP on some BSDs
	linkRawAlt2      = 14
)

// SkipReason says why a frame produced no TCP packet.
type SkipReason uint8

const (
	SkipNone            SkipReason = iota
	SkipLinkType                   // link type tcpviz cannot decode
	SkipNotIP                      // ARP, LLDP and other non-IP frames
	SkipNotTCP                     // UDP, ICMP and other IP protocols
	SkipFragment                   // an IP fragment: held for reassembly, or never completed
	SkipTruncated                  // the snapshot cut the IP or TCP header
	SkipMalformed                  // header fields contradict each other
	SkipUnsupported                // an encapsulation tcpviz does not decode (see Decoder.Detail)
	SkipFragmentDropped            // an IP fragment that cannot be reassembled (overlap, limits)
	numSkipReasons
)

var skipNames = [...]string{"", "unsupported_link_type", "not_ip", "not_tcp", "ip_fragment", "truncated", "malformed",
	"unsupported_encapsulation", "ip_fragment_dropped"}

func (r SkipReason) String() string {
	if int(r) < len(skipNames) {
		return skipNames[r]
	}
	return "unknown"
}

// NumSkipReasons bounds SkipReason values, for counters indexed by reason.
const NumSkipReasons = int(numSkipReasons)

// SkipReasons lists every reason, for reports that show zero counts too.
func SkipReasons() []SkipReason {
	out := make([]SkipReason, 0, numSkipReasons-1)
	for r := SkipLinkType; r < numSkipReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Detail names what was unsupported: a protocol field and its value, e.g.
// {"gre-proto", 0x88be}. It is comparable, so counters can key on it
// without allocating.
type Detail struct {
	Field string
	Value uint32
}

func (x Detail) String() string {
	if x.Field == "linktype" {
		return fmt.Sprintf("linktype-%d", x.Value)
	}
	if x.Value > 0xffff {
		return fmt.Sprintf("%s-0x%08x", x.Field, x.Value)
	}
	return fmt.Sprintf("%s-0x%04x", x.Field, x.Value)
}

// Config holds the decoder's settings.
type Config struct {
	// UDP ports of the UDP-based tunnels. A datagram is decoded as a tunnel
	// when its lower port is one of these (or, failing that, its higher one),
	// as Wireshark tries ports.
	VXLANPorts    []uint16 // default 4789
	VXLANGPEPorts []uint16 // default 4790
	GenevePorts   []uint16 // default 6081
	GTPUPorts     []uint16 // default 2152
	TeredoPorts   []uint16 // default 3544
	AYIYAPorts    []uint16 // default 5072
	// Fragments bounds IP reassembly.
	Fragments FragConfig
}

// DefaultConfig returns the IANA ports and the default reassembly limits.
func DefaultConfig() Config {
	return Config{
		VXLANPorts: []uint16{4789}, VXLANGPEPorts: []uint16{4790}, GenevePorts: []uint16{6081},
		GTPUPorts: []uint16{2152}, TeredoPorts: []uint16{3544}, AYIYAPorts: []uint16{5072},
		Fragments: DefaultFragConfig(),
	}
}

// What to decode next.
type next uint8

const (
	nDone next = iota
	nEthernet
	nDot1Q
	nSLL
	nSLL2
	nLoop
	nIP // IPv4 or IPv6 by the version nibble
	nIPv4
	nIPv6
	nUDP
	nGRE
	nMPLS
	nPPPoE
	nPPP
	nLLC
	nFDDI
	nCHDLC
	nPBB
	nDot11
	nRadiotap
	nNFLOG
	nEtherIP
	nLinkHeader // one of the headers linkHeader decodes, by link type
)

// UDP tunnel kinds, indexed by port.
const (
	uNone uint8 = iota
	uVXLAN
	uVXLANGPE
	uGeneve
	uGTPU
	uTeredo
	uAYIYA
)

// maxLayers bounds the layers decoded in one frame (tunnels in tunnels).
const maxLayers = 32

type feedback struct{ truncated bool }

func (f *feedback) SetTruncated() { f.truncated = true }

// Decoder decodes frames of any supported link type. It is not safe for
// concurrent use; give each goroutine its own.
type Decoder struct {
	eth      layers.Ethernet
	dot1q    layers.Dot1Q
	sll      cooked
	sll2     cooked
	loop     layers.Loopback
	ip4      layers.IPv4
	ip6      layers.IPv6
	tcp      layers.TCP
	udp      layers.UDP
	gre      layers.GRE
	erspan2  layers.ERSPANII
	vxlan    layers.VXLAN
	geneve   layers.Geneve
	gtp      gtpU
	llc      layers.LLC
	snap     layers.SNAP
	radiotap layers.RadioTap
	etherip  layers.EtherIP
	mpls     mplsStack
	pppoe    pppoeSession
	ppp      ppp
	chdlc    ciscoHDLC
	fddi     fddi
	pbb      pbbITag
	erspan3  erspan3
	gpe      vxlanGPE
	teredo   teredo
	ayiya    ayiya
	nflog    nflog
	dot11    dot11
	linkHdr  linkHeader

	df      feedback
	udpKind [65536]uint8
	frag    *reassembler
	fragCfg FragConfig
	paths   paths

	// Per frame.
	data    []byte
	origLen uint32
	now     int64
	path    encapPath
	tunnel  events.Tunnel
	detail  Detail
	v6      bool // the innermost IP header is IPv6
	l4len   int  // transport bytes the innermost IP header claims
	capLen  uint32
	wireLen uint32
	slow    bool // tests: the general path for every frame
	general int  // tests: frames that took the general path

	// The last shape decodeDirect decoded and its path.
	shape      uint32
	shapeEncap string
}

// encapEthIP is the path of the frames the direct path decodes.
const encapEthIP = "eth/ip"

// New returns a Decoder with the default settings.
func New() *Decoder { return NewWithConfig(DefaultConfig()) }

// NewWithConfig returns a Decoder with the given settings.
func NewWithConfig(cfg Config) *Decoder {
	d := &Decoder{fragCfg: cfg.Fragments}
	for _, x := range []struct {
		ports []uint16
		kind  uint8
	}{{cfg.VXLANPorts, uVXLAN}, {cfg.VXLANGPEPorts, uVXLANGPE}, {cfg.GenevePorts, uGeneve},
		{cfg.GTPUPorts, uGTPU}, {cfg.TeredoPorts, uTeredo}, {cfg.AYIYAPorts, uAYIYA}} {
		for _, p := range x.ports {
			d.udpKind[p] = x.kind
		}
	}
	return d
}

// Detail names the protocol of the last SkipUnsupported (and the link type
// of the last SkipLinkType).
func (d *Decoder) Detail() Detail { return d.detail }

// FragStats returns the reassembly counters so far.
func (d *Decoder) FragStats() FragStats {
	if d.frag == nil {
		return FragStats{}
	}
	return d.frag.stats
}

// firstLayer is the layer a link type starts with; also the frame inside a
// PPI or PKTAP header, by the link type that header names.
func firstLayer(linkType uint16) (next, bool) {
	switch linkType {
	case LinkEthernet:
		return nEthernet, true
	case LinkSLL:
		return nSLL, true
	case LinkSLL2:
		return nSLL2, true
	case LinkNull, LinkLoop:
		return nLoop, true
	case LinkIPv4:
		return nIPv4, true
	case LinkIPv6:
		return nIPv6, true
	case LinkRaw, linkRawAlt, linkRawAlt2:
		return nIP, true
	case LinkPPP, LinkPPPHDLC:
		return nPPP, true
	case LinkFDDI:
		return nFDDI, true
	case LinkCHDLC:
		return nCHDLC, true
	case Link80211:
		return nDot11, true
	case LinkRadiotap:
		return nRadiotap, true
	case LinkNFLOG:
		return nNFLOG, true
	case LinkPPPoE:
		return nPPPoE, true
	case LinkATM1483:
		return nLLC, true
	case LinkJuniperEther, LinkIPoIB, LinkPflog, LinkEnc, LinkPPI, LinkPrism, LinkAVS, LinkPktap:
		return nLinkHeader, true
	}
	return nDone, false
}

// decodeSafe is decode behind a recover, apart from Decode so that the
// common frame pays for no deferred call.
func (d *Decoder) decodeSafe(linkType uint16, data []byte, origLen uint32, p *events.Packet) (ok bool, why SkipReason) {
	d.general++
	defer func() {
		if recover() != nil { // a decoder bug on hostile input becomes a skipped frame, not a crash
			ok, why = false, SkipMalformed
		}
	}()
	return d.decode(linkType, data, origLen, p)
}

func (d *Decoder) decode(linkType uint16, data []byte, origLen uint32, p *events.Packet) (bool, SkipReason) {
	n, ok := firstLayer(linkType)
	if !ok {
		d.detail = Detail{"linktype", uint32(linkType)}
		return false, SkipLinkType
	}
	d.data, d.origLen, d.now = data, origLen, p.TS
	d.path = encapPath{}
	d.tunnel = 0
	d.detail = Detail{}
	d.capLen, d.wireLen = uint32(len(data)), origLen
	b := data
	for range maxLayers {
		var why SkipReason
		switch n {
		case nEthernet:
			if d.eth.DecodeFromBytes(b, &d.df) != nil {
				return false, d.failure()
			}
			d.path.add(elEth, 0)
			if d.eth.EthernetType == layers.EthernetTypeLLC && d.eth.Length > 1500 {
				return false, SkipNotIP // neither an 802.3 length nor an Ethernet type (Wireshark agrees)
			}
			n, b, why = d.etherType(uint16(d.eth.EthernetType), d.eth.Payload)
		case nDot1Q:
			if d.dot1q.DecodeFromBytes(b, &d.df) != nil {
				return false, d.failure()
			}
			d.path.add(elVLAN, uint32(d.dot1q.VLANIdentifier))
			n, b, why = d.etherType(uint16(d.dot1q.Type), d.dot1q.Payload)
		case nSLL:
			if d.sll.DecodeFromBytes(b, 1) != nil {
				return false, d.failure()
			}
			d.path.add(elSLL, 0)
			n, b, why = d.etherType(d.sll.Protocol, d.sll.Payload)
		case nSLL2:
			if d.sll2.DecodeFromBytes(b, 2) != nil {
				return false, d.failure()
			}
			d.path.add(elSLL2, 0)
			n, b, why = d.etherType(d.sll2.Protocol, d.sll2.Payload)
		case nLoop:
			if d.loop.DecodeFromBytes(b, &d.df) != nil {
				return false, d.failure()
			}
			d.path.add(elNull, 0)
			switch d.loop.Family {
			case layers.ProtocolFamilyIPv4:
				n, b = nIPv4, d.loop.Payload
			case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD, layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux:
				n, b = nIPv6, d.loop.Payload
			default:
				return false, SkipNotIP
			}
		case nIP:
			switch {
			case len(b) > 0 && b[0]>>4 == 4:
				n = nIPv4
			case len(b) > 0 && b[0]>>4 == 6:
				n = nIPv6
			case len(b) == 0:
				return false, d.failure()
			default:
				return false, SkipNotIP
			}
		case nIPv4, nIPv6:
			if len(b) == 0 {
				return false, SkipNotIP // the frame ends where IP should start
			}
			if n == nIPv4 {
				n, b, why = d.ipv4(b)
			} else {
				n, b, why = d.ipv6(b)
			}
		case nUDP:
			n, b, why = d.udpTunnel(b)
		case nGRE:
			n, b, why = d.greLayer(b)
		case nMPLS:
			if d.mpls.DecodeFromBytes(b) != nil {
				return false, d.failure()
			}
			d.path.add(elMPLS, d.mpls.Top)
			n, b, why = d.mplsPayload(d.mpls.Payload)
		case nPPPoE:
			if d.pppoe.DecodeFromBytes(b) != nil {
				return false, d.failure()
			}
			d.path.add(elPPPoE, 0)
			n, b, why = d.pppProto(d.pppoe.Protocol, d.pppoe.Payload)
		case nPPP:
			if d.ppp.DecodeFromBytes(b) != nil {
				return false, d.failure()
			}
			d.path.add(elPPP, 0)
			n, b, why = d.pppProto(d.ppp.Protocol, d.ppp.Payload)
		case nCHDLC:
			if d.chdlc.DecodeFromBytes(b) != nil {
				return false, d.failure()
			}
			d.path.add(elCHDLC, 0)
			n, b, why = d.etherType(d.chdlc.Protocol, d.chdlc.Payload)
		case nFDDI:
			if d.fddi.DecodeFromBytes(b) != nil {
				return false, d.failure()
			}
			d.path.add(elFDDI, 0)
			n, b = nLLC, d.fddi.Payload
		case nLLC:
			n, b, why = d.llcLayer(b)
		case nPBB:
			if d.pbb.DecodeFromBytes(b) != nil {
				return false, d.failure()
			}
			d.path.add(elPBB, d.pbb.ISID)
			n, b, why = d.etherType(d.pbb.Protocol, d.pbb.Payload)
		case nRadiotap:
			if d.radiotap.DecodeFromBytes(b, &d.df) != nil {
				return false, d.failure()
			}
			d.path.add(elRadiotap, 0)
			// gopacket leaves a frame check sequence at the end of the
			// payload, adding one when the frame had none.
			b = d.radiotap.Payload
			if len(b) < 4 {
				return false, d.failure()
			}
			b = b[:len(b)-4]
			n = nDot11
		case nDot11:
			n, b, why = d.dot11Layer(b)
		case nNFLOG:
			if d.nflog.DecodeFromBytes(b) != nil {
				return false, d.failure()
			}
			d.path.add(elNFLOG, 0)
			b = d.nflog.Payload
			switch d.nflog.Family {
			case 2:
				n = nIPv4
			case 10:
				n = nIPv6
			default:
				n = nIP
			}
		case nLinkHeader:
			if d.linkHdr.DecodeFromBytes(linkType, b) != nil {
				return false, d.failure()
			}
			d.path.add(d.linkHdr.Elem, 0)
			n, b = d.linkHdr.Next, d.linkHdr.Payload
			if n == nDone {
				return false, SkipNotIP
			}
		case nEtherIP:
			if d.etherip.DecodeFromBytes(b, &d.df) != nil {
				return false, d.failure()
			}
			n, b = nEthernet, d.etherip.Payload
		case nDone:
			return d.finishTCP(b, p)
		}
		if why != SkipNone {
			return false, why
		}
	}
	return false, SkipMalformed // more layers than any real stack has
}

// etherType dispatches on an Ethernet type (also used by SLL, Cisco HDLC,
// PBB and GRE-less tunnels).
func (d *Decoder) etherType(t uint16, b []byte) (next, []byte, SkipReason) {
	switch t {
	case 0x0800:
		return nIPv4, b, SkipNone
	case 0x86dd:
		return nIPv6, b, SkipNone
	case 0x8100, 0x88a8, 0x9100:
		return nDot1Q, b, SkipNone
	case 0x8847, 0x8848:
		return nMPLS, b, SkipNone
	case 0x8864:
		return nPPPoE, b, SkipNone
	case 0x88e7:
		return nPBB, b, SkipNone
	case 0x6558:
		return nEthernet, b, SkipNone
	case uint16(layers.EthernetTypeLLC), 0x0004: // 802.3 length field; SLL's 802.2 LLC
		return nLLC, b, SkipNone
	}
	return nDone, nil, SkipNotIP
}

func (d *Decoder) llcLayer(b []byte) (next, []byte, SkipReason) {
	if d.llc.DecodeFromBytes(b, &d.df) != nil {
		return nDone, nil, d.failure()
	}
	d.path.add(elLLC, 0)
	switch {
	case d.llc.DSAP == 0xaa && d.llc.SSAP == 0xaa:
		if d.snap.DecodeFromBytes(d.llc.Payload, &d.df) != nil {
			return nDone, nil, d.failure()
		}
		return d.etherType(uint16(d.snap.Type), d.snap.Payload)
	case d.llc.DSAP == 0x06: // IP directly over LLC (RFC 948)
		return nIPv4, d.llc.Payload, SkipNone
	}
	return nDone, nil, SkipNotIP // spanning tree, NetBIOS, ...
}

func (d *Decoder) pppProto(proto uint16, b []byte) (next, []byte, SkipReason) {
	switch proto {
	case 0x0021:
		return nIPv4, b, SkipNone
	case 0x0057:
		return nIPv6, b, SkipNone
	case 0x0281, 0x0283:
		return nMPLS, b, SkipNone
	}
	if proto >= 0x8000 { // LCP, IPCP, authentication: PPP's own control traffic
		return nDone, nil, SkipNotIP
	}
	return d.unsupported("ppp-proto", uint32(proto))
}

// mplsPayload guesses what follows the bottom label, as Wireshark does:
// IPv4 or IPv6 by the version nibble, otherwise an Ethernet pseudowire with
// or without the 4-byte control word.
func (d *Decoder) mplsPayload(b []byte) (next, []byte, SkipReason) {
	if len(b) == 0 {
		return nDone, nil, d.failure()
	}
	switch b[0] >> 4 {
	case 4:
		return nIPv4, b, SkipNone
	case 6:
		return nIPv6, b, SkipNone
	case 0:
		if len(b) >= 18 && knownEtherType(binary.BigEndian.Uint16(b[16:])) {
			return nEthernet, b[4:], SkipNone // control word, then Ethernet
		}
		if len(b) >= 14 && knownEtherType(binary.BigEndian.Uint16(b[12:])) {
			return nEthernet, b, SkipNone
		}
	}
	if len(b) >= 14 && knownEtherType(binary.BigEndian.Uint16(b[12:])) {
		return nEthernet, b, SkipNone
	}
	return d.unsupported("mpls-payload", uint32(b[0]>>4))
}

func knownEtherType(t uint16) bool {
	switch t {
	case 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x8847:
		return true
	}
	return false
}

// ipNext dispatches on the protocol after an IP header.
func (d *Decoder) ipNext(proto layers.IPProtocol, b []byte) (next, []byte, SkipReason) {
	switch proto {
	case layers.IPProtocolTCP:
		return nDone, b, SkipNone
	case layers.IPProtocolUDP:
		return nUDP, b, SkipNone
	case layers.IPProtocolGRE:
		return nGRE, b, SkipNone
	case layers.IPProtocolIPv4:
		return nIPv4, b, SkipNone
	case layers.IPProtocolIPv6:
		return nIPv6, b, SkipNone
	case layers.IPProtocolEtherIP:
		return nEtherIP, b, SkipNone
	case layers.IPProtocolMPLSInIP:
		return nMPLS, b, SkipNone
	}
	return nDone, nil, SkipNotTCP
}

// reassemblable is what may carry TCP after reassembly.
func reassemblable(proto layers.IPProtocol) bool {
	switch proto {
	case layers.IPProtocolTCP, layers.IPProtocolUDP, layers.IPProtocolGRE, layers.IPProtocolIPv4,
		layers.IPProtocolIPv6, layers.IPProtocolEtherIP, layers.IPProtocolMPLSInIP:
		return true
	}
	return false
}

func (d *Decoder) ipv4(b []byte) (next, []byte, SkipReason) {
	ip := &d.ip4
	if ip.DecodeFromBytes(b, &d.df) != nil || ip.Version != 4 {
		return nDone, nil, d.failure()
	}
	d.path.add(elIP, 0)
	d.v6 = false
	d.l4len = int(ip.Length) - int(ip.IHL)*4
	pay := ip.Payload
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		if !reassemblable(ip.Protocol) {
			return nDone, nil, SkipNotTCP
		}
		whole := len(pay) >= d.l4len
		if !whole && ip.FragOffset == 0 {
			// A first fragment cut by the snapshot length cannot be
			// reassembled; like Wireshark, decode what it holds.
			return d.ipNext(ip.Protocol, pay)
		}
		if !whole {
			return nDone, nil, SkipFragment
		}
		k := fragKey{id: uint32(ip.Id), proto: uint8(ip.Protocol), tunnel: d.tunnel, depth: d.path.n}
		copy(k.src[:4], ip.SrcIP.To4())
		copy(k.dst[:4], ip.DstIP.To4())
		out, why := d.reassemble(&k, int(ip.FragOffset)*8, ip.Flags&layers.IPv4MoreFragments != 0, pay, uint8(ip.Protocol))
		if why != SkipNone {
			return nDone, nil, why
		}
		d.path.add(elFrag, 0)
		d.l4len = len(out)
		pay = out
	}
	return d.ipNext(ip.Protocol, pay)
}

func (d *Decoder) ipv6(b []byte) (next, []byte, SkipReason) {
	ip := &d.ip6
	if ip.DecodeFromBytes(b, &d.df) != nil || ip.Version != 6 {
		return nDone, nil, d.failure()
	}
	d.path.add(elIP6, 0)
	d.v6 = true
	d.l4len = int(ip.Length)
	if ip.Length == 0 { // jumbogram, or a TSO capture
		d.l4len = len(ip.Payload)
	}
	nh, pay := ip.NextHeader, ip.Payload
	if ip.HopByHop != nil {
		// gopacket keeps a hop-by-hop header inside the IPv6 layer.
		nh = ip.HopByHop.NextHeader
		d.l4len -= ip.HopByHop.ActualLength
	}
	return d.ipv6Ext(nh, pay, false)
}

// ipv6Ext walks IPv6 extension headers to the upper-layer protocol,
// reassembling fragments on the way.
func (d *Decoder) ipv6Ext(nh layers.IPProtocol, b []byte, reassembled bool) (next, []byte, SkipReason) {
	for { // each header takes at least 8 bytes, so the walk ends
		var n int
		switch nh {
		case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination, 135, 139, 140:
			if len(b) < 2 {
				return nDone, nil, d.failure()
			}
			n = (int(b[1]) + 1) * 8
		case layers.IPProtocolAH:
			if len(b) < 2 {
				return nDone, nil, d.failure()
			}
			n = (int(b[1]) + 2) * 4
		case layers.IPProtocolIPv6Fragment:
			if len(b) < 8 {
				return nDone, nil, d.failure()
			}
			if reassembled {
				return nDone, nil, SkipMalformed // a fragment header inside a reassembled datagram
			}
			off := int(binary.BigEndian.Uint16(b[2:]) &^ 7)
			more := b[3]&1 != 0
			proto := layers.IPProtocol(b[0])
			pay := b[8:]
			d.l4len -= 8
			if off == 0 && !more { // an atomic fragment (RFC 6946): the whole packet
				nh, b = proto, pay
				continue
			}
			whole := len(pay) >= d.l4len
			if !whole && off == 0 {
				nh, b = proto, pay // cut by the snapshot: decode what the first fragment holds
				continue
			}
			if !whole {
				return nDone, nil, SkipFragment
			}
			if d.l4len < len(pay) {
				pay = pay[:d.l4len]
			}
			k := fragKey{id: binary.BigEndian.Uint32(b[4:]), v6: true, tunnel: d.tunnel, depth: d.path.n}
			k.src, k.dst = [16]byte(d.ip6.SrcIP), [16]byte(d.ip6.DstIP)
			out, why := d.reassemble(&k, off, more, pay, uint8(proto))
			if why != SkipNone {
				return nDone, nil, why
			}
			d.path.add(elFrag, 0)
			d.l4len = len(out)
			// The first fragment's next header names what the datagram holds.
			nh, b, reassembled = d.frag.proto, out, true
			continue
		case layers.IPProtocolNoNextHeader:
			return nDone, nil, SkipNotTCP
		default:
			return d.ipNext(nh, b)
		}
		if len(b) < n {
			return nDone, nil, d.failure()
		}
		nh = layers.IPProtocol(b[0])
		b = b[n:]
		d.l4len -= n
	}
}

func (d *Decoder) udpTunnel(b []byte) (next, []byte, SkipReason) {
	u := &d.udp
	if u.DecodeFromBytes(b, &d.df) != nil {
		return nDone, nil, d.failure()
	}
	lo, hi := uint16(u.SrcPort), uint16(u.DstPort)
	if lo > hi {
		lo, hi = hi, lo
	}
	kind := d.udpKind[lo]
	if kind == uNone {
		kind = d.udpKind[hi]
	}
	if kind == uNone {
		return nDone, nil, SkipNotTCP
	}
	d.path.add(elUDP, 0)
	b = u.Payload
	switch kind {
	case uVXLAN:
		if d.vxlan.DecodeFromBytes(b, &d.df) != nil {
			return nDone, nil, d.failure()
		}
		d.path.add(elVXLAN, 0)
		d.tunnel = events.MakeTunnel(events.TunnelVXLAN, d.vxlan.VNI)
		return nEthernet, d.vxlan.Payload, SkipNone
	case uVXLANGPE:
		if d.gpe.DecodeFromBytes(b) != nil {
			return nDone, nil, d.failure()
		}
		d.path.add(elVXLANGPE, 0)
		d.tunnel = events.MakeTunnel(events.TunnelVXLANGPE, d.gpe.VNI)
		switch d.gpe.NextProt {
		case 1:
			return nIPv4, d.gpe.Payload, SkipNone
		case 2:
			return nIPv6, d.gpe.Payload, SkipNone
		case 3:
			return nEthernet, d.gpe.Payload, SkipNone
		case 5:
			return nMPLS, d.gpe.Payload, SkipNone
		}
		return d.unsupported("vxlan-gpe-next", uint32(d.gpe.NextProt))
	case uGeneve:
		if d.geneve.DecodeFromBytes(b, &d.df) != nil || d.geneve.Version != 0 {
			return nDone, nil, d.failure()
		}
		d.path.add(elGeneve, 0)
		d.tunnel = events.MakeTunnel(events.TunnelGeneve, d.geneve.VNI)
		switch t := uint16(d.geneve.Protocol); t {
		case 0x6558, 0x0800, 0x86dd, 0x8847:
			return d.etherType(t, d.geneve.Payload)
		default:
			return d.unsupported("geneve-proto", uint32(t))
		}
	case uGTPU:
		g := &d.gtp
		if g.DecodeFromBytes(b) != nil {
			return nDone, nil, d.failure()
		}
		if g.Version != 1 || g.Protocol != 1 {
			return nDone, nil, SkipNotTCP // GTP' (charging) or not GTPv1 at all
		}
		if g.MessageType != 255 { // only G-PDUs carry user packets
			return nDone, nil, SkipNotIP
		}
		d.path.add(elGTPU, 0)
		d.tunnel = events.MakeTunnel(events.TunnelGTPU, g.TEID)
		return nIP, g.Payload, SkipNone
	case uTeredo:
		if d.teredo.DecodeFromBytes(b) != nil {
			return nDone, nil, SkipNotTCP // bubbles and other Teredo control packets
		}
		d.path.add(elTeredo, 0)
		return nIPv6, d.teredo.Payload, SkipNone
	case uAYIYA:
		if d.ayiya.DecodeFromBytes(b) != nil {
			return nDone, nil, d.failure()
		}
		if d.ayiya.OpCode != 1 { // only "forward" carries a packet
			return nDone, nil, SkipNotTCP
		}
		d.path.add(elAYIYA, 0)
		switch d.ayiya.NextHeader {
		case 4:
			return nIPv4, d.ayiya.Payload, SkipNone
		case 41:
			return nIPv6, d.ayiya.Payload, SkipNone
		}
		return d.unsupported("ayiya-next", uint32(d.ayiya.NextHeader))
	}
	return nDone, nil, SkipNotTCP
}

// isAruba reports the GRE protocol types Aruba controllers use for 802.11
// frames.
func isAruba(t uint16) bool {
	return (t >= 0x8200 && t <= 0x8370 && t&0x0f == 0) || t == 0x9000
}

func (d *Decoder) greLayer(b []byte) (next, []byte, SkipReason) {
	g := &d.gre
	if g.DecodeFromBytes(b, &d.df) != nil {
		return nDone, nil, d.failure()
	}
	if g.Version > 1 {
		return d.unsupported("gre-version", uint32(g.Version))
	}
	d.path.add(elGRE, 0)
	if g.KeyPresent && g.Version == 0 {
		d.tunnel = events.MakeTunnel(events.TunnelGRE, g.Key)
	}
	t, pay := uint16(g.Protocol), g.Payload
	switch {
	case t == 0x88be && g.SeqPresent: // ERSPAN type II
		if d.erspan2.DecodeFromBytes(pay, &d.df) != nil {
			return nDone, nil, d.failure()
		}
		d.path.add(elERSPAN2, 0)
		return nEthernet, d.erspan2.Payload, SkipNone
	case t == 0x88be: // ERSPAN type I: Ethernet right after GRE
		d.path.add(elERSPAN1, 0)
		return nEthernet, pay, SkipNone
	case t == 0x22eb:
		if d.erspan3.DecodeFromBytes(pay) != nil {
			return nDone, nil, d.failure()
		}
		d.path.add(elERSPAN3, 0)
		switch d.erspan3.FrameType {
		case 0:
			return nEthernet, d.erspan3.Payload, SkipNone
		case 2:
			return nIP, d.erspan3.Payload, SkipNone
		}
		return d.unsupported("erspan3-frame-type", uint32(d.erspan3.FrameType))
	case t == 0x880b: // PPTP
		return nPPP, pay, SkipNone
	case isAruba(t):
		return nDot11, pay, SkipNone
	case t == 0x0800, t == 0x86dd, t == 0x6558, t == 0x8847, t == 0x8848, t == 0x8100, t == 0x88a8:
		return d.etherType(t, pay)
	}
	return d.unsupported("gre-proto", uint32(t))
}

func (d *Decoder) dot11Layer(b []byte) (next, []byte, SkipReason) {
	w := &d.dot11
	if w.DecodeFromBytes(b) != nil {
		return nDone, nil, d.failure()
	}
	d.path.add(elWLAN, 0)
	switch {
	case !w.Data:
		return nDone, nil, SkipNotIP // management, control and null frames
	case w.Protected:
		return d.unsupported("wlan-protected", 1)
	case w.AMSDU:
		return d.unsupported("wlan-amsdu", 1)
	}
	return nLLC, w.Payload, SkipNone
}

func (d *Decoder) unsupported(field string, v uint32) (next, []byte, SkipReason) {
	d.detail = Detail{field, v}
	return nDone, nil, SkipUnsupported
}

// finishTCP decodes the TCP header at b, inside the innermost IP header.
func (d *Decoder) finishTCP(b []byte, p *events.Packet) (bool, SkipReason) {
	tcp := &d.tcp
	if tcp.DecodeFromBytes(b, &d.df) != nil && !d.cutOptions(b) {
		return false, d.failure()
	}
	hdrLen := int(tcp.DataOffset) * 4
	payLen := d.l4len - hdrLen
	if payLen < 0 {
		return false, SkipMalformed
	}
	if uint32(len(d.data)) >= d.origLen && len(tcp.Payload) < payLen {
		// The whole frame was captured, yet the IP length claims more TCP
		// data than it holds: the segment is what the frame holds, as in
		// Wireshark ("total length exceeds packet length"), never a phantom
		// 64 KiB.
		payLen = len(tcp.Payload)
	}
	if d.v6 {
		p.Src = netip.AddrFrom16([16]byte(d.ip6.SrcIP))
		p.Dst = netip.AddrFrom16([16]byte(d.ip6.DstIP))
		p.IPID = 0
	} else {
		p.IPID = d.ip4.Id
		p.Src = netip.AddrFrom4([4]byte(d.ip4.SrcIP.To4()))
		p.Dst = netip.AddrFrom4([4]byte(d.ip4.DstIP.To4()))
	}
	p.SrcPort = uint16(tcp.SrcPort)
	p.DstPort = uint16(tcp.DstPort)
	p.Seq = tcp.Seq
	p.Ack = tcp.Ack
	p.Flags = tcpFlags(tcp.Contents)
	p.Window = tcp.Window
	p.Len = uint32(payLen)
	p.CapLen = d.capLen
	p.WireLen = d.wireLen
	p.Payload = tcp.Payload
	if len(p.Payload) > payLen {
		p.Payload = p.Payload[:payLen] // Ethernet padding
	}
	parseOptions(tcp.Contents[20:], &p.Options)
	p.Encap = d.paths.intern(&d.path)
	p.Tunnel = d.tunnel
	p.Flow, p.Dir, p.RelSeq, p.RelAck, p.WindowScaled = 0, 0, 0, 0, -1
	return true, SkipNone
}

// cutOptions decodes a TCP header whose options the snapshot length cut
// (an IPv6 capture with -s 64 or 68): the fixed 20 bytes and the options
// present, no payload, as Wireshark still does.
func (d *Decoder) cutOptions(b []byte) bool {
	if len(b) < 20 || uint32(len(d.data)) >= d.origLen {
		return false
	}
	off := b[12] >> 4
	if off < 5 || int(off)*4 <= len(b) {
		return false
	}
	tcp := &d.tcp
	tcp.SrcPort = layers.TCPPort(binary.BigEndian.Uint16(b[0:]))
	tcp.DstPort = layers.TCPPort(binary.BigEndian.Uint16(b[2:]))
	tcp.Seq = binary.BigEndian.Uint32(b[4:])
	tcp.Ack = binary.BigEndian.Uint32(b[8:])
	tcp.DataOffset = off
	tcp.Window = binary.BigEndian.Uint16(b[14:])
	tcp.Contents, tcp.Payload = b, nil
	return true
}

func tcpFlags(hdr []byte) uint16 {
	f := uint16(hdr[13])
	if hdr[12]&1 != 0 {
		f |= events.FlagNS
	}
	return f
}

// failure classifies a frame whose headers failed to decode: cut by the
// snapshot length when the frame was captured short, malformed otherwise.
func (d *Decoder) failure() SkipReason {
	if uint32(len(d.data)) < d.origLen {
		return SkipTruncated
	}
	return SkipMalformed
}

// sackBlocks reads the blocks of a SACK option's value v into o, after
// those it holds: a second SACK option in one list adds its blocks (each
// wrote from the first place and counted on, which left places counted but
// never written). Four at most; a partial block at the end is ignored.
func sackBlocks(v []byte, o *events.Options) {
	for ; len(v) >= 8 && int(o.NumSACK) < len(o.SACK); v = v[8:] {
		o.SACK[o.NumSACK] = events.SACKBlock{Left: binary.BigEndian.Uint32(v), Right: binary.BigEndian.Uint32(v[4:])}
		o.NumSACK++
	}
}

// parseOptions reads the TCP options that tcpviz uses. A malformed option
// list stops parsing at the bad option; what was read before is kept. It
// reports whether the list is well formed as gopacket checks it (which
// rejects the frame otherwise): every option but End and NOP has a length
// of at least 2 that fits in the list.
func parseOptions(b []byte, o *events.Options) bool {
	*o = events.Options{}
	// Linux starts the options of every segment past the handshake with
	// NOP, NOP, Timestamps: read them in one step.
	if linuxTS(b) {
		o.HasTS, o.TSVal, o.TSEcr = true, binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
		b = b[12:]
		// And on a segment that acknowledges out of order, NOP, NOP,
		// SACK blocks to the end of the list: in one step too.
		if len(b) >= 4 && b[0] == 1 && b[1] == 1 && b[2] == 5 && b[3] >= 2 && int(b[3]) == len(b)-2 {
			sackBlocks(b[4:], o)
			return true
		}
	}
	for len(b) > 0 {
		kind := b[0]
		if kind == 0 { // end of list
			return true
		}
		if kind == 1 { // NOP
			b = b[1:]
			continue
		}
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return false
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
			sackBlocks(v, o)
		case 8:
			if len(v) == 8 {
				o.HasTS, o.TSVal, o.TSEcr = true, binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
			}
		default:
			o.HasUnknown = true
		}
		b = b[l:]
	}
	return true
}
