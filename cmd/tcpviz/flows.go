package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/internal/connfilter"
	"github.com/tcpviz/tcpviz/internal/conntable"
	"github.com/tcpviz/tcpviz/internal/session"
)

func init() {
	register(&command{
		name:    "flows",
		summary: "connection lifespans from a capture, like tcplife (one line per connection)",
		usage: `  tcpviz flows --in FILE [-w] [-t] [-T] [--csv|--json] [-p PID] [-L PORTS] [-D PORTS] [--sort KEY]
  tcpviz flows --follow PATH [--from-start] | --live [-i IFACE] [--netns NS]  (same columns and formats)

  FILE is pcap or pcapng, optionally gzip-compressed, - for standard input,
  or a session directory (its capture is read).
  Columns: PID COMM LADDR LPORT RADDR RPORT TX_KiB RX_KiB MS, then RETRANS
  (retransmissions), RTT_MS (average RTT), LIMIT (what limited the direction
  that carried more data, and its share of the time: rwnd, cwnd, sndbuf, app,
  recovery, handshake; ~ marks a verdict inferred from packets rather than
  taken from the kernel's accounting), STATE (Zeek conn_state: SF, REJ,
  S0, RSTO, ...) and HISTORY (Zeek history). --why prints one sentence per
  connection instead of the table. LADDR is the local side: the one
  that sent the SYN, unless kernel records show the capture was taken on the
  server. TX is what the local side sent. PID and COMM are - unless the
  capture carries kernel records (tcpviz capture). Rows are sorted by start.
  Nothing is written to disk.

Examples:
  tcpviz flows --in samples/cubic-loss-sender.pcapng
  tcpviz flows --in x.pcapng -w -t -T
  tcpviz flows --in x.pcapng --why
  tcpviz flows --in x.pcapng --csv > flows.csv
  tcpviz flows --in x.pcapng --json | jq -c 'select(.retrans > 0)'
  tcpviz flows --in x.pcapng -p 181 -L 22,80 -D 443 --sort bytes
  tcpviz flows --follow rolling.pcapng                 # a row as each connection closes
  sudo tcpviz flows --live -i eth0 --csv
  tcpdump -i lo -w - | tcpviz flows --in -

` + filterHelp,
		run: runFlows,
	})
}

// tableFlags are the tcplife-style output and filter flags, shared by flows
// and analyze.
type tableFlags struct {
	wide, seconds, clock, csv, json bool
	why                             bool
	sort                            string
	filter                          *filterFlags
}

func addTableFlags(fs *pflag.FlagSet, t *tableFlags) {
	fs.BoolVarP(&t.wide, "wide", "w", false, "wide columns (IPv6 addresses fit, IP version column, full COMM)")
	fs.BoolVarP(&t.seconds, "timestamp", "t", false, "TIME(s) column: seconds since the first connection started")
	fs.BoolVarP(&t.clock, "time", "T", false, "TIME column: HH:MM:SS (local time) when the connection started")
	fs.BoolVarP(&t.csv, "csv", "", false, "comma-separated values with a header line (every column)")
	fs.BoolVarP(&t.json, "json", "", false, "JSON Lines: one object per connection (every column)")
	fs.BoolVarP(&t.why, "why", "", false, "one sentence per connection: what limited it (receiver window, congestion, send buffer, application, recovery)")
	fs.StringVarP(&t.sort, "sort", "", conntable.SortStart, "order: "+strings.Join(conntable.SortKeys, ", "))
	t.filter = addFilterFlags(fs, true)
}

