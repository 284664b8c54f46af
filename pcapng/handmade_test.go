package pcapng

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// order is a byte order that can also append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// builder writes pcapng blocks by hand, in either byte order, so tests do not
// depend on the Writer.
type builder struct {
	bo order
	b  []byte
}

func (w *builder) u16(v uint16) []byte { return w.bo.AppendUint16(nil, v) }
func (w *builder) u32(v uint32) []byte { return w.bo.AppendUint32(nil, v) }
func (w *builder) u64(v uint64) []byte { return w.bo.AppendUint64(nil, v) }

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// opt encodes one option, padded.
func (w *builder) opt(code uint16, val []byte) []byte {
	b := append(w.u16(code), w.u16(uint16(len(val)))...)
	return pad(append(b, val...))
}

// block appends a block whose body is the concatenation of parts; it returns
// the block's offset.
func (w *builder) block(typ uint32, parts ...[]byte) int64 {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	body = pad(body)
	at := int64(len(w.b))
	n := uint32(len(body) + 12)
	w.b = append(w.b, w.u32(typ)...)
	w.b = append(w.b, w.u32(n)...)
	w.b = append(w.b, body...)
	w.b = append(w.b, w.u32(n)...)
	return at
}

func (w *builder) shb(opts ...[]byte) int64 {
	parts := [][]byte{w.u32(0x1A2B3C4D), w.u16(1), w.u16(0), w.u64(^uint64(0))}
	return w.block(blockSHB, append(parts, opts...)...)
}

func (w *builder) idb(linkType uint16, snap uint32, opts ...[]byte) int64 {
	parts := [][]byte{w.u16(linkType), w.u16(0), w.u32(snap)}
	return w.block(blockIDB, append(parts, opts...)...)
}

func (w *builder) epb(id uint32, ticks uint64, data []byte, orig uint32, opts ...[]byte) int64 {
	parts := [][]byte{w.u32(id), w.u32(uint32(ticks >> 32)), w.u32(uint32(ticks)), w.u32(uint32(len(data))), w.u32(orig), pad(bytes.Clone(data))}
	return w.block(blockEPB, append(parts, opts...)...)
}

func (w *builder) end() []byte { return w.u32(0) }

func TestByteOrders(t *testing.T) {
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		t.Run(bo.String(), func(t *testing.T) {
			w := &builder{bo: bo}
			w.shb(w.opt(shbUserAppl, []byte("hand")), w.end())
			w.idb(1, 65535, w.opt(ifName, []byte("eth0")), w.opt(ifTSResol, []byte{9}), w.end())
			p1 := w.epb(0, 1_600_000_000_000_000_001, []byte{1, 2, 3}, 3,
				w.opt(epbFlags, w.u32(FlagInbound)), w.opt(epbDropCount, w.u64(4)), w.opt(epbPacketID, w.u64(5)),
				w.opt(optComment, []byte("c")), w.opt(0x7777, []byte("unknown")), w.end())
			c := w.block(blockCustom, w.u32(32473), []byte{0xaa, 0xbb})
			isb := w.block(blockISB, w.u32(0), w.u32(0), w.u32(7), w.opt(isbIfRecv, w.u64(11)), w.opt(isbIfDrop, w.u64(12)),
				w.opt(isbStartTime, append(w.u32(0), w.u32(5)...)), w.end())
			spb := w.block(blockSPB, w.u32(5), []byte{5, 6, 7, 8, 9})
			pb := w.block(blockPB, w.u16(0), w.u16(3), w.u32(0), w.u32(9), w.u32(2), w.u32(2), []byte{4, 4, 0, 0},
				w.opt(epbFlags, w.u32(FlagOutbound)), w.end())
			want := []got{
				{Type: RecordPacket, Offset: p1, Frame: 1, TS: 1_600_000_000_000_000_001, LinkType: 1, Data: []byte{1, 2, 3}, OrigLen: 3,
					Flags: FlagInbound, DropCount: 4, PacketID: 5, Comment: "c"},
				{Type: RecordCustom, Offset: c, Frame: 2, PEN: 32473, Custom: []byte{0xaa, 0xbb, 0, 0}},
				{Type: RecordStats, Offset: isb, Frame: 2, TS: 7, LinkType: 1,
					Stats: InterfaceStats{Received: 11, Dropped: 12, StartTime: 5, Known: StatsReceived | StatsDropped | StatsStartTime}},
				{Type: RecordPacket, Offset: spb, Frame: 3, LinkType: 1, Data: []byte{5, 6, 7, 8, 9}, OrigLen: 5},
				{Type: RecordPacket, Offset: pb, Frame: 4, TS: 9, LinkType: 1, Data: []byte{4, 4}, OrigLen: 2, DropCount: 3, Flags: FlagOutbound},
			}
			out, r := readAll(t, w.b)
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("records differ\n got %+v\nwant %+v", out, want)
			}
			if r.Counts().UnknownOptions != 1 {
				t.Errorf("unknown options %d, want 1", r.Counts().UnknownOptions)
			}
		})
	}
}

