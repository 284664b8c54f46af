package decode

import (
	"encoding/binary"
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
)

// Decode fills p from one frame. data is the captured bytes and origLen the
// frame's length on the wire; p.TS must hold the capture time (fragment
// reassembly times out on it). On success every field of p but Frame, TS
// and Interface is written, so p needs no clearing between frames: the wire
// fields, Flow, Dir and the relative numbers zeroed for the flow table, and
// Payload pointing into data, or into a buffer of its own for a reassembled
// datagram.
//
// A frame that completes a fragmented datagram returns the reassembled
// packet; its CapLen and WireLen are the sums over the datagram's frames.
//
// The frame almost every capture is made of — Ethernet, IPv4 without
// options or fragmentation, TCP with its whole header and well-formed
// options — is decoded here, straight from the bytes, in a fraction of
// gopacket's time; the other common frames (VLAN tags, Linux cooked, raw
// IP, loopback, IPv6) in decodeDirect, and anything else takes gopacket's
// path (decodeSafe). On the frames the direct paths accept both give the
// same Packet (TestFastPathMatchesGopacket checks every sample frame and
// each shape). It is written out in this one function rather than called:
// a call here spilled every argument to the stack and back, a tenth of the
// reader's instructions.
func (d *Decoder) Decode(linkType uint16, data []byte, origLen uint32, p *events.Packet) (ok bool, why SkipReason) {
	// Fixed offsets into one array: Ethernet 0-13, IPv4 14-33, TCP from 34.
	if linkType != LinkEthernet || d.slow || len(data) < 14+20+20 {
		return d.decodeDirect(linkType, data, origLen, p)
	}
	h := (*[14 + 20 + 20]byte)(data)
	if h[12] != 0x08 || h[13] != 0x00 || h[14] != 0x45 || h[23] != 6 || binary.BigEndian.Uint16(h[20:])&0x3fff != 0 {
		return d.decodeDirect(linkType, data, origLen, p) // VLAN, IPv6; or not IPv4 with a 20-byte header, not TCP, or a fragment
	}
	ipLen := int(binary.BigEndian.Uint16(h[16:]))
	hdrLen := int(h[46]>>4) * 4
	end := min(14+ipLen, len(data)) // without Ethernet padding
	if ipLen < 40 || hdrLen < 20 || 34+hdrLen > end {
		return d.decodeSafe(linkType, data, origLen, p)
	}
	payLen := ipLen - 20 - hdrLen
	payload := data[34+hdrLen : end]
	if payLen < 0 || (uint32(len(data)) >= origLen && len(payload) < payLen) {
		return d.decodeDirect(linkType, data, origLen, p) // a negative length, or one beyond the whole frame
	}
	p.Src = netip.AddrFrom4([4]byte(h[26:30]))
	p.Dst = netip.AddrFrom4([4]byte(h[30:34]))
	p.SrcPort = binary.BigEndian.Uint16(h[34:])
	p.DstPort = binary.BigEndian.Uint16(h[36:])
	p.Seq = binary.BigEndian.Uint32(h[38:])
	p.Ack = binary.BigEndian.Uint32(h[42:])
	p.Flags = tcpFlags(h[34:])
	p.Window = binary.BigEndian.Uint16(h[48:])
	p.IPID = binary.BigEndian.Uint16(h[18:])
	p.Len = uint32(payLen)
	p.CapLen = uint32(len(data))
	p.WireLen = origLen
	if len(payload) > payLen {
		payload = payload[:payLen]
	}
	p.Payload = payload
	p.Encap, p.Tunnel = encapEthIP, 0
	p.Flow, p.Dir, p.RelSeq, p.RelAck, p.WindowScaled = 0, 0, 0, 0, -1
	// The options last, so that nothing above waits on the stack across
	// the call: Linux sends NOP, NOP, Timestamps alone on every segment
	// past the handshake that carries no SACK blocks. A list gopacket
	// rejects sends the frame there (which writes the packet again).
	switch opts := data[54 : 34+hdrLen]; {
	case len(opts) == 12 && linuxTS(opts):
		p.Options = events.Options{HasTS: true, TSVal: binary.BigEndian.Uint32(opts[4:]), TSEcr: binary.BigEndian.Uint32(opts[8:])}
	case !parseOptions(opts, &p.Options):
		return d.decodeSafe(linkType, data, origLen, p)
	}
	return true, SkipNone
}

