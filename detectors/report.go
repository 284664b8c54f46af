package detectors

import (
	"strconv"

	"github.com/tcpviz/tcpviz/events"
)

// Notes on out_of_order events that are provably retransmissions.
const (
	NoteCopy       = "retransmission: these bytes already passed the capture point"
	NoteNewerTSval = "retransmission: tsval newer than any before in this direction"
)

// report turns the analysis flags of p into events, in Wireshark's order,
// then keeps the largest payload and TSval sent.
func (e *Engine) report(f *flow, p *events.Packet, fl uint16, fwd *half) {
	if fl != 0 { // most segments raise nothing
		e.flagEvents(f, p, fl)
	}
	// fwd is p's direction's half of f.
	if p.Len > fwd.maxSeg {
		fwd.maxSeg = p.Len
	}
	if p.Options.HasTS && (!fwd.tsKnown || events.SeqGreater(p.Options.TSVal, fwd.maxTSval)) {
		fwd.tsKnown, fwd.maxTSval = true, p.Options.TSVal
	}
}

// flagEvents raises the events of the analysis flags fl of p.
func (e *Engine) flagEvents(f *flow, p *events.Packet, fl uint16) {
	fwd, rev := &f.h[p.Dir], &f.h[p.Dir^1]
	if fl&aZeroWindowProbe != 0 {
		e.send(f, e.event(f, p, events.TypeZeroWindowProbe, events.SevInfo))
	}
	if fl&aZeroWindow != 0 {
		ev := e.event(f, p, events.TypeZeroWindow, events.SevWarn)
		ev.Ack = p.RelAck
		e.send(f, ev)
	}
	if fl&aLost != 0 {
		e.send(f, e.event(f, p, events.TypeLostSegment, events.SevWarn))
	}
	if fl&aKeepAlive != 0 {
		e.send(f, e.event(f, p, events.TypeKeepAlive, events.SevInfo))
	}
	if fl&aWindowFull != 0 {
		ev := e.event(f, p, events.TypeWindowFull, events.SevInfo)
		ev.Window = rev.window
		if !rev.firstAck && rev.winScale >= 0 {
			ev.Window <<= uint(rev.winScale)
		}
		e.send(f, ev)
	}
	if fl&aDupAck != 0 {
		ev := e.event(f, p, events.TypeDupAck, events.SevInfo)
		ev.Ack, ev.Count, ev.RefFrame = p.RelAck, fwd.dupacks, fwd.lastNonDup
		e.send(f, ev)
	}
	resent := fl&(aRetrans|aFastRetrans|aSpurious) != 0
	copied := false
	var orig uint64 // frame of the original transmission, when remembered
	if fl&(aRetrans|aFastRetrans|aSpurious|aOutOfOrder) != 0 && p.Len > 0 {
		copied = fwd.seenBefore(p.Seq, p.Seq+p.Len)
		orig = fwd.segs.markResent(p.Seq, p.Seq+p.Len)
	}
	if fl&aOutOfOrder != 0 {
		ev := e.event(f, p, events.TypeOutOfOrder, events.SevInfo)
		// Wireshark's out-of-order is a timing guess. When these bytes
		// already passed the capture point, or the TSval is newer than any
		// before in this direction, the segment is provably a retransmission.
		switch {
		case copied:
			ev.Note = NoteCopy
			resent = true
		case p.Options.HasTS && fwd.tsKnown && events.SeqGreater(p.Options.TSVal, fwd.maxTSval):
			ev.Note = NoteNewerTSval
			resent = true
		}
		e.send(f, ev)
	}
	cause, episode := "", false
	if resent {
		before := fwd.recov
		cause = e.retransCause(f, p, fl)
		episode = before == stOpen && fwd.recov != stOpen
	}
	if fl&(aRetrans|aFastRetrans|aSpurious) != 0 {
		ev := e.event(f, p, events.TypeRetransmission, events.SevWarn)
		ev.RefFrame = orig
		switch {
		case fl&aSpurious != 0:
			ev.Kind, ev.Severity = events.RetransSpurious, events.SevInfo
		case p.Flags&fSYN != 0:
			ev.Kind = events.RetransSYN
		case p.Flags&fFIN != 0 && p.Len == 0:
			ev.Kind = events.RetransFIN
		default:
			ev.Kind = cause
		}
		kind := ev.Kind // ev is the writer's once sent
		e.send(f, ev)
		if kind == events.RetransRTO && rev.dupacks <= 0 {
			lv := e.event(f, p, events.TypeLossInfer, events.SevWarn)
			lv.Reason = events.ReasonRetransNoDupAcks
			e.send(f, lv)
		}
	}
	if resent {
		e.inferred(f, p, cause, episode)
		if fl&aSpurious == 0 {
			fwd.rememberResend(p)
		}
	}
	if fwd.nSuspects > 0 && fl&(aRetrans|aFastRetrans|aSpurious|aOutOfOrder) != 0 {
		e.fillHoles(f, p, fl, copied)
	}
}

