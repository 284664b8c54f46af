// Package sessionfiles writes a session's artefacts from one run of the
// pipeline over a capture (driver.Run): events.jsonl, flows.jsonl and
// summary.json. parse-pcap, analyze and quick go through it.
package sessionfiles

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/session"
)

// Output file names inside a session directory.
const (
	EventsFile  = "events.jsonl"
	FlowsFile   = "flows.jsonl"
	SummaryFile = "summary.json"
)

// Options for one run.
type Options struct {
	// Input is a capture file, "-" for standard input, a directory or a
	// glob pattern (the files read as one capture, in name order: see
	// Inputs).
	Input   string
	OutDir  string // session directory; created if missing
	Packets bool   // also write one record per TCP packet into events.jsonl
	// Pipeline is the pipeline configuration (detectors, flow table).
	Pipeline pipeline.Config
	// Sinks receive packets and events besides the JSONL writers.
	Sinks []pipeline.Sink
	// KeepFlows keeps every connection's record in Result.Flows (for the
	// dashboards and the connection table). Without it flow records are
	// only streamed to flows.jsonl as connections leave the table, and
	// memory follows the live connections, not the file's length.
	KeepFlows bool
	// Stdin is read when Input is "-" (os.Stdin when nil).
	Stdin io.Reader
	// NoJSONL writes summary.json only: events and flows reach the other
	// sinks (Parquet) and are not written as JSON Lines.
	NoJSONL bool
	// OnFile, when set, is called with each input file's path ("-" for
	// standard input) before its first record reaches the sinks.
	OnFile func(path string)
	// Progress, when set, is called about every 64k records and once at the
	// end with the input bytes consumed, the input size (0 when unknown, e.g.
	// stdin or gzip) and the records read.
	Progress func(done, size int64, records uint64)
}

// Result is what a run produced.
type Result struct {
	Summary events.Summary
	Files   []string
	Flows   []events.FlowRecord // with KeepFlows: every connection, in the order they completed
}

// Run parses the capture and writes the session files. On error no output
// file is left under its final name.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := session.EnsureDir(o.OutDir); err != nil {
		return nil, err
	}

	var evFile, flFile *session.File
	evOut, flOut := io.Discard, io.Discard
	if !o.NoJSONL {
		var err error
		if evFile, err = session.Create(filepath.Join(o.OutDir, EventsFile)); err != nil {
			return nil, err
		}
		defer evFile.Abort()
		if flFile, err = session.Create(filepath.Join(o.OutDir, FlowsFile)); err != nil {
			return nil, err
		}
		defer flFile.Abort()
		evOut, flOut = evFile, flFile
	}

	w := &jsonlSink{w: events.NewWriter(evOut, 256<<10), packets: o.Packets}
	if !o.Packets && !o.NoJSONL {
		// Events alone: encoded and written on a goroutine of their own.
		// With packet records the two kinds share the file and its order,
		// so both are written in line.
		w.async = events.NewAsyncWriter(w.w)
		defer w.async.Close()
	}
	// Flow records too (they are many on connection-heavy captures).
	flw := events.NewAsyncWriter(events.NewWriter(flOut, 64<<10))
	defer flw.Close()

	cfg := o.Pipeline
	userOnFlow := cfg.OnFlow
	cfg.OnFlow = func(r *events.FlowRecord) {
		if !o.NoJSONL {
			flw.Flow(r)
		}
		if userOnFlow != nil {
			userOnFlow(r)
		}
	}
	in := driver.Source{Path: o.Input, Stdin: o.Stdin, Pipeline: cfg, KeepFlows: o.KeepFlows,
		OnFile: o.OnFile, Progress: o.Progress,
		Setup: func(p *pipeline.Pipeline) { w.table = p.Table() },
		Check: func() error {
			if err := w.err(); err != nil {
				return fmt.Errorf("write %s: %w", evFile.Path(), err)
			}
			if err := flw.Err(); err != nil {
				return fmt.Errorf("write %s: %w", flFile.Path(), err)
			}
			return nil
		}}
	var sinks []pipeline.Sink
	if !o.NoJSONL {
		sinks = append(sinks, w)
	}
	run, err := driver.Run(ctx, in, append(sinks, o.Sinks...)...)
	if err != nil {
		return nil, err
	}

	sum := run.Summary(o.Input)
	sumPath := filepath.Join(o.OutDir, SummaryFile)
	sum.Files = []string{sumPath}
	if !o.NoJSONL {
		if err := w.flush(); err != nil {
			return nil, fmt.Errorf("write %s: %w", evFile.Path(), err)
		}
		if err := flw.Flush(); err != nil {
			return nil, fmt.Errorf("write %s: %w", flFile.Path(), err)
		}
		sum.Files = []string{evFile.Path(), flFile.Path(), sumPath}
		if err := evFile.Commit(); err != nil {
			return nil, err
		}
		if err := flFile.Commit(); err != nil {
			return nil, err
		}
	}
	b, err := sum.IndentJSON()
	if err != nil {
		return nil, err
	}
	if err := session.WriteFile(sumPath, append(b, '\n')); err != nil {
		return nil, err
	}
	return &Result{Summary: sum, Files: sum.Files, Flows: run.Flows}, nil
}

// jsonlSink writes events (and, if asked, packets) as JSON Lines.
type jsonlSink struct {
	w       *events.Writer
	async   *events.AsyncWriter // owns w when set
	table   *conntrack.Table
	packets bool
}

func (s *jsonlSink) err() error {
	if s.async != nil {
		return s.async.Err()
	}
	return s.w.Err()
}

func (s *jsonlSink) flush() error {
	if s.async != nil {
		return s.async.Flush()
	}
	return s.w.Flush()
}

// WantsPackets tells the pipeline to skip Packet without packet records.
func (s *jsonlSink) WantsPackets() bool { return s.packets }

func (s *jsonlSink) Packet(p *events.Packet) {
	if !s.packets {
		return
	}
	peerBase, _ := s.table.Base(p.Flow, p.Dir.Reverse())
	s.w.Packet(p, peerBase)
}

// EventSlot gives the detectors the event writer's queue to build events
// in (pipeline.AddSink), when events are written on their own goroutine.
func (s *jsonlSink) EventSlot() func() *events.Event {
	if s.async != nil {
		return s.async.Slot
	}
	return nil
}

func (s *jsonlSink) Event(e *events.Event) {
	if s.async != nil {
		s.async.Event(e)
		return
	}
	s.w.Event(e)
}
