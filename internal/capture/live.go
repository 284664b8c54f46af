package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/tcpviz/tcpviz/pcapng"
)

// Live is a capture read as it is made, with no file: Run captures into a
// pipe and hands over the records a capture file would hold, in order (a
// driver.Stream, for top and flows --live).
type Live struct {
	Config Config // Output and Stdout are set by Run
	drops  atomic.Uint64
}

// liveName names the records' source in notices and errors.
const liveName = "live capture"

// Run captures until ctx is done. The capture then stops and closes the
// pipe, so what it wrote before is still handed over.
func (l *Live) Run(ctx context.Context, h func(file string, rec *pcapng.Record) error) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cfg := l.Config
	cfg.Output, cfg.Stdout = "-", w
	done := make(chan error, 1)
	go func() {
		sum, err := Run(ctx, cfg)
		l.drops.Store(sum.Drops())
		w.Close()
		done <- err
	}()
	rerr := readAll(pcapng.NewReader(r, liveName), h)
	r.Close()
	if cerr := <-done; cerr != nil {
		return fmt.Errorf("capture: %w", cerr)
	}
	return rerr
}

// Drops is the packets the capture dropped, known once it has stopped.
func (l *Live) Drops() uint64 { return l.drops.Load() }

// readAll hands every record of rd to h; a stream cut inside a block (the
// capture stopped mid-write) ends at its last complete one.
func readAll(rd *pcapng.Reader, h func(file string, rec *pcapng.Record) error) error {
	for {
		rec, err := rd.Next()
		if err == io.EOF || errors.Is(err, pcapng.ErrNeedMore) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := h(liveName, rec); err != nil {
			return err
		}
	}
}
