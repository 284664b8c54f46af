package pcapng

import "encoding/binary"

const (
	pcapHeaderLen = 24
	pcapRecordLen = 16
	// The link-type field of a classic pcap header carries FCS information in
	// its upper bits (libpcap's LT_FCS_LENGTH_PRESENT and LT_FCS_LENGTH).
	pcapFCSPresent = 0x04000000
)

// pcapRecordHeader reads the four fields of a classic pcap record header
// with one test of the byte order.
func pcapRecordHeader(h *[pcapRecordLen]byte, big bool) (sec, frac, capLen, orig uint32) {
	if big {
		return binary.BigEndian.Uint32(h[0:]), binary.BigEndian.Uint32(h[4:]), binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:])
	}
	return binary.LittleEndian.Uint32(h[0:]), binary.LittleEndian.Uint32(h[4:]), binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:])
}

// pcapFill reads the classic pcap file header (once), then buffers the
// next record whole, for Next to return.
func (r *Reader) pcapFill() error {
	if r.ifaces == nil {
		if err := r.pcapHeader(); err != nil {
			return err
		}
	}
	if err := r.fill(pcapRecordLen); err != nil {
		return r.boundary(err, pcapRecordLen)
	}
	capLen := r.u32(r.buf[r.start+8:])
	if capLen > MaxBlockLen-pcapRecordLen {
		return r.fail(r.off, "pcap record: captured length %d exceeds limit", capLen)
	}
	n := pcapRecordLen + int(capLen)
	if err := r.fill(n); err != nil {
		return r.short(err, n)
	}
	if r.rec.Type != RecordPacket {
		// The fields no classic pcap record changes.
		r.rec = Record{Type: RecordPacket, Interface: r.ifaces[0]}
	}
	return nil
}

// pcapHeader reads the classic pcap file header.
func (r *Reader) pcapHeader() error {
	if err := r.fill(pcapHeaderLen); err != nil {
		return r.short(err, pcapHeaderLen)
	}
	h := r.buf[r.start : r.start+pcapHeaderLen]
	if major := r.u16(h[4:]); major != 2 {
		return r.fail(0, "pcap: unsupported version %d.%d", major, r.u16(h[6:]))
	}
	lt := r.u32(h[20:])
	ifc := &Interface{LinkType: uint16(lt), SnapLen: r.u32(h[16:]), FCSLen: -1}
	if lt&pcapFCSPresent != 0 {
		ifc.FCSLen = int(lt>>28) * 2 // counted in 16-bit words
	}
	if r.nano {
		ifc.setResol(9)
	} else {
		ifc.setResol(6)
	}
	r.ifaces = []*Interface{ifc}
	r.sect = 0
	r.counts.Sections++
	r.counts.Interfaces++
	r.consume(pcapHeaderLen)
	return nil
}
