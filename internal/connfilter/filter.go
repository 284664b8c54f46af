// Package connfilter is the one filter language of tcpviz: which connections
// and which time range a command shows. flows, analyze, quick, summary and
// report take the same flags (cmd/tcpviz/filterflags.go) and build the same
// Filter, so a flag means the same thing everywhere.
//
// Sides: the client is the side that sent the SYN (SAddrs/SPorts), the
// server the side that answered (DAddrs/DPorts); Ports matches either.
// "Local" is the capturing host's socket: the client, unless kernel records
// show the capture was taken on the server (LocalPorts/RemotePorts, like
// tcplife's -L and -D).
package connfilter

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filter selects connections and a time range. The zero Filter selects
// everything. Within a list any value matches; every non-empty criterion
// must match. Call Compile before use.
type Filter struct {
	PIDs                    []uint32 // owning process; connections whose process is unknown never match
	Comm                    string   // process name, exact or glob ("curl*")
	SAddrs, DAddrs          []string // client / server address: address, CIDR prefix or glob
	SPorts, DPorts          []uint16 // client / server port
	Ports                   []uint16 // either end
	LocalPorts, RemotePorts []uint16 // the capturing host's side / the other side
	CwndMin, CwndMax        uint32   // kernel cwnd (segments) seen within the range; 0: unbounded
	Flows                   []uint64 // connection ids
	Since, Until            TimeBound

	saddr, daddr []addrMatcher
	compiled     bool
}

// TimeBound is an absolute time or an offset from the first packet.
type TimeBound struct {
	Set bool
	Abs int64         // ns since the epoch when !Rel
	Rel bool          // Off counts from the first packet
	Off time.Duration // when Rel
}

// ParseTimeBound reads an RFC 3339 time, a number of seconds since the epoch
// (above 10^9), or an offset from the first packet: a duration ("90s", "2m")
// or a plain number of seconds ("90").
func ParseTimeBound(s string) (TimeBound, error) {
	if s == "" {
		return TimeBound{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return TimeBound{Set: true, Abs: t.UnixNano()}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return TimeBound{Set: true, Rel: true, Off: d}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f > 1e9 {
			return TimeBound{Set: true, Abs: int64(f * 1e9)}, nil
		}
		if f >= 0 {
			return TimeBound{Set: true, Rel: true, Off: time.Duration(f * float64(time.Second))}, nil
		}
	}
	return TimeBound{}, fmt.Errorf("time %q: want RFC 3339, epoch seconds, or seconds or a duration from the first packet", s)
}

// At resolves the bound against the first packet's time.
func (b TimeBound) At(first int64) int64 {
	if b.Rel {
		return first + int64(b.Off)
	}
	return b.Abs
}

// String writes the bound as a flag value.
func (b TimeBound) String() string {
	if b.Rel {
		return b.Off.String()
	}
	return time.Unix(0, b.Abs).UTC().Format(time.RFC3339Nano)
}

// addrMatcher matches one address against an address, a prefix or a glob.
type addrMatcher struct {
	addr   netip.Addr
	prefix netip.Prefix
	glob   string
}

func compileAddr(s string) (addrMatcher, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return addrMatcher{addr: a.Unmap()}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return addrMatcher{prefix: p.Masked()}, nil
	}
	if _, err := path.Match(s, ""); err != nil || !strings.ContainsAny(s, "*?[") {
		return addrMatcher{}, fmt.Errorf("address %q: want an address, a CIDR prefix or a glob", s)
	}
	return addrMatcher{glob: s}, nil
}

func (m addrMatcher) match(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case m.addr.IsValid():
		return a == m.addr
	case m.prefix.IsValid():
		return m.prefix.Contains(a)
	}
	ok, _ := path.Match(m.glob, a.String())
	return ok
}

func matchAny(ms []addrMatcher, a netip.Addr) bool {
	if len(ms) == 0 {
		return true
	}
	for _, m := range ms {
		if m.match(a) {
			return true
		}
	}
	return false
}

// Compile checks and prepares the address patterns.
func (f *Filter) Compile() error {
	f.saddr, f.daddr = nil, nil
	for _, s := range f.SAddrs {
		m, err := compileAddr(s)
		if err != nil {
			return fmt.Errorf("--saddr: %w", err)
		}
		f.saddr = append(f.saddr, m)
	}
	for _, s := range f.DAddrs {
		m, err := compileAddr(s)
		if err != nil {
			return fmt.Errorf("--daddr: %w", err)
		}
		f.daddr = append(f.daddr, m)
	}
	if f.Comm != "" {
		if _, err := path.Match(f.Comm, ""); err != nil {
			return fmt.Errorf("--comm %q: %w", f.Comm, err)
		}
	}
	if f.CwndMax != 0 && f.CwndMin > f.CwndMax {
		return fmt.Errorf("--cwnd-min %d is above --cwnd-max %d", f.CwndMin, f.CwndMax)
	}
	f.compiled = true
	return nil
}

// Compiled reports whether Compile has run.
func (f *Filter) Compiled() bool { return f.compiled }

// Narrows reports whether the filter selects less than everything.
func (f *Filter) Narrows() bool {
	return len(f.PIDs) > 0 || f.Comm != "" || len(f.SAddrs) > 0 || len(f.DAddrs) > 0 || len(f.SPorts) > 0 ||
		len(f.DPorts) > 0 || len(f.Ports) > 0 || len(f.LocalPorts) > 0 || len(f.RemotePorts) > 0 ||
		f.CwndMin != 0 || f.CwndMax != 0 || len(f.Flows) > 0 || f.Since.Set || f.Until.Set
}

