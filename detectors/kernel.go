package detectors

import (
	"math/bits"
	"net/netip"
	"sort"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// KernelComparison is, for one connection, how the retransmissions inferred
// from packets compare with the kernel's own retransmission records.
type KernelComparison struct {
	Flow uint64 `json:"flow"`
	events.RetransCheck
}

// pendingLen bounds the unmatched items kept per connection for matching.
const pendingLen = 64

type kernelRetrans struct {
	ts         int64
	seq, end   uint32 // [seq, end) absolute
	segs       int
	coveredLen uint32 // bytes of the range seen retransmitted on the wire
	counted    int    // segments already counted as matched
	cause      string // kblock.RetransCause, "" when the record does not tell
	kindDone   bool   // its cause was compared with a wire retransmission's
}

type wireRetrans struct {
	ts       int64
	seq, end uint32
	segs     int // segments it carries (see comparison.segsOf)
	matched  bool
	cause    string // the inferred cause (cause.go)
	frame    uint64
}

// comparison matches the two streams online: each side keeps its recent
// items for KernelMatchWindow so either may arrive first.
type comparison struct {
	local                netip.AddrPort // the kernel's socket (the retransmitting side)
	kernelSegs, inferred int
	matchedInferred      int
	matchedKernel        int
	segSize              uint32          // bytes per segment, from the kernel's records
	kern                 []kernelRetrans // ring of the last pendingLen records
	kn                   int
	// open has bit i set when kern[i] has segments not yet shown on the
	// wire, the only records a wire retransmission may match: most are
	// shown, and inferred walks the set bits instead of every record.
	open uint64
	// wire[wh:] are the unmatched wire retransmissions, newest last (at
	// most pendingLen; the slots before wh are spent). wireMin is at most
	// the time of the oldest of them, so most calls know without a walk
	// that none has aged out.
	wire    []wireRetrans
	wh      int
	wireMin int64
	// Loss episodes: entries into recovery or loss (the kernel's CA state
	// 3 or 4 from a lower one; the inferred state machine of cause.go).
	kernelEpisodes, inferredEpisodes int
	lastCA                           uint8
	highSeq                          uint32 // where the kernel's current episode ends
	// Kinds: kernel segments whose cause was compared with the matching
	// wire retransmission's, and those that agreed.
	kindsCompared, kindsAgreed int
	// Retransmitted segments by kind on each side (events.RetransKinds).
	kernelKinds, inferredKinds events.RetransKinds
	// RTT: the kernel's srtt and the inferred one at the kernel's records;
	// the pending pair is the newest record's, weighed at the next one.
	kSRTT, iSRTT *rttStats
	rttRecords   int
	pendK, pendI float64 // ms
	pendAcks     uint32  // the socket's received segments at the pending record
	pending      bool
	pendFirst    bool       // the pending record itself is not counted yet
	rttDir       events.Dir // the direction the socket sends
}

func (e *Engine) comparisonFor(id uint64) *comparison {
	c := e.cmp[id]
	if c == nil {
		c = &comparison{}
		e.cmp[id] = c
	}
	return c
}

// Kernel takes one kernel record matched to a connection (flow 0 when no
// connection matched) and reports it as an event. Probes, and retransmit
// records that carry the congestion state, refresh the kernel context of the
// later events in the direction their socket sends (the Wireshark plugin
// copies the same record onto packets); retransmit records are compared with
// the inferred retransmissions.
func (e *Engine) Kernel(frame uint64, rec *kblock.Record, id uint64, dir events.Dir) {
	if rec.TS > e.now {
		e.now = rec.TS
	}
	e.frame = frame
	f := e.flowOf(id)
	if id == 0 {
		f = nil
	}
	ev := e.newEvent()
	src, dst := f.kernelEnds(rec)
	ev.SetKernel(frame, rec, id, dir, src, dst)
	switch rec.Kind {
	case kblock.KindProbe:
		if id != 0 {
			e.kernelCA(id, rec)
		}
		if f != nil {
			f.kern[f.dirOf(rec.Saddr, rec.Sport, dir)&1] = kernState{rec.SndCwnd, rec.SRTTus, rec.Ssthresh, true}
			f.kernelRTT(rec)
			e.kernelSRTT(f, rec, dir)
		}
	case kblock.KindRetransmit:
		if f != nil && rec.SndCwnd != 0 {
			// The state at the retransmission is newer than the last probe's
			// (recovery or loss has just begun).
			f.kern[f.dirOf(rec.Saddr, rec.Sport, dir)&1] = kernState{rec.SndCwnd, rec.SRTTus, rec.Ssthresh, true}
		}
		if f != nil {
			d := f.dirOf(rec.Saddr, rec.Sport, dir)
			ev.Seq = rec.Seq - f.h[d].base()
		}
		if id != 0 {
			e.kernelCA(id, rec)
			ev.RefFrame = e.kernelRetrans(id, rec)
		}
	}
	e.send(f, ev)
	// After the record's own event: this may raise limit_change.
	if f != nil && e.limWindow > 0 && (rec.Kind == kblock.KindProbe || rec.Kind == kblock.KindState) {
		e.limitsKernel(f, f.dirOf(rec.Saddr, rec.Sport, dir), rec)
	}
}

// kernelEnds is the text of the record's local and remote ends, the
// connection's own when they are its ends (nearly always: a record is
// matched to the connection by them).
func (f *flow) kernelEnds(rec *kblock.Record) (src, dst string) {
	if f != nil {
		for d := events.DirC2S; d <= events.DirS2C; d++ {
			if f.addr[d] == rec.Saddr && f.port[d] == rec.Sport && f.addr[d^1] == rec.Daddr && f.port[d^1] == rec.Dport &&
				rec.Saddr.IsValid() && rec.Daddr.IsValid() {
				return f.endpoint(d), f.endpoint(d ^ 1)
			}
		}
	}
	return events.Endpoint(rec.Saddr, rec.Sport), events.Endpoint(rec.Daddr, rec.Dport)
}

// dirOf is the direction whose sender is addr:port.
func (f *flow) dirOf(addr netip.Addr, port uint16, fallback events.Dir) events.Dir {
	for d := events.DirC2S; d <= events.DirS2C; d++ {
		if f.addr[d] == addr && f.port[d] == port {
			return d
		}
	}
	return fallback
}

// kernelSRTT pairs a record's srtt with the inferred one of the socket's
// own data.
func (e *Engine) kernelSRTT(f *flow, rec *kblock.Record, dir events.Dir) {
	c := e.comparisonFor(f.id)
	local := netip.AddrPortFrom(rec.Saddr, rec.Sport)
	if c.local.IsValid() && c.local != local {
		return
	}
	c.local = local
	// A probe record reads the socket before it processes the segment that
	// triggered it, and a receive batch passes the capture point before the
	// socket processes its first ACK: pair the record with the inferred
	// srtt after the ACK that brought the socket to the record's snd_una.
	// Until the direction has a history (its first record), the srtt before
	// the latest ACK stands in.
	d := f.dirOf(rec.Saddr, rec.Sport, dir)
	h := &f.h[d]
	inferred := h.srttPre
	if h.ackHist == nil {
		h.ackHist = &ackHistory{}
	} else if v, ok := h.ackHist.at(rec.SndUna); ok {
		inferred = v
	}
	c.rttRecord(d, h.acksIn, rec.SRTTus, inferred)
}

// kernelCA counts the kernel's loss episodes from the CA state in its
// records, for the connection's socket that retransmits (or will). An
// episode begins when a record shows recovery or loss after one that did
// not, or after the cumulative ACK passed the point where the current
// episode ends (its high_seq: snd_nxt when it began, as tcp_enter_recovery
// and tcp_enter_loss set it). The second rule counts an episode whose
// return to Open no record showed: tcp_probe fires only in ESTABLISHED, so
// once the application has shut down its side the socket sends only
// retransmit records, each in recovery or loss.
func (e *Engine) kernelCA(id uint64, rec *kblock.Record) {
	c := e.comparisonFor(id)
	if c.local.IsValid() && c.local != netip.AddrPortFrom(rec.Saddr, rec.Sport) {
		return
	}
	if rec.CAState >= 3 {
		switch {
		case c.lastCA < 3 || events.SeqGEQ(rec.SndUna, c.highSeq):
			c.kernelEpisodes++
			c.highSeq = rec.SndNxt
		case rec.CAState != c.lastCA:
			c.highSeq = rec.SndNxt // recovery turned into loss: a new end point
		}
	}
	c.lastCA = rec.CAState
}

// kernelRetrans compares a retransmit record with the inferred
// retransmissions and returns the frame of the first wire retransmission
// it matched (0 if none yet).
func (e *Engine) kernelRetrans(id uint64, rec *kblock.Record) uint64 {
	c := e.comparisonFor(id)
	c.local = netip.AddrPortFrom(rec.Saddr, rec.Sport)
	k := kernelRetrans{ts: rec.TS, seq: rec.Seq, end: rec.EndSeq, segs: max(1, int(rec.Segs)), cause: kblock.RetransCause(rec)}
	var frame uint64
	if !events.SeqGreater(k.end, k.seq) {
		k.end = k.seq + 1 // a SYN or FIN
	}
	c.kernelSegs += k.segs
	c.kernelKinds.Add(kindOfCause(k.cause), k.segs)
	// The segment size comes from data records: a SYN's (or a bare FIN's)
	// one sequence number made it 1 byte, and the wire retransmissions that
	// came before the next data record counted one segment a byte.
	if rec.Segs > 0 && uint16(rec.TCPFlags)&events.FlagSYN == 0 && events.SeqGreater(rec.EndSeq, rec.Seq+1) {
		c.segSize = max(c.segSize, (rec.EndSeq-rec.Seq+uint32(rec.Segs)-1)/uint32(rec.Segs))
	}
	win := int64(e.cfg.KernelMatchWindow)
	for i := range c.wire[c.wh:] {
		if k.counted >= k.segs {
			break // every segment shown: later copies are other records'
		}
		w := &c.wire[c.wh+i]
		if !w.matched && abs(w.ts-k.ts) <= win && overlaps(w.seq, w.end, k.seq, k.end) {
			w.matched = true
			c.matchedInferred += w.segs
			c.cover(&k, w.seq, w.end)
			c.compareKind(&k, w.cause)
			if frame == 0 {
				frame = w.frame
			}
		}
	}
	i := c.kn % pendingLen
	if len(c.kern) < pendingLen {
		i = len(c.kern)
		c.kern = append(c.kern, k)
	} else {
		c.kern[i] = k
	}
	c.open &^= 1 << i
	if k.counted < k.segs {
		c.open |= 1 << i
	}
	c.kn++
	c.expire(rec.TS - win)
	return frame
}

// compareKind compares the cause of a kernel record with the inferred cause
// of the first wire retransmission that matched it, in kernel segments.
func (c *comparison) compareKind(k *kernelRetrans, inferred string) {
	if k.kindDone || k.cause == "" {
		return
	}
	k.kindDone = true
	c.kindsCompared += k.segs
	if causeAgrees(k.cause, inferred) {
		c.kindsAgreed += k.segs
	}
}

// causeAgrees maps the kernel's cause to the inferred kinds.
func causeAgrees(kernel, inferred string) bool {
	k := kindOfCause(kernel)
	return k != "" && k == inferred
}

// kindOfCause is the inferred kind a kernel cause compares with, "" for
// none (cause other, or a record without the timer fields).
func kindOfCause(cause string) string {
	switch cause {
	case kblock.CauseRecovery:
		return events.RetransFast
	case kblock.CauseLoss:
		return events.RetransRTO
	case kblock.CauseLossProbe:
		return events.RetransTLP
	}
	return ""
}

// inferred records a retransmission seen on the wire for the comparison,
// with its inferred cause; newEpisode says it started a loss episode. Only
// connections whose sending side has kernel records are compared.
func (e *Engine) inferred(f *flow, p *events.Packet, cause string, newEpisode bool) {
	c := e.comparisonFor(f.id)
	if c.local.IsValid() && c.local != netip.AddrPortFrom(p.Src, p.SrcPort) {
		return
	}
	w := wireRetrans{ts: p.TS, seq: p.Seq, end: p.Seq + max(p.SegLen(), 1), segs: c.segsOf(p.SegLen()), cause: cause, frame: p.Frame}
	c.inferred += w.segs
	c.inferredKinds.Add(cause, w.segs)
	if newEpisode {
		c.inferredEpisodes++
	}
	win := int64(e.cfg.KernelMatchWindow)
	// Only the open records, in slot order: a record every segment of
	// which the wire already showed is not this copy's (a segment sent
	// again twice within the window, RACK on a reordering path, has two
	// records, and the second copy, matched to the first record, left the
	// second unseen).
	for m := c.open; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		k := &c.kern[i]
		if abs(w.ts-k.ts) <= win && overlaps(w.seq, w.end, k.seq, k.end) {
			w.matched = true
			c.matchedInferred += w.segs
			c.cover(k, w.seq, w.end)
			c.compareKind(k, w.cause)
			if k.counted >= k.segs {
				c.open &^= 1 << i
			}
			break
		}
	}
	if !w.matched {
		c.addWire(w)
	}
	// Nothing here matched a queued one, so only age can drop them.
	if cutoff := p.TS - win; c.wireMin < cutoff {
		c.expire(cutoff)
	}
}

