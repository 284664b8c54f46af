package pcapng

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// nextBlock reads pcapng blocks until one of them is a record.
func (r *Reader) nextBlock() (*Record, error) {
	for {
		if err := r.fill(8); err != nil {
			return nil, r.boundary(err, 8)
		}
		at := r.off
		b := r.buf[r.start:r.end]
		typ := r.u32(b) // the SHB type reads the same in both byte orders
		if typ == blockSHB {
			if err := r.fill(12); err != nil {
				return nil, r.short(err, 12)
			}
			b = r.buf[r.start:r.end]
			switch bom := b[8:12]; {
			case bom[0] == 0x4d && bom[1] == 0x3c && bom[2] == 0x2b && bom[3] == 0x1a:
				r.big = false
			case bom[0] == 0x1a && bom[1] == 0x2b && bom[2] == 0x3c && bom[3] == 0x4d:
				r.big = true
			default:
				return nil, r.fail(at, "section header: bad byte-order magic % x", bom)
			}
		} else if r.sect < 0 {
			return nil, r.fail(at, "block type 0x%08x before the first section header", typ)
		}
		n := r.u32(b[4:])
		switch {
		case n > MaxBlockLen:
			return nil, r.fail(at, "block length %d exceeds limit", n)
		case n < 12:
			return nil, r.fail(at, "block length %d is below 12", n)
		case n%4 != 0:
			return nil, r.fail(at, "block length %d is not a multiple of 4", n)
		}
		if err := r.fill(int(n)); err != nil {
			return nil, r.short(err, int(n))
		}
		blk := r.buf[r.start : r.start+int(n)]
		if t := r.u32(blk[n-4:]); t != n {
			return nil, r.fail(at, "block length %d at the start, %d at the end", n, t)
		}
		r.consume(int(n))
		body := blk[8 : n-4]

		switch typ {
		case blockEPB:
			return r.epb(at, body)
		case blockCustom, blockCustomCopy:
			if len(body) < 4 {
				return nil, r.fail(at, "custom block of %d bytes has no room for its PEN", n)
			}
			r.frame++
			r.counts.Custom++
			r.rec = Record{
				Type:       RecordCustom,
				BlockType:  typ,
				Offset:     at,
				Frame:      r.frame,
				PEN:        r.u32(body),
				CustomData: body[4:],
				Copyable:   typ == blockCustomCopy,
			}
			return &r.rec, nil
		case blockSPB:
			return r.spb(at, body)
		case blockPB:
			return r.pb(at, body)
		case blockISB:
			return r.isb(at, body)
		case blockSHB:
			if err := r.shb(at, body); err != nil {
				return nil, err
			}
		case blockIDB:
			if err := r.idb(at, body); err != nil {
				return nil, err
			}
		case blockNRB:
			if err := r.nrb(at, body); err != nil {
				return nil, err
			}
		case blockSJE:
			// tshark lists each journal entry as a frame; tcpviz has no use
			// for them but keeps the numbering in step.
			r.frame++
			r.counts.Journal++
		default:
			r.counts.UnknownBlocks++
		}
	}
}

// blockHeader reads a block's type and length, and epbFields the fixed
// fields of an Enhanced Packet Block, each with one test of the byte order
// (small enough to be inlined in Next).
func blockHeader(h *[8]byte, big bool) (typ, n uint32) {
	if big {
		return binary.BigEndian.Uint32(h[0:]), binary.BigEndian.Uint32(h[4:])
	}
	return binary.LittleEndian.Uint32(h[0:]), binary.LittleEndian.Uint32(h[4:])
}

func epbFields(h *[20]byte, big bool) (id, tsHi, tsLo, capLen, orig uint32) {
	if big {
		be := binary.BigEndian
		return be.Uint32(h[0:]), be.Uint32(h[4:]), be.Uint32(h[8:]), be.Uint32(h[12:]), be.Uint32(h[16:])
	}
	le := binary.LittleEndian
	return le.Uint32(h[0:]), le.Uint32(h[4:]), le.Uint32(h[8:]), le.Uint32(h[12:]), le.Uint32(h[16:])
}

