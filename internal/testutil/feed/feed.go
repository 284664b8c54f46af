// Package feed reads a capture's records into a pipeline, or any function,
// for tests and benchmarks: in file order, on the calling goroutine, failing
// the test on the first error. That is what a benchmark of the pipeline
// must measure and what a test comparing two runs wants; the commands read
// ahead on other goroutines through driver.Run.
package feed

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng"
)

// Feeder takes records one at a time: a *pipeline.Pipeline, or a Func.
type Feeder interface {
	Feed(rec *pcapng.Record) error
}

// Func is a function used as a Feeder, e.g. to leave some records out on
// the way to a pipeline.
type Func func(rec *pcapng.Record) error

// Feed calls f.
func (f Func) Feed(rec *pcapng.Record) error { return f(rec) }

// Each hands every record of the capture in r (name names it in errors) to
// p, in order. The test fails on a read error (a capture cut inside a block
// included) or on p's first error. The record is only valid during the
// call. It does not finish a pipeline: the caller does, when it should.
func Each(tb testing.TB, r io.Reader, name string, p Feeder) {
	tb.Helper()
	rd := pcapng.NewReader(r, name)
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatalf("read %s: %v", name, err)
		}
		if err := p.Feed(rec); err != nil {
			tb.Fatalf("%s: record at offset %d: %v", name, rec.Offset, err)
		}
	}
}

// File is Each over the capture file at path (pcap or pcapng, gzip'd or
// not).
func File(tb testing.TB, path string, p Feeder) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	Each(tb, f, path, p)
}

// Bytes is Each over a capture held in memory.
func Bytes(tb testing.TB, data []byte, name string, p Feeder) {
	tb.Helper()
	Each(tb, bytes.NewReader(data), name, p)
}
