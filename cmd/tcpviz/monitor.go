package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/monitor"
)

func init() {
	register(&command{
		name:    "monitor",
		summary: "follow rolling capture files and alert on retransmissions, loss and reordering",
		usage: `  tcpviz monitor --pcap-path PATH [--window SECONDS] [--threshold N] [--json] [--events-out FILE]

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
  that kind off. Ctrl-C prints a summary and exits 0.

  Environment (flags take precedence): TCPVIZ_WINDOW, TCPVIZ_THRESHOLD,
  TCPVIZ_LOSS_THRESHOLD, TCPVIZ_OOO_THRESHOLD, TCPVIZ_POLL_INTERVAL, NO_COLOR.

Examples:
  tcpviz monitor --pcap-path rolling.pcapng --window 60 --threshold 10
  tcpviz monitor --pcap-path '/var/cap/ring_*.pcapng' --json | jq .
  tcpviz monitor --pcap-path /var/cap --from-start --events-out events.jsonl
`,
		run: runMonitor,
	})
}

// Environment variables of the monitor.
const (
	envWindow        = "TCPVIZ_WINDOW"
	envThreshold     = "TCPVIZ_THRESHOLD"
	envLossThreshold = "TCPVIZ_LOSS_THRESHOLD"
	envOOOThreshold  = "TCPVIZ_OOO_THRESHOLD"
	envPollInterval  = "TCPVIZ_POLL_INTERVAL"
)

func runMonitor(args []string) error {
	c := commands["monitor"]
	fs := newFlags(c)
	th := monitor.DefaultThresholds()
	path := fs.String("pcap-path", "", "file, glob, directory, symlink or rotating capture name to follow")
	window := fs.Float64("window", 60, "sliding window in seconds of capture time (env "+envWindow+")")
	fs.IntVar(&th.Retransmission, "threshold", th.Retransmission, "retransmissions in the window that raise a WARN (env "+envThreshold+")")
	fs.IntVar(&th.Loss, "loss-threshold", th.Loss, "inferred losses (loss_infer, lost_segment) that raise a WARN (env "+envLossThreshold+")")
	fs.IntVar(&th.OutOfOrder, "ooo-threshold", th.OutOfOrder, "out-of-order segments that raise a WARN (env "+envOOOThreshold+")")
	fs.IntVar(&th.CriticalFactor, "critical-factor", th.CriticalFactor, "CRITICAL at this many times a threshold (below 2: no CRITICAL)")
	poll := fs.Duration("poll-interval", time.Second, "how often files are checked without a notification (env "+envPollInterval+")")
	noNotify := fs.Bool("no-notify", false, "do not use file system notifications: poll only (network file systems)")
	fromStart := fs.Bool("from-start", false, "read the existing files first instead of starting at their end")
	jsonOut := fs.Bool("json", false, "print one JSON object per alert")
	eventsOut := fs.String("events-out", "", "append every detector event to FILE as JSON Lines")
	quiet := fs.BoolP("quiet", "q", false, "no start-up line and no notices on stderr (the summary is still printed)")
	addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" && fs.NArg() == 1 {
		*path = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *path == "" {
		return usagef("--pcap-path is required (a file, glob, directory or rotating capture name)")
	}
	if err := monitorEnv(fs, window, &th, poll); err != nil {
		return err
	}
	if *window <= 0 {
		return usagef("--window %g: must be positive", *window)
	}
	if *poll <= 0 {
		return usagef("--poll-interval %v: must be positive", *poll)
	}
	if err := th.Validate(); err != nil {
		return usageError{err}
	}
	pcfg, err := newPipelineConfig()
	if err != nil {
		return err
	}
	cfg := monitor.Config{
		Follow:     monitor.FollowConfig{Path: *path, PollInterval: *poll, NoNotify: *noNotify, FromStart: *fromStart},
		Pipeline:   pcfg,
		Window:     time.Duration(*window * float64(time.Second)),
		Thresholds: th,
		Alerts:     os.Stdout,
		JSON:       *jsonOut,
		Color:      !*jsonOut && monitor.UseColor(os.Stdout),
		Log:        os.Stderr,
		IdleClock:  time.Now,
	}
	if *quiet {
		cfg.Log = nil
	}
	if *eventsOut != "" {
		f, err := os.OpenFile(*eventsOut, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("--events-out: %w", err)
		}
		defer f.Close()
		cfg.EventsOut = f
	}
	m, err := monitor.New(cfg)
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "tcpviz monitor: following %s; window %gs; WARN at %s; CRITICAL at %d×\n",
			m.Following(), *window, thresholdList(th), th.CriticalFactor)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runErr := m.Run(ctx)
	m.Final().Write(os.Stderr)
	return runErr
}

func thresholdList(th monitor.Thresholds) string {
	var parts []string
	for _, x := range []struct {
		name string
		n    int
	}{{"retransmission", th.Retransmission}, {"loss", th.Loss}, {"out_of_order", th.OutOfOrder}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", x.name, x.n))
		}
	}
	if len(parts) == 0 {
		return "nothing (every threshold is 0)"
	}
	return strings.Join(parts, ", ")
}

// monitorEnv applies TCPVIZ_* variables to the values whose flags were not
// given.
func monitorEnv(fs *pflag.FlagSet, window *float64, th *monitor.Thresholds, poll *time.Duration) error {
	if s, ok := os.LookupEnv(envWindow); ok && !fs.Changed("window") {
		d, err := parseSeconds(s)
		if err != nil {
			return usagef("%s=%q: %v", envWindow, s, err)
		}
		*window = d.Seconds()
	}
	if s, ok := os.LookupEnv(envPollInterval); ok && !fs.Changed("poll-interval") {
		d, err := parseSeconds(s)
		if err != nil {
			return usagef("%s=%q: %v", envPollInterval, s, err)
		}
		*poll = d
	}
	for _, x := range []struct {
		env, flag string
		dst       *int
	}{{envThreshold, "threshold", &th.Retransmission}, {envLossThreshold, "loss-threshold", &th.Loss},
		{envOOOThreshold, "ooo-threshold", &th.OutOfOrder}} {
		s, ok := os.LookupEnv(x.env)
		if !ok || fs.Changed(x.flag) {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return usagef("%s=%q: want a count (0 turns the alert off)", x.env, s)
		}
		*x.dst = n
	}
	return nil
}

// parseSeconds reads "60", "2.5" (seconds) or a Go duration ("500ms", "1m").
func parseSeconds(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v <= 0 {
			return 0, fmt.Errorf("must be positive")
		}
		return time.Duration(v * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want seconds or a duration such as 500ms")
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}