// packetRecord readies r.rec for a packet. Assigning a whole Record per
// packet costs more than the rest of the block's parsing, so only the
// fields a packet may leave unset are cleared (all of them after a record
// of another type).
func (r *Reader) packetRecord() *Record {
	rec := &r.rec
	if rec.Type != RecordPacket {
		*rec = Record{Type: RecordPacket}
		return rec
	}
	rec.Flags, rec.DropCount, rec.PacketID, rec.Comment = 0, 0, 0, nil
	return rec
}

func (r *Reader) iface(at int64, id uint32) (*Interface, error) {
	if id >= uint32(len(r.ifaces)) {
		return nil, r.fail(at, "interface %d not defined (section %d has %d)", id, r.sect, len(r.ifaces))
	}
	return r.ifaces[id], nil
}

func (r *Reader) epb(at int64, body []byte) (*Record, error) {
	if len(body) < 20 {
		return nil, r.fail(at, "enhanced packet block of %d bytes is too short", len(body)+12)
	}
	id := r.u32(body)
	ifc, err := r.iface(at, id)
	if err != nil {
		return nil, err
	}
	capLen := r.u32(body[12:])
	if capLen > uint32(len(body)-20) {
		return nil, r.fail(at, "enhanced packet block: captured length %d exceeds the block (%d bytes of data)", capLen, len(body)-20)
	}
	r.frame++
	r.counts.Packets++
	rec := r.packetRecord()
	rec.BlockType = blockEPB
	rec.Offset = at
	rec.Frame = r.frame
	rec.TS = ifc.nanos(uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:])))
	rec.InterfaceID = id
	rec.Interface = ifc
	rec.Data = body[20 : 20+capLen]
	rec.OrigLen = r.u32(body[16:])
	if opts := body[20+pad4(capLen):]; len(opts) > 0 {
		if err := r.packetOptions(at, opts); err != nil {
			return nil, err
		}
	}
	return &r.rec, nil
}

// pb reads the obsolete Packet Block (type 2).
func (r *Reader) pb(at int64, body []byte) (*Record, error) {
	if len(body) < 20 {
		return nil, r.fail(at, "packet block of %d bytes is too short", len(body)+12)
	}
	id := uint32(r.u16(body))
	ifc, err := r.iface(at, id)
	if err != nil {
		return nil, err
	}
	capLen := r.u32(body[12:])
	if capLen > uint32(len(body)-20) {
		return nil, r.fail(at, "packet block: captured length %d exceeds the block (%d bytes of data)", capLen, len(body)-20)
	}
	r.frame++
	r.counts.Packets++
	r.rec = Record{
		Type:        RecordPacket,
		BlockType:   blockPB,
		Offset:      at,
		Frame:       r.frame,
		TS:          ifc.nanos(uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))),
		InterfaceID: id,
		Interface:   ifc,
		Data:        body[20 : 20+capLen],
		OrigLen:     r.u32(body[16:]),
		DropCount:   uint64(r.u16(body[2:])),
	}
	if opts := body[20+pad4(capLen):]; len(opts) > 0 {
		if err := r.packetOptions(at, opts); err != nil {
			return nil, err
		}
	}
	return &r.rec, nil
}

func (r *Reader) spb(at int64, body []byte) (*Record, error) {
	if len(body) < 4 {
		return nil, r.fail(at, "simple packet block of %d bytes is too short", len(body)+12)
	}
	ifc, err := r.iface(at, 0)
	if err != nil {
		return nil, err
	}
	orig := r.u32(body)
	capLen := min(orig, uint32(len(body)-4))
	if ifc.SnapLen != 0 {
		capLen = min(capLen, ifc.SnapLen)
	}
	r.frame++
	r.counts.Packets++
	r.rec = Record{
		Type:      RecordPacket,
		BlockType: blockSPB,
		Offset:    at,
		Frame:     r.frame,
		Interface: ifc,
		Data:      body[4 : 4+capLen],
		OrigLen:   orig,
	}
	return &r.rec, nil
}