// TestSections checks that interface ids restart with each section, that
// byte order may change between sections, and that link types differ per
// interface.
func TestSections(t *testing.T) {
	le := &builder{bo: binary.LittleEndian}
	le.shb()
	le.idb(1, 0)
	le.idb(113, 0) // Linux cooked
	a := le.epb(1, 1, []byte{1}, 1)
	b := le.epb(0, 2, []byte{2}, 1)
	be := &builder{bo: binary.BigEndian, b: le.b}
	be.shb()
	be.idb(276, 0) // SLL2
	c := be.epb(0, 3, []byte{3}, 1)
	be.block(0x0BADF00D, []byte{1, 2, 3, 4})
	d := be.epb(0, 4, []byte{4}, 1)

	out, r := readAll(t, be.b)
	want := []got{
		{Type: RecordPacket, Offset: a, Frame: 1, TS: 1000, IfID: 1, LinkType: 113, Data: []byte{1}, OrigLen: 1},
		{Type: RecordPacket, Offset: b, Frame: 2, TS: 2000, IfID: 0, LinkType: 1, Data: []byte{2}, OrigLen: 1},
		{Type: RecordPacket, Offset: c, Frame: 3, TS: 3000, IfID: 0, LinkType: 276, Data: []byte{3}, OrigLen: 1},
		{Type: RecordPacket, Offset: d, Frame: 4, TS: 4000, IfID: 0, LinkType: 276, Data: []byte{4}, OrigLen: 1},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("records differ\n got %+v\nwant %+v", out, want)
	}
	if c := r.Counts(); c.Sections != 2 || c.Interfaces != 3 || c.UnknownBlocks != 1 {
		t.Errorf("counts %+v", c)
	}
	if ifs := r.Interfaces(); len(ifs) != 1 || ifs[0].Section != 1 {
		t.Errorf("interfaces of the second section: %+v", ifs)
	}

	// An interface id of the first section is not defined in the second.
	bad := &builder{bo: binary.LittleEndian, b: bytes.Clone(be.b)}
	bad.shb()
	bad.idb(1, 0)
	e := bad.epb(1, 5, []byte{5}, 1)
	r = NewReader(bytes.NewReader(bad.b), "s.pcapng")
	err := drain(r)
	wantErr := &FormatError{File: "s.pcapng", Offset: e, Msg: "interface 1 not defined (section 2 has 1)"}
	if !reflect.DeepEqual(err, wantErr) {
		t.Errorf("got %v, want %v", err, wantErr)
	}
}

// drain reads until an error and returns it.
func drain(r *Reader) error {
	for {
		if _, err := r.Next(); err != nil {
			return err
		}
	}
}

