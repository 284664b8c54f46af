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
// gopacket's time; anything else takes gopacket's path (decodeSafe), and on
// the frames this path accepts both give the same Packet
// (TestFastPathMatchesGopacket checks every sample frame). It is written
// out in this one function rather than called: a call here spilled every
// argument to the stack and back, a tenth of the reader's instructions.
func (d *Decoder) Decode(linkType uint16, data []byte, origLen uint32, p *events.Packet) (ok bool, why SkipReason) {
	// Fixed offsets into one array: Ethernet 0-13, IPv4 14-33, TCP from 34.
	if linkType != LinkEthernet || d.slow || len(data) < 14+20+20 {
		return d.decodeSafe(linkType, data, origLen, p)
	}
	h := (*[14 + 20 + 20]byte)(data)
	if h[12] != 0x08 || h[13] != 0x00 || h[14] != 0x45 || h[23] != 6 || binary.BigEndian.Uint16(h[20:])&0x3fff != 0 {
		return d.decodeSafe(linkType, data, origLen, p) // not IPv4 with a 20-byte header, not TCP, or a fragment
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
		return d.decodeSafe(linkType, data, origLen, p) // gopacket's path says why
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