// addWire queues an unmatched wire retransmission, dropping the oldest
// past pendingLen.
func (c *comparison) addWire(w wireRetrans) {
	n := len(c.wire) - c.wh
	if n == 0 || w.ts < c.wireMin {
		c.wireMin = w.ts
	}
	if n == pendingLen {
		c.wh++
	}
	if len(c.wire) == cap(c.wire) && c.wh > 0 {
		// Move the queue to the front, into room for pendingLen more, so
		// this happens once every pendingLen additions.
		buf := c.wire[:0]
		if cap(c.wire) < 2*pendingLen {
			buf = make([]wireRetrans, 0, 2*pendingLen)
		}
		c.wire = append(buf, c.wire[c.wh:]...)
		c.wh = 0
	}
	c.wire = append(c.wire, w)
}

// segsOf is the number of segments a retransmitted range of n bytes
// carries: one, or as many as the kernel's segment size needs (a TSO/GSO
// super-segment), so both sides of the comparison count segments.
func (c *comparison) segsOf(n uint32) int {
	if c.segSize == 0 || n <= c.segSize {
		return 1
	}
	return int((n + c.segSize - 1) / c.segSize)
}

// cover counts the kernel segments of k that the wire range [s, e) shows.
func (c *comparison) cover(k *kernelRetrans, s, e uint32) {
	lo, hi := events.SeqMax(s, k.seq), e
	if events.SeqLess(k.end, hi) {
		hi = k.end
	}
	if events.SeqGreater(hi, lo) {
		k.coveredLen += hi - lo
	}
	total := k.end - k.seq
	segs := k.segs
	if total > 0 {
		segs = int((uint64(k.coveredLen)*uint64(k.segs) + uint64(total) - 1) / uint64(total))
	}
	segs = min(segs, k.segs)
	if segs > k.counted {
		c.matchedKernel += segs - k.counted
		k.counted = segs
	}
}