func TestTimestampResolution(t *testing.T) {
	tests := []struct {
		name   string
		opts   [][]byte
		ticks  uint64
		wantNS int64
	}{
		{"default microseconds", nil, 1_700_000_000_123_456, 1_700_000_000_123_456_000},
		{"10^-6", [][]byte{{9, 0, 1, 0, 6, 0, 0, 0}}, 1_700_000_000_123_456, 1_700_000_000_123_456_000},
		{"10^-9", [][]byte{{9, 0, 1, 0, 9, 0, 0, 0}}, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789},
		{"10^-3", [][]byte{{9, 0, 1, 0, 3, 0, 0, 0}}, 1_700_000_000_123, 1_700_000_000_123_000_000},
		{"10^-12", [][]byte{{9, 0, 1, 0, 12, 0, 0, 0}}, 1_700_000_000_123_456_789, 1_700_000_000_123_456},
		{"2^-20", [][]byte{{9, 0, 1, 0, 0x80 | 20, 0, 0, 0}}, 3<<20 | 1<<19, 3_500_000_000},
		{"2^-0", [][]byte{{9, 0, 1, 0, 0x80, 0, 0, 0}}, 7, 7_000_000_000},
		{"2^-30 huge", [][]byte{{9, 0, 1, 0, 0x80 | 30, 0, 0, 0}}, 1_700_000_000 << 30, 1_700_000_000_000_000_000},
		{"tsoffset", [][]byte{{14, 0, 8, 0, 100, 0, 0, 0, 0, 0, 0, 0}}, 5, 100_000_005_000},
		{"tsoffset negative with ns", [][]byte{{9, 0, 1, 0, 9, 0, 0, 0}, {14, 0, 8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, 2_000_000_000, 1_000_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &builder{bo: binary.LittleEndian}
			w.shb()
			opts := tt.opts
			if opts != nil {
				opts = append(opts, w.end())
			}
			w.idb(1, 0, opts...)
			w.epb(0, tt.ticks, []byte{1}, 1)
			out, _ := readAll(t, w.b)
			if len(out) != 1 || out[0].TS != tt.wantNS {
				t.Fatalf("got %+v, want TS %d", out, tt.wantNS)
			}
		})
	}
}

func TestNameResolution(t *testing.T) {
	w := &builder{bo: binary.BigEndian}
	w.shb()
	rec := func(typ uint16, val []byte) []byte { return w.opt(typ, val) }
	w.block(blockNRB,
		rec(1, append([]byte{10, 0, 0, 1}, "a.example\x00b.example\x00"...)),
		rec(2, append(netip.MustParseAddr("2001:db8::1").AsSlice(), "v6.example\x00"...)),
		rec(99, []byte("ignored")),
		rec(0, nil),
		w.opt(optComment, []byte("nrb comment")), w.end())
	w.idb(1, 0)
	p := w.epb(0, 1, []byte{1}, 1)
	out, r := readAll(t, w.b)
	if len(out) != 1 || out[0].Offset != p || out[0].Frame != 1 {
		t.Fatalf("records %+v", out)
	}
	want := map[netip.Addr][]string{
		netip.MustParseAddr("10.0.0.1"):    {"a.example", "b.example"},
		netip.MustParseAddr("2001:db8::1"): {"v6.example"},
	}
	if !reflect.DeepEqual(r.Names(), want) {
		t.Errorf("names %v, want %v", r.Names(), want)
	}
	if r.Counts().NameResolution != 1 {
		t.Errorf("counts %+v", r.Counts())
	}
}

// classic builds a classic pcap file.
func classic(bo order, nano bool, linkType uint32, recs ...[]byte) []byte {
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b := bo.AppendUint32(nil, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 262144)
	b = bo.AppendUint32(b, linkType)
	for i, data := range recs {
		b = bo.AppendUint32(b, uint32(1_700_000_000+i))
		b = bo.AppendUint32(b, 123456)
		b = bo.AppendUint32(b, uint32(len(data)))
		b = bo.AppendUint32(b, uint32(len(data))+10)
		b = append(b, data...)
	}
	return b
}

func TestClassicPcap(t *testing.T) {
	tests := []struct {
		name    string
		bo      order
		nano    bool
		lt      uint32
		wantLT  uint16
		wantFCS int
		frac    int64
	}{
		{"usec little", binary.LittleEndian, false, 1, 1, -1, 123_456_000},
		{"usec big", binary.BigEndian, false, 113, 113, -1, 123_456_000},
		{"nsec little", binary.LittleEndian, true, 276, 276, -1, 123_456},
		{"nsec big", binary.BigEndian, true, 101, 101, -1, 123_456},
		{"fcs bits masked", binary.LittleEndian, false, 1 | pcapFCSPresent | 2<<28, 1, 4, 123_456_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := classic(tt.bo, tt.nano, tt.lt, []byte{1, 2, 3}, []byte{}, []byte{4})
			out, r := readAll(t, b)
			want := []got{
				{Type: RecordPacket, Offset: 24, Frame: 1, TS: 1_700_000_000e9 + tt.frac, LinkType: tt.wantLT, Data: []byte{1, 2, 3}, OrigLen: 13},
				{Type: RecordPacket, Offset: 43, Frame: 2, TS: 1_700_000_001e9 + tt.frac, LinkType: tt.wantLT, Data: []byte{}, OrigLen: 10},
				{Type: RecordPacket, Offset: 59, Frame: 3, TS: 1_700_000_002e9 + tt.frac, LinkType: tt.wantLT, Data: []byte{4}, OrigLen: 11},
			}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("records differ\n got %+v\nwant %+v", out, want)
			}
			if r.Format() != FormatPcap || r.Interfaces()[0].FCSLen != tt.wantFCS {
				t.Errorf("format %v, interface %+v", r.Format(), r.Interfaces()[0])
			}
		})
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestGzip(t *testing.T) {
	ng, want := sample(t)
	pc := classic(binary.LittleEndian, true, 1, []byte{1, 2, 3})
	tests := []struct {
		name   string
		plain  []byte
		format Format
		n      int
	}{
		{"pcapng", ng, FormatPcapNG, len(want)},
		{"pcap", pc, FormatPcap, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, _ := readAll(t, tt.plain)
			out, r := readAll(t, gz(tt.plain))
			if !reflect.DeepEqual(out, plain) || len(out) != tt.n {
				t.Fatalf("gzip'd read differs from plain read: %d vs %d records", len(out), len(plain))
			}
			if r.Format() != tt.format || !r.Compressed() {
				t.Errorf("format %v compressed %v", r.Format(), r.Compressed())
			}
		})
	}

	// A gzip stream cut short is a truncated file, reported at the partial
	// block's offset in the decompressed stream.
	z := gz(ng)
	r := NewReader(bytes.NewReader(z[:len(z)/2]), "cut.pcapng.gz")
	var err error
	var last int64
	for err == nil {
		var rec *Record
		if rec, err = r.Next(); err == nil {
			last = rec.Offset
		}
	}
	var nm *NeedMoreError
	if !errors.As(err, &nm) || nm.Offset <= last || nm.Offset >= int64(len(ng)) {
		t.Fatalf("cut gzip: got %v after a record at %d, want NeedMoreError past it", err, last)
	}
	if _, again := r.Next(); !errors.As(again, &nm) {
		t.Fatalf("cut gzip, second Next: %v", again)
	}

	// Corrupt compressed data is a FormatError.
	z = bytes.Clone(z)
	for i := 20; i < 40; i++ {
		z[i] ^= 0x55
	}
	err = drain(NewReader(bytes.NewReader(z), "bad.gz"))
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("corrupt gzip: got %v, want FormatError", err)
	}
}
