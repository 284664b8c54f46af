package main

import (
	"os"

	"github.com/tcpviz/tcpviz/viz"
)

func init() {
	register(&command{
		name:    "summary",
		summary: "headline figures, events and connections of a session or capture, for a terminal",
		usage: `  tcpviz summary --in SESSION_DIR|CAPTURE|events.jsonl [--format text|json|csv] [filters]
  tcpviz summary --in A.pcapng --in B.pcapng [--format text|json|csv] [filters]

  The figures of the dashboards without a browser: packets, connections,
  retransmission rate, events by type, processes and the connections table.
  csv writes the connections table only. The filters are those of report.

  With two captures of the same connections taken at two points (e.g. on
  the sender and on the receiver) it pairs them instead: per connection and
  direction the segments sent and lost between the two points (data and
  pure ACKs) and the one-way delay, which includes the offset between the
  two capture clocks (docs/pairing.md). Connection filters apply to A.

Examples:
  tcpviz summary --in out/session_20260101_120000/
  tcpviz summary --in x.pcapng --format csv --dport 443 > conns.csv
  tcpviz summary --in x.pcapng --format json | jq .retransmission_pct
  tcpviz summary --in sender.pcapng --in receiver.pcapng

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
	f.det = addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.inputs(fs); err != nil {
		return err
	}
	switch *format {
	case viz.FormatText, viz.FormatJSON, viz.FormatCSV:
	default:
		return usagef("--format %q: want text, json or csv", *format)
	}
	// The summary needs no charts: build only the overview.
	f.charts = viz.ChartOverview
	of.setup()
	if f.pair != "" {
		return summaryPair(f, *format)
	}
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
