package tsharkoracle

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/tcpviz/tcpviz/events"
)

// LinkTypeRaw is the classic pcap link type of bare IPv4/IPv6 packets.
const LinkTypeRaw = 101

// WritePCAP writes crafted segments as a classic pcap file (raw IP, ns
// timestamps) so that tshark can judge the same packets the detectors see.
// Payload bytes are zeros unless p.Payload holds them; checksums are zero.
func WritePCAP(w io.Writer, pkts []events.Packet) error {
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d) // nanosecond magic
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], LinkTypeRaw)
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("pcap header: %w", err)
	}
	var buf []byte
	for i := range pkts {
		p := &pkts[i]
		buf = AppendIP(buf[:0], p)
		var rh [16]byte
		binary.LittleEndian.PutUint32(rh[0:], uint32(p.TS/1e9))
		binary.LittleEndian.PutUint32(rh[4:], uint32(p.TS%1e9))
		binary.LittleEndian.PutUint32(rh[8:], uint32(len(buf)))
		binary.LittleEndian.PutUint32(rh[12:], uint32(len(buf)))
		if _, err := w.Write(rh[:]); err != nil {
			return fmt.Errorf("packet %d: %w", i+1, err)
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("packet %d: %w", i+1, err)
		}
	}
	return nil
}

// AppendIP appends p as an IPv4 or IPv6 packet carrying its TCP segment.
func AppendIP(b []byte, p *events.Packet) []byte {
	tcp := appendTCP(nil, p)
	if p.Src.Is4() {
		total := 20 + len(tcp)
		b = append(b, 0x45, 0, byte(total>>8), byte(total), 0, 0, 0x40, 0, 64, 6, 0, 0)
		s, d := p.Src.As4(), p.Dst.As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	} else {
		b = append(b, 0x60, 0, 0, 0, byte(len(tcp)>>8), byte(len(tcp)), 6, 64)
		s, d := p.Src.As16(), p.Dst.As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}
	return append(b, tcp...)
}

func appendTCP(b []byte, p *events.Packet) []byte {
	var opt []byte
	o := &p.Options
	if o.HasMSS {
		opt = append(opt, 2, 4, byte(o.MSS>>8), byte(o.MSS))
	}
	if o.SACKPerm {
		opt = append(opt, 4, 2)
	}
	if o.HasTS {
		opt = append(opt, 1, 1, 8, 10)
		opt = binary.BigEndian.AppendUint32(opt, o.TSVal)
		opt = binary.BigEndian.AppendUint32(opt, o.TSEcr)
	}
	if o.HasWScale {
		opt = append(opt, 1, 3, 3, o.WScale)
	}
	if n := int(o.NumSACK); n > 0 {
		opt = append(opt, 1, 1, 5, byte(2+8*n))
		for _, s := range o.SACK[:n] {
			opt = binary.BigEndian.AppendUint32(opt, s.Left)
			opt = binary.BigEndian.AppendUint32(opt, s.Right)
		}
	}
	for len(opt)%4 != 0 {
		opt = append(opt, 0)
	}
	hlen := 20 + len(opt)
	b = binary.BigEndian.AppendUint16(b, p.SrcPort)
	b = binary.BigEndian.AppendUint16(b, p.DstPort)
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	b = binary.BigEndian.AppendUint32(b, p.Ack)
	b = append(b, byte(hlen/4)<<4|byte(p.Flags>>8&1), byte(p.Flags))
	b = binary.BigEndian.AppendUint16(b, p.Window)
	b = append(b, 0, 0, 0, 0) // checksum, urgent pointer
	b = append(b, opt...)
	n := len(b)
	b = append(b, make([]byte, p.Len)...)
	copy(b[n:], p.Payload)
	return b
}
