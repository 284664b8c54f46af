package events

import (
	"cmp"
	"strconv"
	"strings"
)

// Problem is what makes a connection worth a look. Every output that ranks
// connections ("worst connections" in the report, summary and quick, the
// connections the report charts first, summary.json's limits, flows
// --sort problem) ranks them with ComparePriority on it (docs/figures.md).
type Problem struct {
	// Failed: the connection was never established (Zeek S0, REJ, RSTOS0,
	// RSTRH, SH, SHR).
	Failed bool
	State  string // the Zeek conn_state, for the reason
	// StallS is the time the connection could not move data, in seconds:
	// its zero-window time plus the time its senders spent in loss
	// recovery or waiting for a retransmission timeout (limits).
	StallS     float64
	ZeroWindow float64 // of which on a zero window, s
	RecoveryS  float64 // of which in loss recovery, s
	// Findings counts the detector findings (IsFinding).
	Findings int
	// HeldS is the time the sender of the main direction was held back by
	// anything but itself (DirLimits.Held); main is that direction's
	// limits, for Reason's label (made there: ranking every connection
	// needs only HeldS).
	HeldS float64
	main  *DirLimits
}

// Problem returns the connection's ranking key.
func (r *FlowRecord) Problem() Problem {
	p := Problem{State: r.State, Findings: Findings(r.Events), ZeroWindow: r.ZeroWindowMS / 1000}
	switch r.State {
	case "S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR":
		p.Failed = true
	}
	// A direction without data has no time: its zero seconds add nothing.
	p.RecoveryS = r.Limits.C2S.Seconds.Recovery + r.Limits.S2C.Seconds.Recovery
	p.StallS = p.ZeroWindow + p.RecoveryS
	if l, _ := r.MainLimits(); l != nil {
		p.HeldS, p.main = l.Held(), l
	}
	return p
}

// Any reports whether the connection has a problem: it failed, stalled or
// raised a finding. Time held back alone (a bulk transfer limited by its
// congestion window) is no problem, but still ranks.
func (p Problem) Any() bool { return p.Failed || p.StallS > 0 || p.Findings > 0 }

// ComparePriority orders two connections worst first (negative when a is
// worse): connections never established, then the longest stalled, then
// those with the most findings, then the longest held back. Callers break
// ties (by connection id) so the order is stable.
func ComparePriority(a, b Problem) int {
	if a.Failed != b.Failed {
		if a.Failed {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.StallS, a.StallS); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Findings, a.Findings); c != 0 {
		return c
	}
	return cmp.Compare(b.HeldS, a.HeldS)
}

// Reason says in a few words why the connection ranks where it does:
// "stalled 4.0 s (zero window 3.9 s, loss recovery 0.1 s); 41 detector
// events". "" when there is nothing to say.
func (p Problem) Reason() string {
	var parts []string
	if p.Failed {
		parts = append(parts, "never established ("+ConnState(p.State)+")")
	}
	if p.StallS > 0 {
		var why []string
		if p.ZeroWindow > 0 {
			why = append(why, "zero window "+fmtSeconds(p.ZeroWindow))
		}
		if p.RecoveryS > 0 {
			why = append(why, "loss recovery "+fmtSeconds(p.RecoveryS))
		}
		parts = append(parts, "stalled "+fmtSeconds(p.StallS)+" ("+strings.Join(why, ", ")+")")
	}
	if p.Findings > 0 {
		s := strconv.Itoa(p.Findings) + " detector events"
		if p.Findings == 1 {
			s = "1 detector event"
		}
		parts = append(parts, s)
	}
	if !p.Failed && p.StallS == 0 && p.HeldS > 0 {
		parts = append(parts, "held back "+fmtSeconds(p.HeldS)+" ("+p.main.Label()+")")
	}
	return strings.Join(parts, "; ")
}
