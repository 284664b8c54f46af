// Package detectors turns the normalized packet stream into events:
// retransmissions, reordering, duplicate ACKs, window problems, inferred
// loss, handshake and teardown anomalies, RTT samples, and the kernel's own
// records. It is one streaming engine with bounded per-connection state, used
// unchanged offline (parse-pcap) and live (monitor): it never looks ahead.
//
// The frame-level TCP analysis (retransmission, out_of_order, lost_segment,
// dup_ack, zero_window, zero_window_probe, window_full, keep_alive) follows
// Wireshark 4.0's rules so that results can be checked frame by frame
// against tshark; docs/detectors.md lists the rules and every deviation.
package detectors

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/recent"
)

// Engine is the detector engine. It is not safe for concurrent use.
type Engine struct {
	cfg  Config
	emit func(*events.Event)

	flows map[uint64]*flow
	last  *flow // cache: consecutive packets usually share a connection
	// syns holds connections that have sent nothing but their first SYN
	// (embryo.go): the SYN itself instead of a flow's state. The flow is
	// grown by replaying the SYN when anything else arrives.
	syns embryos
	// tab, when set (UseTable), keeps those SYNs instead; synCursor is the
	// last of them looked at for the SYN timeout.
	tab       *conntrack.Table
	synCursor uint64
	scratch   flow          // where a SYN is tried before it is kept as an embryo
	synPkt    events.Packet // an embryo's SYN, rebuilt for a replay
	mute      func(*events.Event)
	spoke     bool // an event was emitted while muted
	// hold keeps the events of a scan over the flows, which are handed
	// out in connection order once it is done (not in map order).
	hold func(*events.Event)
	held []events.Event

	ev events.Event // reused for every emitted event, without slot
	// slot, when set (SetEventSlot), gives the zeroed place each event
	// is built in: the event writer's queue, which then copies nothing.
	slot  func() *events.Event
	now   int64  // capture time of the newest input
	frame uint64 // frame of the newest input

	irttDefault int64
	fastWindow  int64
	stallFloor  int64
	synTimeout  int64
	nextScan    int64

	rst, fin storm
	cmp      map[uint64]*comparison
	// cmpClosed lists the closed connections whose comparison is kept,
	// oldest first, at most maxClosedComparisons of them.
	cmpClosed []uint64

	limWindow int64         // LimitWindow, ns; 0 when limits are off
	limPool   []*flowLimits // limits state of closed connections, for reuse
	flowPool  []*flow       // state of closed connections, cleared, for reuse
	rttPool   []*rttStats   // RTT statistics of closed connections, for reuse
	allRTT    rttStats      // FillFlow's statistics of both directions
	limSink   int64         // what flowLimits.warm read, kept so the reads stay
	// limGeneral turns the limits analysis' shortcuts off (limitsPacket's
	// steady paths and its skip of the sender's bare ACKs, spans added in
	// line to the newest window, the test for a window to close): every
	// packet and span takes the general path. Tests: the results must not
	// change.
	limGeneral bool
	// general turns the per-packet shortcuts of the other detectors off
	// (analyze's in-order data and bare new ACKs, ackSide's packets that
	// bring no ACK news): every packet takes the general path.
	// Tests: the results must not change.
	general bool

	ended recent.Table[uint64, endedFlow] // closed connections' sequence state (ended.go)
}

// New builds an engine that hands every event to emit. The event pointer is
// valid only during the call.
func New(cfg Config, emit func(*events.Event)) *Engine {
	if cfg.DupAckThreshold < 1 {
		cfg.DupAckThreshold = 3
	}
	e := &Engine{
		cfg: cfg, emit: emit,
		flows:       make(map[uint64]*flow),
		syns:        embryos{idx: make(map[uint64]uint32)},
		irttDefault: int64(cfg.DefaultIRTT),
		fastWindow:  int64(cfg.FastRetransWindow),
		stallFloor:  int64(cfg.AckStallFloor),
		synTimeout:  int64(cfg.SYNTimeout),
		rst:         newStorm(cfg.RSTStormCount, int64(cfg.StormWindow)),
		fin:         newStorm(cfg.FINStormCount, int64(cfg.StormWindow)),
		cmp:         make(map[uint64]*comparison),
		limWindow:   limitWindow(cfg),
		ended:       newEndedTable(),
	}
	e.mute = func(*events.Event) { e.spoke = true }
	e.hold = func(ev *events.Event) { e.held = append(e.held, *ev) }
	return e
}

