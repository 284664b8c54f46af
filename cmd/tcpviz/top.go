package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/livetable"
	"github.com/tcpviz/tcpviz/internal/metrics"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/topui"
)

func init() {
	register(&command{
		name:    "top",
		summary: "live terminal view of every TCP connection with the kernel's cwnd, srtt and rates",
		usage: `  tcpviz top [-i IFACE] [--port P]... [--host A]... [--pid PID | --comm NAME] [--netns NS]
             [--interval D] [--sort COLUMN] [--once | --json]
  tcpviz top --pcap-path PATH [--from-start] [--interval D] [--once | --json]

  One row per live connection: owner, ends, state, the kernel's cwnd,
  ssthresh, srtt and rttvar, bytes in flight, send and receive rate over the
  last interval, delivery and pacing rate, retransmissions (total and in the
  interval), what limits the sender, and age. Fed straight from the eBPF
  programs (root; -i defaults to the interface of the default route), or
  from a running capture's files with --pcap-path (no root).

  Keys: up/down select, enter detail pane (cwnd, srtt and rate over the last
  minute, recent findings), < and > change the sort column, r reverses it,
  / filters (every typed word must appear), space pauses, q quits.
  --once prints one snapshot after one interval and exits; --json prints one
  JSON object per connection per interval until stopped (docs/top.md).
  --metrics-addr serves the same Prometheus metrics as the monitor's traffic
  counters (docs/prometheus.md).

Examples:
  sudo tcpviz top
  sudo tcpviz top -i eth0 --port 443 --sort retr
  tcpviz top --pcap-path rolling.pcapng
  sudo tcpviz top --once --interval 2s
  sudo tcpviz top --json --metrics-addr :9469 > /dev/null
`,
		run: runTop,
	})
}

