package detectors

import (
	"github.com/tcpviz/tcpviz/events"
)

// Reordering told from loss. A hole the receiver reports (a SACK block above
// the cumulative ACK, or three duplicate ACKs) is a suspect: loss_infer says
// so with "confirmed": false. A retransmission of the hole's data confirms
// the loss (a second loss_infer, "confirmed": true, ref_frame the first).
// When the cumulative ACK covers the hole and no retransmission filled it,
// the data was late, not lost: a reordering event.

// maxSuspects bounds the reported holes followed per direction.
const maxSuspects = 8

type suspect struct {
	lo, hi    uint32 // the hole [lo, hi)
	top       uint32 // highest SACKed sequence while it was open
	ts        int64  // first reported
	frame     uint64 // the loss_infer that reported it
	maxTS     uint32 // the newest TSval of the data direction when reported
	tsKnown   bool
	reason    string
	confirmed bool
}

// suspectHole starts following the hole [lo, hi) of direction d's data that
// ACK p reported (ev is the unconfirmed loss_infer about to be sent). A hole
// already followed from lo is not added again.
func (e *Engine) suspectHole(f *flow, p *events.Packet, d events.Dir, lo, hi, top uint32, ev *events.Event) {
	h := &f.h[d]
	// Data of the hole already sent again before the report came back:
	// the sender knew it lost, the report confirms it.
	confirmed := h.segs.resentIn(lo, hi)
	ev.Confirmed = events.False
	if confirmed {
		ev.Confirmed = events.True
	}
	for i := range h.suspects[:h.nSuspects] {
		if h.suspects[i].lo == lo {
			return
		}
	}
	if h.nSuspects == maxSuspects {
		copy(h.suspects[:], h.suspects[1:])
		h.nSuspects--
	}
	h.suspects[h.nSuspects] = suspect{lo: lo, hi: hi, top: top, ts: p.TS, frame: p.Frame,
		maxTS: h.maxTSval, tsKnown: h.tsKnown, reason: ev.Reason, confirmed: confirmed}
	h.nSuspects++
}

// confirmHoles is called for a segment p of direction d that is a
// retransmission or out-of-order. It confirms the holes it fills when it is
// provably a retransmission: its bytes passed the capture point before
// (copied), or its TSval is newer than any the direction had sent when the
// hole was reported (a late original carries an older one).
func (e *Engine) confirmHoles(f *flow, p *events.Packet, fl uint16, copied bool) {
	h := &f.h[p.Dir]
	end := p.Seq + max(p.Len, 1)
	for i := range h.suspects[:h.nSuspects] {
		s := &h.suspects[i]
		if s.confirmed || !overlaps(p.Seq, end, s.lo, s.hi) {
			continue
		}
		newer := p.Options.HasTS && s.tsKnown && events.SeqGreater(p.Options.TSVal, s.maxTS)
		// The same millisecond TSval proves nothing either way; Wireshark's
		// timing rule decides (out-of-order: a late original).
		same := (!p.Options.HasTS || !s.tsKnown || p.Options.TSVal == s.maxTS) && fl&aOutOfOrder == 0
		if !copied && !newer && !same {
			continue
		}
		s.confirmed = true
		ev := e.event(f, p, events.TypeLossInfer, events.SevWarn)
		ev.Reason, ev.Confirmed, ev.RefFrame = s.reason, events.True, s.frame
		ev.Seq, ev.Len = s.lo-h.base(), s.hi-s.lo
		e.send(f, ev)
	}
}

// sackTop raises the highest SACKed sequence of the open holes of d.
func (h *half) sackTop(top uint32) {
	for i := range h.suspects[:h.nSuspects] {
		if events.SeqGreater(top, h.suspects[i].top) {
			h.suspects[i].top = top
		}
	}
}

// closeHoles runs on a cumulative ACK p that advanced over the data of d:
// holes it covers are closed, as reordering when no retransmission filled
// them.
func (e *Engine) closeHoles(f *flow, p *events.Packet, d events.Dir) {
	h := &f.h[d]
	ack := p.Ack
	j := 0
	for i := 0; i < h.nSuspects; i++ {
		s := h.suspects[i]
		if !events.SeqGreater(ack, s.lo) {
			h.suspects[j] = s
			j++
			continue
		}
		if events.SeqLess(ack, s.hi) {
			s.lo = ack // partly filled
			h.suspects[j] = s
			j++
			continue
		}
		if s.confirmed {
			continue
		}
		ev := e.event(f, p, events.TypeReordering, events.SevInfo)
		ev.Dir, ev.Src, ev.Dst = d, f.endpoint(d), f.endpoint(d^1)
		ev.Seq, ev.Len, ev.RefFrame = s.lo-h.base(), s.hi-s.lo, s.frame
		ev.DegreeSegs = 1
		if seg := h.maxSeg; seg > 0 && events.SeqGreater(s.top, s.hi) {
			ev.DegreeSegs = int((s.top - s.hi + seg - 1) / seg)
		}
		ev.DegreeMS = float64(p.TS-s.ts) / 1e6
		e.send(f, ev)
	}
	h.nSuspects = j
}

// suspected reports whether the hole [lo, hi) is already followed: an open
// hole with the same upper edge, partly filled up to lo.
func (h *half) suspected(lo, hi uint32) bool {
	for i := range h.suspects[:h.nSuspects] {
		if s := &h.suspects[i]; s.hi == hi && events.SeqLEQ(s.lo, lo) {
			return true
		}
	}
	return false
}
