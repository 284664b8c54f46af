package pcapng

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

const (
	minBuf        = 4 << 10   // first buffer
	preferredBuf  = 256 << 10 // buffer a long input grows to
	maxEmptyReads = 100
)

type readerState uint8

const (
	stateDetect readerState = iota
	stateGzip
	statePcapNG
	statePcap
)

// Reader reads records from a pcapng or classic pcap stream, gzip'd or not.
// It reads lazily: nothing is read before the first call to Next.
type Reader struct {
	src  io.Reader
	name string

	buf        []byte // buf[start:end] holds bytes read but not consumed
	start, end int
	off        int64 // stream offset of buf[start]
	gz         bool  // src is the decompressed side of a gzip stream

	state   readerState
	big     bool // byte order of the current section or pcap file
	nano    bool // classic pcap with nanosecond timestamps
	ifaces  []*Interface
	sect    int // current section, -1 before the first SHB
	frame   uint64
	counts  Counts
	names   map[netip.Addr][]string
	section Section
	rec     Record
	err     error // sticky FormatError
	// get, when set, lends every buffer the reader reads into (SetBuffers).
	get func(n int) []byte
	// general: tests read every record by the general path (see Next).
	general bool
}

// NewReader returns a Reader over src. name is used in error messages.
func NewReader(src io.Reader, name string) *Reader {
	return &Reader{src: src, name: name, sect: -1}
}

// SetBuffers makes the reader take every buffer it reads into from get,
// which returns a buffer of at least n bytes, and never write again into
// one it has returned record bytes from: where it would move the bytes not
// yet consumed to the front of its buffer, it copies them into a new one.
// A Record's slices then stay valid after the next call to Next, as long as
// their buffer is not lent again; they point into the buffer get returned
// last. Call it before the first Next.
func (r *Reader) SetBuffers(get func(n int) []byte) { r.get = get }

// Offset returns the number of bytes consumed so far: the end of the last
// complete block (in the decompressed stream for gzip input).
func (r *Reader) Offset() int64 { return r.off }

// Format returns the detected file format (FormatUnknown before detection).
func (r *Reader) Format() Format {
	switch r.state {
	case statePcapNG:
		return FormatPcapNG
	case statePcap:
		return FormatPcap
	}
	return FormatUnknown
}

// Compressed reports whether the input was found to be gzip'd.
func (r *Reader) Compressed() bool { return r.gz }

// Frames returns the number of frames so far, counted as Wireshark counts
// them (see the package doc): the frame number of the last frame.
func (r *Reader) Frames() uint64 { return r.frame }

// Counts returns what the reader has seen so far.
func (r *Reader) Counts() Counts { return r.counts }

// Names returns the address-to-name entries of Name Resolution Blocks read so
// far (nil if none).
func (r *Reader) Names() map[netip.Addr][]string { return r.names }

// Section returns what the current Section Header Block says (zero for
// classic pcap).
func (r *Reader) Section() Section { return r.section }

// Interfaces returns the interfaces of the current section.
func (r *Reader) Interfaces() []*Interface { return r.ifaces }