// packetOptions reads the options of an EPB or PB into r.rec.
func (r *Reader) packetOptions(at int64, opts []byte) error {
	it := optIter{r: r, b: opts}
	for it.next() {
		switch it.code {
		case epbFlags:
			if len(it.val) != 4 {
				return r.fail(at, "epb_flags of %d bytes", len(it.val))
			}
			r.rec.Flags = r.u32(it.val)
		case epbDropCount:
			if len(it.val) != 8 {
				return r.fail(at, "epb_dropcount of %d bytes", len(it.val))
			}
			r.rec.DropCount = r.u64(it.val)
		case epbPacketID:
			if len(it.val) != 8 {
				return r.fail(at, "epb_packetid of %d bytes", len(it.val))
			}
			r.rec.PacketID = r.u64(it.val)
		case optComment:
			if r.rec.Comment == nil {
				r.rec.Comment = it.val
			}
		case epbHash:
		default:
			r.counts.UnknownOptions++
		}
	}
	return r.optErr(at, &it)
}

func (r *Reader) isb(at int64, body []byte) (*Record, error) {
	if len(body) < 12 {
		return nil, r.fail(at, "interface statistics block of %d bytes is too short", len(body)+12)
	}
	id := r.u32(body)
	ifc, err := r.iface(at, id)
	if err != nil {
		return nil, err
	}
	r.counts.Stats++
	r.rec = Record{
		Type:        RecordStats,
		BlockType:   blockISB,
		Offset:      at,
		Frame:       r.frame,
		TS:          ifc.nanos(uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))),
		InterfaceID: id,
		Interface:   ifc,
	}
	s := &r.rec.Stats
	it := optIter{r: r, b: body[12:]}
	for it.next() {
		if it.code == optComment {
			if r.rec.Comment == nil {
				r.rec.Comment = it.val
			}
			continue
		}
		if it.code < isbStartTime || it.code > isbUsrDeliv {
			r.counts.UnknownOptions++
			continue
		}
		if len(it.val) != 8 {
			return nil, r.fail(at, "interface statistics option %d of %d bytes, want 8", it.code, len(it.val))
		}
		v := r.u64(it.val)
		switch it.code {
		case isbStartTime:
			s.StartTime, s.Known = ifc.nanos(uint64(r.u32(it.val))<<32|uint64(r.u32(it.val[4:]))), s.Known|StatsStartTime
		case isbEndTime:
			s.EndTime, s.Known = ifc.nanos(uint64(r.u32(it.val))<<32|uint64(r.u32(it.val[4:]))), s.Known|StatsEndTime
		case isbIfRecv:
			s.Received, s.Known = v, s.Known|StatsReceived
		case isbIfDrop:
			s.Dropped, s.Known = v, s.Known|StatsDropped
		case isbFilterAccept:
			s.FilterAccepted, s.Known = v, s.Known|StatsFilterAccepted
		case isbOSDrop:
			s.OSDropped, s.Known = v, s.Known|StatsOSDropped
		case isbUsrDeliv:
			s.Delivered, s.Known = v, s.Known|StatsDelivered
		}
	}
	if err := r.optErr(at, &it); err != nil {
		return nil, err
	}
	return &r.rec, nil
}

func (r *Reader) shb(at int64, body []byte) error {
	if len(body) < 16 {
		return r.fail(at, "section header block of %d bytes is too short", len(body)+12)
	}
	if major, minor := r.u16(body[4:]), r.u16(body[6:]); major != 1 {
		return r.fail(at, "section header: unsupported pcapng version %d.%d", major, minor)
	}
	var sec Section
	it := optIter{r: r, b: body[16:]}
	for it.next() {
		switch it.code {
		case optComment:
			if sec.Comment == "" {
				sec.Comment = string(it.val)
			}
		case shbHardware:
			sec.Hardware = string(it.val)
		case shbOS:
			sec.OS = string(it.val)
		case shbUserAppl:
			sec.Application = string(it.val)
		default:
			r.counts.UnknownOptions++
		}
	}
	if err := r.optErr(at, &it); err != nil {
		return err
	}
	r.sect++
	sec.Index = r.sect
	r.section = sec
	r.ifaces = r.ifaces[:0:0] // interface ids restart; old *Interface stay valid
	r.counts.Sections++
	return nil
}