// compile checks the flags and returns the filter and render options.
func (t *tableFlags) compile() (connfilter.Filter, conntable.Options, error) {
	var o conntable.Options
	f, err := t.filter.compile(false)
	if err != nil {
		return f, o, err
	}
	if err := conntable.Sort(nil, t.sort); err != nil {
		return f, o, usagef("--sort: %v", err)
	}
	if t.csv && t.json {
		return f, o, usagef("--csv and --json exclude each other")
	}
	if t.why && (t.csv || t.json) {
		return f, o, usagef("--why prints sentences; --csv and --json carry them in the why column")
	}
	o = conntable.Options{Format: conntable.FormatText, Wide: t.wide, Seconds: t.seconds, Clock: t.clock, Header: true, Why: t.why}
	switch {
	case t.csv:
		o.Format = conntable.FormatCSV
	case t.json:
		o.Format = conntable.FormatJSON
	}
	return f, o, nil
}

func runFlows(args []string) error {
	c := commands["flows"]
	fs := newFlags(c)
	in := fs.String("in", "", "capture file (pcap, pcapng, gzip'd), session directory, or - for stdin")
	outPath := fs.StringP("output", "o", "-", "write the table to this file instead of stdout (-)")
	var tf tableFlags
	addTableFlags(fs, &tf)
	var lf liveFlows
	fs.StringVar(&lf.follow, "follow", "", "follow a running capture's files (file, glob, directory or rotating -w name): a row as each connection closes")
	fs.BoolVar(&lf.fromStart, "from-start", false, "with --follow: read the existing files first")
	fs.BoolVar(&lf.live, "live", false, "capture with eBPF (root) and print a row as each connection closes")
	fs.StringVarP(&lf.capture.Interface, "interface", "i", "", "with --live: interface (default: the default route's)")
	fs.StringVar(&lf.capture.Netns, "netns", "", "with --live: capture inside this network namespace")
	of := addOutputFlags(fs)
	det := addDetectorFlags(fs)
	lf.det = det
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" && fs.NArg() == 1 {
		*in = fs.Arg(0) // tcpviz flows x.pcapng
	} else if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if lf.enabled() {
		if *in != "" || (lf.follow != "" && lf.live) {
			return usagef("--in, --follow and --live: choose one")
		}
		if *outPath != "-" {
			return usagef("--follow and --live write to standard output")
		}
		filter, opts, err := tf.compile()
		if err != nil {
			return err
		}
		if tf.sort != conntable.SortStart {
			return usagef("--sort: rows are printed as connections close")
		}
		of.setup()
		return lf.run(filter, opts)
	}
	if *in == "" {
		return usagef("--in is required (a capture file, or - for stdin)")
	}
	filter, opts, err := tf.compile()
	if err != nil {
		return err
	}
	of.setup()
	if st, err := os.Stat(*in); err == nil && st.IsDir() {
		// A session directory: its capture.
		info, err := session.Stat(*in)
		if err != nil {
			return err
		}
		if info.Capture == "" || info.Capture == "-" {
			return fmt.Errorf("session %s names no capture to read", *in)
		}
		*in = info.Capture
	}

	cfg, err := det.pipelineConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	progress, clearBar := of.progress()
	slog.Debug("reading", "input", *in, "detectors", cfg.NewDetector != nil)
	res, err := conntable.Collect(ctx, conntable.Source{Input: *in, Pipeline: cfg, Progress: progress})
	clearBar()
	if err != nil {
		return err
	}
	st := res.Stats
	slog.Debug("read", "packets", st.Packets, "tcp_packets", st.TCPPackets, "kernel_records", st.KernelRecords, "flows", st.Flows)
	for _, w := range st.Warnings {
		slog.Warn(w)
	}

	rows := conntable.Select(&filter, res.Rows, st.FirstTS)
	if err := conntable.Sort(rows, tf.sort); err != nil {
		return usagef("--sort: %v", err)
	}
	opts.Origin = st.FirstTS
	return writeTable(*outPath, rows, opts)
}

// writeTable writes the table to stdout ("-") or atomically to a file.
func writeTable(path string, rows []conntable.Row, opts conntable.Options) error {
	if path == "-" || path == "" {
		opts.Color = opts.Format == conntable.FormatText && useColor(os.Stdout)
		return conntable.Write(os.Stdout, rows, opts)
	}
	f, err := session.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := conntable.Write(f, rows, opts); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}
