package detectors

import (
	"github.com/tcpviz/tcpviz/events"
)

// Reordering told from loss. A hole the receiver reports (a SACK block above
// the cumulative ACK, or three duplicate ACKs) is a suspect: loss_infer says
// so with "confirmed": false. When the cumulative ACK covers the hole:
//
//   - nothing was sent again into it: the data was late, not lost, a
//     reordering event;
//   - a retransmission filled it, but the ACK echoes a TSval older than the
//     retransmission's (Eifel): the original arrived, reordering too;
//   - otherwise the loss is confirmed (a second loss_infer, "confirmed":
//     true, ref_frame the first) once two smoothed RTTs passed since the
//     retransmission (and the close) without a D-SACK for the hole; a D-SACK
//     (the receiver got the bytes twice), before or after the close, makes
//     it reordering.

// maxSuspects bounds the reported holes followed per direction.
const maxSuspects = 8

type suspect struct {
	lo, hi    uint32 // the hole [lo, hi) still open
	origLo    uint32 // where it started
	top       uint32 // highest SACKed sequence while it was open
	ts        int64  // first reported
	frame     uint64 // the loss_infer that reported it
	maxTS     uint32 // the newest TSval of the data direction when reported
	tsKnown   bool
	reason    string
	resent    bool   // a retransmission went into it
	rTS       uint32 // the newest TSval of those retransmissions
	rHasTS    bool
	rAt       int64 // when the newest of them was sent
	dsacked   bool  // a D-SACK inside it came back while it was open
	closed    bool  // covered by the cumulative ACK, waiting for a D-SACK
	closedAt  int64 // when
	closeMS   float64
	closeSegs int
}

// suspectHole starts following the hole [lo, hi) of direction d's data that
// ACK p reported (ev is the unconfirmed loss_infer about to be sent). A hole
// already followed from lo is not added again.
func (e *Engine) suspectHole(f *flow, p *events.Packet, d events.Dir, lo, hi, top uint32, ev *events.Event) {
	h := &f.h[d]
	ev.Confirmed = events.False
	for i := range h.suspects[:h.nSuspects] {
		if h.suspects[i].lo == lo {
			return
		}
	}
	if h.suspects == nil {
		h.suspects = make([]suspect, maxSuspects)
	}
	if h.nSuspects == maxSuspects {
		copy(h.suspects, h.suspects[1:])
		h.nSuspects--
	}
	s := suspect{lo: lo, hi: hi, origLo: lo, top: top, ts: p.TS, frame: p.Frame,
		maxTS: h.maxTSval, tsKnown: h.tsKnown, reason: ev.Reason}
	// Data of the hole already sent again before the report came back.
	if h.segs.resentIn(lo, hi) {
		s.resent = true
		for _, r := range h.resends[:h.nResends] {
			if overlaps(r.seq, r.end, lo, hi) {
				s.rTS, s.rHasTS, s.rAt = r.tsval, r.hasTS, r.ts
			}
		}
	}
	h.suspects[h.nSuspects] = s
	h.nSuspects++
}

