package decode

import (
	"encoding/binary"
	"errors"
)

// Small decoders for the encapsulations gopacket/layers has no
// DecodingLayer for (or whose DecodingLayer does not fit: gopacket's Dot11
// always strips a frame check sequence and allocates per frame). Each one
// reads its header from data, never trusts a length beyond len(data), and
// leaves what follows in Payload.

var (
	errShort     = errors.New("header longer than the data")
	errMalformed = errors.New("header fields contradict each other")
)

// mplsStack is an MPLS label stack (RFC 3032) up to its bottom entry.
type mplsStack struct {
	Top     uint32 // outermost label
	Labels  int
	Payload []byte
}

func (m *mplsStack) DecodeFromBytes(data []byte) error {
	m.Labels = 0
	for off := 0; off+4 <= len(data); off += 4 {
		e := binary.BigEndian.Uint32(data[off:])
		if m.Labels == 0 {
			m.Top = e >> 12
		}
		m.Labels++
		if e&0x100 != 0 { // bottom of stack
			m.Payload = data[off+4:]
			return nil
		}
	}
	return errShort
}

// pppoeSession is a PPPoE session stage header (RFC 2516) and the PPP
// protocol number after it.
type pppoeSession struct {
	SessionID uint16
	Protocol  uint16
	Payload   []byte
}

func (p *pppoeSession) DecodeFromBytes(data []byte) error {
	if len(data) < 8 {
		return errShort
	}
	if data[0] != 0x11 || data[1] != 0 { // version 1, type 1, code 0 (session data)
		return errMalformed
	}
	p.SessionID = binary.BigEndian.Uint16(data[2:])
	n := int(binary.BigEndian.Uint16(data[4:]))
	p.Protocol = binary.BigEndian.Uint16(data[6:])
	p.Payload = data[8:]
	if n >= 2 && n-2 < len(p.Payload) {
		p.Payload = p.Payload[:n-2] // Ethernet padding
	}
	return nil
}

// ppp is a PPP header (RFC 1661) with optional HDLC address and control
// bytes (RFC 1662) and a compressed or full protocol field.
type ppp struct {
	Protocol uint16
	Payload  []byte
}

func (p *ppp) DecodeFromBytes(data []byte) error {
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
		data = data[2:]
	}
	switch {
	case len(data) >= 1 && data[0]&1 == 1: // protocol field compression
		p.Protocol, p.Payload = uint16(data[0]), data[1:]
	case len(data) >= 2:
		p.Protocol, p.Payload = binary.BigEndian.Uint16(data), data[2:]
	default:
		return errShort
	}
	return nil
}

// ciscoHDLC is the Cisco HDLC header: address, control, Ethernet type.
type ciscoHDLC struct {
	Protocol uint16
	Payload  []byte
}

func (c *ciscoHDLC) DecodeFromBytes(data []byte) error {
	if len(data) < 4 {
		return errShort
	}
	c.Protocol, c.Payload = binary.BigEndian.Uint16(data[2:]), data[4:]
	return nil
}

// fddi is the FDDI MAC header: frame control and two addresses; LLC follows.
type fddi struct {
	Payload []byte
}

func (f *fddi) DecodeFromBytes(data []byte) error {
	if len(data) < 13 {
		return errShort
	}
	f.Payload = data[13:]
	return nil
}

// pbbITag is an 802.1ah backbone service instance tag: the I-SID and the
// customer addresses, followed by the customer Ethernet type.
type pbbITag struct {
	ISID     uint32
	Protocol uint16
	Payload  []byte
}

func (t *pbbITag) DecodeFromBytes(data []byte) error {
	if len(data) < 18 {
		return errShort
	}
	t.ISID = binary.BigEndian.Uint32(data) & 0xffffff
	t.Protocol, t.Payload = binary.BigEndian.Uint16(data[16:]), data[18:]
	return nil
}

