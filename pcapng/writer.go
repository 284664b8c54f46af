package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultWriterBuffer is the Writer's buffer size when WriterOptions leaves it 0.
const DefaultWriterBuffer = 64 << 10

// WriterOptions configures the Section Header Block and buffering.
type WriterOptions struct {
	Application string // shb_userappl
	OS          string // shb_os
	Hardware    string // shb_hardware
	Comment     string // opt_comment of the section
	BufferSize  int    // bytes buffered before a write; DefaultWriterBuffer if 0
}

// PacketOptions are the optional fields of an Enhanced Packet Block. Zero
// values are not written.
type PacketOptions struct {
	Flags     uint32 // epb_flags: FlagInbound, FlagOutbound, ...
	DropCount uint64 // epb_dropcount
	PacketID  uint64 // epb_packetid
	Comment   string // opt_comment
}

// Writer writes a little-endian pcapng stream with nanosecond timestamps.
// Blocks collect in its own buffer; every write to the underlying writer
// holds whole blocks only, so a reader following the file never sees a torn
// block. A Writer is not safe for concurrent use.
type Writer struct {
	w       io.Writer
	buf     []byte
	size    int
	ifaces  []Interface
	written int64
	err     error
}

var le = binary.LittleEndian

// NewWriter starts a pcapng stream on w: the Section Header Block goes into
// the buffer at once and reaches w with the next Flush.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	size := opts.BufferSize
	if size <= 0 {
		size = DefaultWriterBuffer
	}
	wr := &Writer{w: w, size: size, buf: make([]byte, 0, size)}
	for _, s := range []string{opts.Application, opts.OS, opts.Hardware, opts.Comment} {
		if len(s) > 0xffff {
			return nil, fmt.Errorf("pcapng: section option of %d bytes exceeds 65535", len(s))
		}
	}
	b, start := wr.begin(blockSHB)
	b = le.AppendUint32(b, 0x1A2B3C4D)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, 0xffffffffffffffff) // section length not known
	opts0 := len(b)
	b = appendStringOpt(b, optComment, opts.Comment)
	b = appendStringOpt(b, shbHardware, opts.Hardware)
	b = appendStringOpt(b, shbOS, opts.OS)
	b = appendStringOpt(b, shbUserAppl, opts.Application)
	b = appendEndOpt(b, opts0)
	if err := wr.end(b, start); err != nil {
		return nil, err
	}
	return wr, nil
}

// AddInterface writes an Interface Description Block (if_name, if_description,
// if_tsresol=9) and returns the interface id packets refer to. Only LinkType,
// SnapLen, Name and Description of ifc are used.
func (w *Writer) AddInterface(ifc Interface) (uint32, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(ifc.Name) > 0xffff || len(ifc.Description) > 0xffff {
		return 0, errors.New("pcapng: interface name or description exceeds 65535 bytes")
	}
	b, start := w.begin(blockIDB)
	b = le.AppendUint16(b, ifc.LinkType)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, ifc.SnapLen)
	opts0 := len(b)
	b = appendStringOpt(b, ifName, ifc.Name)
	b = appendStringOpt(b, ifDescription, ifc.Description)
	b = appendOpt(b, ifTSResol, []byte{9})
	b = appendEndOpt(b, opts0)
	if err := w.end(b, start); err != nil {
		return 0, err
	}
	id := uint32(len(w.ifaces))
	ifc.ID = id
	w.ifaces = append(w.ifaces, ifc)
	return id, nil
}

// WritePacket writes an Enhanced Packet Block. tsNanos is ns since the epoch.
// data longer than the interface's snap length is cut to it; origLen below
// len(data) is raised to it.
func (w *Writer) WritePacket(id uint32, tsNanos int64, data []byte, origLen uint32, opts PacketOptions) error {
	if w.err != nil {
		return w.err
	}
	if id >= uint32(len(w.ifaces)) {
		return fmt.Errorf("pcapng: write packet: interface %d not added", id)
	}
	if snap := w.ifaces[id].SnapLen; snap != 0 && uint32(len(data)) > snap {
		data = data[:snap]
	}
	if len(data) > MaxBlockLen-64-len(opts.Comment) {
		return fmt.Errorf("pcapng: write packet: %d bytes exceed the block size limit", len(data))
	}
	if len(opts.Comment) > 0xffff {
		return fmt.Errorf("pcapng: write packet: comment of %d bytes exceeds 65535", len(opts.Comment))
	}
	origLen = max(origLen, uint32(len(data)))
	b, start := w.begin(blockEPB)
	b = le.AppendUint32(b, id)
	b = le.AppendUint32(b, uint32(uint64(tsNanos)>>32))
	b = le.AppendUint32(b, uint32(tsNanos))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, origLen)
	b = append(b, data...)
	b = appendPad(b)
	opts0 := len(b)
	if opts.Flags != 0 {
		b = appendOpt32(b, epbFlags, opts.Flags)
	}
	if opts.DropCount != 0 {
		b = appendOpt64(b, epbDropCount, opts.DropCount)
	}
	if opts.PacketID != 0 {
		b = appendOpt64(b, epbPacketID, opts.PacketID)
	}
	if opts.Comment != "" {
		b = appendStringOpt(b, optComment, opts.Comment)
	}
	b = appendEndOpt(b, opts0)
	return w.end(b, start)
}

