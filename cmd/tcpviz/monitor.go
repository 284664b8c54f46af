package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/metrics"
	"github.com/tcpviz/tcpviz/internal/parquetout"
	"github.com/tcpviz/tcpviz/monitor"
)

func init() {
	register(&command{
		name:    "monitor",
		summary: "follow rolling capture files and alert on retransmissions, loss and reordering",
		usage: `  tcpviz monitor --pcap-path PATH [--window SECONDS] [--threshold N] [--json] [--events-out FILE]
                 [--metrics-addr ADDR] [--parquet DIR] [--no-follow]

  PATH is a capture file, a glob ('ring_*.pcapng', quoted), a directory, a
  symlink re-pointed at the newest file (rolling-current.pcapng), or the -w
  name given to a rotating capture (rolling.pcapng stands for tcpviz capture's
  and dumpcap's rolling_NNNNN_YYYYmmddHHMMSS.pcapng and for tcpdump -C's
  rolling.pcapng, rolling.pcapng1, ...). New files are picked up as they
  appear; connections continue from one file to the next.

  Counts are kept per connection over the last --window seconds of capture
  time. An alert line is printed when a count reaches its threshold (WARN) or
  --critical-factor times it (CRITICAL), once per connection, kind and level,
  and RECOVERED when it falls back below the threshold. A threshold of 0 turns
  that kind off. Ctrl-C prints a summary and exits 0. --json prints each
  alert in the shape Alertmanager's API takes (labels, annotations,
  startsAt, endsAt on RECOVERED, generatorURL naming the capture file and
  frame). --metrics-addr serves Prometheus metrics (docs/prometheus.md).
  --no-follow reads the files that exist and exits at their end: the alerts
  a finished capture raises, on capture time alone.

  Environment (flags take precedence): TCPVIZ_WINDOW, TCPVIZ_THRESHOLD,
  TCPVIZ_LOSS_THRESHOLD, TCPVIZ_OOO_THRESHOLD, TCPVIZ_POLL_INTERVAL, NO_COLOR.

Examples:
  tcpviz monitor --pcap-path rolling.pcapng --window 60 --threshold 10
  tcpviz monitor --pcap-path '/var/cap/ring_*.pcapng' --json | jq .
  tcpviz monitor --pcap-path /var/cap --from-start --events-out events.jsonl
  tcpviz monitor --pcap-path yesterday.pcapng --no-follow --window 10
  tcpviz monitor --pcap-path rolling.pcapng --metrics-addr :9469 --metrics-ports 443,5432
  tcpviz monitor --pcap-path rolling.pcapng --parquet /data/tcpviz
`,
		run: runMonitor,
	})
}

