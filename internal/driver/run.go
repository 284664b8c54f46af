// Package driver runs the pipeline over a capture: it opens the input (a
// file, gzip'd or not, standard input, or a directory or glob of files read
// as one), reads and decodes ahead on other goroutines, feeds the pipeline
// in file order and hands packets, events and connection records to the
// sinks. Every command that reads a capture goes through Run: parse-pcap and
// analyze (sessionfiles), report, summary, flows, pairing; and, from a Stream
// (a running capture's files, a live capture), monitor, top and
// flows --follow/--live.
package driver

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng"
)

// Source says what to read and how.
type Source struct {
	// Path is a capture file, "-" for standard input, a directory or a
	// glob pattern (the files read as one capture, in name order: see
	// Inputs).
	Path  string
	Stdin io.Reader // read when Path is "-" (os.Stdin when nil)
	// Stream, when set, is read instead of Path: a capture still being
	// written, record by record, until it ends or ctx is done.
	Stream Stream
	// Finish, with Stream, closes the connections still in the table when
	// the stream stops, so their records reach OnFlow (flows --follow). A
	// monitor stopped by a signal leaves them open. A file is always
	// finished.
	Finish bool
	// Pipeline is the pipeline configuration (detectors, flow table). Its
	// OnFlow, when set, still receives every record.
	Pipeline pipeline.Config
	// KeepFlows keeps every connection's record in Result.Flows. Without it
	// memory follows the live connections, not the input's length.
	KeepFlows bool
	// Setup, when set, is called with the pipeline before the first record
	// (for a sink that reads the connection table).
	Setup func(p *pipeline.Pipeline)
	// OnFile, when set, is called with each input file's path ("-" for
	// standard input) before its first record reaches the sinks.
	OnFile func(path string)
	// Progress, when set, is called about every 64k records and once at the
	// end with the input bytes consumed, the input size (0 when unknown, e.g.
	// stdin or gzip) and the records read.
	Progress func(done, size int64, records uint64)
	// Check, when set, is called with Progress (with Stream: after every
	// record); an error stops the run (a sink's write error).
	Check func() error
}

// Result is what a run read.
type Result struct {
	Stats   pipeline.Stats
	Flows   []events.FlowRecord // with KeepFlows: every connection, in the order they completed
	Frames  uint64              // frames of all files together (each numbers from 1)
	Paths   []string            // the files read
	Size    int64               // their bytes (0 when unknown)
	Format  string              // of the first file: pcap or pcapng, with "+gzip"
	Limits  []events.Verdict    // the connections held back longest
	Started time.Time
	Seconds float64
}

// Run reads the input through a pipeline built from in.Pipeline, with sinks
// receiving its packets and events. With a Stream the result comes back
// with the error too: a stream stops on an error or on ctx, and what it
// read before counts.
func Run(ctx context.Context, in Source, sinks ...pipeline.Sink) (*Result, error) {
	start := time.Now()
	var paths []string
	var sizes []int64
	if in.Stream == nil {
		var err error
		if paths, sizes, err = Inputs(in.Path); err != nil {
			return nil, err
		}
	}
	res := &Result{Paths: paths, Started: start}
	for _, n := range sizes {
		res.Size += n
	}
	cfg := in.Pipeline
	userOnFlow := cfg.OnFlow
	worst := events.Worst{N: 3}
	cfg.OnFlow = func(r *events.FlowRecord) {
		worst.Add(r)
		if in.KeepFlows {
			res.Flows = append(res.Flows, *r)
		}
		if userOnFlow != nil {
			userOnFlow(r)
		}
	}
	if in.Stream == nil {
		cfg.Source = in.Path
		if cfg.Source == "-" {
			cfg.Source = "stdin"
		}
	}
	p := pipeline.New(cfg)
	if in.Setup != nil {
		in.Setup(p)
	}
	for _, s := range sinks {
		p.AddSink(s)
	}
	if in.Stream != nil {
		err := runStream(ctx, in, p, res)
		res.Limits = worst.List
		return res, err
	}
	readers := make([]*pcapng.Reader, len(paths))
	open := func(i int) (*pcapng.Reader, io.Closer, error) {
		f, err := OpenInput(paths[i], in.Stdin)
		if err != nil {
			return nil, nil, err
		}
		readers[i] = pcapng.NewReader(f, f.Name)
		return readers[i], f, nil
	}
	var onFile func(int)
	if in.OnFile != nil {
		onFile = func(i int) { in.OnFile(paths[i]) }
	}
	var err error
	if res.Frames, err = feedFiles(ctx, open, sizes, p, in.Progress, in.Check, onFile); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.Stats = p.Stats()
	res.Limits = worst.List
	if r := readers[0]; r != nil {
		res.Format = r.Format().String()
		if r.Compressed() {
			res.Format += "+gzip"
		}
	}
	return res, nil
}

// Summary is the run's figures as summary.json has them (Files left empty).
func (r *Result) Summary(input string) events.Summary {
	st := &r.Stats
	sum := events.Summary{
		Schema: events.SchemaVersion, Tool: "tcpviz", Input: InputPath(input), InputBytes: r.Size,
		Format: r.Format, Started: events.Timestamp(r.Started.UnixNano()), Seconds: r.Seconds,
		Frames: r.Frames, Packets: st.Packets, TCPPackets: st.TCPPackets, KernelRecords: st.KernelRecords,
		Skipped: st.Skipped, Flows: st.Flows, Events: st.Events,
		FirstPacket: events.Timestamp(st.FirstTS), LastPacket: events.Timestamp(st.LastTS),
		Warnings: st.Warnings,
	}
	if len(r.Paths) > 1 {
		for _, f := range r.Paths {
			sum.Inputs = append(sum.Inputs, InputPath(f))
		}
	}
	if r.Seconds > 0 {
		sum.PacketsPerSec = float64(st.Packets) / r.Seconds
	}
	if st.KernelRecords > 0 {
		kr := st.KernelRetrans
		sum.KernelRetrans = &kr
	}
	sum.Limits = r.Limits
	sum.ZeroWindowMS, sum.ZeroWindowFlows = math.Round(st.ZeroWindowMS*1e3)/1e3, st.ZeroWindowFlows
	if st.KernelLimits.Directions > 0 {
		kl := st.KernelLimits
		sum.KernelLimits = &kl
	}
	return sum
}

// InputPath is how outputs name an input: its absolute path ("-" for
// standard input; the path as given when it cannot be made absolute).
func InputPath(p string) string {
	if p == "-" {
		return "-"
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
