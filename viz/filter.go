package viz

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// Filter selects the connections and the time range a report shows. The zero
// Filter selects everything. Call Compile before use.
//
// Addresses and ports are those of the connection, not of each packet:
// SAddr/SPort match the client (the side that sent the SYN), DAddr/DPort the
// server, Port either side. PID/Comm match the owning process when kernel
// records name it; CwndMin/CwndMax keep connections whose kernel cwnd (in
// segments) was within the range at some sample.
type Filter struct {
	PID              uint32   // 0: any
	Comm             string   // exact name or glob ("curl*")
	SAddr, DAddr     string   // address, CIDR or glob
	SPort, DPort     uint16   // 0: any
	Port             uint16   // either end
	CwndMin, CwndMax uint32   // 0: unbounded
	Flows            []uint64 // connection ids; empty: any
	Since, Until     TimeBound

	saddr, daddr addrMatcher
	compiled     bool
}

// String lists the filters in their command-line form.
func (f *Filter) String() string {
	var p []string
	add := func(flag, v string) { p = append(p, "--"+flag+" "+v) }
	if f.PID != 0 {
		add("pid", strconv.FormatUint(uint64(f.PID), 10))
	}
	if f.Comm != "" {
		add("comm", f.Comm)
	}
	if f.SAddr != "" {
		add("saddr", f.SAddr)
	}
	if f.DAddr != "" {
		add("daddr", f.DAddr)
	}
	if f.SPort != 0 {
		add("sport", strconv.Itoa(int(f.SPort)))
	}
	if f.DPort != 0 {
		add("dport", strconv.Itoa(int(f.DPort)))
	}
	if f.Port != 0 {
		add("port", strconv.Itoa(int(f.Port)))
	}
	if f.CwndMin != 0 {
		add("cwnd-min", strconv.FormatUint(uint64(f.CwndMin), 10))
	}
	if f.CwndMax != 0 {
		add("cwnd-max", strconv.FormatUint(uint64(f.CwndMax), 10))
	}
	if len(f.Flows) > 0 {
		ids := make([]string, len(f.Flows))
		for i, id := range f.Flows {
			ids[i] = strconv.FormatUint(id, 10)
		}
		add("flow", strings.Join(ids, ","))
	}
	if f.Since.Set {
		add("since", f.Since.String())
	}
	if f.Until.Set {
		add("until", f.Until.String())
	}
	return strings.Join(p, " ")
}

// String writes the bound as it was given (a duration or a time).
func (b TimeBound) String() string {
	if b.Rel {
		return b.Off.String()
	}
	return time.Unix(0, b.Abs).UTC().Format(time.RFC3339Nano)
}

// TimeBound is an absolute time or an offset from the first packet.
type TimeBound struct {
	Set bool
	Abs int64         // ns since the epoch when !Rel
	Rel bool          // Off counts from the first packet
	Off time.Duration // when Rel
}

// ParseTimeBound reads an RFC 3339 time, a number of seconds since the epoch,
// or a duration ("90s", "2m") counted from the first packet.
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
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 1e9 {
		return TimeBound{Set: true, Abs: int64(f * 1e9)}, nil
	}
	return TimeBound{}, fmt.Errorf("time %q: want RFC 3339, epoch seconds or a duration from the first packet", s)
}

// At resolves the bound against the first packet's time.
func (b TimeBound) At(first int64) int64 {
	if b.Rel {
		return first + int64(b.Off)
	}
	return b.Abs
}

// addrMatcher matches one address against an address, a prefix or a glob.
type addrMatcher struct {
	set    bool
	addr   netip.Addr
	prefix netip.Prefix
	glob   string
}

func compileAddr(s string) (addrMatcher, error) {
	if s == "" {
		return addrMatcher{}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return addrMatcher{set: true, addr: a.Unmap()}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return addrMatcher{set: true, prefix: p.Masked()}, nil
	}
	if _, err := path.Match(s, ""); err != nil || !strings.ContainsAny(s, "*?[") {
		return addrMatcher{}, fmt.Errorf("address %q: want an address, a CIDR prefix or a glob", s)
	}
	return addrMatcher{set: true, glob: s}, nil
}

func (m addrMatcher) match(a netip.Addr) bool {
	if !m.set {
		return true
	}
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

// Compile checks and prepares the address patterns.
func (f *Filter) Compile() error {
	var err error
	if f.saddr, err = compileAddr(f.SAddr); err != nil {
		return fmt.Errorf("--saddr: %w", err)
	}
	if f.daddr, err = compileAddr(f.DAddr); err != nil {
		return fmt.Errorf("--daddr: %w", err)
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

// NeedsProcess reports whether the filter depends on pid/comm.
func (f *Filter) NeedsProcess() bool { return f.PID != 0 || f.Comm != "" }

// NeedsCwnd reports whether the filter depends on kernel cwnd samples.
func (f *Filter) NeedsCwnd() bool { return f.CwndMin != 0 || f.CwndMax != 0 }

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

// overlaps reports whether [from, to] meets the Since/Until range.
func (f *Filter) overlaps(from, to, first int64) bool {
	if f.Since.Set && to < f.Since.At(first) {
		return false
	}
	if f.Until.Set && from > f.Until.At(first) {
		return false
	}
	return true
}

// MatchConn checks the connection id, endpoints and ports.
func (f *Filter) MatchConn(flow uint64, client, server netip.AddrPort) bool {
	if len(f.Flows) > 0 {
		found := false
		for _, id := range f.Flows {
			if id == flow {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if !f.saddr.match(client.Addr()) || !f.daddr.match(server.Addr()) {
		return false
	}
	if f.SPort != 0 && client.Port() != f.SPort {
		return false
	}
	if f.DPort != 0 && server.Port() != f.DPort {
		return false
	}
	if f.Port != 0 && client.Port() != f.Port && server.Port() != f.Port {
		return false
	}
	return true
}

// MatchProcess checks pid and comm. A connection whose process is unknown
// does not match a filter that names one.
func (f *Filter) MatchProcess(pid uint32, comm string) bool {
	if f.PID != 0 && pid != f.PID {
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

// MatchFlowRecord checks everything a flow record knows (all but cwnd).
func (f *Filter) MatchFlowRecord(r *events.FlowRecord) bool {
	c, _ := parseAddrPort(r.ClientAddr, r.ClientPort, r.Client)
	s, _ := parseAddrPort(r.ServerAddr, r.ServerPort, r.Server)
	return f.MatchConn(r.Flow, c, s) && f.MatchProcess(r.PID, r.Comm)
}

func parseAddrPort(addr string, port uint16, both string) (netip.AddrPort, bool) {
	if a, err := netip.ParseAddr(addr); err == nil {
		return netip.AddrPortFrom(a, port), true
	}
	if ap, err := netip.ParseAddrPort(both); err == nil {
		return ap, true
	}
	return netip.AddrPort{}, false
}