func runMonitor(args []string) error {
	c := commands["monitor"]
	fs := newFlags(c)
	set := monitor.DefaultSettings()
	th := &set.Thresholds
	path := fs.String("pcap-path", "", "file, glob, directory, symlink or rotating capture name to follow")
	window := fs.Float64(monitor.FlagWindow, set.Window.Seconds(), "sliding window in seconds of capture time (env "+monitor.EnvWindow+")")
	fs.IntVar(&th.Retransmission, monitor.FlagThreshold, th.Retransmission, "retransmissions in the window that raise a WARN (env "+monitor.EnvThreshold+")")
	fs.IntVar(&th.Loss, monitor.FlagLossThreshold, th.Loss, "inferred losses (loss_infer, lost_segment) that raise a WARN (env "+monitor.EnvLossThreshold+")")
	fs.IntVar(&th.OutOfOrder, monitor.FlagOOOThreshold, th.OutOfOrder, "out-of-order segments that raise a WARN (env "+monitor.EnvOOOThreshold+")")
	fs.IntVar(&th.Reordering, monitor.FlagReorderThreshold, th.Reordering, "reorderings (holes that closed without a retransmission) that raise a WARN (env "+monitor.EnvReorderThreshold+")")
	fs.IntVar(&th.CriticalFactor, "critical-factor", th.CriticalFactor, "CRITICAL at this many times a threshold (below 2: no CRITICAL)")
	fs.DurationVar(&set.PollInterval, monitor.FlagPollInterval, set.PollInterval, "how often files are checked without a notification (env "+monitor.EnvPollInterval+")")
	noNotify := fs.Bool("no-notify", false, "do not use file system notifications: poll only (network file systems)")
	fromStart := fs.Bool("from-start", false, "read the existing files first instead of starting at their end")
	noFollow := fs.Bool("no-follow", false, "read the existing files from their start, then print the summary and exit (capture time only: no idle clock)")
	jsonOut := fs.Bool("json", false, "print one JSON object per alert")
	eventsOut := fs.String("events-out", "", "append every detector event to FILE as JSON Lines")
	quiet := fs.BoolP("quiet", "q", false, "no start-up line and no notices on stderr (the summary is still printed)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on ADDR (e.g. :9469) at /metrics")
	metricsPorts := fs.String("metrics-ports", "", "service ports kept as the service_port label, comma-separated (default: common server ports); others are \"other\"")
	parquetDir := fs.String("parquet", "", "also write Parquet tables under DIR, one file per table and hour (docs/parquet.md)")
	host := fs.String("host", "", "host label of --json alerts and host=NAME partition of --parquet (default: this machine's host name)")
	parquetPackets := fs.Bool("parquet-packets", false, "also write the packets table with --parquet")
	det := addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" && fs.NArg() == 1 {
		*path = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *path == "" {
		// No path: follow the capture tcpviz capture is writing on this host.
		p, pid, err := capture.Running()
		if err != nil {
			return usagef("no --pcap-path, and %v: give a file, glob, directory or rotating capture name, or start `tcpviz capture -w FILE`", err)
		}
		*path = p
		if !*quiet {
			fmt.Fprintf(os.Stderr, "following the running capture %s (tcpviz capture, pid %d)\n", p, pid)
		}
	}
	if *noFollow {
		*fromStart = true
	}
	if !*quiet && !*noFollow {
		startNotice(os.Stderr, *path, *fromStart)
	}
	set.Window = time.Duration(*window * float64(time.Second))
	if err := set.ApplyEnv(os.LookupEnv, fs.Changed); err != nil {
		return usageError{err}
	}
	if err := set.Validate(); err != nil {
		return usageError{err}
	}
	pcfg, err := det.pipelineConfig()
	if err != nil {
		return err
	}
	cfg := monitor.Config{
		Follow: monitor.FollowConfig{Path: *path, PollInterval: set.PollInterval, NoNotify: *noNotify, FromStart: *fromStart,
			NoFollow: *noFollow},
		Pipeline:   pcfg,
		Window:     set.Window,
		Thresholds: set.Thresholds,
		Alerts:     os.Stdout,
		JSON:       *jsonOut,
		Color:      !*jsonOut && monitor.UseColor(os.Stdout),
		Log:        os.Stderr,
	}
	if !*noFollow {
		// A followed capture that goes quiet still moves the window on; a
		// finished one read with --no-follow keeps to its packets' times.
		cfg.IdleClock = time.Now
	}
	if *quiet {
		cfg.Log = nil
	}
	cfg.Host = *host
	if cfg.Host == "" {
		cfg.Host, _ = os.Hostname()
	}
	var flowSinks []func(*events.FlowRecord)
	var pq *parquetout.Writer
	if *parquetDir != "" {
		pq, err = parquetout.New(parquetout.Config{Dir: *parquetDir, Host: cfg.Host, Packets: *parquetPackets,
			Stem: fmt.Sprintf("monitor-%s-%d", time.Now().UTC().Format("20060102T150405"), os.Getpid()), Roll: time.Hour})
		if err != nil {
			return err
		}
		cfg.Sinks = append(cfg.Sinks, pq)
		cfg.OnFile = pq.SetCaptureFile
		flowSinks = append(flowSinks, pq.Flow)
	}
	var reg *metrics.Registry
	if *metricsAddr != "" {
		ports, err := parsePorts(*metricsPorts)
		if err != nil {
			return usagef("--metrics-ports: %v", err)
		}
		reg = metrics.NewRegistry()
		tr := metrics.NewTraffic(reg, ports)
		cfg.Sinks = append(cfg.Sinks, tr)
		flowSinks = append(flowSinks, tr.Flow)
	}
	if len(flowSinks) > 0 {
		prev := cfg.Pipeline.OnFlow
		cfg.Pipeline.OnFlow = func(r *events.FlowRecord) {
			for _, f := range flowSinks {
				f(r)
			}
			if prev != nil {
				prev(r)
			}
		}
	}
	if *eventsOut != "" {
		// Never through a symlink (it could point anywhere), and 0640 like
		// every output, even for a file that existed with other bits.
		if st, err := os.Lstat(*eventsOut); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("--events-out %s is a symbolic link: not following it", *eventsOut)
		}
		f, err := os.OpenFile(*eventsOut, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("--events-out: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("--events-out %s: not a regular file", *eventsOut)
		}
		if err := f.Chmod(0o640); err != nil {
			return fmt.Errorf("--events-out: %w", err)
		}
		cfg.EventsOut = f
	}
	m, err := monitor.New(cfg)
	if err != nil {
		if pq != nil {
			pq.Abort()
		}
		return err
	}
	if reg != nil {
		reg.Register(metrics.NewHealth(m.Summary), metrics.Runtime{})
		srv, err := startMetrics(*metricsAddr, reg)
		if err != nil {
			if pq != nil {
				pq.Abort()
			}
			return err
		}
		defer srv.close()
		if !*quiet {
			fmt.Fprintf(os.Stderr, "tcpviz monitor: metrics on http://%s/metrics\n", srv.addr)
		}
	}
	if !*quiet {
		verb := "following"
		if *noFollow {
			verb = "reading"
		}
		fmt.Fprintf(os.Stderr, "tcpviz monitor: %s %s; window %gs; WARN at %s; CRITICAL at %d×\n",
			verb, m.Following(), set.Window.Seconds(), thresholdList(set.Thresholds), th.CriticalFactor)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runErr := m.Run(ctx)
	final := m.Final()
	final.Write(os.Stderr)
	if runErr == nil && *noFollow && final.Files == 0 {
		runErr = fmt.Errorf("--no-follow: no capture file at %s", *path)
	}
	if pq != nil {
		if err := pq.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("--parquet: %w", err)
		}
	}
	return runErr
}

func thresholdList(th monitor.Thresholds) string {
	var parts []string
	for _, x := range []struct {
		name string
		n    int
	}{{"retransmission", th.Retransmission}, {"loss", th.Loss}, {"out_of_order", th.OutOfOrder}, {"reordering", th.Reordering}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", x.name, x.n))
		}
	}
	if len(parts) == 0 {
		return "nothing (every threshold is 0)"
	}
	return strings.Join(parts, ", ")
}

// startNotice tells at once what following path will do: wait for a path
// that matches nothing yet, or skip what an existing file already holds.
func startNotice(w io.Writer, path string, fromStart bool) {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.Mode().IsRegular() && !fromStart:
		fmt.Fprintf(w, "%s exists: what it holds now is skipped; waiting for new data (read it all with --from-start, or tcpviz summary --in %s)\n", path, path)
		return
	case err == nil:
		return
	}
	if m, _ := filepath.Glob(path); len(m) > 0 {
		return
	}
	if m, _ := filepath.Glob(path + "*"); len(m) > 0 {
		return // a rotating capture's name: its files carry a suffix
	}
	fmt.Fprintf(w, "warning: %s matches no file yet; waiting for it to appear (Ctrl-C stops)\n", path)
}
