package events

import (
	"bufio"
	"io"
)

// Writer writes records as JSON Lines through a buffer. It is the one
// writer of events.jsonl and flows.jsonl (parse-pcap, analyze, monitor
// --events-out). The first write error sticks: later writes do nothing and
// Err and Flush return it.
type Writer struct {
	w     *bufio.Writer
	buf   []byte
	err   error
	cache eventCache
}

// NewWriter returns a Writer with a buffer of size bytes (64 KiB when size
// is 0 or less).
func NewWriter(w io.Writer, size int) *Writer {
	if size <= 0 {
		size = 64 << 10
	}
	return &Writer{w: bufio.NewWriterSize(w, size), buf: make([]byte, 0, 1024)}
}

func (w *Writer) line(b []byte) {
	w.buf = append(b, '\n')
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = err
	}
}

// Event writes one event line.
func (w *Writer) Event(e *Event) {
	if w.err == nil {
		w.line(e.appendJSON(w.buf[:0], &w.cache))
	}
}

// Packet writes one packet record line; peerISN is subtracted from SACK
// blocks (0 when unknown).
func (w *Writer) Packet(p *Packet, peerISN uint32) {
	if w.err == nil {
		w.line(p.AppendJSON(w.buf[:0], peerISN))
	}
}

// Flow writes one flow record line.
func (w *Writer) Flow(r *FlowRecord) {
	if w.err == nil {
		w.line(r.AppendJSON(w.buf[:0]))
	}
}

// Err is the first write error.
func (w *Writer) Err() error { return w.err }

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}
