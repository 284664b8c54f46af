package decode

import (
	"encoding/binary"
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
)

// fastEthIPv4TCP decodes the frame almost every capture is made of —
// Ethernet, IPv4 without options or fragmentation, TCP with its whole header
// and well-formed options — straight from the bytes, in a fraction of
// gopacket's time. It reports false for anything else, and Decode then
// takes gopacket's path; on the frames it accepts both paths give the same
// Packet (TestFastPathMatchesGopacket checks every sample frame).
func fastEthIPv4TCP(data []byte, origLen uint32, p *events.Packet) bool {
	if len(data) < 14+20+20 || data[12] != 0x08 || data[13] != 0x00 {
		return false
	}
	ip := data[14:]
	if ip[0] != 0x45 || ip[9] != 6 || binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
		return false // not version 4 with a 20-byte header, not TCP, or a fragment
	}
	ipLen := int(binary.BigEndian.Uint16(ip[2:]))
	if ipLen < 40 {
		return false
	}
	if len(ip) > ipLen {
		ip = ip[:ipLen] // Ethernet padding
	}
	tcp := ip[20:]
	hdrLen := int(tcp[12]>>4) * 4
	// The options first: a list gopacket rejects sends the frame there
	// (which writes the packet again).
	if hdrLen < 20 || hdrLen > len(tcp) || !parseOptions(tcp[20:hdrLen], &p.Options) {
		return false
	}
	payLen := ipLen - 20 - hdrLen
	payload := tcp[hdrLen:]
	if payLen < 0 || (uint32(len(data)) >= origLen && len(payload) < payLen) {
		return false // gopacket's path says why
	}
	p.Src = netip.AddrFrom4([4]byte(ip[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
	p.SrcPort = binary.BigEndian.Uint16(tcp[0:])
	p.DstPort = binary.BigEndian.Uint16(tcp[2:])
	p.Seq = binary.BigEndian.Uint32(tcp[4:])
	p.Ack = binary.BigEndian.Uint32(tcp[8:])
	p.Flags = tcpFlags(tcp)
	p.Window = binary.BigEndian.Uint16(tcp[14:])
	p.IPID = binary.BigEndian.Uint16(ip[4:])
	p.Len = uint32(payLen)
	p.CapLen = uint32(len(data))
	p.WireLen = origLen
	if len(payload) > payLen {
		payload = payload[:payLen]
	}
	p.Payload = payload
	p.Flow, p.Dir, p.RelSeq, p.RelAck, p.WindowScaled = 0, 0, 0, 0, -1
	return true
}
