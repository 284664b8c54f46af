package conntable

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/connfilter"
)

// Select keeps, in place, the rows the filter selects (the filter language
// of every tcpviz command, package connfilter). origin is the capture's first
// packet, for relative --since/--until. Rows carry no kernel cwnd: a cwnd
// filter selects nothing here (the command refuses it before).
func Select(f *connfilter.Filter, rows []Row, origin int64) []Row {
	return slices.DeleteFunc(rows, func(r Row) bool { return !Match(f, &r, origin) })
}

// Match reports whether one row passes the filter.
func Match(f *connfilter.Filter, r *Row, origin int64) bool {
	client, server := r.ends()
	return f.MatchConn(r.Flow, client, server) &&
		f.MatchSides(client.Port(), server.Port(), r.LocalIsServer) &&
		f.MatchProcess(r.PID, r.Comm) &&
		f.MatchCwnd(0, 0, false) &&
		f.Overlaps(r.Start, r.End, origin)
}

// ends returns the client's and the server's endpoint.
func (r *Row) ends() (client, server netip.AddrPort) {
	l, _ := netip.ParseAddr(r.LAddr)
	rm, _ := netip.ParseAddr(r.RAddr)
	local, remote := netip.AddrPortFrom(l, r.LPort), netip.AddrPortFrom(rm, r.RPort)
	if r.LocalIsServer {
		return remote, local
	}
	return local, remote
}

// Sort orders.
const (
	SortStart    = "start"    // first packet, oldest first (the default)
	SortBytes    = "bytes"    // payload bytes both ways, largest first
	SortRetrans  = "retrans"  // retransmissions, most first
	SortDuration = "duration" // lifespan, longest first
	SortProblem  = "problem"  // worst first: the ranking of every output (events.ComparePriority)
)

// SortKeys lists the accepted --sort values.
var SortKeys = []string{SortStart, SortBytes, SortRetrans, SortDuration, SortProblem}

// Sort orders rows by key; ties fall back to start time, then connection id,
// so the output is stable.
func Sort(rows []Row, key string) error {
	var primary func(a, b *Row) int
	switch key {
	case "", SortStart:
	case SortBytes:
		primary = func(a, b *Row) int { return cmp.Compare(b.TXBytes+b.RXBytes, a.TXBytes+a.RXBytes) }
	case SortRetrans:
		primary = func(a, b *Row) int { return cmp.Compare(b.Retrans, a.Retrans) }
	case SortDuration:
		primary = func(a, b *Row) int { return cmp.Compare(b.End-b.Start, a.End-a.Start) }
	case SortProblem:
		primary = func(a, b *Row) int { return events.ComparePriority(a.Problem, b.Problem) }
	default:
		return fmt.Errorf("sort key %q: want one of %s", key, strings.Join(SortKeys, ", "))
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		if primary != nil {
			if c := primary(&a, &b); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Flow, b.Flow)
	})
	return nil
}
