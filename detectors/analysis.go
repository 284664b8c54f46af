package detectors

import (
	"github.com/tcpviz/tcpviz/events"
)

const (
	fSYN = events.FlagSYN
	fFIN = events.FlagFIN
	fRST = events.FlagRST
	fACK = events.FlagACK
	sfr  = fSYN | fFIN | fRST
)

// handshake keeps what Wireshark derives from SYNs before its sequence
// analysis (window scale, the initial RTT) and raises handshake anomalies.
// Past the handshake, a segment without SYN, FIN or RST changes nothing
// here (handshakeDone).
func (e *Engine) handshake(f *flow, p *events.Packet) {
	fwd, rev := &f.h[p.Dir], &f.h[p.Dir^1]
	if !fwd.seen {
		fwd.seen, fwd.firstSeq = true, p.Seq
	}
	if p.Flags&fSYN != 0 {
		if p.Options.HasWScale {
			fwd.winScale = int8(min(p.Options.WScale, 14))
		}
		fwd.sackPerm = p.Options.SACKPerm
		synack := p.Flags&fACK != 0
		// Wireshark's verify_tcp_window_scaling.
		if fwd.winScale == -1 {
			fwd.winScale, rev.winScale = -2, -2
		} else if synack && rev.winScale == -2 {
			fwd.winScale = -2
		}
		if !synack {
			f.mruSYN = p.TS
		}
		switch {
		case !fwd.synSeen:
			fwd.synSeen, fwd.isn, fwd.synCount = true, p.Seq, 1
			if synack {
				f.synAckTS = p.TS
				// The client's first RTT, as its kernel takes it: SYN to
				// SYN/ACK (the smoothed RTT of its data starts there).
				if f.mruSYN != 0 && p.TS > f.mruSYN {
					rev.smooth(p.TS - f.mruSYN)
				}
			} else {
				f.synTS = p.TS
			}
		case p.Seq == fwd.isn:
			fwd.synCount++
			ev := e.event(f, p, events.TypeHandshakeAnomaly, events.SevWarn)
			ev.Reason, ev.Count = events.ReasonSYNRetry, fwd.synCount-1
			if synack {
				ev.Note = "SYN/ACK repeated"
			}
			e.send(f, ev)
		}
	} else if p.Flags&fACK != 0 {
		fwd.firstAck = false
		if f.mruSYN != 0 && f.irtt == 0 {
			f.irtt = p.TS - f.mruSYN
			// The server's first RTT: SYN/ACK to the ACK.
			if f.synAckTS != 0 && p.TS > f.synAckTS {
				rev.smooth(p.TS - f.synAckTS)
			}
		}
	}
	if p.Flags&fRST != 0 && !fwd.rstSeen {
		fwd.rstSeen = true
		// Refused: the first RST from a side that sent no SYN/ACK, to a peer
		// that sent nothing but SYNs.
		if !fwd.synSeen && e.isSYNSender(f, p.Dir^1) {
			ev := e.event(f, p, events.TypeHandshakeAnomaly, events.SevWarn)
			ev.Reason = events.ReasonRefused
			e.send(f, ev)
		}
		if n, fire := e.rst.add(p.TS); fire {
			ev := e.event(f, p, events.TypeTeardownAnomaly, events.SevCritical)
			ev.Reason, ev.Count = events.ReasonRSTStorm, n
			e.send(f, ev)
		}
	}
	if p.Flags&fFIN != 0 && !fwd.finSeen {
		fwd.finSeen = true
		if n, fire := e.fin.add(p.TS); fire {
			ev := e.event(f, p, events.TypeTeardownAnomaly, events.SevWarn)
			ev.Reason, ev.Count = events.ReasonFINStorm, n
			e.send(f, ev)
		}
	}
}