// fillHoles is called for a segment p of direction d that is a
// retransmission or out-of-order. It marks the holes it fills as resent when
// it is provably a retransmission: its bytes passed the capture point before
// (copied), or its TSval is newer than any the direction had sent when the
// hole was reported (a late original carries an older one); with the same
// millisecond TSval, Wireshark's timing rule decides (out-of-order: a late
// original).
func (e *Engine) fillHoles(f *flow, p *events.Packet, fl uint16, copied bool) {
	h := &f.h[p.Dir]
	end := p.Seq + max(p.Len, 1)
	for i := range h.suspects[:h.nSuspects] {
		s := &h.suspects[i]
		if s.closed || !overlaps(p.Seq, end, s.lo, s.hi) {
			continue
		}
		newer := p.Options.HasTS && s.tsKnown && events.SeqGreater(p.Options.TSVal, s.maxTS)
		same := (!p.Options.HasTS || !s.tsKnown || p.Options.TSVal == s.maxTS) && fl&aOutOfOrder == 0
		if !copied && !newer && !same {
			continue
		}
		s.resent, s.rTS, s.rHasTS, s.rAt = true, p.Options.TSVal, p.Options.HasTS, p.TS
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

// holesACK runs on every ACK p about the data of d: it closes the holes a
// cumulative ACK covers and settles the closed ones (D-SACK or time).
func (e *Engine) holesACK(f *flow, p *events.Packet, d events.Dir, advanced bool) {
	h := &f.h[d]
	ack := p.Ack
	var dl, dr uint32
	dsack := false
	if p.Options.NumSACK > 0 {
		b := p.Options.SACK[0]
		if events.SeqLEQ(b.Right, ack) || p.Options.NumSACK > 1 && events.SeqGEQ(b.Left, p.Options.SACK[1].Left) &&
			events.SeqLEQ(b.Right, p.Options.SACK[1].Right) {
			dsack, dl, dr = true, b.Left, b.Right
		}
	}
	// A D-SACK comes back about one RTT after the second copy was sent;
	// allow two, and at least 1 ms.
	wait := max(2*int64(h.srtt), int64(1e6))
	j := 0
	for i := 0; i < h.nSuspects; i++ {
		s := h.suspects[i]
		// A D-SACK can come back before the hole closes: the original
		// of its first segment arrived after the retransmission while
		// the rest of the hole was still missing.
		if dsack && !s.closed && overlaps(dl, dr, s.origLo, s.hi) {
			s.dsacked = true
		}
		switch {
		case s.closed && dsack && overlaps(dl, dr, s.origLo, s.hi):
			e.reordered(f, p, d, &s)
			continue
		case s.closed && p.TS-max(s.closedAt, s.rAt) >= wait:
			e.confirmed(f, p, d, &s)
			continue
		case s.closed || !advanced || !events.SeqGreater(ack, s.lo):
		case events.SeqLess(ack, s.hi):
			s.lo = ack // partly filled
		default:
			s.closeMS = float64(p.TS-s.ts) / 1e6
			s.closeSegs = 1
			if seg := h.maxSeg; seg > 0 && events.SeqGreater(s.top, s.hi) {
				s.closeSegs = int((s.top - s.hi + seg - 1) / seg)
			}
			eifel := p.Options.HasTS && s.rHasTS && events.SeqLess(p.Options.TSEcr, s.rTS)
			if !s.resent || eifel || s.dsacked {
				e.reordered(f, p, d, &s)
				continue
			}
			s.closed, s.closedAt = true, p.TS
		}
		h.suspects[j] = s
		j++
	}
	h.nSuspects = j
}

// settleHoles confirms the closed holes still waiting for a D-SACK (the
// connection ends or the input does).
func (e *Engine) settleHoles(f *flow) {
	for d := range f.h {
		h := &f.h[d]
		for i := range h.suspects[:h.nSuspects] {
			if s := &h.suspects[i]; s.closed {
				ev := e.flowEvent(f, events.Dir(d), events.TypeLossInfer, events.SevWarn)
				e.fillConfirmed(f, ev, events.Dir(d), s)
				e.send(f, ev)
			}
		}
		h.nSuspects = 0
	}
}

func (e *Engine) reordered(f *flow, p *events.Packet, d events.Dir, s *suspect) {
	ev := e.event(f, p, events.TypeReordering, events.SevInfo)
	ev.Dir, ev.Src, ev.Dst = d, f.endpoint(d), f.endpoint(d^1)
	ev.Seq, ev.Len, ev.RefFrame = s.origLo-f.h[d].base(), s.hi-s.origLo, s.frame
	ev.DegreeSegs, ev.DegreeMS = s.closeSegs, s.closeMS
	if s.resent {
		ev.Note = NoteReorderResent
	}
	e.send(f, ev)
}

// NoteReorderResent: a reordering whose late data had been sent again.
const NoteReorderResent = "the original arrived: its retransmission was spurious"

func (e *Engine) confirmed(f *flow, p *events.Packet, d events.Dir, s *suspect) {
	ev := e.event(f, p, events.TypeLossInfer, events.SevWarn)
	e.fillConfirmed(f, ev, d, s)
	e.send(f, ev)
}

func (e *Engine) fillConfirmed(f *flow, ev *events.Event, d events.Dir, s *suspect) {
	ev.Dir, ev.Src, ev.Dst = d, f.endpoint(d), f.endpoint(d^1)
	ev.Reason, ev.Confirmed, ev.RefFrame = s.reason, events.True, s.frame
	ev.Seq, ev.Len = s.origLo-f.h[d].base(), s.hi-s.origLo
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