// Next returns the next packet, custom block or statistics record. It returns
// io.EOF at a clean end of input, *NeedMoreError when the input ends inside a
// block, *FormatError for malformed input.
//
// Nearly every call returns a packet whose bytes are already buffered: a
// classic pcap record, or an Enhanced Packet Block without options after
// another packet. Those are read right here, writing only the fields that
// change from record to record and calling nothing (a call and the general
// paths' per-record work were two thirds of the reader's instructions);
// anything else, well formed or not, takes the general path, which checks
// and reports it.
func (r *Reader) Next() (*Record, error) {
	for r.err == nil {
		switch r.state {
		case statePcap:
			if r.general {
				// Tests: the checks and reads of pcapFill for every
				// record, before the record is taken below.
				if err := r.pcapFill(); err != nil {
					return nil, err
				}
			}
			b := r.buf[r.start:r.end]
			if len(b) >= pcapRecordLen && r.rec.Type == RecordPacket {
				sec, frac, capLen, orig := pcapRecordHeader((*[pcapRecordLen]byte)(b), r.big)
				if n := pcapRecordLen + int(capLen); capLen <= MaxBlockLen-pcapRecordLen && len(b) >= n {
					out := &r.rec
					out.Offset = r.off
					if !r.nano {
						frac *= 1000
					}
					out.TS = int64(sec)*1e9 + int64(frac)
					out.OrigLen = orig
					out.Data = b[pcapRecordLen:n]
					r.consume(n)
					r.frame++
					r.counts.Packets++
					out.Frame = r.frame
					return out, nil
				}
			}
			// The file header, a record not buffered whole, or an error:
			// once the record is buffered, the loop returns it.
			if err := r.pcapFill(); err != nil {
				return nil, err
			}
		case statePcapNG:
			b := r.buf[r.start:r.end]
			if len(b) >= 8+20+4 && r.rec.Type == RecordPacket && !r.general {
				typ, n := blockHeader((*[8]byte)(b), r.big)
				id, tsHi, tsLo, capLen, orig := epbFields((*[20]byte)(b[8:28]), r.big)
				// The checks of nextBlock and epb, for a block without
				// options on an interface already described, or with
				// epb_flags alone (the direction: every packet of tcpviz
				// capture's files).
				end := 8 + 20 + pad4(capLen) // where options start
				if typ == blockEPB && capLen <= MaxBlockLen && (n == end+4 || n == end+12+4) && n <= MaxBlockLen &&
					uint64(len(b)) >= uint64(n) && id < uint32(len(r.ifaces)) && r.u32(b[n-4:n]) == n {
					var flags uint32
					if n != end+4 {
						o := b[end : end+12]
						if r.u16(o) != epbFlags || r.u16(o[2:]) != 4 || r.u32(o[8:]) != 0 {
							return r.nextBlock()
						}
						flags = r.u32(o[4:])
					}
					ifc := r.ifaces[id]
					out := &r.rec
					out.BlockType = blockEPB
					out.Offset = r.off
					out.TS = ifc.nanos(uint64(tsHi)<<32 | uint64(tsLo))
					out.InterfaceID = id
					out.Interface = ifc
					out.Data = b[28 : 28+capLen]
					out.OrigLen = orig
					out.Flags, out.DropCount, out.PacketID, out.Comment = flags, 0, 0, nil
					r.consume(int(n))
					r.frame++
					r.counts.Packets++
					out.Frame = r.frame
					return out, nil
				}
			}
			return r.nextBlock()
		default: // stateDetect, stateGzip
			if err := r.detect(); err != nil {
				return nil, err
			}
		}
	}
	return nil, r.err
}

func (r *Reader) fail(off int64, format string, args ...any) error {
	r.err = &FormatError{File: r.name, Offset: off, Msg: fmt.Sprintf(format, args...)}
	return r.err
}

// fill makes sure at least n unconsumed bytes are buffered. Bytes already
// buffered are kept, so after io.EOF a later call reads only new input. The
// buffer starts small, grows toward preferredBuf as input keeps coming, and
// beyond it only as the bytes of a large block actually arrive: memory
// follows the data, never a length field alone.
func (r *Reader) fill(n int) error {
	if r.end-r.start >= n {
		return nil // most calls: small enough to be inlined
	}
	return r.read(n)
}

// read is fill when the buffer holds fewer than n unconsumed bytes.
func (r *Reader) read(n int) error {
	if n > len(r.buf)-r.start {
		size := len(r.buf)
		if size < preferredBuf {
			size = min(max(2*size, minBuf), preferredBuf)
		}
		r.moveToFront(size)
	}
	for empty := 0; r.end-r.start < n; {
		if r.end == len(r.buf) {
			// Only a block larger than the buffer gets here (start is 0).
			r.moveToFront(min(2*len(r.buf), n))
		}
		k, err := r.src.Read(r.buf[r.end:])
		r.end += k
		if r.end-r.start >= n {
			return nil // a later Read reports any error again
		}
		if err != nil {
			return r.readErr(err)
		}
		if k == 0 {
			if empty++; empty >= maxEmptyReads {
				return fmt.Errorf("%s: offset %d: read: %w", r.name, r.off+int64(r.end-r.start), io.ErrNoProgress)
			}
		}
	}
	return nil
}