// handshakeDone reports whether handshake has nothing to do for p: its
// direction was seen, p carries no SYN, FIN or RST, and an ACK has no
// first ACK or initial RTT left to set.
func (f *flow) handshakeDone(p *events.Packet) bool {
	fwd := &f.h[p.Dir&1]
	return fwd.seen && p.Flags&sfr == 0 && (p.Flags&fACK == 0 || !fwd.firstAck && (f.mruSYN == 0 || f.irtt != 0))
}

// isSYNSender reports whether direction d opened the connection with a bare
// SYN and nothing but SYNs came from it.
func (e *Engine) isSYNSender(f *flow, d events.Dir) bool {
	h := &f.h[d]
	return h.synSeen && !h.ackKnown && h.nextKnown && h.nextseq == h.isn+1
}

// analyze applies Wireshark 4.0's tcp_analyze_sequence_number to p and
// returns the analysis flags. The order of the checks matters and is
// Wireshark's.
func (e *Engine) analyze(f *flow, p *events.Packet, fwd, rev *half) uint16 {
	// fwd is p's direction's half of f, rev the other's.
	seq, ack, seglen, flags := p.Seq, p.Ack, p.Len, p.Flags
	win := int64(p.Window)
	var fl uint16

	// The common segments, at nextseq with no SYN, FIN or RST and an open
	// window, take short paths (a SYN, as every packet of a scan, fails the
	// first test).
	if flags&sfr == 0 && win != 0 && fwd.nextKnown && seq == fwd.nextseq && !e.general {
		switch {
		case seglen > 1 && seglen < 1<<31 && ack == fwd.lastack:
			// New data with the ACK of the segment before. Of the rules
			// only window_full, the spurious test and the peer's
			// ACKed-unseen bound can fire: the others need no payload, a
			// zero window, a gap, an old seq or a new ACK.
			if rev.windowFull(seq + seglen) {
				fl |= aWindowFull
			}
			if rev.maxSeqToAck != 0 && events.SeqGreater(ack, rev.maxSeqToAck) && flags&fACK != 0 {
				fl |= rev.ackedUnseen()
			}
			if rev.lastack != 0 && events.SeqLEQ(seq+seglen, rev.lastack) {
				fl |= aSpurious
			}
			fwd.nextseq, fwd.nextseqTime, fwd.nextseqFrame = seq+seglen, p.TS, p.Frame
			return fwd.settle(seq, win, ack, p.TS, fl)
		case seglen == 0 && flags&fACK != 0 && ack != fwd.lastack:
			// A bare new ACK: no window update, keep-alive (ACK) or
			// duplicate ACK (those repeat the ACK), nothing to check as a
			// retransmission: only the peer's ACKed-unseen bound can fire.
			if rev.maxSeqToAck != 0 && events.SeqGreater(ack, rev.maxSeqToAck) {
				fl |= rev.ackedUnseen()
			}
			fwd.lastNonDup = p.Frame
			fwd.dupacks = 0
			return fwd.settle(seq, win, ack, p.TS, fl)
		}
	}

	func() {
		// Zero window probe: 1 byte at nextseq while the peer's window is 0.
		if seglen == 1 && fwd.nextKnown && seq == fwd.nextseq && rev.window == 0 {
			fl |= aZeroWindowProbe
			return
		}
		// Zero window: never on SYN, FIN or RST (an RST with window 0 is not
		// a zero window).
		if win == 0 && flags&sfr == 0 {
			fl |= aZeroWindow
		}
		// Previous segment not captured.
		if fwd.nextKnown && events.SeqGreater(seq, fwd.nextseq) && flags&fRST == 0 {
			fl |= aLost
			fwd.addHole(fwd.nextseq, seq, rev.maxAck, rev.ackKnown)
		}
		// Keep-alive: 0 or 1 byte at nextseq-1.
		if (seglen == 0 || seglen == 1) && fwd.nextKnown && seq == fwd.nextseq-1 && flags&sfr == 0 {
			fl |= aKeepAlive
		}
		if seglen == 0 && win != 0 && win != fwd.window && fwd.nextKnown && seq == fwd.nextseq && ack == fwd.lastack && flags&sfr == 0 {
			fl |= aWindowUpdate
		}
		// Window full: the segment reaches the right edge of the peer's
		// advertised window (scale known; a SYN's window is never scaled).
		if seglen > 0 && flags&sfr == 0 && rev.windowFull(seq+seglen) {
			fl |= aWindowFull
		}
		pureRepeat := seglen == 0 && fwd.nextKnown && seq == fwd.nextseq && ack == fwd.lastack && flags&sfr == 0
		if pureRepeat && win != 0 && win == fwd.window && rev.lastFlags&aKeepAlive != 0 {
			fl |= aKeepAliveAck
			return
		}
		if pureRepeat && win == 0 && win == fwd.window && rev.lastFlags&aZeroWindowProbe != 0 {
			fl |= aZeroWindowProbeAck
			return
		}
		// Duplicate ACK: no data, same ack and same non-zero window, seq at
		// nextseq, no SYN/FIN/RST.
		if pureRepeat && win != 0 && win == fwd.window {
			if fwd.dupacks == -1 {
				fwd.dupacks = 1
			} else {
				fwd.dupacks++
			}
			fl |= aDupAck
		}
	}()
	// The count restarts whenever the ACK number changes.
	if ack != fwd.lastack {
		fwd.lastNonDup = p.Frame
		fwd.dupacks = 0
	}
	// ACKed unseen segment; Wireshark also uses it to damp the peer's
	// duplicate-ACK count, which decides fast retransmissions.
	if rev.maxSeqToAck != 0 && events.SeqGreater(ack, rev.maxSeqToAck) && flags&fACK != 0 {
		fl |= rev.ackedUnseen()
	}
	// Data, SYN or FIN that does not advance nextseq.
	if (seglen > 0 || flags&(fSYN|fFIN) != 0) && fl&aKeepAlive == 0 {
		notAdvanced := fwd.nextKnown && events.SeqLess(seq, fwd.nextseq)
		if seglen > 1 && fwd.nextseq-1 == seq {
			notAdvanced = false // new data after a 1-byte probe
		}
		synfin := uint32(0)
		if flags&(fSYN|fFIN) != 0 {
			synfin = 1
		}
		switch {
		case seglen > 0 && rev.lastack != 0 && events.SeqLEQ(seq+seglen, rev.lastack):
			fl |= aSpurious
		// Wireshark's count is unsigned: the -1 left by "ACKed unseen segment"
		// passes its ">= 2" test.
		case notAdvanced && (rev.dupacks >= 2 || rev.dupacks == -1) && rev.lastack == seq && since(p.TS, rev.lastackTime) < e.fastWindow:
			fl |= aFastRetrans
		case notAdvanced && since(p.TS, fwd.nextseqTime) < e.oooWindow(f) && fwd.nextseq != seq+seglen+synfin:
			fl |= aOutOfOrder
		case notAdvanced:
			fl |= aRetrans
		}
	}
	nextseq := seq + p.SegLen()
	if (!fwd.nextKnown || events.SeqGreater(nextseq, fwd.nextseq)) && fl&aZeroWindowProbe == 0 {
		fwd.nextKnown = true
		fwd.nextseq, fwd.nextseqTime, fwd.nextseqFrame = nextseq, p.TS, p.Frame
	}
	return fwd.settle(seq, win, ack, p.TS, fl)
}

