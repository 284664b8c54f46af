package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/internal/pairing"
	"github.com/tcpviz/tcpviz/internal/session"
	"github.com/tcpviz/tcpviz/viz"
)

func init() {
	register(&command{
		name:    "report",
		summary: "HTML dashboards (timeline, congestion, sequence graphs, connections) from a session or capture",
		usage: `  tcpviz report --in SESSION_DIR|CAPTURE|events.jsonl [--out DIR] [filters] [--charts LIST] [--open]

  Writes timeline.html, summary.html and report.html (everything on one page)
  and prints their paths. Clicking a connection anywhere opens its page,
  report.html#flow=N: time-sequence, congestion, RTT, throughput and events
  on one linked time axis, every segment of the worst --detail connections
  and of each --flow (the report then opens on the first --flow's page). The pages are self-contained and open offline.
  A session directory is re-read from its capture (summary.json names it);
  if the capture is gone, the report is built from events.jsonl and
  flows.jsonl and says which charts are missing.

  With two captures of the same connections (--in A --in B: e.g. the
  sender's and the receiver's) the report is A's, plus a section pairing
  them: per connection and direction the segments lost between the two
  points, lost ACKs and the one-way delay; report.html#pair=N shows
  connection N's time-sequence with the losses marked and its delay over
  time (docs/pairing.md). report.html#compare=1,4 overlays connections
  (tick them in the connections table).

Examples:
  tcpviz report --in out/session_20260101_120000/
  tcpviz report --in x.pcapng --out /tmp/r --charts timeline,tsg --dport 443
  tcpviz report --in out/s1/events.jsonl --comm 'curl*' --open
  tcpviz report --in x.pcapng --flow 3 --flow 7 --open
  tcpviz report --in sender.pcapng --in receiver.pcapng --out /tmp/pair

` + filterHelp,
		run: runReport,
	})
}

// reportFlags are the input, filter and chart flags report and summary share.
type reportFlags struct {
	ins                      []string
	in                       string // the first --in
	pair                     string // a second --in: the same connections captured at another point
	filter                   *filterFlags
	charts                   string
	topFlows                 int
	maxPoints, eventsPerType int
	heat                     string
	detail                   int
	det                      *detectorFlags
}

func addReportFlags(fs *pflag.FlagSet, withCharts bool) *reportFlags {
	f := &reportFlags{}
	fs.StringArrayVar(&f.ins, "in", nil, "session directory, capture file (pcap/pcapng, gzip'd) or events.jsonl; twice: two captures of the same connections to pair (docs/pairing.md)")
	f.filter = addFilterFlags(fs, true)
	if withCharts {
		fs.StringVar(&f.charts, "charts", "all", "sections to draw: "+strings.Join(viz.AllCharts, ","))
		fs.IntVar(&f.topFlows, "top", 4, "connections drawn in the per-connection charts (largest first)")
		fs.IntVar(&f.maxPoints, "max-points", viz.DefaultLimits.Points, "points per plotted series (downsampling)")
		fs.IntVar(&f.eventsPerType, "max-events", viz.DefaultLimits.EventsPerType, "timeline markers per event type")
		fs.StringVar(&f.heat, "heat", "packets", "heatmap intensity: packets or events")
		fs.IntVar(&f.detail, "detail", viz.DefaultDetailConns, "connections whose page (report.html#flow=N) carries every segment: the worst N, plus every --flow (0: only --flow)")
	}
	return f
}

// inputs takes the inputs from --in (once, or twice to pair two captures)
// or the one positional argument.
func (f *reportFlags) inputs(fs *pflag.FlagSet) error {
	ins := f.ins
	if len(ins) == 0 && fs.NArg() == 1 {
		ins = fs.Args()
	} else if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch len(ins) {
	case 0:
		return usagef("--in is required (a session directory, a capture file or events.jsonl)")
	case 1:
		f.in = ins[0]
	case 2:
		f.in, f.pair = ins[0], ins[1]
	default:
		return usagef("--in given %d times: once, or twice to pair two captures of the same connections", len(ins))
	}
	return nil
}

// compile checks the flags and returns the filter and report options.
func (f *reportFlags) compile() (viz.Filter, viz.Options, error) {
	var o viz.Options
	flt, err := f.filter.compile(true)
	if err != nil {
		return flt, o, err
	}
	charts, err := viz.ParseCharts(f.charts)
	if err != nil {
		return flt, o, usagef("--charts: %v", err)
	}
	o = viz.Options{Charts: charts, TopFlows: f.topFlows, Filter: flt, Flows: flt.Flows, DetailConns: f.detail}
	if f.detail == 0 {
		o.DetailConns = -1
	}
	switch f.heat {
	case "", "packets":
	case "events":
		o.HeatEvents = true
	default:
		return flt, o, usagef("--heat %q: want packets or events", f.heat)
	}
	return flt, o, nil
}