// NeedsProcess reports whether the filter depends on pid/comm.
func (f *Filter) NeedsProcess() bool { return len(f.PIDs) > 0 || f.Comm != "" }

// NeedsCwnd reports whether the filter depends on kernel cwnd samples.
func (f *Filter) NeedsCwnd() bool { return f.CwndMin != 0 || f.CwndMax != 0 }

// NeedsSides reports whether the filter depends on which side is local.
func (f *Filter) NeedsSides() bool { return len(f.LocalPorts) > 0 || len(f.RemotePorts) > 0 }

// MatchTime reports whether ts (ns) lies within Since/Until; first is the
// first packet's time, for relative bounds.
func (f *Filter) MatchTime(ts, first int64) bool {
	if f.Since.Set && ts < f.Since.At(first) {
		return false
	}
	if f.Until.Set && ts > f.Until.At(first) {
		return false
	}
	return true
}

// Overlaps reports whether [from, to] meets the Since/Until range.
func (f *Filter) Overlaps(from, to, first int64) bool {
	if f.Since.Set && to < f.Since.At(first) {
		return false
	}
	if f.Until.Set && from > f.Until.At(first) {
		return false
	}
	return true
}

// MatchConn checks the connection id, endpoints and ports (client/server
// and either end).
func (f *Filter) MatchConn(flow uint64, client, server netip.AddrPort) bool {
	if len(f.Flows) > 0 && !slices.Contains(f.Flows, flow) {
		return false
	}
	if !matchAny(f.saddr, client.Addr()) || !matchAny(f.daddr, server.Addr()) {
		return false
	}
	if len(f.SPorts) > 0 && !slices.Contains(f.SPorts, client.Port()) {
		return false
	}
	if len(f.DPorts) > 0 && !slices.Contains(f.DPorts, server.Port()) {
		return false
	}
	if len(f.Ports) > 0 && !slices.Contains(f.Ports, client.Port()) && !slices.Contains(f.Ports, server.Port()) {
		return false
	}
	return true
}

// MatchSides checks the local and remote ports; localIsServer says the
// capture was taken on the server (see the package comment).
func (f *Filter) MatchSides(clientPort, serverPort uint16, localIsServer bool) bool {
	local, remote := clientPort, serverPort
	if localIsServer {
		local, remote = remote, local
	}
	if len(f.LocalPorts) > 0 && !slices.Contains(f.LocalPorts, local) {
		return false
	}
	if len(f.RemotePorts) > 0 && !slices.Contains(f.RemotePorts, remote) {
		return false
	}
	return true
}

// MatchProcess checks pid and comm. A connection whose process is unknown
// does not match a filter that names one.
func (f *Filter) MatchProcess(pid uint32, comm string) bool {
	if len(f.PIDs) > 0 && !slices.Contains(f.PIDs, pid) {
		return false
	}
	if f.Comm != "" {
		if comm == "" {
			return false
		}
		if ok, _ := path.Match(f.Comm, comm); !ok {
			return false
		}
	}
	return true
}

// MatchCwnd checks whether the kernel cwnd range [lo, hi] seen on a
// connection meets the filter's range. Without kernel samples (known false) a
// cwnd filter never matches.
func (f *Filter) MatchCwnd(lo, hi uint32, known bool) bool {
	if !f.NeedsCwnd() {
		return true
	}
	if !known {
		return false
	}
	if f.CwndMin != 0 && hi < f.CwndMin {
		return false
	}
	if f.CwndMax != 0 && lo > f.CwndMax {
		return false
	}
	return true
}

// String lists the filter in its command-line form.
func (f *Filter) String() string {
	var p []string
	add := func(flag, v string) { p = append(p, "--"+flag+" "+v) }
	if len(f.PIDs) > 0 {
		add("pid", join(f.PIDs))
	}
	if f.Comm != "" {
		add("comm", f.Comm)
	}
	if len(f.SAddrs) > 0 {
		add("saddr", strings.Join(f.SAddrs, ","))
	}
	if len(f.DAddrs) > 0 {
		add("daddr", strings.Join(f.DAddrs, ","))
	}
	for _, x := range []struct {
		flag  string
		ports []uint16
	}{{"sport", f.SPorts}, {"dport", f.DPorts}, {"port", f.Ports}, {"localport", f.LocalPorts}, {"remoteport", f.RemotePorts}} {
		if len(x.ports) > 0 {
			add(x.flag, join(x.ports))
		}
	}
	if f.CwndMin != 0 {
		add("cwnd-min", strconv.FormatUint(uint64(f.CwndMin), 10))
	}
	if f.CwndMax != 0 {
		add("cwnd-max", strconv.FormatUint(uint64(f.CwndMax), 10))
	}
	if len(f.Flows) > 0 {
		add("flow", join(f.Flows))
	}
	if f.Since.Set {
		add("since", f.Since.String())
	}
	if f.Until.Set {
		add("until", f.Until.String())
	}
	return strings.Join(p, " ")
}

func join[T uint16 | uint32 | uint64](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatUint(uint64(x), 10)
	}
	return strings.Join(s, ",")
}

// ParseList reads a comma-separated list of numbers up to max ("22,80,443");
// zero is refused (it would mean "any" elsewhere).
func ParseList[T uint16 | uint32 | uint64](s, what string, max uint64) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil || n == 0 || n > max {
			return nil, fmt.Errorf("%s %q: want a number from 1 to %d", what, f, max)
		}
		out = append(out, T(n))
	}
	return out, nil
}
