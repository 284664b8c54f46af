package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/livetable"
)

// statusLine is capture's one-line live status on a terminal: packets/s,
// bytes written, drops and the current file, redrawn in place. Notices
// written through it clear the line first so the two never mix.
type statusLine struct {
	mu     sync.Mutex
	w      io.Writer
	shown  bool
	last   capture.Status
	lastAt time.Time
}

func (l *statusLine) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erase()
	return l.w.Write(b)
}

func (l *statusLine) update(st capture.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	rate := 0.0
	if !l.lastAt.IsZero() {
		rate = float64(st.Packets-l.last.Packets) / now.Sub(l.lastAt).Seconds()
	}
	l.last, l.lastAt = st, now
	l.erase()
	fmt.Fprintf(l.w, "%d packets (%.0f/s)  %s written  %d dropped  %s", st.Packets, rate,
		livetable.Bytes(float64(st.Bytes)), st.Drops, filepath.Base(st.File))
	l.shown = true
}

// clear removes the line before the summary.
func (l *statusLine) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erase()
}

func (l *statusLine) erase() {
	if l.shown {
		io.WriteString(l.w, "\r\x1b[K")
		l.shown = false
	}
}
