package detectors

import (
	"math"
	"slices"

	"github.com/tcpviz/tcpviz/events"
)

// RTT estimation. Every cumulative ACK that advances over the data of a
// direction may give one sample, as the Linux sender takes them
// (tcp_clean_rtx_queue, tcp_ack_update_rtt):
//
//  1. data_ack: from the oldest segment the ACK newly covers to the ACK,
//     when none of the newly covered segments was sent twice (Karn's rule);
//  2. timestamp, otherwise: the ACK's TSecr matched to the first segment of
//     the direction that carried that TSval. TSval clocks tick in
//     milliseconds, so many segments share one value; the first carrier is
//     the one the echo can date back to.
//
// Only segments that passed the capture point count, so the sample is the
// RTT seen from there: the full RTT on the sender's host.

// maxSegs bounds the segments remembered per direction (a window of 512
// segments); beyond it the oldest are forgotten and only timestamps date.
const maxSegs = 512

// maxTSvals bounds the TSvals remembered per direction.
const maxTSvals = 256

type segEntry struct {
	seq, end uint32
	ts       int64
	frame    uint64
	tsval    uint32 // the first transmission's TSval (hasTS)
	// run counts the entries after a SACKed one known to be SACKed too,
	// so a SACK block repeated by every duplicate ACK is not walked again
	// segment by segment (entries are never un-SACKed, and only leave from
	// the front, so the count stays true).
	run    uint32
	hasTS  bool
	resent bool
	sacked bool
}

// segRing holds the new-data segments of a direction not yet cumulatively
// acknowledged, oldest first. It grows with the window, up to maxSegs.
type segRing struct {
	e      []segEntry
	head   int
	pushed int // segments pushed in all: r.e[i] is number pushed-len(r.e)+i
	// checked is the number of the first segment whose step from the one
	// before is not checked yet, and outOfStep the number of the last one
	// found out of step (see skipEnded): the steps are checked when a
	// retransmission needs them, not on every push.
	checked, outOfStep int
}

// maxStep bounds a remembered segment's length and the bytes from the end
// of the one before to its end for it to be in step: maxSegs segments in
// step span at most 1<<30 bytes, where sequence comparisons are plain ones.
const maxStep = 1 << 21

func (r *segRing) len() int { return len(r.e) - r.head }

func (r *segRing) push(x segEntry) {
	if r.len() >= maxSegs {
		r.head++
	}
	if r.head >= 64 && 2*r.head >= len(r.e) {
		n := copy(r.e, r.e[r.head:])
		r.e, r.head = r.e[:n], 0
	}
	r.e = append(r.e, x)
	r.pushed++
}

// skipEnded is the index of a live segment that a walk from the oldest
// for [seq, end) may start at: a search's first segment ending after seq
// when the segments before it are in step, each at most maxStep long and
// ending at most maxStep past the end of the one before (segments need not
// be in order: one that advances nextseq may start below the one before),
// and seq and end lie where the comparisons are plain ones. Those segments
// then end at or before seq: they neither overlap [seq, end) nor start at
// or after end. Else it is the oldest's index. The steps are checked once
// each, only as far as a search reaches.
func (r *segRing) skipEnded(seq, end uint32) int {
	if r.len() == 0 {
		return r.head
	}
	h := &r.e[r.head]
	if h.end-h.seq-1 >= maxStep || seq-h.seq >= 1<<30 || end-seq >= 1<<29 {
		return r.head
	}
	live := r.e[r.head:]
	i, j := 0, len(live)
	for i < j {
		if m := int(uint(i+j) >> 1); events.SeqGreater(live[m].end, seq) {
			j = m
		} else {
			i = m + 1
		}
	}
	// The segment before i ends at or before seq (the search moved past
	// it); so do those before it if they are in step.
	k := r.head + i
	base := r.pushed - len(r.e) // the number of r.e[0]
	if from := max(r.checked-base, r.head+1); from < k {
		e := r.e[from-1 : k]
		for n := 1; n < len(e); n++ {
			if s := &e[n]; s.end-e[n-1].end-1 >= maxStep || s.end-s.seq-1 >= maxStep {
				r.outOfStep = base + from - 1 + n
			}
		}
		r.checked = base + k
	}
	if r.outOfStep > base+r.head {
		return r.head
	}
	return k
}

