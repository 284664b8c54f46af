package conntable

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Filter selects rows. Empty lists select everything; within a list any
// value matches, and all non-empty lists must match.
type Filter struct {
	PIDs        []uint32 // owning process; rows with an unknown PID never match
	LocalPorts  []uint16
	RemotePorts []uint16
}

// Match reports whether r passes the filter.
func (f *Filter) Match(r *Row) bool {
	if len(f.PIDs) > 0 && !slices.Contains(f.PIDs, r.PID) {
		return false
	}
	if len(f.LocalPorts) > 0 && !slices.Contains(f.LocalPorts, r.LPort) {
		return false
	}
	if len(f.RemotePorts) > 0 && !slices.Contains(f.RemotePorts, r.RPort) {
		return false
	}
	return true
}

// Apply keeps the rows that match, in place.
func (f *Filter) Apply(rows []Row) []Row {
	return slices.DeleteFunc(rows, func(r Row) bool { return !f.Match(&r) })
}

// ParsePorts reads a comma-separated list of ports ("22,80,443").
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("port %q: want a number from 1 to 65535", f)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

// ParsePIDs reads a comma-separated list of process ids.
func ParsePIDs(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("pid %q: want a positive number", f)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

// Sort orders.
const (
	SortStart    = "start"    // first packet, oldest first (the default)
	SortBytes    = "bytes"    // payload bytes both ways, largest first
	SortRetrans  = "retrans"  // retransmissions, most first
	SortDuration = "duration" // lifespan, longest first
)

// SortKeys lists the accepted --sort values.
var SortKeys = []string{SortStart, SortBytes, SortRetrans, SortDuration}

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