func limitWindow(cfg Config) int64 {
	if !cfg.Limits {
		return 0
	}
	if cfg.LimitWindow <= 0 {
		return int64(DefaultConfig().LimitWindow)
	}
	return int64(cfg.LimitWindow)
}

// Wireshark's per-direction analysis flags (tcp_acked.flags).
const (
	aRetrans uint16 = 1 << iota
	aLost
	aAckLost
	aKeepAlive
	aDupAck
	aZeroWindow
	aZeroWindowProbe
	aZeroWindowProbeAck
	aKeepAliveAck
	aOutOfOrder
	aFastRetrans
	aWindowUpdate
	aWindowFull
	aSpurious
)

// seqState is the part of a direction's state that says where its
// sequence and acknowledgment numbers stand, all plain values: what a
// connection that ends keeps for a packet that continues it (ended.go).
// The first block mirrors Wireshark's tcp_flow_t so that the frame-level
// flags agree with tshark.
type seqState struct {
	nextseqTime  int64
	nextseqFrame uint64
	lastackTime  int64
	window       int64 // raw window field of the last packet, -1 before any
	dupacks      int   // running duplicate-ACK count (may be -1, as in Wireshark)
	lastNonDup   uint64
	nextseq      uint32 // highest seq+len(+SYN/FIN) sent
	maxSeqToAck  uint32 // highest contiguous sequence (0 = unknown, as in Wireshark)
	lastack      uint32 // ack field of the last packet (0 = unknown, as in Wireshark)
	lastFlags    uint16
	winScale     int8 // -1 unknown, -2 no scaling, else the shift
	seen         bool
	nextKnown    bool
	firstAck     bool // no ACK without SYN sent yet: the window is not scaled

	// tcpviz's own state (fields ordered by size, so no padding).
	synCount  int
	lastBlank int64 // when the last duplicate ACK without news about this half's data came
	isn       uint32
	firstSeq  uint32
	maxAck    uint32 // highest cumulative ACK sent (valid when ackKnown)
	maxTSval  uint32
	sackHole  uint32           // ack value of the last reported SACK hole
	lossAck   uint32           // ack value of the last triple-dup-ack report
	prevSACK0 events.SACKBlock // first SACK block of the last ACK of this half's data (reorder.go)
	synSeen   bool
	finSeen   bool
	rstSeen   bool
	ackKnown  bool
	tsKnown   bool
	sackAbove bool // the last ACK carried a SACK block above its cumulative ACK
	sackKnown bool
	lossKnown bool
}

// half is the state of one direction: what its sender sent (sequence side)
// and what it acknowledged (ACK side).
type half struct {
	seqState

	// New data not yet cumulatively acknowledged (RTT, Karn's rule, the
	// original of a retransmission).
	segs segRing
	// TSval/TSecr: the first segment that carried each recent TSval.
	tsq tsQueue
	// Samples of this direction's data: statistics, and when the last
	// rtt_sample event was written.
	rtt      *rttStats
	lastEmit int64
	srtt     float64 // ns, smoothed over this direction's samples as the kernel does
	srttPre  float64 // srtt before the peer's latest ACK
	acksIn   uint32  // the peer's segments with an ACK (received by this side's socket)
	// The srtt after each recent cumulative ACK of this side's data, to
	// pair a kernel record with the ACKs its socket had processed
	// (kernel.go); allocated at the first kernel record of the socket.
	ackHist *ackHistory

	// Gaps the capture skipped (lost_segment), to tell a copy of bytes
	// already seen from data that fills a gap.
	holes     [maxHoles]hole
	nHoles    int
	holesLost bool
	long      bool // the stream passed 1 GiB: "before the first byte" no longer makes sense

	// Holes the peer reported in this side's data, until closed.
	suspects  []suspect // maxSuspects long from the first hole: most connections have none
	nSuspects int
	maxSeg    uint32 // largest payload sent
	sackPerm  bool   // its SYN permitted SACK

	// Recovery state of this side's data (cause.go).
	recov      uint8
	recovPoint uint32
	tlpOut     bool
	tlpHigh    uint32

	// Recent retransmissions, until acknowledged (spurious.go).
	resends  []resend // maxResends long from the first retransmission
	nResends int

	// ACK stall of the data this side sent.
	stallRef   int64
	stallFired bool
}

// stallPending reports whether this side has data outstanding whose stall
// is not reported yet: checkStall has something to look at.
func (h *half) stallPending() bool { return h.stallRef != 0 && !h.stallFired }