// settle ends the analysis of h's segment at seq: the contiguous bound
// follows nextseq from where it stood (not for a zero window probe), and
// the segment's window, ACK, time and flags become the latest.
func (h *half) settle(seq uint32, win int64, ack uint32, ts int64, fl uint16) uint16 {
	if (seq == h.maxSeqToAck || h.maxSeqToAck == 0) && fl&aZeroWindowProbe == 0 {
		h.maxSeqToAck = h.nextseq
	}
	h.window, h.lastack, h.lastackTime, h.lastFlags = win, ack, ts, fl
	return fl
}

// windowFull reports whether a segment of the peer ending at end reaches
// the right edge of the window h advertised (scale known; a SYN's window is
// never scaled).
func (h *half) windowFull(end uint32) bool {
	if !h.seen || h.winScale == -1 {
		return false
	}
	shift := uint32(0)
	if !h.firstAck && h.winScale >= 0 {
		shift = uint32(h.winScale)
	}
	return end == h.lastack+uint32(h.window)<<shift
}

// ackedUnseen is Wireshark's "ACKed unseen segment" for an ACK of h's data
// above h.maxSeqToAck. Observed on tshark 4.0.17: the bound catches up with
// nextseq (flagged) when it lags behind; otherwise h's duplicate-ACK count
// is damped.
func (h *half) ackedUnseen() uint16 {
	if events.SeqLess(h.maxSeqToAck, h.nextseq) {
		h.maxSeqToAck = h.nextseq
		return aAckLost
	}
	fl := uint16(0)
	if h.dupacks == 0 {
		fl = aAckLost
	}
	h.dupacks = -1
	return fl
}

