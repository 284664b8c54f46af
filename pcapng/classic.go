package pcapng

const (
	pcapHeaderLen = 24
	pcapRecordLen = 16
	// The link-type field of a classic pcap header carries FCS information in
	// its upper bits (libpcap's LT_FCS_LENGTH_PRESENT and LT_FCS_LENGTH).
	pcapFCSPresent = 0x04000000
)

// nextPcap reads the classic pcap file header (once) and then one record.
func (r *Reader) nextPcap() (*Record, error) {
	if r.ifaces == nil {
		if err := r.fill(pcapHeaderLen); err != nil {
			return nil, r.short(err, pcapHeaderLen)
		}
		h := r.buf[r.start : r.start+pcapHeaderLen]
		if major := r.u16(h[4:]); major != 2 {
			return nil, r.fail(0, "pcap: unsupported version %d.%d", major, r.u16(h[6:]))
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
	}
	if err := r.fill(pcapRecordLen); err != nil {
		return nil, r.boundary(err, pcapRecordLen)
	}
	at := r.off
	h := r.buf[r.start : r.start+pcapRecordLen]
	capLen := r.u32(h[8:])
	if capLen > MaxBlockLen-pcapRecordLen {
		return nil, r.fail(at, "pcap record: captured length %d exceeds limit", capLen)
	}
	n := pcapRecordLen + int(capLen)
	if err := r.fill(n); err != nil {
		return nil, r.short(err, n)
	}
	rec := r.buf[r.start : r.start+n]
	r.consume(n)
	ifc := r.ifaces[0]
	sec, frac := int64(r.u32(rec)), int64(r.u32(rec[4:]))
	if !r.nano {
		frac *= 1000
	}
	r.frame++
	r.counts.Packets++
	out := r.packetRecord()
	out.BlockType = 0
	out.Offset = at
	out.Frame = r.frame
	out.TS = sec*1e9 + frac
	out.InterfaceID = 0
	out.Interface = ifc
	out.Data = rec[pcapRecordLen:]
	out.OrigLen = r.u32(rec[12:])
	return out, nil
}