// erspan3 is the ERSPAN type III header (GRE protocol 0x22eb): 12 bytes, an
// optional 8-byte platform subheader, and a frame type (Ethernet or IP).
type erspan3 struct {
	SessionID uint16
	FrameType uint8 // 0 Ethernet, 2 IP
	Payload   []byte
}

func (e *erspan3) DecodeFromBytes(data []byte) error {
	if len(data) < 12 {
		return errShort
	}
	if data[0]>>4 != 2 {
		return errMalformed
	}
	e.SessionID = binary.BigEndian.Uint16(data[2:]) & 0x3ff
	e.FrameType = data[10] >> 2 & 0x1f
	n := 12
	if data[11]&1 != 0 { // O bit: platform specific subheader
		n += 8
	}
	if len(data) < n {
		return errShort
	}
	e.Payload = data[n:]
	return nil
}

// vxlanGPE is the VXLAN Generic Protocol Extension header (UDP 4790).
type vxlanGPE struct {
	VNI      uint32
	NextProt uint8 // 1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS
	Payload  []byte
}

func (v *vxlanGPE) DecodeFromBytes(data []byte) error {
	if len(data) < 8 {
		return errShort
	}
	v.NextProt = data[3]
	if data[0]&0x04 == 0 { // P bit clear: plain VXLAN semantics, Ethernet
		v.NextProt = 3
	}
	v.VNI = binary.BigEndian.Uint32(data[4:]) >> 8
	v.Payload = data[8:]
	return nil
}

// teredo skips the optional Teredo authentication and origin indication
// headers (RFC 4380 5.1.1) in front of an IPv6 packet.
type teredo struct {
	Payload []byte
}

func (t *teredo) DecodeFromBytes(data []byte) error {
	for range 2 {
		if len(data) < 2 || data[0] != 0 {
			break
		}
		switch data[1] {
		case 1: // authentication: id length, auth length, 8-byte nonce, confirmation
			if len(data) < 4 {
				return errShort
			}
			n := 4 + int(data[2]) + int(data[3]) + 9
			if len(data) < n {
				return errShort
			}
			data = data[n:]
		case 0: // origin indication
			if len(data) < 8 {
				return errShort
			}
			data = data[8:]
		default:
			return errMalformed
		}
	}
	if len(data) < 1 || data[0]>>4 != 6 {
		return errMalformed // a bubble or something else, not IPv6
	}
	t.Payload = data
	return nil
}

// ayiya is the "Anything In Anything" tunnel header (UDP 5072).
type ayiya struct {
	NextHeader uint8
	OpCode     uint8
	Payload    []byte
}

func (a *ayiya) DecodeFromBytes(data []byte) error {
	if len(data) < 8 {
		return errShort
	}
	idLen := 1 << (data[0] >> 4)
	n := 8 + idLen + 4*int(data[1]>>4)
	if len(data) < n {
		return errShort
	}
	a.OpCode, a.NextHeader, a.Payload = data[2]&0x0f, data[3], data[n:]
	return nil
}

// nflog is the Linux NFLOG header (link type 239): address family, version,
// resource id, then type-length-value attributes in host byte order, padded
// to 4 bytes. The packet is in attribute NFULA_PAYLOAD (9).
type nflog struct {
	Family  uint8
	Payload []byte
}

