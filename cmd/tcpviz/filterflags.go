package main

import (
	"math"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/internal/connfilter"
)

// filterFlags are the connection and time filters, the same flags with the
// same meaning on flows, analyze, quick, summary and report
// (internal/connfilter).
type filterFlags struct {
	pids, comm, saddr, daddr, sport, dport, port, lport, rport, flows, since, until string
	cwndMin, cwndMax                                                                uint32
	noPort                                                                          bool
}

// filterHelp is the filter section of every command's help.
const filterHelp = `Filters (a connection is kept when every given filter matches; lists are
comma-separated and any value in a list matches):
  --saddr/--daddr   client/server address: 10.0.0.1, 10.0.0.0/24 or 10.0.*
  --sport/--dport   client/server port; --port either end
  -L/-D             local/remote port (local: the capturing host's socket, the
                    client unless kernel records show the capture was taken on
                    the server)
  -p/--pid, --comm  owning process (needs kernel records; --comm takes a glob)
  --cwnd-min/--cwnd-max  kernel cwnd (segments) seen within the range (summary, report)
  --flow            connection ids (repeatable; report opens on the first's page)
  --since/--until   RFC 3339 time, epoch seconds, or seconds or a duration from
                    the first packet (30 or 30s)
The client is the side that sent the SYN.
`

// addFilterFlags registers the filters. withPort false leaves --port to the
// command (quick's capture filter, which means the same).
func addFilterFlags(fs *pflag.FlagSet, withPort bool) *filterFlags {
	f := &filterFlags{noPort: !withPort}
	fs.StringVarP(&f.pids, "pid", "p", "", "only connections of these process `IDs`")
	fs.StringVar(&f.comm, "comm", "", "only connections of processes with this `NAME` (glob)")
	fs.StringVar(&f.saddr, "saddr", "", "client `ADDRESSES`: address, CIDR prefix or glob")
	fs.StringVar(&f.daddr, "daddr", "", "server `ADDRESSES`: address, CIDR prefix or glob")
	fs.StringVar(&f.sport, "sport", "", "client `PORTS`")
	fs.StringVar(&f.dport, "dport", "", "server `PORTS`")
	if withPort {
		fs.StringVar(&f.port, "port", "", "`PORTS` at either end")
	}
	fs.StringVarP(&f.lport, "localport", "L", "", "local `PORTS` (the capturing host's side)")
	fs.StringVarP(&f.rport, "remoteport", "D", "", "remote `PORTS`")
	fs.Uint32Var(&f.cwndMin, "cwnd-min", 0, "kernel cwnd reached at least `SEGMENTS` (summary, report)")
	fs.Uint32Var(&f.cwndMax, "cwnd-max", 0, "kernel cwnd was at most `SEGMENTS` at some sample (summary, report)")
	fs.Var((*listFlag)(&f.flows), "flow", "connection `IDS` (repeatable)")
	fs.StringVar(&f.since, "since", "", "start `TIME`: RFC 3339, epoch seconds, or seconds/duration from the first packet")
	fs.StringVar(&f.until, "until", "", "end `TIME`, same forms as --since")
	return f
}

// listFlag is a comma-separated list flag that may be given more than once
// (--flow 3 --flow 7 is --flow 3,7).
type listFlag string

func (l *listFlag) String() string { return string(*l) }
func (l *listFlag) Type() string   { return "string" }
func (l *listFlag) Set(v string) error {
	if *l != "" && v != "" {
		v = string(*l) + "," + v
	}
	*l = listFlag(v)
	return nil
}

// compile checks the flags and returns the filter. cwnd says whether the
// command can test kernel cwnd (the connection table cannot).
func (f *filterFlags) compile(cwnd bool) (connfilter.Filter, error) {
	var flt connfilter.Filter
	var err error
	ports := func(flag, s string) []uint16 {
		if err != nil {
			return nil
		}
		var p []uint16
		if p, err = connfilter.ParseList[uint16](s, "port", math.MaxUint16); err != nil {
			err = usagef("--%s: %v", flag, err)
		}
		return p
	}
	flt.SPorts, flt.DPorts, flt.Ports = ports("sport", f.sport), ports("dport", f.dport), ports("port", f.port)
	flt.LocalPorts, flt.RemotePorts = ports("localport", f.lport), ports("remoteport", f.rport)
	if err != nil {
		return flt, err
	}
	if flt.PIDs, err = connfilter.ParseList[uint32](f.pids, "pid", math.MaxUint32); err != nil {
		return flt, usagef("--pid: %v", err)
	}
	if flt.Flows, err = connfilter.ParseList[uint64](f.flows, "connection id", math.MaxUint64); err != nil {
		return flt, usagef("--flow: %v", err)
	}
	flt.SAddrs, flt.DAddrs, flt.Comm = splitList(f.saddr), splitList(f.daddr), f.comm
	flt.CwndMin, flt.CwndMax = f.cwndMin, f.cwndMax
	if !cwnd && flt.NeedsCwnd() {
		return flt, usagef("--cwnd-min/--cwnd-max: the connection table has no kernel cwnd; use summary or report")
	}
	if flt.Since, err = connfilter.ParseTimeBound(f.since); err != nil {
		return flt, usagef("--since: %v", err)
	}
	if flt.Until, err = connfilter.ParseTimeBound(f.until); err != nil {
		return flt, usagef("--until: %v", err)
	}
	if err := flt.Compile(); err != nil {
		return flt, usageError{err}
	}
	return flt, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
