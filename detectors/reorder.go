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
//   - a retransmission into it was proven spurious, before or after the
//     close: a D-SACK (the receiver got the bytes twice), or the first ACK
//     covering it echoes an older TSval (spuriousChecks): reordering;
//   - otherwise the loss is confirmed (a second loss_infer, "confirmed":
//     true, ref_frame the first) once two smoothed RTTs passed since the
//     retransmission (and the close) and the cumulative ACK passed data sent
//     after the retransmission (a D-SACK for it would have come back by
//     then, unless the path stalls longer: then after eight RTTs).
//
// A late original can be lost at the receiver although the path dropped
// nothing: PAWS (RFC 7323) discards a segment whose TSval is older than the
// receiver's TS.Recent, and a retransmission that overtook the original
// (in-order data below the hole) moves TS.Recent past it. Linux accepts one
// tick of age (TCP_PAWS_WINDOW). An ACK at the hole's edge echoing a TSval
// more than one tick newer than the original's says the original will be
// discarded if it comes; a duplicate ACK that brings no news (no D-SACK, the
// same first SACK block as the ACK before: Linux answers a discarded segment
// with one) after the original was sent says one came. Then the confirmed
// loss_infer says so in its note.

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
	rAt       int64  // when the newest of them was sent
	rNext     uint32 // the direction's highest sequence sent then
	proven    bool   // a retransmission into it was proven spurious
	paws      bool   // the original at pawsLo will be discarded by PAWS
	pawsSent  int64  // when that original was sent
	pawsLo    uint32
	pawsHi    uint32
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
		s.rNext = h.nextseq
		for _, r := range h.resends[:h.nResends] {
			if overlaps(r.seq, r.end, lo, hi) {
				s.rTS, s.rHasTS, s.rAt = r.tsval, r.hasTS, r.ts
			}
		}
	}
	h.checkPAWS(&s, p)
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
		s.resent, s.rTS, s.rHasTS, s.rAt, s.rNext = true, p.Options.TSVal, p.Options.HasTS, p.TS, h.nextseq
	}
}

// provenSpurious marks the holes of h that the spurious retransmission
// [seq, end) went into: the original arrived. For a hole whose original
// PAWS discards, only a proof about that original counts.
func (h *half) provenSpurious(seq, end uint32) {
	for i := range h.suspects[:h.nSuspects] {
		if s := &h.suspects[i]; s.covers(seq, end) {
			s.proven = true
		}
	}
}

// covers reports whether the range [lo, hi) speaks for the hole: it
// overlaps the hole, and the segment PAWS discards if there is one.
func (s *suspect) covers(lo, hi uint32) bool {
	if s.paws {
		return overlaps(lo, hi, s.pawsLo, s.pawsHi)
	}
	return overlaps(lo, hi, s.origLo, s.hi)
}

// pawsWindow is the age in TSval ticks Linux's PAWS check accepts
// (TCP_PAWS_WINDOW); an older segment is discarded.
const pawsWindow = 1

// pawsDue reports whether checkPAWS may mark hole s on ACK p: not marked
// or closed yet, and p carries timestamps and acknowledges up to the hole.
func (s *suspect) pawsDue(p *events.Packet) bool {
	return !s.paws && !s.closed && p.Options.HasTS && p.Ack == s.lo
}

// checkPAWS marks hole s when ACK p, at the hole's edge, echoes a TSval
// newer than the original at the edge by more than pawsWindow.
func (h *half) checkPAWS(s *suspect, p *events.Packet) {
	if !s.pawsDue(p) {
		return
	}
	seg, ok := h.segs.at(s.lo)
	if ok && seg.hasTS && events.SeqGreater(p.Options.TSEcr, seg.tsval+pawsWindow) {
		s.paws, s.pawsLo, s.pawsHi, s.pawsSent = true, seg.seq, seg.end, seg.ts
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
	if !advanced && p.Len == 0 && !dsack && p.Options.NumSACK > 0 && p.Options.SACK[0] == h.prevSACK0 {
		h.lastBlank = p.TS
	}
	// A D-SACK comes back about one RTT after the second copy was sent;
	// allow two, and at least 1 ms.
	wait := max(2*int64(h.srtt), int64(1e6))
	// In place: copying each hole out and back (120 bytes) on every ACK
	// cost more than the checks. A hole that leaves is overwritten by the
	// next one kept, or lies past nSuspects.
	j := 0
	for i := 0; i < h.nSuspects; i++ {
		s := &h.suspects[i]
		// A D-SACK can come back before the hole closes: the original
		// of its first segment arrived after the retransmission while
		// the rest of the hole was still missing.
		if dsack && s.covers(dl, dr) {
			s.proven = true
		}
		since := p.TS - max(s.closedAt, s.rAt)
		switch {
		case s.closed && s.proven:
			e.reordered(f, p, d, s)
			continue
		case s.closed && since >= wait && (events.SeqGreater(ack, s.rNext) || since >= 4*wait):
			e.confirmed(f, p, d, s)
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
			if !s.resent || eifel || s.proven {
				e.reordered(f, p, d, s)
				continue
			}
			s.closed, s.closedAt = true, p.TS
		}
		if s.pawsDue(p) { // in line: every open hole, on every ACK
			h.checkPAWS(s, p)
		}
		if j != i {
			h.suspects[j] = *s
		}
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
	if s.paws && f.h[d].lastBlank > s.pawsSent {
		ev.Note = NoteLossPAWS
	}
}

// NoteLossPAWS: a confirmed loss of a late original the receiver discarded.
const NoteLossPAWS = "the receiver discarded the late original (PAWS): data sent again later, with a newer TSval, reached it first"

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