// stallDue reports whether checkStall may change anything for the
// direction whose half is s (r the other's): a stall pending that waited the
// floor (below it, nothing fires), or whose data may all be acknowledged
// (the wait is forgotten then).
func (e *Engine) stallDue(s, r *half) bool {
	return s.stallPending() && (e.now-s.stallRef >= e.stallFloor || !s.nextKnown || !events.SeqGreater(s.nextseq, r.maxAck))
}

// flow is one connection's state; h is indexed by events.Dir.
type flow struct {
	id       uint64
	h        [2]half
	addr     [2]netip.Addr // sender address per direction
	port     [2]uint16
	ep       [2]string // formatted "addr:port" per direction, lazily
	mruSYN   int64     // time of the most recent SYN (Wireshark's ts_mru_syn)
	irtt     int64     // Wireshark's ts_first_rtt: SYN to the first ACK
	synAckTS int64
	synTS    int64 // first SYN
	lastTS   int64
	lastFrm  uint64
	srtt     float64 // ns, smoothed over all RTT samples
	noAnswer bool    // no_syn_ack already reported
	hsRTT    bool    // handshake RTT already reported

	kern    [2]kernState // per direction: the state of the socket that sends it
	kminRTT uint32       // µs, lowest kernel min_rtt seen

	first int64       // time of the first packet
	mss   [2]uint16   // MSS announced in each direction's SYN
	lim   *flowLimits // what limits each sender, from the first payload
}

// kernState is the newest congestion state of one socket, from its kernel
// probe or retransmit records.
type kernState struct {
	cwnd, srtt, ssthr uint32
	ok                bool
}

func (f *flow) endpoint(d events.Dir) string {
	if s := f.ep[d&1]; s != "" {
		return s // in line: twice per event
	}
	return f.newEndpoint(d)
}

func (f *flow) newEndpoint(d events.Dir) string {
	if f.addr[d].IsValid() {
		f.ep[d] = events.Endpoint(f.addr[d], f.port[d])
	}
	return f.ep[d]
}

// inFlight is the unacknowledged data sent in direction d.
func (f *flow) inFlight(d events.Dir) int64 {
	s, r := &f.h[d], &f.h[d^1]
	if !s.nextKnown || !r.ackKnown {
		return 0
	}
	n := int64(int32(s.nextseq - r.maxAck))
	if n < 0 {
		return 0
	}
	return n
}

func (e *Engine) lookup(p *events.Packet) *flow {
	if f := e.last; f != nil && f.id == p.Flow {
		return f
	}
	f := e.flowOf(p.Flow)
	if f == nil {
		f = e.newFlow()
		initFlow(f, p)
		e.resume(f)
		e.flows[p.Flow] = f
	}
	if !f.addr[p.Dir].IsValid() {
		f.addr[p.Dir], f.port[p.Dir] = p.Src, p.SrcPort
		f.addr[p.Dir^1], f.port[p.Dir^1] = p.Dst, p.DstPort
	}
	e.last = f
	return f
}

// maxFlowPool bounds the closed connections' states kept for reuse.
const maxFlowPool = 1024

// newFlow returns a flow to initialise: a closed connection's when there
// is one, so short connections do not each leave a kilobyte of garbage.
func (e *Engine) newFlow() *flow {
	if n := len(e.flowPool); n > 0 {
		f := e.flowPool[n-1]
		e.flowPool = e.flowPool[:n-1]
		return f
	}
	return &flow{}
}

// freeFlow keeps f, which nothing refers to any more, for reuse. It is
// cleared now so that the slices it held are not kept alive.
func (e *Engine) freeFlow(f *flow) {
	for i := range f.h {
		if s := f.h[i].rtt; s != nil {
			e.freeRTTStats(s)
		}
	}
	if len(e.flowPool) < maxFlowPool {
		var segs [2][]segEntry
		var ts [2][]tsEntry
		for i := range f.h {
			segs[i], ts[i] = pooledRoom(f.h[i].segs.e), pooledRoom(f.h[i].tsq.e)
		}
		*f = flow{}
		for i := range f.h {
			f.h[i].segs.e, f.h[i].tsq.e = segs[i], ts[i]
		}
		e.flowPool = append(e.flowPool, f)
	}
}

// maxPooledRoom bounds the room of a closed connection's segment lists
// kept with its state for reuse: a short connection's.
const maxPooledRoom = 16

// pooledRoom is s emptied, or nil when its room is too large to keep.
func pooledRoom[T any](s []T) []T {
	if cap(s) > maxPooledRoom {
		return nil
	}
	return s[:0]
}