// since is Wireshark's unsigned time difference: a clock going backwards
// gives a huge value, never a small one.
func since(now, then int64) int64 {
	d := now - then
	if d < 0 {
		return 1<<63 - 1
	}
	return d
}

// oooWindow is the time after the segment that last advanced nextseq within
// which a segment that does not advance it counts as out-of-order: the
// handshake RTT, or DefaultIRTT when it is unknown.
func (e *Engine) oooWindow(f *flow) int64 {
	if f.irtt > 0 {
		return f.irtt
	}
	return e.irttDefault
}

// maxHoles bounds the gaps remembered per direction.
const maxHoles = 8

// hole is a range of sequence space skipped by the capture ([lo, hi)).
type hole struct{ lo, hi uint32 }

// addHole remembers a gap (lost_segment). When the list is full the oldest
// gap is forgotten and the direction's history is no longer complete.
func (h *half) addHole(lo, hi, acked uint32, ackKnown bool) {
	if ackKnown {
		// Gaps the receiver has acknowledged need no tracking: data there is
		// a spurious retransmission whatever the gap says.
		j := 0
		for _, g := range h.holes[:h.nHoles] {
			if events.SeqGreater(g.hi, acked) {
				h.holes[j] = g
				j++
			}
		}
		h.nHoles = j
	}
	if h.nHoles == maxHoles {
		copy(h.holes[:], h.holes[1:])
		h.nHoles--
		h.holesLost = true
	}
	h.holes[h.nHoles] = hole{lo, hi}
	h.nHoles++
}

// seenBefore reports whether every byte of [seq, end) already passed the
// capture point in this direction (so the segment is provably a copy), and
// removes from the gaps what the segment fills.
func (h *half) seenBefore(seq, end uint32) bool {
	if !h.nextKnown || !events.SeqLEQ(end, h.nextseq) {
		return false
	}
	// Before the first byte seen nothing is known, but on a stream longer
	// than 1 GiB that comparison wraps: there only the gaps decide.
	if h.nextseq-h.firstSeq >= 1<<30 {
		h.long = true
	}
	if !h.long && events.SeqLess(seq, h.firstSeq) {
		return false
	}
	filled := false
	j := 0
	for i := 0; i < h.nHoles; i++ {
		g := h.holes[i]
		if events.SeqLess(seq, g.hi) && events.SeqLess(g.lo, end) {
			filled = true
			switch {
			case events.SeqLEQ(seq, g.lo) && events.SeqGEQ(end, g.hi):
				continue // fully filled
			case events.SeqLEQ(seq, g.lo):
				g.lo = end
			case events.SeqGEQ(end, g.hi):
				g.hi = seq
			}
		}
		h.holes[j] = g
		j++
	}
	h.nHoles = j
	return !filled && !h.holesLost
}
