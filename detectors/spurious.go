package detectors

import (
	"github.com/tcpviz/tcpviz/events"
)

// Spurious retransmissions proven after the fact. A retransmission is
// remembered until the cumulative ACK covers it; it was unnecessary when
//
//   - the receiver reports it arrived twice: a D-SACK (RFC 2883: the first
//     SACK block lies below the cumulative ACK, or inside the second block)
//     covering it, or
//   - the first ACK that covers it echoes a TSval older than the
//     retransmission's own (the Eifel algorithm, RFC 3522): that ACK was
//     sent for the original.
//
// Either way a spurious_retransmission event refers to the retransmitted
// frame (ref_frame); its seq and len are the retransmission's.

// maxResends bounds the retransmissions remembered per direction.
const maxResends = 16

type resend struct {
	seq, end uint32
	ts       int64
	frame    uint64
	tsval    uint32
	hasTS    bool
}

// rememberResend keeps a retransmission of p's direction for the checks.
func (h *half) rememberResend(p *events.Packet) {
	if p.Len == 0 {
		return
	}
	if h.resends == nil {
		h.resends = make([]resend, maxResends)
	}
	if h.nResends == maxResends {
		copy(h.resends, h.resends[1:])
		h.nResends--
	}
	h.resends[h.nResends] = resend{seq: p.Seq, end: p.Seq + p.Len, ts: p.TS, frame: p.Frame, tsval: p.Options.TSVal, hasTS: p.Options.HasTS}
	h.nResends++
}

// spuriousChecks runs the D-SACK and Eifel checks for ACK p against the
// retransmissions of direction d, and forgets the ones p covers. The
// caller skips it when d has none.
func (e *Engine) spuriousChecks(f *flow, p *events.Packet, d events.Dir, advanced bool) {
	h := &f.h[d]
	ack := p.Ack
	var dl, dr uint32
	dsack := false
	if n := int(p.Options.NumSACK); n > 0 {
		b := p.Options.SACK[0]
		switch {
		case events.SeqLEQ(b.Right, ack):
			dsack = true
		case n > 1 && events.SeqGEQ(b.Left, p.Options.SACK[1].Left) && events.SeqLEQ(b.Right, p.Options.SACK[1].Right):
			dsack = true
		}
		dl, dr = b.Left, b.Right
	}
	j := 0
	for i := 0; i < h.nResends; i++ {
		r := h.resends[i]
		switch {
		case dsack && overlaps(r.seq, r.end, dl, dr):
			e.spurious(f, p, d, &r, NoteDSACK)
			continue
		case advanced && events.SeqGEQ(ack, r.end):
			if p.Options.HasTS && r.hasTS && events.SeqLess(p.Options.TSEcr, r.tsval) {
				e.spurious(f, p, d, &r, NoteEifel)
			}
			continue
		}
		h.resends[j] = r
		j++
	}
	h.nResends = j
}

// Notes of spurious_retransmission events.
const (
	NoteDSACK = "D-SACK: the receiver got these bytes twice"
	NoteEifel = "timestamps: the first ACK covering it echoes the original's TSval"
)

func (e *Engine) spurious(f *flow, p *events.Packet, d events.Dir, r *resend, note string) {
	ev := e.event(f, p, events.TypeSpuriousRetrans, events.SevInfo)
	ev.Dir, ev.Src, ev.Dst = d, f.endpoint(d), f.endpoint(d^1)
	ev.Seq, ev.Len, ev.RefFrame, ev.Note = r.seq-f.h[d].base(), r.end-r.seq, r.frame, note
	e.send(f, ev)
	f.h[d].provenSpurious(r.seq, r.end)
}
