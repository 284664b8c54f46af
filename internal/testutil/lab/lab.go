//go:build linux

// Package lab builds a small network of Linux network namespaces for tests:
//
//	client ns            router ns                 server ns
//	veth-c  <--------->  veth-rc  [fwd]  veth-rs  <--------->  veth-s
//	10.200.1.2/24        10.200.1.1      10.200.2.1            10.200.2.2/24
//	fd00:200:1::2/64     fd00:200:1::1   fd00:200:2::1         fd00:200:2::2/64
//
// The router forwards IPv4 and IPv6 and is where impairments live: a tbf
// bottleneck or htb reordering classes on its egress towards either side, and
// an nftables forward chain for random loss (numgen) and SYN drops. Addresses
// are the same in every lab (namespaces keep them apart); namespace names get a
// random suffix so parallel test runs never collide. Everything is removed by
// t.Cleanup.
//
// Tests that need a lab call New, which skips the test when the machine can't
// build one (not root, missing ip/tc/nft). Available reports why.
//
//	l := lab.New(t, lab.Options{NoOffload: true})
//	l.SetBottleneck(lab.ToClient, lab.Bottleneck{Rate: "20mbit"})
//	l.SetLoss(lab.ToClient, 15) // 1.5 % of the TCP packets towards the client
//	stop, err := l.Capture(l.Server, l.ServerIf, file, lab.CaptureOptions{PcapNG: true})
//	before, _ := l.Nstat(l.Server)
//	srv, _ := l.Start(l.Server, labtraffic, "server", "-l", ":5001")
//	l.Run(l.Client, labtraffic, "client", "-c", "10.200.2.2:5001", "--bytes", "4000000")
//	after, _ := l.Nstat(l.Server)
//	lab.Delta(before, after)["TcpRetransSegs"]
//
// Do runs Go code inside a namespace (net.Listen/net.Dial there), Counters
// reads the router's nftables counters (forwarded and dropped packets), and
// BuildTraffic compiles scripts/labtraffic for tests that want it.
//
// Needs: iproute2 (ip, tc, nstat), nftables; ethtool for NoOffload; tcpdump or
// dumpcap (tshark package) for Capture.
package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Side names one end of the lab; impairments act on packets travelling
// towards that side.
type Side int

const (
	// ToServer acts on packets the router forwards towards the server.
	ToServer Side = 1 << iota
	// ToClient acts on packets the router forwards towards the client.
	ToClient
	// Both acts in both directions.
	Both = ToServer | ToClient
)

func (s Side) String() string {
	switch s {
	case ToServer:
		return "to-server"
	case ToClient:
		return "to-client"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// Interface names inside the namespaces. They are the same in every lab.
const (
	ClientIf       = "veth-c"  // in the client namespace
	RouterClientIf = "veth-rc" // in the router, towards the client
	RouterServerIf = "veth-rs" // in the router, towards the server
	ServerIf       = "veth-s"  // in the server namespace
)

// Fixed lab addresses.
var (
	ClientAddr        = netip.MustParseAddr("10.200.1.2")
	RouterClientAddr  = netip.MustParseAddr("10.200.1.1")
	RouterServerAddr  = netip.MustParseAddr("10.200.2.1")
	ServerAddr        = netip.MustParseAddr("10.200.2.2")
	ClientAddr6       = netip.MustParseAddr("fd00:200:1::2")
	RouterClientAddr6 = netip.MustParseAddr("fd00:200:1::1")
	RouterServerAddr6 = netip.MustParseAddr("fd00:200:2::1")
	ServerAddr6       = netip.MustParseAddr("fd00:200:2::2")
)

// Options tune a lab at creation time.
type Options struct {
	// NoOffload turns off TSO, GSO and GRO on all four veths (needs ethtool),
	// so that a capture sees the same segments the kernel counts in
	// TcpOutSegs/TcpRetransSegs.
	NoOffload bool
	// CongestionControl, when set, becomes net.ipv4.tcp_congestion_control in
	// the client and server namespaces (e.g. "bbr", "reno"). Per-socket choice
	// (TCP_CONGESTION) is still possible and allows cubic too.
	CongestionControl string
	// MTU for all veths; 0 keeps the default (1500).
	MTU int
	// Prefix of the namespace names; default "tvz". The final names are
	// <prefix>-<random>-cli, -rtr and -srv.
	Prefix string
}

// Lab is one client/router/server namespace triple.
type Lab struct {
	// Namespace names (for `ip netns exec`).
	Client, Router, Server string

	// Copies of the package-level constants, for convenience.
	ClientAddr, ServerAddr   netip.Addr
	ClientAddr6, ServerAddr6 netip.Addr
	ClientIf, ServerIf       string

	tb testing.TB

	mu     sync.Mutex
	procs  []*Proc
	filter filterState
}

// Available reports why a lab can't be built on this machine, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, veth, tc, nftables)")
	}
	for _, tool := range []string{"ip", "tc", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s (Debian packages iproute2, nftables): %w", tool, err)
		}
	}
	return nil
}

// New builds a lab or skips the test when Available reports a problem. Any
// failure while building is fatal. The lab is torn down by t.Cleanup.
func New(tb testing.TB, opts Options) *Lab {
	tb.Helper()
	if err := Available(); err != nil {
		tb.Skipf("lab: %v", err)
	}
	if opts.NoOffload {
		if _, err := exec.LookPath("ethtool"); err != nil {
			tb.Skipf("lab: NoOffload needs ethtool (Debian package ethtool): %v", err)
		}
	}
	l, err := Build(opts)
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	l.tb = tb
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("lab: cleanup: %v", err)
		}
	})
	return l
}