func (f *reportFlags) limits() viz.Limits {
	return viz.Limits{Points: f.maxPoints, EventsPerType: f.eventsPerType}
}

// loadReport reads the input and builds the report.
// kind ("report", "summary") titles it.
func loadReport(f *reportFlags, flt viz.Filter, o viz.Options, kind string) (*viz.Report, *viz.Input, error) {
	cfg, err := f.det.pipelineConfig() // detectors as parse-pcap runs them
	if err != nil {
		return nil, nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var segs *viz.Segments
	if o.DetailConns >= 0 || len(o.Flows) > 0 {
		segs = viz.NewSegments(viz.SegmentLimits{}, flt, o.Flows)
	}
	lo := viz.LoadOptions{Pipeline: cfg, Limits: f.limits(), Filter: flt, Segments: segs}
	var rec *pairing.Recorder
	if f.pair != "" {
		// Capture A's segments for the pairing, on the report's own pass.
		rec = pairing.NewRecorder(f.in, 0)
		lo.Sinks = append(lo.Sinks, rec)
	}
	in, err := viz.Load(ctx, f.in, lo)
	if err != nil {
		return nil, nil, err
	}
	if rec != nil {
		if in.NoPackets {
			return nil, nil, fmt.Errorf("%s: pairing needs the capture's packets (give the capture file, not events)", f.in)
		}
		if o.Pairing, err = readPair(ctx, f, rec.Capture()); err != nil {
			return nil, nil, err
		}
	}
	o.Source, o.NoPackets, o.Segments = in.Source, in.NoPackets, segs
	o.CaptureFile = in.Source
	if in.Summary.Input != "" && in.Summary.Input != "-" {
		o.CaptureFile = in.Summary.Input
	}
	o.Title = "tcpviz " + kind + ": " + filepath.Base(strings.TrimRight(in.Source, "/"))
	r, err := viz.Build(in.Collector, in.Flows, in.Summary, o)
	if err != nil {
		return nil, nil, err
	}
	return r, in, nil
}

func runReport(args []string) error {
	c := commands["report"]
	fs := newFlags(c)
	f := addReportFlags(fs, true)
	out := fs.String("out", "", "output directory (default: the session directory, or a new out/session_* for a capture)")
	force := fs.Bool("force", false, "write into an existing, non-empty --out directory (its tcpviz files are replaced)")
	open := fs.Bool("open", false, "open report.html with xdg-open when a display is available")
	of := addOutputFlags(fs)
	f.det = addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.inputs(fs); err != nil {
		return err
	}
	of.setup()
	flt, o, err := f.compile()
	if err != nil {
		return err
	}
	r, in, err := loadReport(f, flt, o, "report")
	if err != nil {
		return err
	}
	dir := *out
	if dir != "" {
		if _, err := session.OutDir(dir, *force, false); err != nil {
			return err
		}
	} else {
		dir = in.Dir
	}
	if dir == "" {
		if dir, err = session.NewDir(session.DefaultBase, time.Now()); err != nil {
			return err
		}
	}
	files, err := r.WriteFiles(dir)
	if err != nil {
		return err
	}
	for _, n := range in.Notes {
		if !of.quiet {
			fmt.Fprintln(os.Stderr, "note:", n)
		}
	}
	if r.NoMatch != "" {
		fmt.Fprintln(os.Stderr, "note:", r.NoMatch) // even with -q: the pages are empty
	}
	for _, m := range r.Missing {
		if !of.quiet {
			fmt.Fprintln(os.Stderr, "not drawn:", m)
		}
	}
	for _, p := range files {
		fmt.Println(p)
	}
	if *open {
		openInBrowser(filepath.Join(dir, viz.FileReport))
	}
	return nil
}

// openInBrowser runs xdg-open when there is a display; otherwise it says so.
func openInBrowser(path string) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		fmt.Fprintln(os.Stderr, "--open: no display; open", path, "in a browser")
		return
	}
	cmd := exec.Command("xdg-open", path)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "--open:", err)
		return
	}
	go cmd.Wait() //nolint:errcheck // the viewer outlives us or not; nothing to report
}
