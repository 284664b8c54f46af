package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/internal/connfilter"
	"github.com/tcpviz/tcpviz/internal/conntable"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/session"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/viz"
)

func init() {
	register(&command{
		name:    "analyze",
		summary: "re-run the detectors (and report) on a session's capture into a new session",
		usage: `  tcpviz analyze [ID|latest] [--base DIR] [--out DIR] [--parquet DIR] [detector flags] [-p PID] [-L PORTS] [-D PORTS] [--csv|--json]

  Reads the capture a session was made from (a capture file inside the
  session, else summary.json's input) and runs it through the pipeline again,
  with the current detector thresholds, into a new session directory (or
  --out): events.jsonl, flows.jsonl, summary.json, and the report when the
  report is built in. The source session is never changed.
  stdout: the connection table of the new run (the flows columns), filtered
  with -p, -L and -D. stderr: the new session's path and figures.

Examples:
  tcpviz analyze                          # the newest complete session
  tcpviz analyze session_20260102_030405 --dupack-threshold 2
  tcpviz analyze latest -D 443 --sort retrans
  tcpviz analyze latest --json --out /tmp/again

` + filterHelp,
		run: runAnalyze,
	})
}

func runAnalyze(args []string) error {
	c := commands["analyze"]
	fs := newFlags(c)
	base := fs.String("base", session.DefaultBase, "directory that holds the sessions")
	out := fs.String("out", "", "output directory (default: a new session under --base)")
	force := fs.Bool("force", false, "write into an existing, non-empty --out directory (its tcpviz files are replaced)")
	var tf tableFlags
	addTableFlags(fs, &tf)
	of := addOutputFlags(fs)
	pf := addParquetFlags(fs)
	det := addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("want at most one session ID, got %s", strings.Join(fs.Args(), " "))
	}
	filter, opts, err := tf.compile()
	if err != nil {
		return err
	}
	of.setup()
	cfg, err := det.pipelineConfig()
	if err != nil {
		return err
	}
	src, err := session.Resolve(*base, fs.Arg(0))
	if err != nil {
		return err
	}
	input := src.Capture
	switch {
	case input == "-":
		return fmt.Errorf("session %s was read from standard input: its capture was not kept", src.ID)
	case input == "":
		return fmt.Errorf("session %s names no capture (no capture file and no summary.json input)", src.ID)
	}
	if _, err := os.Stat(input); err != nil {
		return fmt.Errorf("session %s: capture: %w", src.ID, err)
	}

	dir := *out
	if dir == "" {
		if dir, err = session.NewDir(*base, time.Now()); err != nil {
			return err
		}
	} else if _, err := session.OutDir(dir, *force, false); err != nil {
		return err
	}
	slog.Debug("analyze", "session", src.Dir, "capture", input, "out", dir)
	sides := conntable.NewSides()
	report, err := newSessionReport(filter)
	if err != nil {
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	progress, clearBar := of.progress()
	po := sessionfiles.Options{Input: input, OutDir: dir, Pipeline: cfg, Progress: progress, KeepFlows: true,
		Sinks: []pipeline.Sink{sides, report.collector, report.segments}}
	res, pqFiles, err := pf.run(ctx, po, clearBar)
	if err != nil {
		if *out == "" {
			os.Remove(dir) // only succeeds when empty
		}
		return err
	}
	more, rows, err := report.finish(dir, res, sides)
	if err != nil {
		return err
	}
	files := append(append(res.Files, more...), pqFiles...)
	rows = conntable.Select(&filter, rows, int64(res.Summary.FirstPacket))
	if err := conntable.Sort(rows, tf.sort); err != nil {
		return usagef("--sort: %v", err)
	}
	opts.Origin = int64(res.Summary.FirstPacket)
	if err := writeTable("-", rows, opts); err != nil {
		return err
	}
	if !of.quiet {
		fmt.Fprintf(os.Stderr, "analyzed %s (%s) into %s\n", src.ID, input, dir)
		for _, f := range files {
			fmt.Fprintf(os.Stderr, "wrote %s\n", f)
		}
		fmt.Fprintln(os.Stderr, figures(res))
	}
	return nil
}

// sessionReport builds the dashboards of a run from a collector fed by the
// same pipeline.
type sessionReport struct {
	filter    viz.Filter
	collector *viz.Collector
	segments  *viz.Segments // every segment, for the connection pages
}

// newSessionReport returns the dashboards' collector, with the same filter
// as the connection table.
func newSessionReport(f connfilter.Filter) (*sessionReport, error) {
	if err := f.Compile(); err != nil {
		return nil, err
	}
	return &sessionReport{filter: f, collector: viz.NewCollector(viz.DefaultLimits, f),
		segments: viz.NewSegments(viz.SegmentLimits{}, f, f.Flows)}, nil
}

// finish writes the dashboards and returns their paths with the run's
// connection table, local side resolved from the kernel records.
func (r *sessionReport) finish(dir string, res *sessionfiles.Result, sides *conntable.Sides) ([]string, []conntable.Row, error) {
	files, err := r.write(dir, res)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]conntable.Row, 0, len(res.Flows))
	for i := range res.Flows {
		rows = append(rows, conntable.FromFlow(&res.Flows[i], sides.LocalIsServer(res.Flows[i].Flow)))
	}
	return files, rows, nil
}

func (r *sessionReport) write(dir string, res *sessionfiles.Result) ([]string, error) {
	rep, err := viz.Build(r.collector, res.Flows, res.Summary, viz.Options{
		Title: "tcpviz " + filepath.Base(dir), Source: res.Summary.Input, Filter: r.filter,
		Segments: r.segments, Flows: r.filter.Flows, CaptureFile: res.Summary.Input})
	if err != nil {
		return nil, err
	}
	return rep.WriteFiles(dir)
}
