package pcapng

const (
	pcapHeaderLen = 24
	pcapRecordLen = 16
	// The link-type field of a classic pcap header carries FCS information in
	// its upper bits (libpcap's LT_FCS_LENGTH_PRESENT and LT_FCS_LENGTH).
	pcapFCSPresent = 0x04000000
)

// pcapBuffered returns the next classic pcap record when its header and
// bytes are all buffered and the record before was a packet too: nearly
// every call. It writes only the fields that change from record to record
// and calls nothing, so it costs a fraction of nextPcap. It returns nil
// otherwise, and nextPcap reads, or says what is wrong.
func (r *Reader) pcapBuffered() *Record {
	b := r.buf[r.start:r.end]
	if len(b) < pcapRecordLen || r.rec.Type != RecordPacket {
		return nil
	}
	capLen := r.u32(b[8:])
	n := pcapRecordLen + int(capLen)
	if capLen > MaxBlockLen-pcapRecordLen || len(b) < n {
		return nil
	}
	out := &r.rec
	out.Offset = r.off
	sec, frac := int64(r.u32(b)), int64(r.u32(b[4:]))
	if !r.nano {
		frac *= 1000
	}
	out.TS = sec*1e9 + frac
	out.OrigLen = r.u32(b[12:])
	out.Data = b[pcapRecordLen:n]
	r.consume(n)
	r.frame++
	r.counts.Packets++
	out.Frame = r.frame
	return out
}

// nextPcap reads the classic pcap file header (once) and then one record.
func (r *Reader) nextPcap() (*Record, error) {
	if r.ifaces == nil {
		if err := r.pcapHeader(); err != nil {
			return nil, err
		}
	}
	if err := r.fill(pcapRecordLen); err != nil {
		return nil, r.boundary(err, pcapRecordLen)
	}
	capLen := r.u32(r.buf[r.start+8:])
	if capLen > MaxBlockLen-pcapRecordLen {
		return nil, r.fail(r.off, "pcap record: captured length %d exceeds limit", capLen)
	}
	n := pcapRecordLen + int(capLen)
	if err := r.fill(n); err != nil {
		return nil, r.short(err, n)
	}
	if r.rec.Type != RecordPacket {
		// The fields no classic pcap record changes.
		r.rec = Record{Type: RecordPacket, Interface: r.ifaces[0]}
	}
	return r.pcapBuffered(), nil
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
