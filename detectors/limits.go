package detectors

import (
	"math"
	"strconv"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// What limited each sender: every direction's time is split into the
// limits of events.LimitNames. The kernel's chronographs (busy, rwnd- and
// sndbuf-limited time) are the source when the capture has them for the
// sending socket; otherwise the split is inferred from packets: the peer's
// window full or zero (rwnd), nothing outstanding (app), retransmitted data
// not yet acknowledged or a long silence with data outstanding (recovery),
// data outstanding otherwise (cwnd). Both are kept per LimitWindow so the
// dominant limit can be followed over time (limit_change) and the two
// sources compared.

// Limit indexes, in events.LimitNames order.
const (
	limRwnd = iota
	limCwnd
	limSndbuf
	limApp
	limRecovery
	limHandshake
	nLimits
)

type limVec [nLimits]int64 // ns per limit

func (v *limVec) total() int64 {
	var t int64
	for _, x := range v {
		t += x
	}
	return t
}

// dominant is the index with the most time (-1 when empty) and its share.
func (v *limVec) dominant() (int, float64) {
	best := -1
	for i, x := range v {
		if x > 0 && (best < 0 || x > v[best]) {
			best = i
		}
	}
	if best < 0 {
		return -1, 0
	}
	return best, float64(v[best]) / float64(v.total())
}

// split writes v in seconds into s, to the microsecond (finer is noise,
// and the figures are written for every connection), and names the
// dominant limit as events.LimitSeconds.Dominant does (the first of the
// most seconds).
func (v *limVec) split(s *events.LimitSeconds) string {
	// Whole microseconds (below 2^53, so exact as floats): the dominant
	// limit is the same whether their floats or they are compared.
	rw, cw, sb, ap, rc, hs := v[limRwnd]/1e3, v[limCwnd]/1e3, v[limSndbuf]/1e3, v[limApp]/1e3, v[limRecovery]/1e3, v[limHandshake]/1e3
	s.Rwnd, s.Cwnd, s.Sndbuf = float64(rw)/1e6, float64(cw)/1e6, float64(sb)/1e6
	s.App, s.Recovery, s.Handshake = float64(ap)/1e6, float64(rc)/1e6, float64(hs)/1e6
	// The first of the most, in LimitNames order.
	best, most := -1, int64(0)
	if rw > most {
		best, most = limRwnd, rw
	}
	if cw > most {
		best, most = limCwnd, cw
	}
	if sb > most {
		best, most = limSndbuf, sb
	}
	if ap > most {
		best, most = limApp, ap
	}
	if rc > most {
		best, most = limRecovery, rc
	}
	if hs > most {
		best = limHandshake
	}
	if best < 0 {
		return ""
	}
	return events.LimitNames[best]
}

// limSlot is one open LimitWindow of a direction's timeline, from packets.
type limSlot struct {
	start int64
	pkt   limVec
	acked uint64 // payload bytes acknowledged
}

// limKSlot is the kernel's part of the open window of the same index, kept
// only for directions with kernel records (limKern.kslots).
type limKSlot struct {
	kern limVec
	seen bool // a kernel interval covered part of it
}

// maxLimSlots bounds the windows a direction keeps open while it waits for
// kernel records to cover them.
const maxLimSlots = 16

// chrono is a socket's cumulative chronographs, ns.
type chrono struct{ busy, rwnd, sndbuf int64 }

// limDir is one direction's limits state. Only what the packets of a
// short connection touch is inline (a connection's flowLimits, with each
// direction's first window, is 384 bytes: six cache lines, the size class
// of that size, whose objects start on a line, so each direction is three
// lines); the lifetime totals and the kernel's part are out of line
// (limLong). TestLimStateSize keeps it there.
type limDir struct {
	// Inference from packets.
	// The current state holds since `since` (accounted up to there); the
	// newest packet was at `last`; the next window ends at flushAt.
	since   int64
	last    int64
	flushAt int64
	// appFrom is the start of the current stretch with nothing outstanding
	// (0 when none); it is accounted when it ends, or at a window's end
	// once it is long enough to be sure (appSure).
	appFrom int64
	// The largest receive window while data was outstanding (-1 none), at
	// most math.MaxInt32 (a shift of 14 makes 2^30).
	maxWin   int32
	recUntil uint32 // recovery ends when this is acknowledged
	maxSeg   uint32
	// rwndAt is the sender's next sequence number when infer last found
	// the receiver's window full: until the sender sends past it, the
	// direction stays rwnd limited, as the kernel's chronograph does.
	rwndAt uint32

	// Goodput.
	firstData, lastAck int64
	acked              uint64
	ackedTo            uint32

	peerMSS uint16 // MSS the receiver announced
	data    bool   // the direction carried payload
	state   int8
	appSure bool
	inRec   bool
	// peerShift is the window scale of the receiver's windows from kernel
	// records (-1 unknown), for captures that missed the handshake.
	peerShift int8
	cur       int8 // dominant limit reported last, -1 none
	// room >= 0: the last inference said cwnd with room for the flight to
	// grow up to room bytes before the receiver's window limits it, and
	// nothing it read can change but the sender's own next sequence
	// number (see limitsPacket's steady path); -1 otherwise.
	room int32

	// Totals and the kernel's accounting, nil until a window closes before
	// the connection ends or the first kernel record (limLong).
	*limLong

	// Timeline: the open windows, oldest first. A direction without kernel
	// records has at most one open between packets, kept in first.
	slots    []limSlot
	closedTo int64 // end of the last closed window
	first    [1]limSlot
}

// limLong is the part of a direction's state that most connections never
// need while they last: the totals of closed windows, and the split from
// the kernel's chronographs with its agreement with the packet inference.
type limLong struct {
	// pkt is the time of the closed windows (and of spans too long to
	// spread over windows); the open ones hold the rest.
	pkt     limVec
	peakBps float64

	kStart, kLast        int64 // the split covers [kStart, kLast]
	k0, kPrev            chrono
	kOther               limVec // busy time beyond rwnd/sndbuf: cwnd or recovery, by the record
	kFromHandshake       bool   // k0 is the socket's creation (handshake captured)
	kern                 bool   // a kernel record reported on this direction (kSeen)
	agreeSame, agreeSeen int64
	kslots               []limKSlot // the kernel's part of each open window (same index as slots)
}

// kSeen reports whether a kernel record reported on this direction.
func (ld *limDir) kSeen() bool { return ld.limLong != nil && ld.limLong.kern }

// long returns the direction's out-of-line state, making it on first use.
func (ld *limDir) long() *limLong {
	if ld.limLong == nil {
		ld.limLong = &limLong{}
	}
	return ld.limLong
}

// flowLimits is a connection's limits state, made at its first payload.
type flowLimits struct {
	d [2]limDir // windows start at the connection's first packet (flow.first)
}

// warm reads a word of every cache line of the state, all at once, so a
// connection closed long after its last packet (its state no longer in
// the cache) waits for one memory access at close instead of one after
// the other as fillLimits reaches each line. Reads are 64 bytes apart at
// most (a limDir is 192 bytes).
func (L *flowLimits) warm() int64 {
	var x int64
	for d := range L.d {
		ld := &L.d[d]
		x += ld.since + ld.lastAck + int64(len(ld.slots)) + ld.first[0].start + ld.first[0].pkt[4]
	}
	return x
}

// limits returns the connection's limits state, making it (and accounting
// the time since the first packet) on first use.
func (e *Engine) limits(f *flow) *flowLimits {
	if f.lim != nil {
		return f.lim
	}
	var L *flowLimits
	if n := len(e.limPool); n > 0 {
		// A closed connection's state.
		L, e.limPool = e.limPool[n-1], e.limPool[:n-1]
		*L = flowLimits{}
	} else {
		L = &flowLimits{}
	}
	for d := range L.d {
		ld := &L.d[d]
		ld.state, ld.since, ld.last, ld.cur, ld.peerShift = limApp, f.first, f.first, -1, -1
		ld.maxWin, ld.room = -1, -1
		ld.peerMSS = f.mss[d^1]
		ld.slots = ld.first[:0]
	}
	f.lim = L
	return L
}

// handshakeSpan is the time the connection spent being set up: from the
// first SYN to the ACK of the SYN/ACK (end 0 while it lasts; start 0 when
// no SYN was captured).
func (f *flow) handshakeSpan() (int64, int64) {
	start := f.synTS
	if start == 0 {
		start = f.synAckTS
	}
	if start == 0 || f.irtt == 0 {
		return start, 0
	}
	return start, f.mruSYN + f.irtt
}

// inHandshake reports whether the connection is being set up: a SYN seen,
// its handshake not complete (handshakeSpan's end still 0).
func (f *flow) inHandshake() bool {
	return f.irtt == 0 && (f.synTS != 0 || f.synAckTS != 0)
}

// flightFits reports whether direction d has data in flight and no more
// than the room infer found for it: the steady paths' test.
func (ld *limDir) flightFits(f *flow, d events.Dir) bool {
	fl := int64(int32(f.h[d].nextseq - f.h[d^1].maxAck))
	return fl > 0 && fl <= int64(ld.room)
}

// limitsPacket runs after the other detectors saw p. Until a connection
// carries payload only its SYNs matter (their MSS): the test for the
// others stays in line.
func (e *Engine) limitsPacket(f *flow, p *events.Packet, fl uint16) {
	if f.lim != nil || p.Len > 0 || p.Flags&fSYN != 0 {
		e.limitsStep(f, p, fl)
	}
}

// limitsStep is limitsPacket for a SYN, a packet with payload or any packet
// of a connection that carried some.
func (e *Engine) limitsStep(f *flow, p *events.Packet, fl uint16) {
	if p.Flags&fSYN != 0 && p.Options.HasMSS {
		f.mss[p.Dir] = p.Options.MSS
	}
	L := f.lim
	if L == nil {
		if p.Len == 0 {
			return
		}
		L = e.limits(f)
	}
	now := p.TS
	if ld := &L.d[p.Dir]; p.Len > 0 && ld.room >= 0 && ld.data && !L.d[p.Dir^1].data && p.Flags&fSYN == 0 &&
		fl&(aRetrans|aFastRetrans|aSpurious) == 0 && !ld.inRec && ld.appFrom == 0 &&
		now < ld.flushAt && now-ld.last <= limGapMin && !e.limGeneral && !f.inHandshake() {
		// The loop's steady path, for a one-way transfer without its
		// setup: the other direction carries no data, so this is all the
		// packet changes.
		if ld.flightFits(f, p.Dir) {
			ld.maxSeg = max(ld.maxSeg, p.Len)
			ld.last = now
			return
		}
	}
	first := false // the packet is the first data of its direction, in the first window
	if p.Len > 0 {
		ld := &L.d[p.Dir]
		if !ld.data {
			ld.data, ld.firstData, ld.ackedTo = true, now, p.Seq
			ld.peerMSS = f.mss[p.Dir^1]
			if len(ld.slots) == 0 && ld.limLong == nil && now > f.first && now-f.first < e.limWindow {
				// The direction's first span, [f.first, now), is accounted
				// below, all in the first window: open it here, as
				// limAddSlow would, so the span's parts go straight in.
				ld.slots = ld.first[:1]
				ld.first[0].start = f.first
				first = !e.limGeneral
			}
		}
		ld.maxSeg = max(ld.maxSeg, p.Len)
		if fl&(aRetrans|aFastRetrans|aSpurious) != 0 {
			ld.inRec, ld.recUntil = true, f.h[p.Dir].nextseq
		}
	}
	w := e.limWindow
	hs0, hs1 := f.handshakeSpan()
	inHandshake := f.inHandshake()
	done := events.Dir(2) // a direction the loop need not look at
	if first {
		L.d[p.Dir].firstStep(f, p.Dir, now, w, hs0, hs1, inHandshake)
		done = p.Dir
	}
	for d := events.DirC2S; d <= events.DirS2C; d++ {
		ld := &L.d[d]
		if !ld.data || d == done {
			continue // nothing yet: its first data accounts the time before (the run below, or firstStep)
		}
		if ld.room >= 0 && !e.limGeneral && d == p.Dir && p.Flags&fSYN == 0 && !inHandshake && !ld.inRec && ld.appFrom == 0 &&
			now < ld.flushAt && now-ld.last <= limGapMin {
			// The steady path: more data from a cwnd-limited sender mid-window. Only
			// the receiver's packets change what infer reads (window, ACKs): while the
			// flight fits the room infer found, it is still cwnd and nothing is due.
			if ld.flightFits(f, d) {
				ld.last = now
				continue
			}
		}
		if d == p.Dir && p.Len == 0 && p.Flags&(fSYN|fFIN|fRST) == 0 && !e.limGeneral && f.h[d].nextseqFrame != p.Frame &&
			!inHandshake && ld.state != limHandshake && (ld.state != limApp || ld.appFrom != 0) &&
			now < ld.flushAt && !ld.silentPast(now, limGapMin) && ld.scaleSettled(&f.h[d^1]) {
			// The sender's own bare ACK (nextseq not moved): only the receiver's packets
			// and the sender's data change infer's answer, so it stands; nothing is due.
			ld.last = now
			continue
		}
		if ld.inRec && ld.state == limRecovery && !e.limGeneral && !inHandshake && now < ld.flushAt &&
			!ld.newAck(&f.h[d^1]) && !ld.recovered(&f.h[d^1]) {
			// Still in recovery (appFrom 0: endApp cleared it), nothing newly acknowledged:
			// infer says so again, the state does not change (limGap's test is for cwnd),
			// and nothing is due before the window's end.
			ld.room, ld.last = -1, now
			continue
		}
		ld.room = -1
		// The cheap tests of limGoodput and limGap first: most packets
		// acknowledge nothing new of d, and arrive within 10 ms.
		if d != p.Dir && ld.newAck(&f.h[d^1]) {
			e.limGoodput(f, L, d, now)
		}
		if ld.silentPast(now, limGapMin) {
			e.limGap(f, L, d, now)
		}
		st := int8(limHandshake)
		if !inHandshake {
			st = ld.infer(f, d)
		}
		newData := p.Dir == d && p.Len > 0
		// Time is accounted in runs: when the state changes, and at the end
		// of each window.
		acct, was, from := false, 0, int64(0)
		if ld.appFrom != 0 {
			if st != limApp || newData {
				acct = true
				was, from = ld.endApp(f, now, newData)
			}
		} else if st != ld.state || now >= ld.flushAt {
			acct, was, from = true, int(ld.state), ld.since
			ld.since = now
		}
		if acct {
			// limAccountSpan, with the handshake's span at hand and in
			// line when the span is past it and in the newest open window.
			if overlapsHandshake(hs0, hs1, from) {
				e.limAccountHandshake(f, L, d, was, from, now, hs0, hs1)
			} else if e.limGeneral || !ld.addNewest(was, from, now, w) {
				e.limAddSlow(f, L, d, was, from, now)
			}
		}
		if st == limApp && ld.appFrom == 0 {
			ld.appFrom, ld.appSure = now, false
		}
		ld.state, ld.last = st, now
		if now >= ld.flushAt {
			if ld.appFrom != 0 && now-ld.appFrom > appWait(f) {
				e.limAccountSpan(f, L, d, limApp, ld.appFrom, now)
				ld.appFrom, ld.appSure, ld.since = now, true, now
			}
			if e.limGeneral || !ld.lasts(now, w) {
				e.limFlush(f, L, d, now, false)
			}
			ld.flushAt = f.first + ((now-f.first)/w+1)*w
		}
	}
}

// firstStep is the loop's first run for direction d, at its first data
// (now) in the first window, whose slot limitsStep opened: the time
// before, [f.first, now), was the application's but for the handshake,
// and the window does not end yet, so nothing but its two parts needs
// accounting. w is LimitWindow, hs0 and hs1 the handshake's span.
func (ld *limDir) firstStep(f *flow, d events.Dir, now, w, hs0, hs1 int64, inHandshake bool) {
	st := int8(limHandshake)
	if !inHandshake {
		st = ld.infer(f, d)
	}
	pkt, from := &ld.first[0].pkt, f.first
	if overlapsHandshake(hs0, hs1, from) {
		// limAccountHandshake's parts.
		if a, b := handshakeOverlap(from, now, hs0, hs1); a < b {
			pkt[limHandshake] += b - a
			pkt[limApp] += a - from + now - b
		} else {
			pkt[limApp] += now - from
		}
	} else {
		pkt[limApp] += now - from
	}
	ld.since = now
	if st == limApp {
		ld.appFrom, ld.appSure = now, false
	}
	ld.state, ld.last = st, now
	ld.flushAt = f.first + w // the first window's end
}

// appWait is how soon new data must follow a stretch with nothing
// outstanding for the stretch to count as the sender's, not the
// application's (see endApp).
func appWait(f *flow) int64 {
	rtt := max(f.irtt, int64(f.srtt))
	return rtt + rtt/4 + int64(1e6)
}

// limGapMin is the shortest silence limGap takes for a timeout.
const limGapMin = int64(10e6)

// limGap handles a silence with data outstanding: beyond max(2 × srtt,
// limGapMin) without a packet, the sender is waiting for a timeout.
func (e *Engine) limGap(f *flow, L *flowLimits, d events.Dir, now int64) {
	ld := &L.d[d]
	wait := max(int64(2*f.srtt), limGapMin)
	if !ld.silentPast(now, wait) {
		return
	}
	e.limAccountSpan(f, L, d, limCwnd, ld.since, ld.last+wait)
	e.limAccountSpan(f, L, d, limRecovery, ld.last+wait, now)
	ld.since = now
}

// silentPast reports whether the congestion window limited ld, with data
// outstanding, and nothing came for more than wait before now.
func (ld *limDir) silentPast(now, wait int64) bool {
	return ld.appFrom == 0 && ld.state == limCwnd && now-ld.last > wait
}

// endApp ends a stretch with nothing outstanding at now, and returns the
// limit it gets and its start, for the caller to account. When new data
// follows within about an RTT, the sender was not idle: a capture taken at
// the receiver sees the flight empty between its ACK and the next data,
// which the sender sent on the ACK before. That stretch is congestion
// window time.
func (ld *limDir) endApp(f *flow, now int64, newData bool) (int, int64) {
	from := ld.appFrom
	ld.appFrom, ld.since = 0, now
	if newData && !ld.appSure && now-from <= appWait(f) {
		return limCwnd, from
	}
	return limApp, from
}

// infer says from packets what limits the sender of d (ld) right now,
// once the handshake is over.
func (ld *limDir) infer(f *flow, d events.Dir) int8 {
	s, r := &f.h[d], &f.h[d^1]
	if ld.inRec {
		if ld.recovered(r) {
			ld.inRec = false
		} else {
			return limRecovery
		}
	}
	if !s.seen || !ld.data {
		return limApp
	}
	if r.window == 0 && r.ackKnown {
		ld.rwndAt = s.nextseq
		return limRwnd // zero window: the sender may not send at all
	}
	flight := f.inFlight(d)
	if flight <= 0 {
		return limApp
	}
	if win := ld.scaledWindow(r); win >= 0 {
		w32 := int32(min(win, math.MaxInt32))
		if ld.maxWin < 0 || w32 > ld.maxWin {
			ld.maxWin = w32
		}
		mss := int64(ld.mss())
		if win-flight < mss {
			ld.rwndAt = s.nextseq
			return limRwnd
		}
		if ld.state == limRwnd && s.nextseq == ld.rwndAt {
			// Acknowledgements opened the window but the sender has sent
			// nothing new since it was full: the kernel starts its
			// rwnd-limited chronograph when the window stops a
			// transmission and stops it only at the next attempt to
			// send, so the wait for the application's next write counts
			// as rwnd there too.
			return limRwnd
		}
		// The room stays right while the receiver sends nothing, unless
		// the segment size can still change (the largest segment seen,
		// below 1460 bytes).
		if ld.peerMSS > 0 || ld.maxSeg >= 1460 {
			ld.room = int32(min(win-mss, math.MaxInt32))
		}
	}
	return limCwnd
}

// mss is the segment size the sender uses: the receiver's announced MSS,
// or the largest segment seen (at most 1460 bytes, since a capture before
// segmentation shows larger ones).
func (ld *limDir) mss() uint32 {
	if ld.peerMSS > 0 {
		return uint32(ld.peerMSS)
	}
	if ld.maxSeg > 0 {
		return min(ld.maxSeg, 1460)
	}
	return 1460
}

// scaleSettled reports whether scaledWindow reads of r only what r's own
// packets set: not the scale from kernel records (peerShift), which a
// record may change between two packets.
func (ld *limDir) scaleSettled(r *half) bool {
	return r.window < 0 || r.winScale >= 0 || r.winScale == -2
}

// scaledWindow is the receiver's advertised window in bytes, -1 when its
// scale is unknown.
func (ld *limDir) scaledWindow(r *half) int64 {
	if r.window < 0 {
		return -1
	}
	switch {
	case r.winScale >= 0 && !r.firstAck:
		return r.window << uint(r.winScale)
	case r.winScale == -2 || (r.winScale >= 0 && r.firstAck):
		return r.window
	case ld.peerShift >= 0:
		return r.window << uint(ld.peerShift)
	}
	return -1
}

// limAccountSpan gives [from, to) to limit st, apart from the handshake.
func (e *Engine) limAccountSpan(f *flow, L *flowLimits, d events.Dir, st int, from, to int64) {
	if hs0, hs1 := f.handshakeSpan(); overlapsHandshake(hs0, hs1, from) {
		e.limAccountHandshake(f, L, d, st, from, to, hs0, hs1)
		return
	}
	e.limAdd(f, L, d, st, from, to)
}

// overlapsHandshake reports whether a span starting at from can overlap
// the handshake [hs0, hs1) of handshakeSpan (hs0 0: none captured; hs1 0:
// it lasts).
func overlapsHandshake(hs0, hs1, from int64) bool {
	return hs0 != 0 && (hs1 == 0 || hs1 > from)
}

// limAccountHandshake is limAccountSpan for a span that may overlap the
// handshake [hs0, hs1) (hs1 0 while it lasts).
func (e *Engine) limAccountHandshake(f *flow, L *flowLimits, d events.Dir, st int, from, to, hs0, hs1 int64) {
	a, b := handshakeOverlap(from, to, hs0, hs1)
	if a < b {
		e.limAdd(f, L, d, limHandshake, a, b)
		if from < a {
			e.limAdd(f, L, d, st, from, a)
		}
		if b < to {
			e.limAdd(f, L, d, st, b, to)
		}
		return
	}
	e.limAdd(f, L, d, st, from, to)
}

// handshakeOverlap is the part [a, b) of [from, to) inside the handshake
// [hs0, hs1) (hs1 0 while it lasts); empty when a >= b.
func handshakeOverlap(from, to, hs0, hs1 int64) (a, b int64) {
	if hs1 == 0 {
		hs1 = to
	}
	return max(from, hs0), min(to, hs1)
}

// limAdd adds [from, to) to the packet inference of limit i: to the open
// windows it falls in, which add their time to the direction's totals when
// they close (limClose). Most spans fall in the newest open window
// (limSpread's first step); the rest take limAddSlow.
func (e *Engine) limAdd(f *flow, L *flowLimits, d events.Dir, i int, from, to int64) {
	if e.limGeneral || !L.d[d].addNewest(i, from, to, e.limWindow) {
		e.limAddSlow(f, L, d, i, from, to)
	}
}

// addNewest adds [from, to) to limit i of the newest open window when it
// falls in it (w is LimitWindow), and reports whether it did (an empty
// span there too: it adds nothing, as limAddSlow would).
func (ld *limDir) addNewest(i int, from, to, w int64) bool {
	n := len(ld.slots)
	if n == 0 || from > to || from < ld.closedTo {
		return false
	}
	s := &ld.slots[n-1]
	if from < s.start || to-s.start > w {
		return false
	}
	s.pkt[i] += to - from
	return true
}

func (e *Engine) limAddSlow(f *flow, L *flowLimits, d events.Dir, i int, from, to int64) {
	ld := &L.d[d]
	if from >= ld.closedTo {
		if from == to {
			return // an empty span opens no window either
		}
		// A direction's first window.
		if start := f.first + (from-f.first)/e.limWindow*e.limWindow; len(ld.slots) == 0 && to-start <= e.limWindow {
			s, _ := ld.slot(start)
			s.pkt[i] += to - from
			return
		}
	}
	given := int64(0)
	e.limSpread(f, L, d, from, to, func(s *limSlot, _ *limKSlot, part int64) { s.pkt[i] += part; given += part })
	// Time limSpread gave no window (the middle of a very long span)
	// still counts in the totals.
	if rest := to - from - given; rest != 0 {
		ld.long().pkt[i] += rest
	}
}

// limSpread hands each LimitWindow its part of [from, to). Time before the
// oldest open window goes to it. add gets the window's kernel part too
// (nil for a direction without kernel records).
func (e *Engine) limSpread(f *flow, L *flowLimits, d events.Dir, from, to int64, add func(s *limSlot, k *limKSlot, part int64)) {
	w := e.limWindow
	ld := &L.d[d]
	if from < ld.closedTo {
		head := min(to, ld.closedTo)
		s, k := ld.slot(ld.closedTo)
		add(s, k, head-from)
		from = head
	}
	for from < to {
		start := f.first + (from-f.first)/w*w
		s, k := ld.slot(start)
		end := to
		if to-start > w {
			end = start + w
		}
		add(s, k, end-from)
		from = end
		// Past the first window of a span longer than limMaxSpread windows
		// (a clock step, hours of silence) only the last limMaxSpread get
		// their part: the ones between would all say the same, and a step
		// of years would open billions. The span still counts in full in
		// the connection's totals (limAdd).
		if skipTo := to - limMaxSpread*w; from < skipTo {
			from = f.first + (skipTo-f.first)/w*w
		}
	}
}

// limMaxSpread bounds the windows one span of time is spread over.
const limMaxSpread = 4096

// slot returns the open window that starts at start, and its kernel part
// (nil without kernel records), opening it when needed.
func (ld *limDir) slot(start int64) (*limSlot, *limKSlot) {
	n := len(ld.slots)
	if n > 0 && ld.slots[n-1].start >= start {
		for i := n - 1; i >= 0; i-- {
			if ld.slots[i].start == start {
				return ld.at(i)
			}
		}
		return ld.at(0)
	}
	ld.slots = append(ld.slots, limSlot{start: start})
	if ld.kSeen() {
		ld.kslots = append(ld.kslots, limKSlot{})
	}
	return ld.at(n)
}

// at returns the open window i and its kernel part.
func (ld *limDir) at(i int) (*limSlot, *limKSlot) {
	if !ld.kSeen() {
		return &ld.slots[i], nil
	}
	return &ld.slots[i], &ld.kslots[i]
}

// recovered reports whether the receiver r acknowledged all that was
// outstanding when ld's recovery began.
func (ld *limDir) recovered(r *half) bool {
	return r.ackKnown && events.SeqGEQ(r.maxAck, ld.recUntil)
}

// newAck reports whether the receiver r acknowledged data of ld's
// direction beyond what limGoodput counted.
func (ld *limDir) newAck(r *half) bool {
	return r.ackKnown && events.SeqGreater(r.maxAck, ld.ackedTo)
}

// limGoodput counts the payload newly acknowledged in direction d, whose
// receiver acknowledged data beyond what it counted (newAck: the caller
// tests it).
func (e *Engine) limGoodput(f *flow, L *flowLimits, d events.Dir, now int64) {
	s, r, ld := &f.h[d], &f.h[d^1], &L.d[d]
	to := r.maxAck
	if s.nextKnown && events.SeqGreater(to, s.nextseq) {
		to = s.nextseq
	}
	if !events.SeqGreater(to, ld.ackedTo) {
		return
	}
	n := uint64(to - ld.ackedTo)
	ld.ackedTo, ld.acked, ld.lastAck = to, ld.acked+n, now
	w := e.limWindow
	if k := len(ld.slots); k > 0 {
		// Usually the newest open window (windows start on the same grid).
		if s := &ld.slots[k-1]; now >= s.start && now-s.start < w {
			s.acked += n
			return
		}
	}
	ws, _ := ld.slot(f.first + (now-f.first)/w*w)
	ws.acked += n
}

// limitsKernel takes a probe or closing state record of the socket that
// sends direction d.
func (e *Engine) limitsKernel(f *flow, d events.Dir, rec *kblock.Record) {
	if rec.Has&(kblock.HasChrono|kblock.HasWScale) == 0 {
		return
	}
	L := e.limits(f)
	ld := &L.d[d]
	if rec.Has&kblock.HasWScale != 0 {
		// The socket's peer scales the windows it sends by snd_wscale; the
		// socket scales its own by rcv_wscale.
		ld.peerShift = int8(rec.SndWScale)
		L.d[d^1].peerShift = int8(rec.RcvWScale)
		L.d[0].room, L.d[1].room = -1, -1
	}
	if rec.Has&kblock.HasChrono == 0 || (ld.kSeen() && rec.TS < ld.kLast) {
		return
	}
	c := chrono{busy: int64(rec.BusyUS) * 1000, rwnd: int64(rec.RwndLimitedUS) * 1000, sndbuf: int64(rec.SndbufLimitedUS) * 1000}
	if !ld.kSeen() {
		lg := ld.long()
		lg.kslots, lg.kern = make([]limKSlot, len(ld.slots)), true
		if hs0, _ := f.handshakeSpan(); hs0 != 0 {
			// The chronographs count from the socket's creation: the
			// handshake, which is in the capture.
			ld.kFromHandshake, ld.kStart, ld.kLast = true, f.first, f.first
		} else {
			ld.k0, ld.kPrev, ld.kStart, ld.kLast = c, c, rec.TS, rec.TS
			return
		}
	}
	if c.busy < ld.kPrev.busy || c.rwnd < ld.kPrev.rwnd || c.sndbuf < ld.kPrev.sndbuf {
		return // not the same socket's counters
	}
	dB, dR, dS := c.busy-ld.kPrev.busy, c.rwnd-ld.kPrev.rwnd, c.sndbuf-ld.kPrev.sndbuf
	other := max(dB-dR-dS, 0)
	// Busy time beyond the two limited chronographs is the network's:
	// recovery when the record shows the socket in loss recovery, cwnd
	// otherwise. (Busy time with nothing unsent stays busy, as ss counts it:
	// app is time with nothing queued at all.)
	cat := limCwnd
	if rec.CAState >= 3 { // recovery or loss
		cat = limRecovery
	}
	ld.kOther[cat] += other
	from, to := ld.kLast, rec.TS
	if span := to - from; span > 0 {
		var v limVec
		v[limRwnd], v[limSndbuf], v[cat] = dR, dS, other
		v[limApp] += max(span-dB, 0)
		e.limSpread(f, L, d, from, to, func(_ *limSlot, k *limKSlot, part int64) {
			k.seen = true
			for i := range v {
				k.kern[i] += v[i] * part / span
			}
		})
	}
	ld.kPrev, ld.kLast = c, to
	e.limFlush(f, L, d, e.now, false)
}

// limFlush closes the windows that ended before now (and, for a direction
// with kernel records, that the records cover); all closes every window.
func (e *Engine) limFlush(f *flow, L *flowLimits, d events.Dir, now int64, all bool) {
	ld := &L.d[d]
	w := e.limWindow
	n := 0
	for n < len(ld.slots) {
		s, k := ld.at(n)
		end := s.start + w
		ready := end <= now && (!ld.kSeen() || ld.kLast >= end)
		if !all && !ready && len(ld.slots)-n <= maxLimSlots {
			break
		}
		e.limClose(f, ld, d, s, k, all && end > now)
		ld.closedTo = end
		n++
	}
	if n > 0 {
		ld.slots = append(ld.slots[:0], ld.slots[n:]...)
		if ld.kSeen() {
			ld.kslots = append(ld.kslots[:0], ld.kslots[n:]...)
		}
	}
}

// lasts reports whether limFlush (not all) would close nothing at now: the
// oldest open window has not ended (w is LimitWindow), and no more are
// open than a direction keeps.
func (ld *limDir) lasts(now, w int64) bool {
	return len(ld.slots) == 0 || ld.slots[0].start+w > now && len(ld.slots) <= maxLimSlots
}

// limClose ends one window: goodput peak, agreement, limit_change.
func (e *Engine) limClose(f *flow, ld *limDir, d events.Dir, s *limSlot, k *limKSlot, partial bool) {
	w := e.limWindow
	lg := ld.long()
	for i, x := range s.pkt {
		lg.pkt[i] += x
	}
	if !partial {
		if bps := float64(s.acked) * 8 / (float64(w) / 1e9); bps > lg.peakBps {
			lg.peakBps = bps
		}
	}
	v := s.pkt
	pd, _ := s.pkt.dominant()
	kern := k != nil && k.seen
	if kern {
		v = k.kern
		// The handshake is not in the chronographs: take it from packets.
		hs := min(s.pkt[limHandshake], v[limApp])
		v[limApp] -= hs
		v[limHandshake] += hs
		if kd, _ := v.dominant(); kd >= 0 && pd >= 0 {
			t := min(v.total(), s.pkt.total())
			ld.agreeSeen += t
			if kd == pd {
				ld.agreeSame += t
			}
		}
	}
	dom, share := v.dominant()
	if !ld.data || dom < 0 || share < 0.5 || dom == int(ld.cur) {
		return
	}
	prev := ld.cur
	ld.cur = int8(dom)
	if prev < 0 {
		return // the first limit of a direction is in flows.jsonl
	}
	src := events.LimitSourcePackets
	if kern {
		src = events.LimitSourceKernel
	}
	ev := e.flowEvent(f, d, events.TypeLimitChange, events.SevInfo)
	end := min(s.start+w, e.now)
	ev.TS = events.Timestamp(end)
	ev.Kind, ev.Reason = events.LimitNames[dom], src
	ev.Note = events.LimitNames[prev] + " -> " + events.LimitNames[dom] + " (" +
		strconv.FormatFloat(share*100, 'f', 0, 64) + " % of " +
		strconv.FormatFloat(float64(end-s.start)/1e9, 'f', 2, 64) + " s)"
	ev.Limit = &events.LimitChange{Source: src, From: events.LimitNames[prev], To: events.LimitNames[dom],
		Share: share, Start: events.Timestamp(s.start), End: events.Timestamp(end)}
	e.send(f, ev)
}

// fillLimits completes a connection's summary with what limited each
// direction that carried data (FillFlow, before Close).
func (e *Engine) fillLimits(f *flow, r *events.FlowRecord) {
	if f.lim == nil {
		return
	}
	L := f.lim
	end := f.lastTS
	for d := range L.d {
		if L.d[d].kSeen() {
			end = max(end, L.d[d].kLast)
		}
	}
	for d := events.DirC2S; d <= events.DirS2C; d++ {
		ld := &L.d[d]
		if !ld.data {
			// Nothing to report, and no limit_change either: its windows
			// need no closing (a long connection that sent one way would
			// spread its whole time over the other's windows).
			continue
		}
		if ld.silentPast(end, limGapMin) {
			e.limGap(f, L, d, end)
		}
		if ld.appFrom != 0 {
			st, from := ld.endApp(f, end, false)
			e.limAccountSpan(f, L, d, st, from, end)
		} else {
			e.limAccountSpan(f, L, d, int(ld.state), ld.since, end)
			ld.since = end
		}
		dl := &r.Limits.C2S
		if d == events.DirS2C {
			dl = &r.Limits.S2C
		}
		if ld.limLong == nil && (len(ld.slots) == 0 || len(ld.slots) == 1 && ld.slots[0].start+e.limWindow > end) {
			// No window closed and no kernel record (a connection shorter
			// than a window): the open window, cut short, is the whole
			// split. Closing it would add nothing else: a partial window
			// has no goodput peak and a first limit no limit_change.
			pkt := &limVec{}
			if len(ld.slots) == 1 {
				pkt = &ld.slots[0].pkt
			}
			limResult(dl, ld, pkt, 0, end)
		} else {
			e.limFlush(f, L, d, end, true)
			limResult(dl, ld, &ld.pkt, ld.peakBps, end)
		}
	}
}

// round4 keeps four decimals of a share.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// limResult writes the limits of direction ld into dl: pkt is its split
// from packets, peakBps the best goodput of its closed windows, end the
// connection's end.
func limResult(dl *events.DirLimits, ld *limDir, pkt *limVec, peakBps float64, end int64) {
	*dl = events.DirLimits{Source: events.LimitSourcePackets, MaxWindow: int64(ld.maxWin)}
	if ld.lastAck > ld.firstData {
		dl.GoodputAvgBps = float64(ld.acked) * 8 / (float64(ld.lastAck-ld.firstData) / 1e9)
	}
	dl.GoodputAvgBps = math.Round(dl.GoodputAvgBps)
	dl.GoodputPeakBps = math.Round(max(peakBps, dl.GoodputAvgBps))
	dl.Dominant = pkt.split(&dl.Seconds)
	if !ld.kSeen() || ld.kLast <= ld.kStart {
		return
	}
	var k limVec
	busy := ld.kPrev.busy - ld.k0.busy
	k[limRwnd] = ld.kPrev.rwnd - ld.k0.rwnd
	k[limSndbuf] = ld.kPrev.sndbuf - ld.k0.sndbuf
	// The busy time beyond both limited times, split as the records saw
	// it: cwnd or recovery.
	other := max(busy-k[limRwnd]-k[limSndbuf], 0)
	if split := ld.kOther[limCwnd] + ld.kOther[limRecovery]; split == 0 {
		k[limCwnd] = other
	} else {
		k[limRecovery] = other * ld.kOther[limRecovery] / split
		k[limCwnd] = other - k[limRecovery]
	}
	if ld.kFromHandshake {
		k[limHandshake] = pkt[limHandshake]
	}
	total := end - ld.kStart
	k[limApp] += max(total-busy-k[limHandshake], 0)
	agreement := -1.0
	if ld.agreeSeen > 0 {
		agreement = round4(float64(ld.agreeSame) / float64(ld.agreeSeen))
	}
	dl.Packets = &events.PacketLimits{Seconds: dl.Seconds, Dominant: dl.Dominant, Agreement: agreement}
	dl.Source = events.LimitSourceKernel
	dl.Dominant = k.split(&dl.Seconds)
	dl.Kernel = &events.KernelChrono{Busy: float64(busy/1e3) / 1e6, RwndLimited: dl.Seconds.Rwnd, SndbufLimited: dl.Seconds.Sndbuf}
}