// WriteCustom writes a Custom Block: 0x00000BAD when copyable (tools that
// rewrite the file may keep it), 0x40000BAD otherwise. data is padded to a
// multiple of 4; the block carries no options, so data may end anywhere.
func (w *Writer) WriteCustom(pen uint32, data []byte, copyable bool) error {
	if w.err != nil {
		return w.err
	}
	if len(data) > MaxBlockLen-20 {
		return fmt.Errorf("pcapng: write custom block: %d bytes exceed the block size limit", len(data))
	}
	typ := uint32(blockCustom)
	if copyable {
		typ = blockCustomCopy
	}
	b, start := w.begin(typ)
	b = le.AppendUint32(b, pen)
	b = append(b, data...)
	b = appendPad(b)
	return w.end(b, start)
}

// WriteStats writes an Interface Statistics Block for interface id at
// tsNanos. See InterfaceStats.Known for which counters are written.
func (w *Writer) WriteStats(id uint32, tsNanos int64, s InterfaceStats) error {
	if w.err != nil {
		return w.err
	}
	if id >= uint32(len(w.ifaces)) {
		return fmt.Errorf("pcapng: write stats: interface %d not added", id)
	}
	known := s.Known
	if known == 0 {
		known = StatsReceived | StatsDropped
		for _, c := range []struct {
			v    uint64
			flag StatsKnown
		}{{uint64(s.StartTime), StatsStartTime}, {uint64(s.EndTime), StatsEndTime},
			{s.FilterAccepted, StatsFilterAccepted}, {s.OSDropped, StatsOSDropped}, {s.Delivered, StatsDelivered}} {
			if c.v != 0 {
				known |= c.flag
			}
		}
	}
	b, start := w.begin(blockISB)
	b = le.AppendUint32(b, id)
	b = appendTS(b, tsNanos)
	opts0 := len(b)
	if known&StatsStartTime != 0 {
		b = appendOpt64(b, isbStartTime, uint64(s.StartTime)<<32|uint64(s.StartTime)>>32)
	}
	if known&StatsEndTime != 0 {
		b = appendOpt64(b, isbEndTime, uint64(s.EndTime)<<32|uint64(s.EndTime)>>32)
	}
	for _, c := range []struct {
		code uint16
		v    uint64
		flag StatsKnown
	}{{isbIfRecv, s.Received, StatsReceived}, {isbIfDrop, s.Dropped, StatsDropped},
		{isbFilterAccept, s.FilterAccepted, StatsFilterAccepted}, {isbOSDrop, s.OSDropped, StatsOSDropped},
		{isbUsrDeliv, s.Delivered, StatsDelivered}} {
		if known&c.flag != 0 {
			b = appendOpt64(b, c.code, c.v)
		}
	}
	b = appendEndOpt(b, opts0)
	return w.end(b, start)
}

// Flush hands every complete buffered block to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.w.Write(w.buf)
	w.written += int64(n)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("pcapng: write: %w", err)
		return w.err
	}
	w.buf = w.buf[:0]
	if cap(w.buf) > 4*w.size {
		w.buf = make([]byte, 0, w.size) // drop the room a huge block needed
	}
	return nil
}

// Close flushes. It does not close the underlying writer.
func (w *Writer) Close() error { return w.Flush() }

// Written returns the bytes handed to the underlying writer so far.
func (w *Writer) Written() int64 { return w.written }

// Buffered returns the bytes of complete blocks waiting for Flush.
func (w *Writer) Buffered() int { return len(w.buf) }

// Size returns the length the stream will have once flushed: Written plus
// Buffered. Use it to rotate files by size.
func (w *Writer) Size() int64 { return w.written + int64(len(w.buf)) }

// begin starts a block in the buffer; end finishes it.
func (w *Writer) begin(typ uint32) ([]byte, int) {
	start := len(w.buf)
	b := le.AppendUint32(w.buf, typ)
	b = le.AppendUint32(b, 0) // length, filled in by end
	return b, start
}

// end closes the block started at start: it writes the length at both ends
// and flushes if the buffer is full. A block bigger than the buffer is
// flushed on its own.
func (w *Writer) end(b []byte, start int) error {
	n := uint32(len(b) - start + 4)
	b = le.AppendUint32(b, n)
	le.PutUint32(b[start+4:], n)
	if w.err != nil {
		w.buf = b[:start]
		return w.err
	}
	if len(b) > w.size && start > 0 {
		// Flush what came before, then the big block alone.
		block := b[start:]
		w.buf = b[:start]
		if err := w.Flush(); err != nil {
			return err
		}
		w.buf = append(w.buf, block...)
	} else {
		w.buf = b
	}
	if len(w.buf) >= w.size {
		return w.Flush()
	}
	return nil
}

func appendOpt32(b []byte, code uint16, v uint32) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, 4)
	return le.AppendUint32(b, v)
}

func appendOpt64(b []byte, code uint16, v uint64) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, 8)
	return le.AppendUint64(b, v)
}

func appendTS(b []byte, ns int64) []byte {
	b = le.AppendUint32(b, uint32(uint64(ns)>>32))
	return le.AppendUint32(b, uint32(ns))
}

func appendPad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func appendOpt(b []byte, code uint16, v []byte) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return appendPad(b)
}

func appendStringOpt(b []byte, code uint16, s string) []byte {
	if s == "" {
		return b
	}
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(s)))
	b = append(b, s...)
	return appendPad(b)
}

// appendEndOpt closes an option list with opt_endofopt when there is one:
// opts is where the options start.
func appendEndOpt(b []byte, opts int) []byte {
	if len(b) == opts {
		return b
	}
	return append(b, 0, 0, 0, 0)
}
