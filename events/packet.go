// Package events holds the normalized records that flow through tcpviz: TCP
// packets after decoding, detector events, kernel samples and per-connection
// summaries, together with their JSON Lines encoding. The schema is documented
// in docs/events.md; SchemaVersion changes whenever a field changes meaning.
package events

import (
	"net/netip"
)

// SchemaVersion is written into every summary.json and is the version of the
// JSON records described in docs/events.md.
const SchemaVersion = 1

// TCP header flag bits as they appear in the 13th/14th header bytes.
const (
	FlagFIN uint16 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
	FlagNS
)

// Dir is the direction of a packet within its connection.
type Dir uint8

const (
	// DirC2S is from the client (the side that sent the SYN, or the first
	// packet's sender when the handshake was not captured) to the server.
	DirC2S Dir = 0
	// DirS2C is from the server to the client.
	DirS2C Dir = 1
)

// Reverse returns the opposite direction.
func (d Dir) Reverse() Dir { return d ^ 1 }

func (d Dir) String() string {
	if d == DirS2C {
		return "s2c"
	}
	return "c2s"
}

// SACKBlock is one SACK option block: [Left, Right) in sequence space.
type SACKBlock struct {
	Left, Right uint32
}

// Options holds the TCP options tcpviz uses. Absent options keep their zero
// value and the Has* flags say which were present.
type Options struct {
	MSS        uint16
	WScale     uint8
	HasMSS     bool
	HasWScale  bool
	SACKPerm   bool
	HasTS      bool
	TSVal      uint32
	TSEcr      uint32
	NumSACK    uint8
	SACK       [4]SACKBlock
	HasUnknown bool // an option tcpviz does not interpret (still counted)
}

// Packet is one decoded TCP segment. The decoder fills the wire fields; the
// flow table fills Flow, Dir, the relative numbers and the scaled window.
// A Packet is reused by the pipeline: copy it if you keep it.
type Packet struct {
	Frame     uint64 // frame number as Wireshark shows it (1-based)
	TS        int64  // capture time, ns since the Unix epoch
	Interface int    // pcapng interface id (0 for classic pcap)

	Src, Dst         netip.Addr
	SrcPort, DstPort uint16

	Seq, Ack uint32
	Flags    uint16
	Window   uint16 // raw window field
	// IPID is the innermost IPv4 header's identification (0 for IPv6). Two
	// transmissions of the same bytes differ in it on most stacks, which
	// tells them apart when two captures are paired.
	IPID    uint16
	Len     uint32 // TCP payload length (from the IP length, not the snapshot)
	CapLen  uint32 // bytes captured of the frame
	WireLen uint32 // original frame length
	Options Options
	// Payload is the captured TCP payload (may be shorter than Len when the
	// snapshot length cut it). It points into the reader's buffer.
	Payload []byte
	// Encap is the encapsulation path outside the TCP header, outermost
	// first, e.g. "eth/vlan:100/ip/udp/vxlan/eth/ip". The decoder shares one
	// string per distinct path.
	Encap string
	// Tunnel is the innermost identified tunnel (VNI, GRE key, TEID), or 0.
	Tunnel Tunnel

	// Filled by the flow table.
	Flow         uint64 // connection id, the same for both directions
	Dir          Dir
	RelSeq       uint32 // Seq relative to the sender's ISN (or first seen seq)
	RelAck       uint32 // Ack relative to the peer's ISN
	WindowScaled int64  // window << scale, -1 when the scale is unknown
}

// Has reports whether all bits of f are set.
func (p *Packet) Has(f uint16) bool { return p.Flags&f == f }

// Endpoints returns the connection's client and server, by the packet's
// direction.
func (p *Packet) Endpoints() (client, server netip.AddrPort) {
	client, server = netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	if p.Dir == DirS2C {
		client, server = server, client
	}
	return client, server
}

// SegLen is the sequence space the segment occupies: payload plus one for SYN
// and one for FIN.
func (p *Packet) SegLen() uint32 {
	n := p.Len
	if p.Flags&FlagSYN != 0 {
		n++
	}
	if p.Flags&FlagFIN != 0 {
		n++
	}
	return n
}

// FlagString renders flags the way tcpdump does: S, F, R, P, . (ACK), U, E, W.
func FlagString(f uint16) string {
	var b []byte
	for _, x := range []struct {
		bit uint16
		c   byte
	}{{FlagSYN, 'S'}, {FlagFIN, 'F'}, {FlagRST, 'R'}, {FlagPSH, 'P'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}, {FlagACK, '.'}} {
		if f&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// SeqLess reports a < b in 32-bit modular sequence space (RFC 1982).
func SeqLess(a, b uint32) bool { return int32(a-b) < 0 }

// SeqLEQ reports a <= b in sequence space.
func SeqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

// SeqGreater reports a > b in sequence space.
func SeqGreater(a, b uint32) bool { return int32(a-b) > 0 }

// SeqGEQ reports a >= b in sequence space.
func SeqGEQ(a, b uint32) bool { return int32(a-b) >= 0 }

// SeqMax returns the later of a and b in sequence space.
func SeqMax(a, b uint32) uint32 {
	if SeqGreater(a, b) {
		return a
	}
	return b
}