// expire drops unmatched wire retransmissions older than cutoff.
func (c *comparison) expire(cutoff int64) {
	j := 0
	for _, w := range c.wire[c.wh:] {
		if !w.matched && w.ts >= cutoff {
			if j == 0 || w.ts < c.wireMin {
				c.wireMin = w.ts
			}
			c.wire[j] = w
			j++
		}
	}
	clear(c.wire[j:])
	c.wire, c.wh = c.wire[:j], 0
}

func overlaps(a0, a1, b0, b1 uint32) bool {
	return events.SeqLess(a0, b1) && events.SeqLess(b0, a1)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// KernelCheck returns the comparison for one connection, nil when the
// capture holds no kernel retransmit record for it.
func (e *Engine) KernelCheck(id uint64) *events.RetransCheck {
	c := e.cmp[id]
	if c == nil || !c.local.IsValid() {
		return nil
	}
	r := c.check()
	return &r
}

func (c *comparison) check() events.RetransCheck {
	r := events.RetransCheck{Kernel: c.kernelSegs, KernelSeen: c.matchedKernel, Inferred: c.inferred, Matched: c.matchedInferred, Precision: 1, Recall: 1,
		KernelLossEpisodes: c.kernelEpisodes, InferredLossEpisodes: c.inferredEpisodes,
		KindsCompared: c.kindsCompared, KindsAgreed: c.kindsAgreed, RTTRecords: c.rttRecords,
		KernelKinds: c.kernelKinds, InferredKinds: c.inferredKinds}
	if c.kSRTT != nil && c.kSRTT.n > 0 {
		r.KernelSRTTP50MS = c.kSRTT.quantile(0.5)
	}
	if c.iSRTT != nil && c.iSRTT.n > 0 {
		r.InferredSRTTP50MS = c.iSRTT.quantile(0.5)
	}
	r.Rates()
	return r
}

// Compare returns, per connection with kernel retransmit records, the
// inferred retransmissions against the kernel's: matched, precision (share
// of inferred ones the kernel confirms) and recall (share of the kernel's
// retransmitted segments seen on the wire), ordered by flow.
func (e *Engine) Compare() []KernelComparison {
	var out []KernelComparison
	for id, c := range e.cmp {
		if c.local.IsValid() {
			out = append(out, KernelComparison{Flow: id, RetransCheck: c.check()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Flow < out[j].Flow })
	return out
}

// kernelRTT keeps the lowest kernel min_rtt of the connection's socket.
func (f *flow) kernelRTT(rec *kblock.Record) {
	if rec.MinRTTus > 0 && (f.kminRTT == 0 || rec.MinRTTus < f.kminRTT) {
		f.kminRTT = rec.MinRTTus
	}
}

// rttRecord pairs the kernel's srtt in a record with the inferred smoothed
// RTT of the same socket's data at the same moment (d is the direction the
// socket sends, acks the segments it had received). Each pair stands for
// itself and for the segments the socket receives until the next record:
// the srtt as the kernel held it at every segment it processed (what
// tcp_probe reports when it records every hit), whatever the sampling
// policy. Weighing by time instead let an idle connection hold the srtt of
// its last burst's end for the whole pause, while no ACK measured
// anything (docs/detectors.md, "Checked against the kernel"). Both medians
// are over the same instants and weights. A socket that has not measured
// an RTT yet reports 0, which is no value.
func (c *comparison) rttRecord(d events.Dir, acks, kernelUS uint32, inferredNS float64) {
	c.flushRTT(acks)
	c.pending = false
	if kernelUS == 0 {
		return
	}
	c.pendK, c.pendI, c.pendAcks, c.rttDir = float64(kernelUS)/1000, inferredNS/1e6, acks, d
	c.pending, c.pendFirst = true, true
	c.rttRecords++
}

// flushRTT adds the pending pair, weighed by the segments the socket
// received since it (acks is the socket's count now), and by one for the
// record itself the first time.
func (c *comparison) flushRTT(acks uint32) {
	if !c.pending {
		return
	}
	w := float64(acks - c.pendAcks)
	if c.pendFirst {
		w++
	}
	c.pendAcks, c.pendFirst = acks, false
	if w == 0 {
		return
	}
	if c.kSRTT == nil {
		c.kSRTT, c.iSRTT = &rttStats{}, &rttStats{}
	}
	c.kSRTT.add(c.pendK, w)
	if c.pendI > 0 {
		c.iSRTT.add(c.pendI, w)
	}
}