// initFlow makes f the state of a connection whose first packet is p.
func initFlow(f *flow, p *events.Packet) {
	// The room of the segment lists a reused flow kept (freeFlow).
	segs := [2][]segEntry{f.h[0].segs.e[:0], f.h[1].segs.e[:0]}
	ts := [2][]tsEntry{f.h[0].tsq.e[:0], f.h[1].tsq.e[:0]}
	*f = flow{id: p.Flow, first: p.TS}
	for i := range f.h {
		f.h[i].segs.e, f.h[i].tsq.e = segs[i], ts[i]
		f.h[i].window = -1
		f.h[i].winScale = -1
		f.h[i].firstAck = true
	}
	f.addr[p.Dir], f.port[p.Dir] = p.Src, p.SrcPort
	f.addr[p.Dir^1], f.port[p.Dir^1] = p.Dst, p.DstPort
}

// CloseFlow ends a connection that left the flow table: it adds the
// engine's figures to the connection's record (FillFlow), settles what is
// pending (Close), then adds the kernel check (KernelCheck), which counts
// the holes settled last.
func (e *Engine) CloseFlow(id uint64, r *events.FlowRecord) {
	e.FillFlow(id, r)
	e.Close(id)
	if rc := e.KernelCheck(id); rc != nil && (rc.Kernel > 0 || rc.Inferred > 0 || rc.RTTRecords > 0) {
		if rc.KernelSRTTP50MS > 0 {
			rc.InferredRTTP50MS = r.RTTP50MS
		}
		r.KernelRetrans = rc
	}
}

// maxClosedComparisons bounds the kernel comparisons of closed connections
// kept for Compare, so a long monitor run does not keep one per connection
// it ever saw.
const maxClosedComparisons = 1024

// Close forgets a finished connection. Its kernel comparison is kept for
// KernelCheck and Compare (the last maxClosedComparisons closed ones).
func (e *Engine) Close(id uint64) {
	if e.last != nil && e.last.id == id {
		e.last = nil
	}
	if f := e.flows[id]; f != nil {
		e.settleHoles(f)
		e.remember(f)
		if f.lim != nil && len(e.limPool) < 1024 {
			e.limPool = append(e.limPool, f.lim)
		}
		delete(e.flows, id)
		e.freeFlow(f)
	}
	e.syns.del(id)
	// Keep the comparison only when the kernel reported on this connection.
	if c := e.cmp[id]; c != nil {
		if !c.local.IsValid() {
			delete(e.cmp, id)
		} else {
			c.kern, c.open, c.wire, c.wh = nil, 0, nil, 0
			if len(e.cmpClosed) == maxClosedComparisons {
				delete(e.cmp, e.cmpClosed[0])
				e.cmpClosed = append(e.cmpClosed[:0], e.cmpClosed[1:]...)
			}
			e.cmpClosed = append(e.cmpClosed, id)
		}
	}
}

// Packet runs one segment through every detector. p must carry Flow and Dir
// (set by the flow table).
func (e *Engine) Packet(p *events.Packet) {
	if p.TS > e.now {
		e.now = p.TS
	}
	e.frame = p.Frame
	// Only a bare SYN can be kept as an embryo (embryoFits): other packets
	// skip the call.
	if !bareSYN(p) || !e.keepAsEmbryo(p) {
		e.process(e.lookup(p), p)
	}
	if p.TS >= e.nextScan {
		e.scan(p.TS)
	}
}

// process runs p through every detector on its connection's state f.
func (e *Engine) process(f *flow, p *events.Packet) {
	f.lastTS, f.lastFrm = p.TS, p.Frame
	// A direction without outstanding data (or whose stall was reported),
	// or whose data waited less than the floor, has nothing to check.
	s, r := &f.h[p.Dir&1], &f.h[(p.Dir^1)&1] // p's direction's half and the other's, for every step
	if e.stallDue(s, r) {
		e.checkStall(f, p.Dir, p)
	}
	if e.stallDue(r, s) {
		e.checkStall(f, p.Dir^1, p)
	}
	if !f.handshakeDone(p) {
		e.handshake(f, p)
	}
	fl := e.analyze(f, p, s, r)
	e.report(f, p, fl, s)
	if s.stallRef == 0 && s.nextseqFrame == p.Frame && p.SegLen() > 0 {
		s.stallRef = p.TS // data outstanding from now
	}
	e.rtt(f, p, fl, s)
	e.ackSide(f, p, fl, s, r)
	if e.limWindow > 0 {
		e.limitsPacket(f, p, fl)
	}
}

