package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/internal/capture"
)

func init() {
	register(&command{
		name:    "capture",
		summary: "capture TCP headers and the kernel's cwnd/srtt with eBPF into (rolling) pcapng (needs root)",
		usage: `  tcpviz capture -i IFACE -w FILE [--rotate-size MB] [--rotate-seconds S] [--rotate-files N]
                 [--duration S] [--count N] [--port P]... [--host A]... [--snaplen N]
                 [--sample-interval D] [--all-netns] [--pid PID | --comm NAME] [--netns NS]

  Writes the first --snaplen bytes of every TCP packet on IFACE and the
  kernel's own TCP state (cwnd, ssthresh, srtt, retransmissions, state
  changes, resets) as pcapng custom blocks, on one clock. With a rotate
  flag, files are BASE_NNNNN_YYYYmmddHHMMSS.pcapng (BASE: FILE without its
  extension) and BASE-current.pcapng points at the one being written.
  Ctrl-C, SIGTERM, --duration and --count stop it; a summary goes to stderr.
  Needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN. See docs/capture.md.

Examples:
  sudo tcpviz capture -i eth0 -w rolling.pcapng
  sudo tcpviz capture -i eth0 -w ring.pcapng --rotate-size 50 --rotate-files 10 --duration 600
  sudo tcpviz capture -i eth0 -w x.pcapng --port 443 --host 10.1.2.3 --snaplen 128
`,
		run: runCapture,
	})
}

// seconds is a duration flag that also takes a plain number of seconds.
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil || *s.d == 0 {
		return "0"
	}
	return s.d.String()
}

func (s seconds) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		*s.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 10m: %w", err)
	}
	*s.d = d
	return nil
}

func (s seconds) Type() string { return "seconds" }

func runCapture(args []string) error {
	if err := needLinux("capture"); err != nil {
		return err
	}
	c := commands["capture"]
	fs := newFlags(c)
	var cfg capture.Config
	fs.StringVarP(&cfg.Interface, "interface", "i", "", "interface to capture on")
	fs.StringVarP(&cfg.Output, "write", "w", "", "output file (never overwritten), or - for standard output")
	rotateMB := fs.Int64("rotate-size", 0, "start a new file every MB megabytes (1,000,000 bytes)")
	fs.Var(seconds{&cfg.RotateInterval}, "rotate-seconds", "start a new file every S seconds")
	fs.IntVar(&cfg.RotateFiles, "rotate-files", 0, "keep only the newest N files (with a rotate flag)")
	fs.Var(seconds{&cfg.Duration}, "duration", "stop after S seconds (or a duration such as 10m)")
	fs.Uint64Var(&cfg.Count, "count", 0, "stop after N packets")
	ports := fs.UintSlice("port", nil, "keep packets and kernel records with this port at either end (repeatable)")
	hosts := fs.StringSlice("host", nil, "keep packets and kernel records with this address at either end, IPv4 or IPv6 (repeatable)")
	snap := fs.Uint32("snaplen", 128, "bytes kept per packet (64 to 1024)")
	fs.DurationVar(&cfg.SampleInterval, "sample-interval", 100*time.Millisecond, "longest gap between two cwnd/srtt samples of a busy socket")
	fs.BoolVar(&cfg.AllNetns, "all-netns", false, "kernel records of sockets in every network namespace")
	fs.Uint32Var(&cfg.PID, "pid", 0, "only sockets owned by this process (best effort)")
	fs.StringVar(&cfg.Comm, "comm", "", "only sockets owned by processes with this name (best effort)")
	fs.StringVar(&cfg.Netns, "netns", "", "capture inside this network namespace (a name under /run/netns or a path)")
	fs.BoolVar(&cfg.NoKernelRecords, "no-kernel", false, "packets only, no kernel records")
	quiet := fs.BoolP("quiet", "q", false, "no notices and no summary")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if cfg.Interface == "" || cfg.Output == "" {
		return usagef("-i IFACE and -w FILE are required")
	}
	if *rotateMB <= 0 && fs.Changed("rotate-size") {
		return usagef("--rotate-size %d: want a positive number of MB", *rotateMB)
	}
	// A limit given as 0 or below is a mistake, not "no limit".
	for name, bad := range map[string]bool{
		"rotate-seconds": cfg.RotateInterval <= 0, "rotate-files": cfg.RotateFiles <= 0,
		"duration": cfg.Duration <= 0, "count": cfg.Count == 0, "sample-interval": cfg.SampleInterval <= 0,
	} {
		if bad && fs.Changed(name) {
			return usagef("--%s %s: want a positive value (leave it out for no limit)", name, fs.Lookup(name).Value)
		}
	}
	cfg.RotateBytes = *rotateMB * 1_000_000
	cfg.Snaplen = *snap
	if err := setCaptureFilters(&cfg, *ports, *hosts); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if !*quiet {
		cfg.Log = os.Stderr
		if isTerminal(os.Stderr) && cfg.Output != "-" {
			line := &statusLine{w: os.Stderr}
			cfg.Log, cfg.Status = line, line.update
			defer line.clear()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := capture.Run(ctx, cfg)
	if l, ok := cfg.Log.(*statusLine); ok {
		l.clear()
	}
	// A capture that ran and then failed (disk full, interface gone) still
	// accounts for what it wrote.
	if !*quiet && !sum.Start.IsZero() {
		fmt.Fprint(os.Stderr, sum.String())
	}
	return err
}

var _ pflag.Value = seconds{}

// setCaptureFilters checks --port and --host values (capture and top take
// the same ones) and puts them into cfg.
func setCaptureFilters(cfg *capture.Config, ports []uint, hosts []string) error {
	for _, p := range ports {
		if p == 0 || p > 65535 {
			return usagef("--port %d: want 1 to 65535", p)
		}
		cfg.Ports = append(cfg.Ports, uint16(p))
	}
	for _, h := range hosts {
		a, err := netip.ParseAddr(h)
		if err != nil {
			return usagef("--host %q: %v", h, err)
		}
		cfg.Hosts = append(cfg.Hosts, a)
	}
	return nil
}
