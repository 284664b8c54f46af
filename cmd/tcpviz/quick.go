package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/conntable"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/session"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/textsafe"
)

func init() {
	register(&command{
		name:    "quick",
		summary: "capture, analyze and report in one go (needs root)",
		usage: `  tcpviz quick -i IFACE [--duration 60s] [--port N]... [--netns NS] [--out DIR]

  Captures packets and the kernel's TCP state on IFACE with eBPF for
  --duration (Ctrl-C stops early), then runs the detectors and builds the
  report, all into a new out/session_YYYYmmdd_HHMMSS/ (capture.pcapng,
  events.jsonl, flows.jsonl, summary.json, report.html).
  stdout: headline figures and the report's path.
  Needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN.

Examples:
  sudo tcpviz quick -i eth0
  sudo tcpviz quick -i eth0 --duration 5m --port 443
  sudo tcpviz quick -i lo --duration 10s --out /tmp/lo-run

` + filterHelp,
		run: runQuick,
	})
}

func runQuick(args []string) error {
	if err := needLinux("quick"); err != nil {
		return err
	}
	c := commands["quick"]
	fs := newFlags(c)
	iface := fs.StringP("interface", "i", "", "interface to capture on")
	duration := fs.Duration("duration", 60*time.Second, "how long to capture")
	ports := fs.UintSlice("port", nil, "capture only these ports (either end; repeatable or comma-separated)")
	netns := fs.String("netns", "", "capture inside this network namespace (a name under /run/netns or a path)")
	base := fs.String("base", session.DefaultBase, "directory that holds the sessions")
	out := fs.String("out", "", "output directory (default: a new session under --base)")
	ff := addFilterFlags(fs, false) // --port above is the capture's filter: the same meaning
	force := fs.Bool("force", false, "write into an existing, non-empty --out directory (its tcpviz files are replaced)")
	of := addOutputFlags(fs)
	det := addDetectorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *iface == "" {
		return usagef("-i IFACE is required")
	}
	if *duration <= 0 {
		return usagef("--duration must be positive")
	}
	var portList []uint16
	for _, p := range *ports {
		if p == 0 || p > 65535 {
			return usagef("--port %d: want 1 to 65535", p)
		}
		portList = append(portList, uint16(p))
	}
	of.setup()
	// Fail before creating anything when the capture cannot run.
	if err := checkCapturePrivileges(); err != nil {
		return err
	}
	if *netns == "" {
		if _, err := net.InterfaceByName(*iface); err != nil {
			return fmt.Errorf("interface %s: %w", *iface, err)
		}
	}
	cfg, err := det.pipelineConfig()
	if err != nil {
		return err
	}
	flt, err := ff.compile(true)
	if err != nil {
		return err
	}
	report, err := newSessionReport(flt)
	if err != nil {
		return err
	}

	dir := *out
	if dir == "" {
		if dir, err = session.NewDir(*base, time.Now()); err != nil {
			return err
		}
	} else if _, err := session.OutDir(dir, *force, false); err != nil {
		return err
	}
	capFile := filepath.Join(dir, "capture.pcapng")

	// Ctrl-C ends the capture early; the analysis still runs.
	capCtx, stopCap := signal.NotifyContext(context.Background(), os.Interrupt)
	var capLog io.Writer = io.Discard
	if of.verbose {
		capLog = os.Stderr
	}
	capSum, err := capture.Run(capCtx, capture.Config{
		Interface: *iface, Output: capFile, Duration: *duration, Ports: portList, Netns: *netns, Log: capLog,
		Ready: func() {
			if !of.quiet {
				fmt.Fprintf(os.Stderr, "capturing on %s for %s (Ctrl-C to stop early) into %s\n", *iface, *duration, dir)
			}
		},
	})
	stopCap()
	if err != nil {
		if *out == "" {
			os.Remove(dir) // only succeeds when empty
		}
		return fmt.Errorf("capture: %w", err)
	}
	slog.Debug("captured", "summary", capSum.String())
	if len(capSum.Files) > 0 {
		capFile = capSum.Files[len(capSum.Files)-1]
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return quickAnalyze(ctx, capFile, dir, cfg, report, capSum, of, os.Stdout)
}

// quickAnalyze is quick once its capture is written: the detectors and the
// report over capFile into dir, then the headline figures on w.
func quickAnalyze(ctx context.Context, capFile, dir string, cfg pipeline.Config, report *sessionReport,
	capSum capture.Summary, of *outputFlags, out io.Writer) error {
	sides := conntable.NewSides()
	progress, clearBar := of.progress()
	res, err := sessionfiles.Run(ctx, sessionfiles.Options{Input: capFile, OutDir: dir, Pipeline: cfg, Progress: progress, KeepFlows: true,
		Sinks: []pipeline.Sink{sides, report.collector, report.segments}})
	clearBar()
	if err != nil {
		return err
	}
	files, rows, err := report.finish(dir, res, sides)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	writeHeadline(w, capSum, res, rows)
	reportPath := filepath.Join(dir, "report.html")
	for _, f := range files {
		if filepath.Base(f) == "report.html" {
			reportPath = f
		}
	}
	fmt.Fprintf(w, "session:  %s\nreport:   %s\n", dir, reportPath)
	return w.Flush()
}

// writeHeadline prints the figures a person wants first: how much was seen,
// how much went wrong, and where.
func writeHeadline(w io.Writer, capSum capture.Summary, res *sessionfiles.Result, rows []conntable.Row) {
	s := res.Summary
	span := time.Duration(int64(s.LastPacket) - int64(s.FirstPacket))
	fmt.Fprintf(w, "captured: %d packets, %d kernel records on %s in %s", s.Packets, s.KernelRecords,
		capSum.Interface, capSum.End.Sub(capSum.Start).Round(time.Millisecond))
	if d := capSum.Drops(); d > 0 {
		fmt.Fprintf(w, " (%d dropped)", d)
	}
	fmt.Fprintln(w)
	var tx, rx uint64
	var retrans int
	var retransB uint64
	for i := range rows {
		tx += rows[i].TXBytes
		rx += rows[i].RXBytes
		retrans += rows[i].Retrans
		retransB += rows[i].RetransB
	}
	fmt.Fprintf(w, "flows:    %s, %s payload over %s\n", plural(s.Flows, "connection"), humanBytes(float64(tx+rx)), span.Round(time.Millisecond))
	pct := 0.0
	if tx+rx > 0 {
		pct = 100 * float64(retransB) / float64(tx+rx)
	}
	fmt.Fprintf(w, "retrans:  %d retransmissions, %s (%.2f%% of payload)\n", retrans, humanBytes(float64(retransB)), pct)
	evs := strings.TrimPrefix(strings.TrimSuffix(eventBreakdown(events.FindingCounts(s.Events)), ")"), " (")
	if evs == "" {
		evs = "none"
	}
	fmt.Fprintf(w, "events:   %s\n", evs)
	if k := s.KernelRetrans; k != nil {
		fmt.Fprintf(w, "kernel:   %s\n", k.String())
	}
	// The worst connections, ranked as every output ranks them.
	worst := slices.Clone(rows)
	if err := conntable.Sort(worst, conntable.SortProblem); err != nil {
		panic(err) // a known key
	}
	for i := 0; i < len(worst) && i < 3 && worst[i].Problem.Any(); i++ {
		r := &worst[i]
		who := "-"
		if r.Comm != "" {
			who = textsafe.Printable(r.Comm) + "[" + strconv.FormatUint(uint64(r.PID), 10) + "]"
		}
		fmt.Fprintf(w, "worst:    %s:%d -> %s:%d %s: %s; %s, RTT %.2f ms, %s\n",
			r.LAddr, r.LPort, r.RAddr, r.RPort, who, r.Problem.Reason(), plural(r.Retrans, "retransmission"), r.RTTms, events.ConnState(r.State))
	}
}

// checkCapturePrivileges tells a user without root up front that the eBPF
// capture cannot run, instead of failing halfway.
func checkCapturePrivileges() error {
	if os.Geteuid() == 0 {
		return nil
	}
	eff, err := effectiveCaps()
	if err == nil {
		const capNetAdmin, capSysAdmin, capPerfmon, capBPF = 12, 21, 38, 39
		has := func(c uint) bool { return eff&(1<<c) != 0 }
		if has(capNetAdmin) && (has(capSysAdmin) || (has(capBPF) && has(capPerfmon))) {
			return nil
		}
	}
	return fmt.Errorf("quick captures with eBPF and needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN): run it with sudo, or use 'tcpviz parse-pcap' on an existing capture")
}

// effectiveCaps reads CapEff from /proc/self/status.
func effectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no CapEff in /proc/self/status")
}
