package main

import (
	"os"
	"strings"

	"github.com/tcpviz/tcpviz/viz"
)

func init() {
	register(&command{
		name:    "summary",
		summary: "headline figures, events and connections of a session or capture, for a terminal",
		usage: `  tcpviz summary --in SESSION_DIR|CAPTURE|events.jsonl [--format text|json|csv] [filters]

  The figures of the dashboards without a browser: packets, connections,
  retransmission rate, events by type, processes and the connections table.
  csv writes the connections table only. The filters are those of report.

Examples:
  tcpviz summary --in out/session_20260101_120000/
  tcpviz summary --in x.pcapng --format csv --dport 443 > conns.csv
  tcpviz summary --in x.pcapng --format json | jq .retransmission_pct

` + filterHelp,
		run: runSummary,
	})
}

func runSummary(args []string) error {
	c := commands["summary"]
	fs := newFlags(c)
	f := addReportFlags(fs, false)
	format := fs.String("format", viz.FormatText, "output format: text, json or csv")
	of := addOutputFlags(fs)
	addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.in == "" && fs.NArg() == 1 {
		f.in = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if f.in == "" {
		return usagef("--in is required (a session directory, a capture file or events.jsonl)")
	}
	switch *format {
	case viz.FormatText, viz.FormatJSON, viz.FormatCSV:
	default:
		return usagef("--format %q: want text, json or csv", *format)
	}
	// The summary needs no charts: build only the overview.
	f.charts = viz.ChartOverview
	of.setupLogging()
	flt, o, err := f.compile()
	if err != nil {
		return err
	}
	r, _, err := loadReport(f, flt, o, "summary")
	if err != nil {
		return err
	}
	return r.WriteSummary(os.Stdout, *format)
}