// Advance moves the capture clock without a packet so that ACK stalls and
// unanswered SYNs are reported on an idle link.
func (e *Engine) Advance(now int64) {
	if now > e.now {
		e.now = now
	}
	if now >= e.nextScan {
		e.scan(now)
	}
}

// scan checks every connection for timeouts; it runs at most every half
// ACK-stall floor of capture time.
func (e *Engine) scan(now int64) {
	e.nextScan = now + e.stallFloor/2
	emit := e.emit
	e.emit = e.hold
	for _, f := range e.flows {
		e.checkStall(f, events.DirC2S, nil)
		e.checkStall(f, events.DirS2C, nil)
		e.checkNoAnswer(f, now, false)
	}
	e.emit = emit
	slices.SortStableFunc(e.held, func(a, b events.Event) int { return cmp.Compare(a.Flow, b.Flow) })
	for i := range e.held {
		emit(&e.held[i])
	}
	clear(e.held)
	e.held = e.held[:0]
	// Embryos wait in arrival order: only those past the SYN timeout are
	// looked at, so a scan costs nothing per half-open connection.
	if e.tab != nil {
		e.scanTable(now, false)
	}
	q := &e.syns
	for q.head < len(q.q) {
		id := q.q[q.head]
		if s := q.get(id); s != nil && !s.noAnswer {
			if now-s.ts < e.synTimeout {
				break
			}
			e.embryoNoAnswer(id, now, false)
		}
		q.head++
	}
	if q.head > 0 && q.head*2 >= len(q.q) {
		n := copy(q.q, q.q[q.head:])
		q.q, q.head = q.q[:n], 0
	}
}

// Finish reports what is pending at the end of the input.
func (e *Engine) Finish() {
	// In connection order, so the output does not depend on map order.
	ids := make([]uint64, 0, len(e.flows))
	for id := range e.flows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := e.flows[id]
		e.checkNoAnswer(f, e.now, true)
		e.settleHoles(f)
	}
	// Embryos in arrival order (those before synHead have been reported
	// or have left).
	for _, id := range e.syns.q[e.syns.head:] {
		e.embryoNoAnswer(id, e.now, true)
	}
	if e.tab != nil {
		e.scanTable(e.now, true)
	}
}

// SetEventSlot makes the engine build each event in the place slot
// returns, zeroed and valid until the event is emitted (an event writer's
// queue, events.AsyncWriter.Slot), instead of in an event of its own.
func (e *Engine) SetEventSlot(slot func() *events.Event) { e.slot = slot }

// newEvent returns a zero event to fill and send.
func (e *Engine) newEvent() *events.Event {
	if e.slot != nil {
		return e.slot()
	}
	// Cleared in place: a composite literal is built on the stack and
	// then copied, twice the work on an event of 300 bytes.
	ev := &e.ev
	*ev = events.Event{}
	return ev
}

// event prepares a new event for a packet.
func (e *Engine) event(f *flow, p *events.Packet, typ string, sev events.Severity) *events.Event {
	ev := e.newEvent()
	ev.Type, ev.Frame, ev.TS, ev.Flow, ev.Dir = typ, p.Frame, events.Timestamp(p.TS), p.Flow, p.Dir
	ev.Src, ev.Dst, ev.Severity = f.endpoint(p.Dir), f.endpoint(p.Dir^1), sev
	ev.Seq, ev.Len = p.RelSeq, p.Len
	return ev
}

// flowEvent prepares a new event for a direction of a flow, without a
// packet of that direction at hand.
func (e *Engine) flowEvent(f *flow, d events.Dir, typ string, sev events.Severity) *events.Event {
	ev := e.newEvent()
	ev.Type, ev.Frame, ev.TS, ev.Flow, ev.Dir = typ, e.frame, events.Timestamp(e.now), f.id, d
	ev.Src, ev.Dst, ev.Severity = f.endpoint(d), f.endpoint(d^1), sev
	return ev
}

// send fills the context snapshot and hands the event out.
func (e *Engine) send(f *flow, ev *events.Event) {
	if f != nil {
		// The kernel state of the socket that sends in the event's
		// direction, else of the other end's socket (a capture usually has
		// records of one end only).
		k := f.kern[ev.Dir&1]
		if !k.ok {
			k = f.kern[(ev.Dir^1)&1]
		}
		ev.Context = events.Context{BytesInFlight: f.inFlight(ev.Dir), SRTTms: f.srtt / 1e6,
			KernelCwnd: k.cwnd, KernelSRTTus: k.srtt, KernelSsthr: k.ssthr}
	}
	e.emit(ev)
}
