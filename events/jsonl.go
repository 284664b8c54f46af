package events

import (
	"io"
)

// Writer writes records as JSON Lines through a buffer. It is the one
// writer of events.jsonl and flows.jsonl (parse-pcap, analyze, monitor
// --events-out). The first write error sticks: later writes do nothing and
// Err and Flush return it.
type Writer struct {
	w io.Writer
	// buf holds the lines not written yet: each record is encoded straight
	// into it (through a bufio.Writer it was encoded, then copied), and it
	// is written out once it holds size bytes.
	buf   []byte
	size  int
	err   error
	cache eventCache
}

// NewWriter returns a Writer with a buffer of size bytes (64 KiB when size
// is 0 or less).
func NewWriter(w io.Writer, size int) *Writer {
	if size <= 0 {
		size = 64 << 10
	}
	return &Writer{w: w, size: size, buf: make([]byte, 0, size+4<<10)}
}

// line ends the line appended to w.buf as b and writes the buffer out once
// it is full.
func (w *Writer) line(b []byte) {
	w.buf = append(b, '\n')
	if len(w.buf) >= w.size {
		w.write()
	}
}

func (w *Writer) write() {
	if len(w.buf) == 0 {
		return
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = err
	}
	w.buf = w.buf[:0]
}

// Event writes one event line.
func (w *Writer) Event(e *Event) {
	if w.err == nil {
		w.line(e.appendJSON(w.buf, &w.cache))
	}
}

// Packet writes one packet record line; peerISN is subtracted from SACK
// blocks (0 when unknown).
func (w *Writer) Packet(p *Packet, peerISN uint32) {
	if w.err == nil {
		w.line(p.AppendJSON(w.buf, peerISN))
	}
}

// Flow writes one flow record line.
func (w *Writer) Flow(r *FlowRecord) {
	if w.err == nil {
		w.line(r.AppendJSON(w.buf))
	}
}

// Err is the first write error.
func (w *Writer) Err() error { return w.err }

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.write()
	}
	return w.err
}