// markResent flags the segments overlapping [seq, end) as sent again and
// returns the frame of the first of them (its original transmission), 0
// when none is remembered.
func (r *segRing) markResent(seq, end uint32) uint64 {
	i := r.head
	if i < len(r.e) && !events.SeqGreater(r.e[i].end, seq) {
		i = r.skipEnded(seq, end) // the oldest ends before seq: a search may skip more
	}
	var first uint64
	for ; i < len(r.e); i++ {
		s := &r.e[i]
		if !events.SeqLess(s.seq, end) {
			break
		}
		if events.SeqLess(seq, s.end) {
			s.resent = true
			if first == 0 {
				first = s.frame
			}
		}
	}
	return first
}

// sack marks the segments the SACK blocks of p cover (above its cumulative
// ACK) and returns the first one newly SACKed, when it was sent once.
func (r *segRing) sack(p *events.Packet) (first segEntry, ok bool) {
	live := r.e[r.head:]
	found := false
	for i := 0; i < int(p.Options.NumSACK) && i < len(p.Options.SACK); i++ {
		b := p.Options.SACK[i]
		if !events.SeqGreater(b.Left, p.Ack) {
			continue // D-SACK
		}
		j := searchSeq(live, b.Left)
		run := -1 // where the run of SACKed entries that j is in began
		for j < len(live) && events.SeqLEQ(live[j].end, b.Right) {
			s := &live[j]
			if run < 0 {
				run = j
			}
			if s.sacked {
				j += 1 + int(s.run)
				continue
			}
			s.sacked = true
			if !found || events.SeqLess(s.seq, first.seq) {
				first, found = *s, true
			}
			j++
		}
		if run >= 0 {
			live[run].run = uint32(j - run - 1)
		}
	}
	return first, found && !first.resent
}

