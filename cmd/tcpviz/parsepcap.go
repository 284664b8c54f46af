package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/connfilter"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/session"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
)

func init() {
	register(&command{
		name:    "parse-pcap",
		summary: "normalize a pcap/pcapng capture into JSONL events, flows and a summary",
		usage: `  tcpviz parse-pcap --in FILE [--out DIR] [--packets] [--parquet DIR [--host NAME] [--no-jsonl]]

  FILE is pcap or pcapng, optionally gzip-compressed, or - for standard input.
  A directory or a quoted glob is read as one capture, its files in name order
  (a rotated ring): connections continue from file to file, files are read and
  decoded in parallel, and one summary covers them all.
  Without --out, results go to out/session_YYYYmmdd_HHMMSS/.

Examples:
  tcpviz parse-pcap --in samples/cubic-loss-sender.pcapng
  tcpviz parse-pcap --in x.pcap.gz --out /tmp/run1
  tcpviz parse-pcap --in '/var/tmp/ring_*.pcapng'      # a capture ring, as one
  tcpviz parse-pcap --in x.pcapng --report          # and the HTML dashboards
  tcpviz parse-pcap --in x.pcapng --parquet /data/tcpviz   # and Parquet tables (docs/parquet.md)
  tcpdump -i eth0 -w - | tcpviz parse-pcap --in - --out /tmp/run2
`,
		run: runParsePcap,
	})
}

// pipelineHook lets other command files add to the pipeline configuration
// (detectors, dashboards) without parse-pcap knowing them.
var pipelineHooks []func(cfg *pipeline.Config)

func runParsePcap(args []string) error {
	c := commands["parse-pcap"]
	fs := newFlags(c)
	in := fs.String("in", "", "capture file (pcap, pcapng, gzip'd), - for stdin, or a directory or quoted glob of files read as one capture (a rotated ring)")
	out := fs.String("out", "", "output directory (default: a new out/session_YYYYmmdd_HHMMSS)")
	force := fs.Bool("force", false, "write into an existing, non-empty --out directory (its tcpviz files are replaced)")
	packets := fs.Bool("packets", false, "also write one record per TCP packet into events.jsonl")
	withReport := fs.Bool("report", false, "also build the dashboards (report.html, summary.html, timeline.html)")
	of := addOutputFlags(fs)
	pf := addParquetFlags(fs)
	noJSONL := fs.Bool("no-jsonl", false, "with --parquet: write the Parquet tables instead of events.jsonl and flows.jsonl (summary.json is still written)")
	det := addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--in is required (a capture file, or - for stdin)")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	dir := *out
	created := false
	if dir == "" {
		var err error
		if dir, err = session.NewDir(session.DefaultBase, time.Now()); err != nil {
			return err
		}
		created = true
	} else {
		var err error
		if created, err = session.OutDir(dir, *force, false); err != nil {
			return err
		}
	}
	of.setup()
	slog.Debug("parse", "input", *in, "out", dir)
	cfg, err := det.pipelineConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	progress, clearBar := of.progress()
	po := sessionfiles.Options{Input: *in, OutDir: dir, Packets: *packets, Pipeline: cfg, Progress: progress}
	var rep *sessionReport
	if *withReport {
		// The dashboards collect from the same pass: the capture is read once.
		if rep, err = newSessionReport(connfilter.Filter{}); err != nil {
			return err
		}
		po.Sinks = append(po.Sinks, rep.collector, rep.segments)
		po.KeepFlows = true
	}
	if *noJSONL && *pf.dir == "" {
		return usagef("--no-jsonl needs --parquet DIR (the results must go somewhere)")
	}
	po.NoJSONL = *noJSONL
	res, pqFiles, err := pf.run(ctx, po, clearBar)
	if err != nil {
		if created {
			os.Remove(dir) // only succeeds when empty: never removes results
		}
		return err
	}
	files := append(res.Files, pqFiles...)
	if rep != nil {
		more, err := rep.write(dir, res)
		if err != nil {
			return err
		}
		files = append(files, more...)
	}
	for _, f := range files {
		fmt.Println(f)
	}
	if !of.quiet {
		fmt.Fprintln(os.Stderr, figures(res))
	}
	return nil
}

// figures is the one-line account of a run.
func figures(res *sessionfiles.Result) string {
	s := res.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %d TCP, %s", plural(int(s.Packets), "packet"), s.TCPPackets, plural(s.Flows, "connection"))
	if s.KernelRecords > 0 {
		fmt.Fprintf(&b, ", %d kernel records", s.KernelRecords)
	}
	fmt.Fprintf(&b, ", %s", plural(events.Findings(s.Events), "detector event"))
	if len(s.Skipped) > 0 {
		keys := make([]string, 0, len(s.Skipped))
		for k := range s.Skipped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%d", k, s.Skipped[k])
		}
		fmt.Fprintf(&b, ", skipped %s", strings.Join(parts, " "))
	} else {
		b.WriteString(", skipped 0")
	}
	fmt.Fprintf(&b, ", %.2f s, %.0f packets/s", s.Seconds, s.PacketsPerSec)
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "\nwarning: %s", w)
	}
	if k := s.KernelRetrans; k != nil {
		fmt.Fprintf(&b, "\nkernel check: %s", k.String())
	}
	if k := s.KernelLimits; k != nil {
		fmt.Fprintf(&b, "\nlimits check: %s", k.String())
	}
	return b.String()
}