// moveToFront moves the unconsumed bytes to the start of a buffer of size
// bytes (the same one when the size does not change and no buffers are
// lent).
func (r *Reader) moveToFront(size int) {
	buf := r.buf
	switch {
	case r.get != nil:
		buf = r.get(size)
	case size != len(buf):
		buf = make([]byte, size)
	}
	copy(buf, r.buf[r.start:r.end])
	r.buf = buf
	r.end -= r.start
	r.start = 0
}

func (r *Reader) readErr(err error) error {
	if err == io.EOF {
		return io.EOF
	}
	if r.gz {
		var ce flate.CorruptInputError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			// The compressed stream ends early: for the caller that is a
			// truncated file, reported as NeedMoreError by the caller of fill.
			return io.EOF
		case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &ce):
			return r.fail(r.off+int64(r.end-r.start), "gzip: %v", err)
		}
	}
	return fmt.Errorf("%s: offset %d: read: %w", r.name, r.off+int64(r.end-r.start), err)
}

// short turns a fill error for a block of need bytes into the error Next
// returns.
func (r *Reader) short(err error, need int) error {
	if err == io.EOF {
		return &NeedMoreError{File: r.name, Offset: r.off, Have: r.end - r.start, Need: need}
	}
	return err
}

// boundary is short for a fill at a block boundary, where input that ends
// with no byte of a new block is a clean end.
func (r *Reader) boundary(err error, need int) error {
	if err == io.EOF && r.end == r.start {
		return io.EOF
	}
	return r.short(err, need)
}

func (r *Reader) consume(n int) {
	r.start += n
	r.off += int64(n)
}

// detect looks at the first bytes of the stream to choose the format.
func (r *Reader) detect() error {
	if err := r.fill(4); err != nil {
		if err == io.EOF && r.gz && r.off == 0 && r.end == r.start {
			// An empty gzip stream holds no capture at all.
			return r.fail(0, "gzip stream holds no data")
		}
		return r.short(err, 4)
	}
	b := r.buf[r.start : r.start+4]
	switch {
	case b[0] == 0x1f && b[1] == 0x8b && !r.gz:
		return r.startGzip()
	case bytes.Equal(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}):
		r.state = statePcapNG
		return nil
	}
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
		r.big, r.nano = false, false
	case 0xd4c3b2a1:
		r.big, r.nano = true, false
	case 0xa1b23c4d:
		r.big, r.nano = false, true
	case 0x4d3cb2a1:
		r.big, r.nano = true, true
	default:
		return r.fail(0, "not a pcap or pcapng file: magic % x", b)
	}
	r.state = statePcap
	return nil
}

// startGzip puts a gzip reader in front of the stream. The bytes already
// buffered are handed to it first.
func (r *Reader) startGzip() error {
	head := bytes.Clone(r.buf[r.start:r.end])
	r.start, r.end = 0, 0
	zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(head), r.src))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return r.fail(0, "gzip: truncated header")
		}
		if errors.Is(err, gzip.ErrHeader) {
			return r.fail(0, "gzip: %v", err)
		}
		return fmt.Errorf("%s: offset 0: read: %w", r.name, err)
	}
	r.src = zr
	r.gz = true
	r.state = stateGzip
	return nil
}

func (r *Reader) u16(b []byte) uint16 {
	if r.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *Reader) u32(b []byte) uint32 {
	if r.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) u64(b []byte) uint64 {
	if r.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// pad4 rounds n up to a multiple of 4.
func pad4(n uint32) uint32 { return (n + 3) &^ 3 }