// searchSeq is the index of the first entry whose seq is at or above seq
// (len(e) when none).
func searchSeq(e []segEntry, seq uint32) int {
	lo, hi := 0, len(e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if events.SeqGEQ(e[m].seq, seq) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// resentIn reports whether a remembered segment overlapping [seq, end) was
// sent again.
func (r *segRing) resentIn(seq, end uint32) bool {
	for i := r.head; i < len(r.e); i++ {
		s := &r.e[i]
		if !events.SeqLess(s.seq, end) {
			break
		}
		if s.resent && events.SeqLess(seq, s.end) {
			return true
		}
	}
	return false
}

// at returns the remembered segment that holds sequence number seq.
func (r *segRing) at(seq uint32) (segEntry, bool) {
	live := r.e[r.head:]
	i, j := 0, len(live)
	for i < j { // the first segment ending after seq
		if h := int(uint(i+j) >> 1); events.SeqGreater(live[h].end, seq) {
			j = h
		} else {
			i = h + 1
		}
	}
	if i < len(live) && events.SeqLEQ(live[i].seq, seq) {
		return live[i], true
	}
	return segEntry{}, false
}

// ack drops the segments covered by a cumulative ACK and returns the oldest
// of them not SACKed before (n counts those) and whether any of them was
// sent twice.
func (r *segRing) ack(ack uint32) (oldest segEntry, n int, resent bool) {
	for r.head < len(r.e) && events.SeqLEQ(r.e[r.head].end, ack) {
		s := r.e[r.head]
		if !s.sacked {
			if n == 0 {
				oldest = s
			}
			n++
		}
		resent = resent || s.resent
		r.head++
	}
	if r.head == len(r.e) {
		r.e, r.head = r.e[:0], 0
	}
	return oldest, n, resent
}

type tsEntry struct {
	val   uint32
	ts    int64
	frame uint64
}

// tsQueue holds the first segment that carried each recent TSval of a
// direction, oldest first (TSvals only grow within a direction).
type tsQueue struct {
	e     []tsEntry
	head  int
	last  uint32
	known bool
}

func (q *tsQueue) push(val uint32, ts int64, frame uint64) {
	// Most segments repeat the previous TSval (it ticks in milliseconds):
	// that test stays in line, add the rest.
	if q.known && !events.SeqGreater(val, q.last) {
		return
	}
	q.add(val, ts, frame)
}

// add is push for a newer TSval. Out of line, so push inlines.
//
//go:noinline
func (q *tsQueue) add(val uint32, ts int64, frame uint64) {
	q.known, q.last = true, val
	if len(q.e)-q.head >= maxTSvals {
		q.head++
	}
	if q.head >= 32 && 2*q.head >= len(q.e) {
		n := copy(q.e, q.e[q.head:])
		q.e, q.head = q.e[:n], 0
	}
	q.e = append(q.e, tsEntry{val, ts, frame})
}

// echo finds the first carrier of val and forgets it and every older
// TSval (later echoes are never older).
func (q *tsQueue) echo(val uint32) (tsEntry, bool) {
	for q.head < len(q.e) {
		x := q.e[q.head]
		if events.SeqGreater(x.val, val) {
			return tsEntry{}, false
		}
		q.head++
		if x.val == val {
			return x, true
		}
	}
	return tsEntry{}, false
}

// rtt records what RTT estimation needs from a segment of p's direction
// and reports the handshake RTT.
func (e *Engine) rtt(f *flow, p *events.Packet, fl uint16, fwd *half) {
	// fwd is p's direction's half of f.
	if f.irtt > 0 && !f.hsRTT && f.synAckTS != 0 && p.Flags&(fSYN|fACK) == fACK {
		f.hsRTT = true
		e.sample(f, p, p.Dir, events.ReasonHandshake, f.irtt, 0)
	}
	n := p.SegLen()
	if n == 0 || fl&aZeroWindowProbe != 0 {
		return
	}
	if p.Options.HasTS {
		fwd.tsq.push(p.Options.TSVal, p.TS, p.Frame)
	}
	if fl&(aRetrans|aFastRetrans|aSpurious|aOutOfOrder) != 0 {
		return // marked in the segment ring by report
	}
	if fwd.nextseqFrame == p.Frame && p.Len > 0 && p.Flags&fSYN == 0 {
		fwd.segs.push(segEntry{seq: p.Seq, end: p.Seq + n, ts: p.TS, frame: p.Frame,
			tsval: p.Options.TSVal, hasTS: p.Options.HasTS})
	}
}

// ackSample takes the RTT sample of an ACK p of the data of direction d,
// in the kernel's order of preference: the oldest segment the cumulative
// ACK newly covers (advanced) that was not SACKed before, unless any of
// them was sent twice; else the first segment newly SACKed, never sent
// twice; else, on an advancing ACK, the timestamp echo.
func (e *Engine) ackSample(f *flow, p *events.Packet, d events.Dir, advanced bool) {
	data := &f.h[d&1]
	var seq, sack segEntry
	seqOK, sackOK := false, false
	if advanced {
		var n int
		var resent bool
		seq, n, resent = data.segs.ack(p.Ack)
		seqOK = n > 0 && !resent
	}
	if p.Options.NumSACK > 0 {
		sack, sackOK = data.segs.sack(p)
	}
	switch {
	case seqOK:
		e.sample(f, p, d, events.ReasonDataAck, p.TS-seq.ts, seq.frame)
	case sackOK:
		e.sample(f, p, d, events.ReasonSACK, p.TS-sack.ts, sack.frame)
	case advanced && p.Options.HasTS:
		if x, ok := data.tsq.echo(p.Options.TSEcr); ok {
			e.sample(f, p, d, events.ReasonTimestamp, p.TS-x.ts, x.frame)
		}
		return
	}
	if p.Options.HasTS {
		data.tsq.echo(p.Options.TSEcr)
	}
}

// sample records an RTT sample of the data sent in direction d. Every
// sample feeds the statistics and the smoothed RTT; rtt_sample events are
// written at most about once per smoothed RTT per direction (the handshake
// sample always).
func (e *Engine) sample(f *flow, p *events.Packet, d events.Dir, reason string, rtt int64, ref uint64) {
	if rtt <= 0 {
		return
	}
	h := &f.h[d]
	if reason != events.ReasonHandshake {
		if h.rtt == nil {
			h.rtt = e.newRTTStats()
		}
		// One sample, one count. Weighting a sample by the time since the
		// previous one gave the first sample after every pause (between
		// application writes, or waiting for a probe or a timeout) the
		// pause's weight: an application-limited sender's median was the
		// RTT of the segments sent into an empty queue (docs/detectors.md).
		h.rtt.add(float64(rtt)/1e6, 1)
	}
	if f.srtt == 0 {
		f.srtt = float64(rtt)
	} else {
		f.srtt += (float64(rtt) - f.srtt) / 8
	}
	if reason != events.ReasonHandshake {
		h.smooth(rtt)
	}
	if !e.cfg.RTTSamples {
		return
	}
	if reason != events.ReasonHandshake {
		if h.lastEmit != 0 && p.TS-h.lastEmit < int64(f.srtt) {
			return
		}
		h.lastEmit = p.TS
	}
	ev := e.event(f, p, events.TypeRTTSample, events.SevInfo)
	ev.Dir, ev.Src, ev.Dst = d, f.endpoint(d), f.endpoint(d^1)
	ev.Seq, ev.Len = 0, 0
	ev.Reason, ev.RTTms, ev.RefFrame = reason, float64(rtt)/1e6, ref
	e.send(f, ev)
}

// smooth updates the direction's smoothed RTT as the kernel does its srtt
// (gain 1/8, the first sample taken as is).
func (h *half) smooth(rtt int64) {
	if h.srtt == 0 {
		h.srtt = float64(rtt)
	} else {
		h.srtt += (float64(rtt) - h.srtt) / 8
	}
	if h.ackHist != nil {
		h.ackHist.set(h.srtt)
	}
}

// ackHistLen is how many recent cumulative ACKs a direction remembers for
// the kernel pairing: more than a receive batch holds (a batch passes the
// capture point before the socket processes its first ACK).
const ackHistLen = 16

// ackHistory is the smoothed RTT after each recent cumulative ACK value
// (oldest overwritten first); SACK samples of later duplicate ACKs update
// the newest entry.
type ackHistory struct {
	ack  [ackHistLen]uint32
	srtt [ackHistLen]float64
	n    int // entries written so far
}

func (a *ackHistory) push(ack uint32, srtt float64) {
	i := a.n % ackHistLen
	a.ack[i], a.srtt[i] = ack, srtt
	a.n++
}

func (a *ackHistory) set(srtt float64) {
	if a.n > 0 {
		a.srtt[(a.n-1)%ackHistLen] = srtt
	}
}

// at returns the smoothed RTT after the newest ACK at or below una: the
// one the socket had processed when its snd_una was una.
func (a *ackHistory) at(una uint32) (float64, bool) {
	for k := 1; k <= min(a.n, ackHistLen); k++ {
		i := (a.n - k) % ackHistLen
		if events.SeqLEQ(a.ack[i], una) {
			return a.srtt[i], true
		}
	}
	return 0, false
}

// rttBits is the mantissa bits that pick a bucket within an octave of the
// RTT histogram: 64 buckets per octave, each spanning 1/64 of its octave's
// start (0.8 % to 1.6 %), so a quantile read from it is within 0.8 % of
// the exact one. With 16 (within 3.2 %) the rounding alone took a third
// of the 10 % by which the samples' median is compared with the kernel's
// srtt median. The kernel comparison's two srtt medians use the same
// buckets.
const rttBits = 6

// rttOctaves covers 1 µs to 2^27 µs (134 s).
const rttOctaves = 27

// rttStats summarizes RTT samples in bounded memory: exact count, sum,
// min and max, and a weighted log histogram for quantiles (samples count
// one each; the kernel comparison weighs its pairs by the segments the
// socket received). The histogram is sparse (the buckets in use, in bucket
// order): a connection's samples fall in a handful of buckets, and a dense
// one would cost 13.8 KB per direction on every connection with a sample.
type rttStats struct {
	lastBin  int // index in hist of the latest sample's bucket: where addBin starts looking
	n        int
	sum      float64 // ms
	min, max float64
	hist     []rttBin
	total    float64
	// at[i]-1 is the index in hist of bucket i, once hist holds denseAt
	// buckets: a lossy transfer's samples spread over a hundred buckets
	// or more and jump between them, and the search for each took more
	// than the rest of the sample's accounting.
	at []uint16
}

// denseAt is the buckets in use from which a histogram keeps the index of
// every bucket (3.4 KiB); below it the search takes a few steps.
const denseAt = 48

// rttBin is one used bucket of the histogram and its weight.
type rttBin struct {
	i int
	w float64
}

// addBin adds w to bucket i, keeping hist in bucket order.
func (s *rttStats) addBin(i int, w float64) {
	if s.at != nil {
		if k := s.at[i]; k != 0 {
			s.hist[k-1].w += w
			return
		}
	}
	// The first bucket at or above i: the latest sample's when it is i
	// (runs of samples in one bucket), else a binary search (on a lossy
	// transfer the samples jump between buckets: walking there from the
	// latest one took about 40 steps per sample).
	j := s.lastBin
	if j >= len(s.hist) || s.hist[j].i != i {
		lo, hi := 0, len(s.hist)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if s.hist[m].i < i {
				lo = m + 1
			} else {
				hi = m
			}
		}
		j = lo
	}
	s.lastBin = j
	if j < len(s.hist) && s.hist[j].i == i {
		s.hist[j].w += w
		return
	}
	s.hist = slices.Insert(s.hist, j, rttBin{i, w})
	if s.at == nil && len(s.hist) < denseAt {
		return
	}
	if s.at == nil {
		s.at = make([]uint16, rttOctaves<<rttBits)
		j = 0
	}
	for k := j; k < len(s.hist); k++ { // the buckets the insert moved
		s.at[s.hist[k].i] = uint16(k + 1)
	}
}

func (s *rttStats) add(ms, w float64) {
	if s.n == 0 || ms < s.min {
		s.min = ms
	}
	if ms > s.max {
		s.max = ms
	}
	s.n++
	s.sum += ms
	s.addBin(rttBucket(ms), w)
	s.total += w
}

// rttBucket is the octave of the value in µs and the top bits of its
// mantissa: no logarithm on the per-ACK path.
func rttBucket(ms float64) int {
	us := ms * 1000
	if us < 1 {
		return 0
	}
	f := math.Float64bits(us)
	exp := int(f>>52&0x7ff) - 1023
	b := exp<<rttBits + int(f>>(52-rttBits)&(1<<rttBits-1))
	return min(b, rttOctaves<<rttBits-1)
}

// bucketMid is the middle of bucket b in ms.
func bucketMid(b int) float64 {
	const n = 1 << rttBits
	exp, m := b/n, b%n
	return math.Ldexp(1+(float64(m)+0.5)/float64(n), exp) / 1000
}

// maxPooledBins bounds the buckets' room of statistics kept for reuse, so
// the pool does not hold on to a lossy connection's wide histogram.
const maxPooledBins = 32

// reset makes s empty, keeping the room of its buckets.
func (s *rttStats) reset() {
	*s = rttStats{hist: s.hist[:0]}
}

// newRTTStats returns empty statistics: a closed connection's when there
// are some.
func (e *Engine) newRTTStats() *rttStats {
	if n := len(e.rttPool); n > 0 {
		s := e.rttPool[n-1]
		e.rttPool = e.rttPool[:n-1]
		s.reset()
		return s
	}
	return &rttStats{}
}

// freeRTTStats keeps s, which nothing refers to any more, for reuse.
func (e *Engine) freeRTTStats(s *rttStats) {
	if len(e.rttPool) < 2*maxFlowPool && cap(s.hist) <= maxPooledBins {
		e.rttPool = append(e.rttPool, s)
	}
}

func (s *rttStats) merge(o *rttStats) {
	if o == nil || o.n == 0 {
		return
	}
	if s.n == 0 || o.min < s.min {
		s.min = o.min
	}
	s.max = max(s.max, o.max)
	s.n += o.n
	s.sum += o.sum
	s.total += o.total
	for _, b := range o.hist {
		s.addBin(b.i, b.w)
	}
}

// quantile returns the weighted q-quantile (0 < q ≤ 1) in ms: the
// geometric middle of its bucket, clamped to [min, max].
func (s *rttStats) quantile(q float64) float64 {
	if s.n == 0 {
		return 0
	}
	rank := q * s.total
	var acc float64
	for _, b := range s.hist {
		acc += b.w
		if b.w > 0 && acc >= rank {
			v := bucketMid(b.i)
			return math.Min(math.Max(v, s.min), s.max)
		}
	}
	return s.max
}

// FillFlow adds what the engine measured on a connection to its summary:
// RTT statistics of the samples (all directions, handshake excluded) and
// the kernel's srtt and min_rtt when the capture has kernel records. Call
// it before Close.
func (e *Engine) FillFlow(id uint64, r *events.FlowRecord) {
	f := e.peek(id) // a connection that sent only its SYN is not grown for this
	if f == nil {
		return
	}
	if f.lim != nil {
		e.limSink += f.lim.warm()
	}
	all := &e.allRTT // its buckets' room reused
	all.reset()
	all.merge(f.h[0].rtt)
	all.merge(f.h[1].rtt)
	if all.n > 0 {
		r.RTTSamples = all.n
		r.RTTMinMS, r.RTTMaxMS = all.min, all.max
		r.RTTAvgMS = all.sum / float64(all.n)
		r.RTTP50MS, r.RTTP95MS = all.quantile(0.5), all.quantile(0.95)
	}
	if c := e.cmp[id]; c != nil {
		c.flushRTT(f.h[c.rttDir].acksIn)
		if c.kSRTT != nil && c.kSRTT.n > 0 {
			r.KernelSRTTP50MS = c.kSRTT.quantile(0.5)
		}
	}
	if f.kminRTT > 0 {
		r.KernelMinRTTMS = float64(f.kminRTT) / 1000
	}
	if e.limWindow > 0 {
		e.fillLimits(f, r)
	}
}
