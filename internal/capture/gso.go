package capture

import (
	"encoding/binary"
)

// segmenter turns a GSO packet seen at the tc egress hook into the segments
// the kernel puts on the wire when the device cannot do TSO itself: the hook
// runs before software segmentation, tcpdump after it. Only headers are
// rebuilt; segments after the first carry no payload bytes (the capture
// never had them), so their captured length is their header length.
type segmenter struct {
	l2len int
	buf   []byte
}

// TCP flags that only the first (CWR) or the last (FIN, PSH) segment keeps.
const (
	tcpFIN = 0x01
	tcpPSH = 0x08
	tcpCWR = 0x80
)

// split calls emit for each segment. It reports false, without calling
// emit, when the packet cannot be split (headers not captured, not TCP).
func (g *segmenter) split(data []byte, origLen uint32, segs uint16, size uint32,
	emit func(seg []byte, origLen uint32, i int) error) (bool, error) {
	l3 := g.l2len
	if segs < 2 || size == 0 || len(data) < l3+1 {
		return false, nil
	}
	var ipHdr, l4 int
	v6 := false
	switch data[l3] >> 4 {
	case 4:
		if len(data) < l3+20 || data[l3+9] != 6 {
			return false, nil
		}
		ipHdr = int(data[l3]&0x0f) * 4
	case 6:
		if len(data) < l3+40 || data[l3+6] != 6 {
			return false, nil
		}
		ipHdr, v6 = 40, true
	default:
		return false, nil
	}
	l4 = l3 + ipHdr
	if len(data) < l4+20 {
		return false, nil
	}
	tcpHdr := int(data[l4+12]>>4) * 4
	hdrs := l4 + tcpHdr
	if tcpHdr < 20 || len(data) < hdrs || int(origLen) <= hdrs {
		return false, nil
	}
	payload := int(origLen) - hdrs
	seq := binary.BigEndian.Uint32(data[l4+4:])
	flags := data[l4+13]
	var id uint16
	if !v6 {
		id = binary.BigEndian.Uint16(data[l3+4:])
	}
	for i := 0; payload > 0; i++ {
		n := min(payload, int(size))
		payload -= n
		last := payload == 0
		capLen := hdrs
		if i == 0 {
			capLen = min(len(data), hdrs+n)
		}
		g.buf = append(g.buf[:0], data[:capLen]...)
		b := g.buf
		if v6 {
			binary.BigEndian.PutUint16(b[l3+4:], uint16(tcpHdr+n))
		} else {
			binary.BigEndian.PutUint16(b[l3+2:], uint16(ipHdr+tcpHdr+n))
			binary.BigEndian.PutUint16(b[l3+4:], id+uint16(i))
			ipv4Checksum(b[l3 : l3+ipHdr])
		}
		binary.BigEndian.PutUint32(b[l4+4:], seq+uint32(i)*size)
		f := flags
		if i > 0 {
			f &^= tcpCWR
		}
		if !last {
			f &^= tcpFIN | tcpPSH
		}
		b[l4+13] = f
		if err := emit(b, uint32(hdrs+n), i); err != nil {
			return true, err
		}
	}
	return true, nil
}

// ipv4Checksum recomputes the header checksum in place.
func ipv4Checksum(h []byte) {
	h[10], h[11] = 0, 0
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
}