func runTop(args []string) error {
	c := commands["top"]
	fs := newFlags(c)
	var cfg capture.Config
	fs.StringVarP(&cfg.Interface, "interface", "i", "", "interface to capture on (default: the default route's)")
	ports := fs.UintSlice("port", nil, "only connections with this port at either end (repeatable)")
	hosts := fs.StringSlice("host", nil, "only connections with this address at either end (repeatable)")
	fs.Uint32Var(&cfg.PID, "pid", 0, "only sockets owned by this process")
	fs.StringVar(&cfg.Comm, "comm", "", "only sockets owned by processes with this name")
	fs.StringVar(&cfg.Netns, "netns", "", "capture inside this network namespace (a name under /run/netns or a path)")
	path := fs.String("pcap-path", "", "follow a running capture's files instead of capturing (no root)")
	fromStart := fs.Bool("from-start", false, "with --pcap-path: read the existing files first")
	interval := fs.Duration("interval", time.Second, "refresh interval (100ms or more)")
	sortBy := fs.String("sort", "send/s", "column to sort by (a column name)")
	once := fs.Bool("once", false, "print one snapshot as a table and exit")
	jsonOut := fs.Bool("json", false, "print one JSON object per connection per interval")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on ADDR (e.g. :9469) at /metrics (docs/prometheus.md)")
	metricsPorts := fs.String("metrics-ports", "", "service ports kept as the service_port label, comma-separated (default: common server ports)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *interval < 100*time.Millisecond {
		return usagef("--interval %v: at least 100ms", *interval)
	}
	if livetable.ColumnIndex(*sortBy) < 0 {
		return usagef("--sort %q: not a column", *sortBy)
	}
	if *once && *jsonOut {
		return usagef("--once and --json: choose one")
	}
	if err := setCaptureFilters(&cfg, *ports, *hosts); err != nil {
		return err
	}
	interactive := !*once && !*jsonOut
	if interactive && !term.IsTerminal(int(os.Stdout.Fd())) {
		return usagef("standard output is not a terminal: use --once or --json")
	}
	if *path == "" {
		if err := needLinux("top"); err != nil {
			return err
		}
		if err := checkCapturePrivileges(); err != nil {
			return fmt.Errorf("top: %w (or follow a capture's files with --pcap-path)", err)
		}
		if cfg.Interface == "" {
			cfg.Interface = defaultRouteInterface()
		}
	}

	pcfg, err := (*detectorFlags)(nil).pipelineConfig() // defaults and environment: top has no detector flags
	if err != nil {
		return err
	}
	var reg *metrics.Registry
	var sinks []pipeline.Sink
	if *metricsAddr != "" {
		mports, err := parsePorts(*metricsPorts)
		if err != nil {
			return usagef("--metrics-ports: %v", err)
		}
		reg = metrics.NewRegistry()
		tr := metrics.NewTraffic(reg, mports)
		sinks = append(sinks, tr)
		prev := pcfg.OnFlow
		pcfg.OnFlow = func(r *events.FlowRecord) {
			tr.Flow(r)
			if prev != nil {
				prev(r)
			}
		}
	}
	if reg != nil {
		reg.Register(metrics.Runtime{})
		srv, err := startMetrics(*metricsAddr, reg)
		if err != nil {
			return err
		}
		defer srv.close()
	}
	status := make(chan string, 16)
	in, err := newLiveInput(*path, *fromStart, cfg, status)
	if err != nil {
		return err
	}
	table := livetable.New(in.drops)
	sinks = append(sinks, table)
	if *path == "" && cfg.Netns == "" {
		table.Owners = func(want map[[2]string]bool) map[[2]string]livetable.Owner {
			return livetable.ProcOwners("/proc", want)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	feedErr := make(chan error, 1)
	feedCtx, cancelFeed := context.WithCancel(ctx)
	defer cancelFeed()
	// Printed intervals start once packets flow (live: the capture takes a
	// moment to attach and fill its first buffer) or at once (--pcap-path).
	ready := table.Started()
	title := "live on " + cfg.Interface
	if *path != "" {
		title = "following " + *path
		ready = nil
	}
	go func() {
		feedErr <- in.run(feedCtx, pcfg, false, sinks...)
	}()

	switch {
	case interactive:
		m := topui.New(table, *interval, title, *sortBy)
		err := topui.Run(ctx, m, status)
		cancelFeed()
		if ferr := <-feedErr; err == nil && ferr != nil && !errors.Is(ferr, context.Canceled) {
			err = ferr
		}
		return err
	default:
		go func() {
			for s := range status {
				fmt.Fprintln(os.Stderr, "tcpviz top:", s)
			}
		}()
		select {
		case <-orNow(ready):
		case err := <-feedErr:
			return feedError(err)
		case <-ctx.Done():
			return nil
		}
		return printSnapshots(ctx, table, *interval, *once, *sortBy, feedErr, status)
	}
}

// printSnapshots is --once (one table after one interval) and --json (an
// object per connection per interval until stopped or the feed ends).
func printSnapshots(ctx context.Context, table *livetable.Table, interval time.Duration, once bool,
	sortBy string, feedErr <-chan error, status <-chan string) error {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	table.Snapshot() // starts the first interval now
	tick := time.NewTicker(interval)
	defer tick.Stop()
	col := livetable.ColumnIndex(sortBy)
	enc := json.NewEncoder(out)
	for {
		var ferr error
		ended := false
		select {
		case <-ctx.Done():
			return nil
		case ferr = <-feedErr:
			ended = true
		case <-tick.C:
		}
		rows, tot := table.Snapshot()
		livetable.Sort(rows, col, false)
		if once {
			width := 200
			if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
				width = w
			}
			_, err := io.WriteString(out, livetable.Text(rows, tot, width))
			return errors.Join(err, feedError(ferr))
		}
		now := events.Timestamp(time.Now().UnixNano())
		for i := range rows {
			if err := enc.Encode(struct {
				TS events.Timestamp `json:"ts"`
				*livetable.Row
			}{now, &rows[i]}); err != nil {
				return err
			}
		}
		if err := out.Flush(); err != nil {
			return err
		}
		if ended {
			return feedError(ferr)
		}
	}
}

// orNow is ch, or a closed channel when ch is nil.
func orNow(ch <-chan struct{}) <-chan struct{} {
	if ch == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return ch
}

func feedError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// defaultRouteInterface is the interface of the IPv4 default route, "lo"
// when there is none.
func defaultRouteInterface() string {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "lo"
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "00000000" {
			return f[0]
		}
	}
	return "lo"
}