func (n *nflog) DecodeFromBytes(data []byte) error {
	if len(data) < 4 {
		return errShort
	}
	n.Family = data[0]
	if data[1] != 0 {
		return errMalformed
	}
	for b := data[4:]; len(b) >= 4; {
		l := int(binary.LittleEndian.Uint16(b))
		typ := binary.LittleEndian.Uint16(b[2:]) & 0x7fff
		if l < 4 {
			return errMalformed
		}
		if l > len(b) {
			// Cut by the snapshot length. Wireshark does not decode a cut
			// payload attribute either.
			return errShort
		}
		if typ == 9 {
			n.Payload = b[4:l]
			return nil
		}
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return errShort
}

// dot11 is the MAC header of an 802.11 data frame, with its LLC/SNAP
// header when the frame carries one.
type dot11 struct {
	Data      bool // a data frame with a body (not Null, not management/control)
	Protected bool
	AMSDU     bool // the body is an aggregate of several frames
	Payload   []byte
}

func (d *dot11) DecodeFromBytes(data []byte) error {
	if len(data) < 24 {
		return errShort
	}
	fc0, fc1 := data[0], data[1]
	typ, sub := fc0>>2&3, fc0>>4
	d.Data = typ == 2 && sub&4 == 0 // subtypes with bit 2 set carry no data
	d.Protected = fc1&0x40 != 0
	n := 24
	if fc1&3 == 3 { // to and from the distribution system: a fourth address
		n += 6
	}
	d.AMSDU = false
	if typ == 2 && sub&8 != 0 { // QoS data
		if len(data) < n+2 {
			return errShort
		}
		d.AMSDU = data[n]&0x80 != 0
		n += 2
		if fc1&0x80 != 0 { // +HTC
			n += 4
		}
	}
	if len(data) < n {
		return errShort
	}
	d.Payload = data[n:]
	return nil
}

// gtpU is a GTPv1-U header (3GPP TS 29.281) with its optional fields and
// extension header chain. Unlike gopacket's GTPv1U it accepts a packet cut
// by the snapshot length and does not allocate.
type gtpU struct {
	Version     uint8
	Protocol    uint8 // 1 GTP, 0 GTP'
	MessageType uint8
	TEID        uint32
	Payload     []byte
}

func (g *gtpU) DecodeFromBytes(data []byte) error {
	if len(data) < 8 {
		return errShort
	}
	g.Version, g.Protocol = data[0]>>5, data[0]>>4&1
	g.MessageType = data[1]
	g.TEID = binary.BigEndian.Uint32(data[4:])
	n := 8
	if data[0]&0x07 != 0 { // E, S or PN: 4 more bytes, the last one the next extension type
		n = 12
		if len(data) < n {
			return errShort
		}
		for next := data[11]; next != 0; {
			if len(data) < n+1 {
				return errShort
			}
			l := int(data[n]) * 4 // in 4-byte units, including the length and next-type bytes
			if l == 0 {
				return errMalformed
			}
			if len(data) < n+l {
				return errShort
			}
			next = data[n+l-1]
			n += l
		}
	}
	g.Payload = data[n:]
	if m := 8 + int(binary.BigEndian.Uint16(data[2:])); m >= n && m < len(data) {
		g.Payload = data[n:m]
	}
	return nil
}

// linkHeader is one of the capture headers that some link types put in
// front of the frame and that only say how long they are and what follows:
// Juniper's (routers), IP over InfiniBand, OpenBSD pflog and enc, PPI,
// Prism and AVS (Wi-Fi monitors), Apple's PKTAP.
type linkHeader struct {
	Elem    uint8 // the path element naming the header
	Next    next
	Payload []byte
}

// Juniper header flags (tcpdump's print-juniper.c).
const (
	juniperNoL2 = 0x02 // the link-layer header was stripped: bare IP after 4 more bytes
	juniperExt  = 0x80 // extension TLVs follow the flags
)

// inner is the first layer of the frame a capture header wraps, by the
// inner link type it names: the capture's own table (firstLayer), nDone
// (not IP) when unknown or when it is another capture header.
func inner(linkType uint32) next {
	if linkType > 0xffff {
		return nDone
	}
	if n, ok := firstLayer(uint16(linkType)); ok && n != nLinkHeader {
		return n
	}
	return nDone
}

func (h *linkHeader) DecodeFromBytes(linkType uint16, data []byte) error {
	need := func(n int) error {
		if len(data) < n {
			return errShort
		}
		return nil
	}
	switch linkType {
	case LinkJuniperEther:
		// "MGC", flags, optional extensions (2-byte length), the frame.
		if err := need(4); err != nil {
			return err
		}
		if data[0] != 'M' || data[1] != 'G' || data[2] != 'C' {
			return errMalformed
		}
		flags, n := data[3], 4
		if flags&juniperExt != 0 {
			if err := need(6); err != nil {
				return err
			}
			n += 2 + int(binary.BigEndian.Uint16(data[4:]))
		}
		h.Elem, h.Next = elJuniper, nEthernet
		if flags&juniperNoL2 != 0 {
			n += 4
			h.Next = nIP
		}
		if err := need(n); err != nil {
			return err
		}
		h.Payload = data[n:]
	case LinkIPoIB:
		// 40 bytes of pseudo addresses, the Ethernet type, 2 reserved bytes.
		if err := need(44); err != nil {
			return err
		}
		switch binary.BigEndian.Uint16(data[40:]) {
		case 0x0800:
			h.Next = nIPv4
		case 0x86dd:
			h.Next = nIPv6
		default:
			h.Next = nDone
		}
		h.Elem, h.Payload = elIPoIB, data[44:]
	case LinkPflog:
		// Header length (padded to 4 bytes), address family, ...
		if err := need(2); err != nil {
			return err
		}
		n := (int(data[0]) + 3) &^ 3
		if n < 4 {
			return errMalformed
		}
		if err := need(n); err != nil {
			return err
		}
		h.Elem, h.Next, h.Payload = elPflog, nIP, data[n:]
	case LinkEnc:
		// Address family, SPI, flags: 12 bytes.
		if err := need(12); err != nil {
			return err
		}
		h.Elem, h.Next, h.Payload = elEnc, nIP, data[12:]
	case LinkPPI:
		// Version, flags, length (little-endian), the inner link type.
		if err := need(8); err != nil {
			return err
		}
		n := int(binary.LittleEndian.Uint16(data[2:]))
		if n < 8 {
			return errMalformed
		}
		if err := need(n); err != nil {
			return err
		}
		h.Elem, h.Next, h.Payload = elPPI, inner(binary.LittleEndian.Uint32(data[4:])), data[n:]
	case LinkPrism:
		// Message code and length in host order; 144 bytes in practice.
		if err := need(8); err != nil {
			return err
		}
		n := int(binary.LittleEndian.Uint32(data[4:]))
		if n > 0xffff {
			n = int(binary.BigEndian.Uint32(data[4:]))
		}
		if n < 8 {
			return errMalformed
		}
		if err := need(n); err != nil {
			return err
		}
		h.Elem, h.Next, h.Payload = elPrism, nDot11, data[n:]
	case LinkAVS:
		// Version, header length, big-endian.
		if err := need(8); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(data[4:]))
		if n < 8 || n > len(data) {
			return errShort
		}
		h.Elem, h.Next, h.Payload = elAVS, nDot11, data[n:]
	case LinkPktap:
		// Header length, record type, the inner link type: host order.
		if err := need(12); err != nil {
			return err
		}
		n := int(binary.LittleEndian.Uint32(data))
		if n < 12 || n > len(data) {
			return errShort
		}
		if binary.LittleEndian.Uint32(data[4:]) != 1 { // not a packet record
			return errMalformed
		}
		h.Elem, h.Next, h.Payload = elPktap, inner(binary.LittleEndian.Uint32(data[8:])), data[n:]
	default:
		return errMalformed
	}
	return nil
}

// cooked is Linux's cooked capture header (tcpdump -i any): version 1 (16
// bytes, the protocol last) or 2 (20 bytes, the protocol first). The
// address field is 8 bytes whatever the address length says: on an
// InfiniBand interface the length is 20, which gopacket rejects and
// Wireshark reads.
type cooked struct {
	Protocol uint16
	Payload  []byte
}

func (c *cooked) DecodeFromBytes(data []byte, version int) error {
	if version == 1 {
		if len(data) < 16 {
			return errShort
		}
		c.Protocol, c.Payload = binary.BigEndian.Uint16(data[14:]), data[16:]
		return nil
	}
	if len(data) < 20 {
		return errShort
	}
	c.Protocol, c.Payload = binary.BigEndian.Uint16(data), data[20:]
	return nil
}