// Build creates a lab without a testing.TB; the caller must call Close. It is
// used by tools that want the lab outside tests.
func Build(opts Options) (*Lab, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "tvz"
	}
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	base := prefix + "-" + suffix
	l := &Lab{
		Client:      base + "-cli",
		Router:      base + "-rtr",
		Server:      base + "-srv",
		ClientAddr:  ClientAddr,
		ServerAddr:  ServerAddr,
		ClientAddr6: ClientAddr6,
		ServerAddr6: ServerAddr6,
		ClientIf:    ClientIf,
		ServerIf:    ServerIf,
	}
	if err := l.setup(opts); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func randomSuffix() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random namespace suffix: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (l *Lab) setup(opts Options) error {
	c, r, s := l.Client, l.Router, l.Server
	steps := [][]string{
		{"ip", "netns", "add", c},
		{"ip", "netns", "add", r},
		{"ip", "netns", "add", s},
		// Create the pairs inside the router namespace so no name ever
		// appears in the root namespace (where parallel labs would collide).
		{"ip", "-n", r, "link", "add", RouterClientIf, "type", "veth", "peer", "name", ClientIf, "netns", c},
		{"ip", "-n", r, "link", "add", RouterServerIf, "type", "veth", "peer", "name", ServerIf, "netns", s},

		{"ip", "-n", c, "addr", "add", "10.200.1.2/24", "dev", ClientIf},
		{"ip", "-n", c, "addr", "add", "fd00:200:1::2/64", "dev", ClientIf, "nodad"},
		{"ip", "-n", r, "addr", "add", "10.200.1.1/24", "dev", RouterClientIf},
		{"ip", "-n", r, "addr", "add", "fd00:200:1::1/64", "dev", RouterClientIf, "nodad"},
		{"ip", "-n", r, "addr", "add", "10.200.2.1/24", "dev", RouterServerIf},
		{"ip", "-n", r, "addr", "add", "fd00:200:2::1/64", "dev", RouterServerIf, "nodad"},
		{"ip", "-n", s, "addr", "add", "10.200.2.2/24", "dev", ServerIf},
		{"ip", "-n", s, "addr", "add", "fd00:200:2::2/64", "dev", ServerIf, "nodad"},
	}
	if opts.MTU > 0 {
		mtu := fmt.Sprint(opts.MTU)
		steps = append(steps,
			[]string{"ip", "-n", c, "link", "set", ClientIf, "mtu", mtu},
			[]string{"ip", "-n", r, "link", "set", RouterClientIf, "mtu", mtu},
			[]string{"ip", "-n", r, "link", "set", RouterServerIf, "mtu", mtu},
			[]string{"ip", "-n", s, "link", "set", ServerIf, "mtu", mtu},
		)
	}
	steps = append(steps,
		[]string{"ip", "-n", c, "link", "set", "lo", "up"},
		[]string{"ip", "-n", r, "link", "set", "lo", "up"},
		[]string{"ip", "-n", s, "link", "set", "lo", "up"},
		[]string{"ip", "-n", c, "link", "set", ClientIf, "up"},
		[]string{"ip", "-n", r, "link", "set", RouterClientIf, "up"},
		[]string{"ip", "-n", r, "link", "set", RouterServerIf, "up"},
		[]string{"ip", "-n", s, "link", "set", ServerIf, "up"},

		[]string{"ip", "-n", c, "route", "add", "default", "via", "10.200.1.1"},
		[]string{"ip", "-n", c, "-6", "route", "add", "default", "via", "fd00:200:1::1"},
		[]string{"ip", "-n", s, "route", "add", "default", "via", "10.200.2.1"},
		[]string{"ip", "-n", s, "-6", "route", "add", "default", "via", "fd00:200:2::1"},

		[]string{"ip", "netns", "exec", r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
		[]string{"ip", "netns", "exec", r, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"},
	)
	if opts.CongestionControl != "" {
		for _, ns := range []string{c, s} {
			steps = append(steps, []string{"ip", "netns", "exec", ns, "sysctl", "-q", "-w",
				"net.ipv4.tcp_congestion_control=" + opts.CongestionControl})
		}
	}
	if opts.NoOffload {
		for _, nsIf := range [][2]string{{c, ClientIf}, {r, RouterClientIf}, {r, RouterServerIf}, {s, ServerIf}} {
			steps = append(steps, []string{"ip", "netns", "exec", nsIf[0], "ethtool", "-K", nsIf[1],
				"tso", "off", "gso", "off", "gro", "off"})
		}
	}
	for _, st := range steps {
		if err := run(st...); err != nil {
			return err
		}
	}
	return l.applyFilter()
}

// Close kills processes started with Start and deletes the namespaces (which
// deletes the veths, qdiscs and nftables rules with them). It is safe to call
// more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	l.mu.Unlock()
	for _, p := range procs {
		_ = p.stop()
	}
	var errs []error
	for _, ns := range []string{l.Client, l.Router, l.Server} {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		if err := run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// run executes a command in the root namespace and returns an error carrying
// its output when it fails.
func run(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// runInput is run with stdin.
func runInput(stdin string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s\ninput:\n%s", strings.Join(args, " "), err, strings.TrimSpace(out.String()), stdin)
	}
	return nil
}

// output runs a command and returns its stdout.
func output(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