func (r *Reader) idb(at int64, body []byte) error {
	if len(body) < 8 {
		return r.fail(at, "interface description block of %d bytes is too short", len(body)+12)
	}
	if len(r.ifaces) >= maxInterfaces {
		return r.fail(at, "more than %d interfaces in section %d", maxInterfaces, r.sect)
	}
	ifc := &Interface{
		ID:       uint32(len(r.ifaces)),
		Section:  r.sect,
		LinkType: r.u16(body),
		SnapLen:  r.u32(body[4:]),
		FCSLen:   -1,
	}
	ifc.setResol(6)
	it := optIter{r: r, b: body[8:]}
	for it.next() {
		switch it.code {
		case ifName:
			ifc.Name = string(it.val)
		case ifDescription:
			ifc.Description = string(it.val)
		case ifHardware:
			ifc.Hardware = string(it.val)
		case ifOS:
			ifc.OS = string(it.val)
		case ifTSResol:
			if len(it.val) != 1 {
				return r.fail(at, "if_tsresol of %d bytes", len(it.val))
			}
			if !ifc.setResol(it.val[0]) {
				return r.fail(at, "if_tsresol 10^-%d is finer than supported", it.val[0])
			}
		case ifTSOffset:
			if len(it.val) != 8 {
				return r.fail(at, "if_tsoffset of %d bytes", len(it.val))
			}
			ifc.TSOffset = int64(r.u64(it.val))
		case ifFCSLen:
			if len(it.val) != 1 {
				return r.fail(at, "if_fcslen of %d bytes", len(it.val))
			}
			ifc.FCSLen = int(it.val[0])
		case optComment, ifSpeed, ifFilter, 4, 5, 6, 7, 10, 16, 17:
			// Known options tcpviz has no use for.
		default:
			r.counts.UnknownOptions++
		}
	}
	if err := r.optErr(at, &it); err != nil {
		return err
	}
	r.ifaces = append(r.ifaces, ifc)
	r.counts.Interfaces++
	return nil
}

// nrb parses a Name Resolution Block and keeps its IPv4 and IPv6 names.
func (r *Reader) nrb(at int64, body []byte) error {
	off := 0
	for {
		if len(body)-off < 4 {
			return r.fail(at, "name resolution block: record header at +%d runs past the block", off+8)
		}
		typ := r.u16(body[off:])
		n := int(r.u16(body[off+2:]))
		v := off + 4
		if n > len(body)-v {
			return r.fail(at, "name resolution block: record of %d bytes at +%d runs past the block", n, off+8)
		}
		val := body[v : v+n]
		off = v + int(pad4(uint32(n)))
		if off > len(body) {
			off = len(body)
		}
		var addr netip.Addr
		switch typ {
		case 0: // nrb_record_end
			it := optIter{r: r, b: body[off:]}
			for it.next() {
			}
			if err := r.optErr(at, &it); err != nil {
				return err
			}
			r.counts.NameResolution++
			return nil
		case 1:
			if n < 4 {
				return r.fail(at, "name resolution block: IPv4 record of %d bytes", n)
			}
			addr = netip.AddrFrom4([4]byte(val))
			val = val[4:]
		case 2:
			if n < 16 {
				return r.fail(at, "name resolution block: IPv6 record of %d bytes", n)
			}
			addr = netip.AddrFrom16([16]byte(val))
			val = val[16:]
		default:
			continue
		}
		if r.names == nil {
			r.names = make(map[netip.Addr][]string)
		}
		for len(val) > 0 {
			i := 0
			for i < len(val) && val[i] != 0 {
				i++
			}
			if i > 0 {
				r.names[addr] = append(r.names[addr], string(val[:i]))
			}
			if i < len(val) {
				i++
			}
			val = val[i:]
		}
	}
}

// optIter walks the options of a block.
type optIter struct {
	r    *Reader
	b    []byte
	off  int
	code uint16
	val  []byte
	bad  string
}

func (it *optIter) next() bool {
	if len(it.b)-it.off < 4 {
		if len(it.b) != it.off {
			it.bad = fmt.Sprintf("option header at +%d runs past the block", it.off)
		}
		return false
	}
	it.code = it.r.u16(it.b[it.off:])
	n := int(it.r.u16(it.b[it.off+2:]))
	if it.code == optEnd {
		return false
	}
	v := it.off + 4
	if n > len(it.b)-v {
		it.bad = fmt.Sprintf("option %d of %d bytes runs past the block", it.code, n)
		return false
	}
	it.val = it.b[v : v+n]
	it.off = min(v+int(pad4(uint32(n))), len(it.b))
	return true
}

func (r *Reader) optErr(at int64, it *optIter) error {
	if it.bad != "" {
		return r.fail(at, "%s", it.bad)
	}
	return nil
}
