package detectors

import (
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// Why a segment was sent again, told from packets the way the Linux sender
// decides (the kernel's congestion state machine, simplified):
//
//   - ACK-clocked: sent right after the peer's last packet (within half the
//     smoothed RTT, at least 1 ms, at most FastRetransWindow): that ACK made
//     the sender find the loss (duplicate ACKs, SACK, or RACK: a later-sent
//     segment was delivered), fast retransmit or SACK/RACK recovery
//     ("fast"). A timer cannot fire right after an ACK: every ACK re-arms
//     it. The direction enters recovery until the cumulative ACK reaches
//     what was sent when it started.
//   - Timer-driven soon after an ACK that SACKed data above its cumulative
//     ACK: RACK's reorder timer ("fast"). That ACK showed a later segment
//     delivered but the hole still within the reordering window, so RACK
//     armed a timer of about an RTT plus the window (tcp_rack_reo_timeout;
//     taken as up to two srtts and rackSlack); when it fires the hole is
//     marked lost and the sender enters recovery. The sender was in
//     Disorder, where Linux sends no loss probe. A timeout fires at least
//     TCP_RTO_MIN after it was armed, but SACKs do not re-arm it, so one
//     can follow a SACK by less.
//   - Timer-driven, not in recovery, SACK on, no probe outstanding, and the
//     segment is the last one sent: a tail-loss probe ("tlp"). Linux probes
//     in the Open state only, with the last segment when it has no new data.
//   - Any other timer-driven one is a retransmission timeout ("rto"); the
//     direction enters loss (the kernel's Loss state) and every segment it
//     sends again until the cumulative ACK reaches the recovery point is
//     "rto" too, ACK-clocked or not: that is how the kernel counts them.
//   - In recovery, an ACK-clocked one stays "fast", and so does one of
//     RACK's reorder timer; any other timer-driven one is an RTO.
const (
	stOpen uint8 = iota
	stRecovery
	stLoss
)

// rtoMin is Linux's lowest retransmission timeout (TCP_RTO_MIN).
const rtoMin = 200 * time.Millisecond

// rackSlack is what RACK's reorder timer adds to an RTT and the reordering
// window (at most the srtt): TCP_TIMEOUT_MIN and the rounding, three
// jiffies at HZ 250.
const rackSlack = 12 * time.Millisecond

// retransCause classifies a segment of p's direction that is sent again
// and moves the direction's recovery state.
func (e *Engine) retransCause(f *flow, p *events.Packet, fl uint16) string {
	fwd, rev := &f.h[p.Dir], &f.h[p.Dir^1]
	// ACK-triggered sends follow the ACK within microseconds; timers fire
	// at least 2 ms (a loss probe) or 200 ms (a timeout) after.
	window := min(e.fastWindow, max(int64(time.Millisecond), int64(f.srtt/2)))
	// Wireshark's fast retransmission (two duplicate ACKs, the segment at
	// the ACK, within FastRetransWindow) is ACK-clocked too.
	clocked := since(p.TS, rev.lastackTime) < window || fl&aFastRetrans != 0
	switch {
	case fwd.recov == stLoss:
		return events.RetransRTO
	case clocked:
		if fwd.recov == stOpen {
			fwd.recov, fwd.recovPoint = stRecovery, fwd.nextseq
		}
		return events.RetransFast
	case rev.sackAbove && since(p.TS, rev.lastackTime) < min(int64(rtoMin), 2*int64(f.srtt)+int64(rackSlack)):
		if fwd.recov == stOpen {
			fwd.recov, fwd.recovPoint = stRecovery, fwd.nextseq
		}
		return events.RetransFast
	case fwd.recov == stOpen && !fwd.tlpOut && f.sackOK() && p.Flags&fSYN == 0 && p.Seq+p.SegLen() == fwd.nextseq:
		fwd.tlpOut, fwd.tlpHigh = true, fwd.nextseq
		return events.RetransTLP
	}
	fwd.recov, fwd.recovPoint, fwd.tlpOut = stLoss, fwd.nextseq, false
	return events.RetransRTO
}

// recovered ends recovery and a tail-loss probe of direction d once the
// cumulative ACK passes their points.
func (h *half) recovered(ack uint32) {
	if h.recov != stOpen && events.SeqGEQ(ack, h.recovPoint) {
		h.recov = stOpen
	}
	if h.tlpOut && events.SeqGEQ(ack, h.tlpHigh) {
		h.tlpOut = false
	}
}

// sackOK: SACK was permitted on the connection (both SYNs said so), or the
// handshake was not seen.
func (f *flow) sackOK() bool {
	if !f.h[0].synSeen || !f.h[1].synSeen {
		return true
	}
	return f.h[0].sackPerm && f.h[1].sackPerm
}