// linuxTS reports whether the options b start with NOP, NOP, Timestamps,
// as Linux starts those of every segment past the handshake.
func linuxTS(b []byte) bool {
	return len(b) >= 12 && binary.BigEndian.Uint32(b) == 0x0101080a
}

// Shapes of the frames decodeDirect decodes, as a key: the link (low 3
// bits), IPv6 (bit 3), a bit for each VLAN tag (bits 4 and 5) and their
// ids (bits 8-19 and 20-31). Zero is no shape.
const (
	shapeEth uint32 = iota + 1
	shapeSLL
	shapeSLL2
	shapeNull
	shapeRaw

	shapeKind  = 7
	shapeV6    = 1 << 3
	shapeTag1  = 1 << 4 // the second tag's bit is shapeTag1<<1
	shapeTagID = 8
)

// decodeDirect decodes the other frames real captures are made of straight
// from the bytes: Ethernet with up to two VLAN tags, Linux cooked v1 and
// v2, raw IP, BSD loopback; IPv4 with a 20-byte header or IPv6 whose next
// header is TCP; TCP with its whole header. It writes what finishTCP
// writes; anything else, and anything odd (fragments, options, extension
// headers, lengths that disagree), goes to gopacket's path.
func (d *Decoder) decodeDirect(linkType uint16, data []byte, origLen uint32, p *events.Packet) (bool, SkipReason) {
	// The link header, written here rather than called: the call and the
	// spills around it cost 20 instructions a frame, 8 % of the path.
	var t uint16 // the Ethernet type of the IP header
	off, shape := 0, uint32(0)
	switch linkType {
	case LinkEthernet:
		if len(data) < 14 {
			return d.decodeSafe(linkType, data, origLen, p)
		}
		off, shape, t = 14, shapeEth, binary.BigEndian.Uint16(data[12:])
		// The tags written out, not looped over: the loop's shifts by a
		// variable count cost 60 instructions a tagged frame.
		if isVLAN(t) {
			if len(data) < 18 {
				return d.decodeSafe(linkType, data, origLen, p)
			}
			off, shape, t = 18, shape|shapeTag1|uint32(binary.BigEndian.Uint16(data[14:])&0xfff)<<shapeTagID, binary.BigEndian.Uint16(data[16:])
			if isVLAN(t) {
				if len(data) < 22 {
					return d.decodeSafe(linkType, data, origLen, p)
				}
				off, shape, t = 22, shape|shapeTag1<<1|uint32(binary.BigEndian.Uint16(data[18:])&0xfff)<<(shapeTagID+12), binary.BigEndian.Uint16(data[20:])
			}
		}
	case LinkSLL:
		if len(data) < 16 {
			return d.decodeSafe(linkType, data, origLen, p)
		}
		off, shape, t = 16, shapeSLL, binary.BigEndian.Uint16(data[14:])
	case LinkSLL2:
		if len(data) < 20 {
			return d.decodeSafe(linkType, data, origLen, p)
		}
		off, shape, t = 20, shapeSLL2, binary.BigEndian.Uint16(data)
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return d.decodeSafe(linkType, data, origLen, p)
		}
		// Host order of the capturing machine, as gopacket guesses it.
		fam := binary.LittleEndian.Uint32(data)
		if data[0] == 0 && data[1] == 0 {
			fam = binary.BigEndian.Uint32(data)
		}
		off, shape, t = 4, shapeNull, 0x0800
		switch fam {
		case 2:
		case 10, 24, 28, 30:
			t = 0x86dd
		default:
			return d.decodeSafe(linkType, data, origLen, p)
		}
	case LinkIPv4:
		shape, t = shapeRaw, 0x0800
	case LinkIPv6:
		shape, t = shapeRaw, 0x86dd
	case LinkRaw, linkRawAlt, linkRawAlt2:
		shape, t = shapeRaw, 0x0800
		if len(data) > 0 && data[0]>>4 == 6 {
			t = 0x86dd
		}
	default:
		return d.decodeSafe(linkType, data, origLen, p)
	}
	switch {
	case d.slow:
		return d.decodeSafe(linkType, data, origLen, p)
	case t == 0x86dd:
		shape |= shapeV6
	case t != 0x0800:
		return d.decodeSafe(linkType, data, origLen, p)
	}
	b := data[off:]
	var ipHdr, l4len int
	if shape&shapeV6 == 0 {
		if len(b) < 20+20 || b[0] != 0x45 || b[9] != 6 || binary.BigEndian.Uint16(b[6:])&0x3fff != 0 {
			return d.decodeSafe(linkType, data, origLen, p)
		}
		ipHdr, l4len = 20, int(binary.BigEndian.Uint16(b[2:]))-20 // a zero length (TSO) goes below
		p.Src = netip.AddrFrom4([4]byte(b[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		p.IPID = binary.BigEndian.Uint16(b[4:])
	} else {
		if len(b) < 40+20 || b[0]>>4 != 6 || b[6] != 6 {
			return d.decodeSafe(linkType, data, origLen, p) // extension headers too
		}
		ipHdr, l4len = 40, int(binary.BigEndian.Uint16(b[4:])) // zero: a jumbogram
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		p.IPID = 0
	}
	seg := b[ipHdr:min(ipHdr+max(l4len, 0), len(b))] // without link padding
	if len(seg) < 20 {
		return d.decodeSafe(linkType, data, origLen, p)
	}
	hdrLen := int(seg[12]>>4) * 4
	if hdrLen < 20 || hdrLen > len(seg) { // seg is at most l4len long
		return d.decodeSafe(linkType, data, origLen, p) // cut or contradicting headers: gopacket's path says why
	}
	payLen := l4len - hdrLen
	payload := seg[hdrLen:]
	if uint32(len(data)) >= origLen && len(payload) < payLen {
		payLen = len(payload) // as finishTCP: the segment is what the whole frame holds
	}
	if len(payload) > payLen {
		payload = payload[:payLen]
	}
	p.SrcPort = binary.BigEndian.Uint16(seg[0:])
	p.DstPort = binary.BigEndian.Uint16(seg[2:])
	p.Seq = binary.BigEndian.Uint32(seg[4:])
	p.Ack = binary.BigEndian.Uint32(seg[8:])
	p.Flags = tcpFlags(seg)
	p.Window = binary.BigEndian.Uint16(seg[14:])
	p.Len = uint32(payLen)
	p.CapLen = uint32(len(data))
	p.WireLen = origLen
	p.Payload = payload
	if shape != d.shape {
		d.shape, d.shapeEncap = shape, d.shapePath(shape)
	}
	p.Encap, p.Tunnel = d.shapeEncap, 0
	p.Flow, p.Dir, p.RelSeq, p.RelAck, p.WindowScaled = 0, 0, 0, 0, -1
	switch opts := seg[20:hdrLen]; { // as in Decode
	case len(opts) == 12 && linuxTS(opts):
		p.Options = events.Options{HasTS: true, TSVal: binary.BigEndian.Uint32(opts[4:]), TSEcr: binary.BigEndian.Uint32(opts[8:])}
	case !parseOptions(opts, &p.Options):
		return d.decodeSafe(linkType, data, origLen, p)
	}
	return true, SkipNone
}

// isVLAN reports the Ethernet types of a VLAN tag (802.1Q, 802.1ad, the
// older QinQ type).
func isVLAN(t uint16) bool { return t == 0x8100 || t == 0x88a8 || t == 0x9100 }

// shapePath is the encapsulation path of a shape, the string the general
// path gives the same frame.
func (d *Decoder) shapePath(shape uint32) string {
	var path encapPath
	switch shape & shapeKind {
	case shapeEth:
		path.add(elEth, 0)
	case shapeSLL:
		path.add(elSLL, 0)
	case shapeSLL2:
		path.add(elSLL2, 0)
	case shapeNull:
		path.add(elNull, 0)
	}
	for tag := range 2 {
		if shape&(shapeTag1<<tag) != 0 {
			path.add(elVLAN, shape>>(shapeTagID+12*tag)&0xfff)
		}
	}
	if shape&shapeV6 != 0 {
		path.add(elIP6, 0)
	} else {
		path.add(elIP, 0)
	}
	return d.paths.intern(&path)
}