// ackSide follows the ACK field of p against the data of the other
// direction (never against p's own direction): ACK progress, RTT samples,
// duplicate-ACK and SACK loss inference.
func (e *Engine) ackSide(f *flow, p *events.Packet, fl uint16, fwd, data *half) {
	if p.Flags&fACK == 0 {
		return
	}
	d := p.Dir ^ 1 // the direction whose data p acknowledges
	// fwd is p's direction's half of f, data the other's (d's).
	// The kernel's tcp_probe reads the socket before it processes the
	// segment that triggered it: its srtt is the one before this ACK.
	data.srttPre = data.srtt
	data.acksIn++
	ack := p.Ack
	advanced := fwd.ackKnown && events.SeqGreater(ack, fwd.maxAck)
	if !fwd.ackKnown || advanced {
		fwd.ackKnown, fwd.maxAck = true, ack
		if data.ackHist != nil {
			data.ackHist.push(ack, data.srtt)
		}
		data.stallFired = false
		data.stallRef = 0
		if data.nextKnown && events.SeqGreater(data.nextseq, ack) {
			data.stallRef = p.TS
		}
	}
	if !advanced && fwd.ackKnown && p.Options.NumSACK == 0 && fl&aDupAck == 0 && data.nResends == 0 && data.nSuspects == 0 && !e.general {
		// No ACK news (most segments of a one-way transfer's sender):
		// nothing below can fire.
		data.prevSACK0 = events.SACKBlock{}
		fwd.sackAbove = false
		return
	}
	if data.nResends > 0 {
		e.spuriousChecks(f, p, d, advanced)
	}
	if data.nSuspects > 0 {
		e.holesACK(f, p, d, advanced)
	}
	data.prevSACK0 = events.SACKBlock{}
	if p.Options.NumSACK > 0 {
		data.prevSACK0 = p.Options.SACK[0]
	}
	if advanced || p.Options.NumSACK > 0 {
		e.ackSample(f, p, d, advanced)
	}
	if advanced {
		data.recovered(ack)
	}
	outstanding := data.nextKnown && events.SeqLess(ack, data.nextseq)
	if fl&aDupAck != 0 && fwd.dupacks == e.cfg.DupAckThreshold && outstanding && !(fwd.lossKnown && fwd.lossAck == ack) {
		fwd.lossKnown, fwd.lossAck = true, ack
		ev := e.lossEvent(f, p, d)
		ev.Reason, ev.Count, ev.RefFrame = events.ReasonTripleDupAck, fwd.dupacks, fwd.lastNonDup
		e.suspectHole(f, p, d, ack, ack+1, ack, ev)
		e.send(f, ev)
	}
	fwd.sackAbove = false
	if n := int(p.Options.NumSACK); n > 0 && outstanding {
		var left uint32
		top := ack
		found := false
		for i := 0; i < n && i < len(p.Options.SACK); i++ {
			b := p.Options.SACK[i]
			if events.SeqGreater(b.Left, ack) && (!found || events.SeqLess(b.Left, left)) {
				left, found = b.Left, true
			}
			if events.SeqGreater(b.Left, ack) && events.SeqGreater(b.Right, top) {
				top = b.Right
			}
		}
		fwd.sackAbove = found
		if found {
			data.sackTop(top)
		}
		if found && !(fwd.sackKnown && fwd.sackHole == ack) && !data.suspected(ack, left) {
			fwd.sackKnown, fwd.sackHole = true, ack
			ev := e.lossEvent(f, p, d)
			ev.Reason, ev.Len = events.ReasonSACKHole, left-ack
			e.suspectHole(f, p, d, ack, left, top, ev)
			e.send(f, ev)
		}
	}
}

// lossEvent is a loss_infer event raised by an ACK (packet p) about the data
// of direction d: it carries d and the sequence number (relative to d's
// sender) where the loss starts.
func (e *Engine) lossEvent(f *flow, p *events.Packet, d events.Dir) *events.Event {
	ev := e.event(f, p, events.TypeLossInfer, events.SevWarn)
	ev.Dir, ev.Src, ev.Dst = d, f.endpoint(d), f.endpoint(d^1)
	ev.Seq, ev.Len = p.RelAck, 0
	return ev
}

// checkStall raises ack_stall when the data of direction d has waited for
// ACK progress longer than max(floor, factor × srtt). A zero window from the
// receiver is flow control, not a stall.
func (e *Engine) checkStall(f *flow, d events.Dir, p *events.Packet) {
	s, r := &f.h[d], &f.h[d^1]
	if !s.stallPending() || !r.ackKnown || r.window == 0 {
		return
	}
	if !s.nextKnown || !events.SeqGreater(s.nextseq, r.maxAck) {
		s.stallRef = 0
		return
	}
	limit := max(e.stallFloor, int64(e.cfg.AckStallFactor*f.srtt))
	waited := e.now - s.stallRef
	if waited < limit {
		return
	}
	s.stallFired = true
	ev := e.flowEvent(f, d, events.TypeLossInfer, events.SevWarn)
	ev.Reason = events.ReasonAckStall
	ev.Seq = r.maxAck - s.base()
	ev.Note = "no ACK progress for " + strconv.FormatFloat(float64(waited)/1e6, 'f', 1, 64) + " ms"
	e.send(f, ev)
}

// base is the sequence number relative numbers count from, as the
// connection table counts: the ISN, or the first sequence number seen - 1.
func (h *half) base() uint32 {
	if h.synSeen {
		return h.isn
	}
	return h.firstSeq - 1
}

// checkNoAnswer raises no_syn_ack for a SYN that got no packet back.
func (e *Engine) checkNoAnswer(f *flow, now int64, final bool) {
	if f.noAnswer || f.synTS == 0 {
		return
	}
	for d := events.DirC2S; d <= events.DirS2C; d++ {
		s, r := &f.h[d], &f.h[d^1]
		if !s.synSeen || r.seen || f.synAckTS != 0 {
			continue
		}
		waited := now - f.synTS
		if waited < e.synTimeout && !(final && s.synCount > 1) {
			return
		}
		f.noAnswer = true
		sev := events.SevWarn
		if s.synCount > 2 {
			sev = events.SevCritical
		}
		ev := e.flowEvent(f, d, events.TypeHandshakeAnomaly, sev)
		ev.Reason, ev.Count = events.ReasonNoSYNACK, s.synCount-1
		ev.Note = "SYN unanswered for " + strconv.FormatFloat(float64(waited)/1e6, 'f', 1, 64) + " ms"
		e.send(f, ev)
		return
	}
}
