package viz

import (
	"maps"
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
)

// Limits bound what a Collector keeps, whatever the size of the capture.
type Limits struct {
	Points         int // points per plotted series (min/max pairs count as two)
	EventsPerType  int // timeline markers kept per event type
	MarkersPerFlow int // retransmission/out-of-order/SACK markers per flow and direction
	DetailFlows    int // connections with full time series (sequence, throughput, congestion)
	Flows          int // connections tracked at all (heatmap rows, table); the rest are counted as "other"
}

// DefaultLimits keep a 500k-packet report to a few MB.
var DefaultLimits = Limits{Points: 2000, EventsPerType: 2000, MarkersPerFlow: 1000, DetailFlows: 32, Flows: 5000}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Points > 0 {
		d.Points = l.Points
	}
	if l.EventsPerType > 0 {
		d.EventsPerType = l.EventsPerType
	}
	if l.MarkersPerFlow > 0 {
		d.MarkersPerFlow = l.MarkersPerFlow
	}
	if l.DetailFlows > 0 {
		d.DetailFlows = l.DetailFlows
	}
	if l.Flows > 0 {
		d.Flows = l.Flows
	}
	return d
}

// heatBins is the per-flow resolution kept for the heatmap: at most this
// many bins over the connection's life, each an exact part of one report
// column (see tally).
const heatBins = 256

// Collector is a pipeline sink that keeps what the dashboards draw, already
// downsampled. Packets and events are reused by the pipeline; the Collector
// copies the few fields it keeps.
type Collector struct {
	lim    Limits
	filter Filter

	first, last int64          // first packet of the capture (time 0), latest one kept
	started     bool           // first is known
	packetClock bool           // first is a packet's time (not an event's)
	early       []events.Event // records before the first packet, held until it comes
	earliest    int64          // earliest record kept (clocks may step back)
	kept        int64          // first record kept by the time filter
	packets     uint64
	bytes       uint64
	pktRate     *buckets // packets, for the packets/s line
	bitRate     *buckets // payload bytes
	evRate      *buckets // detector events

	flows      map[uint64]*flowData
	order      []uint64 // flows in order of appearance
	otherFlows uint64   // connections beyond Limits.Flows
	detailed   int

	timeline   map[string]*thinned[eventMark]
	typeCount  map[string]int
	kernelSeen bool
	strs       interner
}

// eventMark is a timeline marker: the fields the tooltip shows.
type eventMark struct {
	TS       int64
	Frame    uint64
	Flow     uint64
	Dir      events.Dir
	Sev      events.Severity
	Detail   uint32 // interned kind/reason
	Seq, Len uint32
	RTTms    float64
	Ctx      events.Context
}

type marker struct {
	TS  int64
	Seq float64
	Len uint32
}

type sackMark struct {
	TS          int64
	Left, Right float64
}

// flowData is one connection as the collector sees it.
type flowData struct {
	id             uint64
	client, server netip.AddrPort
	first, last    int64
	packets        [2]uint64
	bytes          [2]uint64
	closed         bool // FIN or RST seen: the detail slot may be reused
	pid            uint32
	comm           string
	events         map[string]int
	retransBytes   uint64
	cwndLo, cwndHi uint32
	kernelSamples  int
	sockets        uint8 // kernel records seen from bit 0: the client's socket, bit 1: the server's

	heatPkts *tally
	heatEvts *tally
	detail   *flowDetail
}

// flowDetail holds the per-connection time series; only Limits.DetailFlows
// connections have one at a time.
type flowDetail struct {
	dir   [2]dirSeries
	cwnd  *buckets // kernel snd_cwnd (segments)
	srtt  *buckets // kernel srtt (ms)
	rtt   *buckets // inferred RTT samples (ms)
	since int64    // first packet seen with detail
}

// dirSeries is what one direction's data looks like on the time-sequence
// graph and the throughput chart. Sequence numbers are unwrapped to 64 bits
// so transfers above 4 GiB stay monotonic.
type dirSeries struct {
	seqU, ackU unwrapper
	isn        uint32
	isnKnown   bool
	seqHi      float64 // highest sequence end sent
	ackHi      float64 // highest ack received for this direction's data
	seq        *buckets
	ack        *buckets
	win        *buckets
	flight     *buckets
	tput       *buckets
	retr       *buckets
	retrans    *thinned[marker]
	ooo        *thinned[marker]
	sack       *thinned[sackMark]
}

// unwrapper extends relative 32-bit sequence numbers to 64 bits.
type unwrapper struct {
	hi   uint64
	seen bool
}

func (u *unwrapper) extend(v uint32) float64 {
	if !u.seen {
		u.seen = true
		u.hi = uint64(v)
		return float64(v)
	}
	// Pick the 64-bit value nearest the highest seen so far.
	base := u.hi &^ 0xffffffff
	x := base | uint64(v)
	if x > u.hi && x-u.hi > 1<<31 && base > 0 {
		x -= 1 << 32
	} else if x < u.hi && u.hi-x > 1<<31 {
		x += 1 << 32
	}
	if x > u.hi {
		u.hi = x
	}
	return float64(x)
}

// interner stores repeated strings (kinds, reasons) once.
type interner struct {
	idx  map[string]uint32
	list []string
}

func (in *interner) id(s string) uint32 {
	if in.idx == nil {
		in.idx = map[string]uint32{"": 0}
		in.list = []string{""}
	}
	if i, ok := in.idx[s]; ok {
		return i
	}
	if len(in.list) >= 4096 {
		// Untrusted input could invent endless reasons; stop remembering.
		return 0
	}
	i := uint32(len(in.list))
	in.idx[s] = i
	in.list = append(in.list, s)
	return i
}

func (in *interner) str(i uint32) string {
	if int(i) < len(in.list) {
		return in.list[i]
	}
	return ""
}

// NewCollector returns a Collector with the given limits; the filter's
// connection and time tests are applied while collecting (process and cwnd
// tests need whole-connection knowledge and are applied by Build).
func NewCollector(lim Limits, f Filter) *Collector {
	lim = lim.withDefaults()
	return &Collector{
		lim:       lim,
		filter:    f,
		pktRate:   newBuckets(lim.Points),
		bitRate:   newBuckets(lim.Points),
		evRate:    newBuckets(lim.Points),
		flows:     map[uint64]*flowData{},
		timeline:  map[string]*thinned[eventMark]{},
		typeCount: map[string]int{},
	}
}

func (c *Collector) newDir() dirSeries {
	n := c.lim.Points / 2 // min/max pairs
	return dirSeries{
		seq: newBuckets(n), ack: newBuckets(c.lim.Points), win: newBuckets(c.lim.Points),
		flight: newBuckets(n), tput: newBuckets(c.lim.Points), retr: newBuckets(c.lim.Points),
		retrans: newThinned[marker](c.lim.MarkersPerFlow), ooo: newThinned[marker](c.lim.MarkersPerFlow),
		sack: newThinned[sackMark](c.lim.MarkersPerFlow),
	}
}

func (c *Collector) newDetail(ts int64) *flowDetail {
	n := c.lim.Points / 2
	return &flowDetail{dir: [2]dirSeries{c.newDir(), c.newDir()},
		cwnd: newBuckets(n), srtt: newBuckets(n), rtt: newBuckets(n), since: ts}
}

// flow finds or creates the connection of a packet. It returns nil when the
// connection is filtered out or beyond the tracking limit.
func (c *Collector) flow(p *events.Packet) *flowData {
	if f, ok := c.flows[p.Flow]; ok {
		return f
	}
	client, server := p.Endpoints()
	if !c.filter.MatchConn(p.Flow, client, server) {
		c.flows[p.Flow] = nil // remember the verdict
		return nil
	}
	if len(c.order) >= c.lim.Flows {
		c.otherFlows++
		c.flows[p.Flow] = nil
		return nil
	}
	f := &flowData{id: p.Flow, client: client, server: server, first: p.TS,
		events: map[string]int{}, heatPkts: newTally(heatBins), heatEvts: newTally(heatBins)}
	c.flows[p.Flow] = f
	c.order = append(c.order, p.Flow)
	c.giveDetail(f, p.TS)
	return f
}

// giveDetail attaches time series to f when a slot is free, reusing the slot
// of the smallest closed connection when all are taken.
func (c *Collector) giveDetail(f *flowData, ts int64) {
	if c.detailed < c.lim.DetailFlows {
		c.detailed++
		f.detail = c.newDetail(ts)
		return
	}
	var victim *flowData
	for _, id := range c.order {
		g := c.flows[id]
		if g == nil || g.detail == nil || !g.closed || g == f {
			continue
		}
		if victim == nil || g.bytes[0]+g.bytes[1] < victim.bytes[0]+victim.bytes[1] {
			victim = g
		}
	}
	if victim != nil {
		victim.detail = nil
		f.detail = c.newDetail(ts)
	}
}

// span widens the time span kept to ts.
func (c *Collector) span(ts int64) {
	if c.earliest == 0 || ts < c.earliest {
		c.earliest = ts
	}
	c.last = max(c.last, ts)
}

// Packet implements the pipeline sink.
func (c *Collector) Packet(p *events.Packet) {
	if !c.started {
		c.packetClock = true
		c.start(p.TS)
	}
	if !c.filter.MatchTime(p.TS, c.first) {
		return
	}
	f := c.flow(p)
	if f == nil {
		return
	}
	c.packets++
	c.bytes += uint64(p.Len)
	c.keep(p.TS)
	c.span(p.TS)
	c.pktRate.add(p.TS, 1)
	c.bitRate.add(p.TS, float64(p.Len))

	d := p.Dir & 1
	f.packets[d]++
	f.bytes[d] += uint64(p.Len)
	f.last = max(f.last, p.TS)
	f.first = min(f.first, p.TS)
	if p.Flags&(events.FlagFIN|events.FlagRST) != 0 {
		f.closed = true
	}
	f.heatPkts.add(c.rel(p.TS))
	if f.detail == nil {
		return
	}
	fd := f.detail
	me, peer := &fd.dir[d], &fd.dir[d^1]
	if !me.isnKnown {
		me.isn, me.isnKnown = p.Seq-p.RelSeq, true
	}
	if p.Len > 0 || p.Flags&(events.FlagSYN|events.FlagFIN) != 0 {
		s := me.seqU.extend(p.RelSeq)
		end := s + float64(p.SegLen())
		me.seq.add(p.TS, s)
		me.seq.add(p.TS, end)
		if end > me.seqHi {
			me.seqHi = end
		}
		me.tput.add(p.TS, float64(p.Len))
		if p.Len > 0 && me.ackHi > 0 {
			me.flight.add(p.TS, me.seqHi-me.ackHi)
		}
	}
	if p.Flags&events.FlagACK != 0 && peer.isnKnown {
		// This packet acknowledges the peer's data: it draws the peer's ACK
		// and receive-window lines.
		a := peer.ackU.extend(p.RelAck)
		if a > peer.ackHi {
			peer.ackHi = a
		}
		peer.ack.add(p.TS, a)
		if p.WindowScaled >= 0 {
			peer.win.add(p.TS, a+float64(p.WindowScaled))
		}
		for i := 0; i < int(p.Options.NumSACK) && i < len(p.Options.SACK); i++ {
			b := p.Options.SACK[i]
			l := a + float64(int32(b.Left-peer.isn-p.RelAck))
			r := a + float64(int32(b.Right-peer.isn-p.RelAck))
			if r > l {
				peer.sack.add(sackMark{TS: p.TS, Left: l, Right: r})
			}
		}
	}
}

// LossSuspect is the dashboards' name for a loss_infer event with
// "confirmed": false, counted apart from confirmed loss.
const LossSuspect = "loss_infer_unconfirmed"

// Event implements the pipeline sink.
func (c *Collector) Event(e *events.Event) {
	if !c.started {
		// Time 0 is the first packet: hold records that come before it
		// (kernel records of a connect()) until it is known.
		if len(c.early) < maxEarly {
			ec := *e
			if e.Kernel != nil {
				k := *e.Kernel
				ec.Kernel = &k
			}
			c.early = append(c.early, ec)
			return
		}
		c.start(int64(c.early[0].TS)) // events only: the first event is time 0
	}
	ts := int64(e.TS)
	if !c.filter.MatchTime(ts, c.first) {
		return
	}
	f, known := c.flows[e.Flow]
	if known && f == nil {
		return // filtered out or beyond the limit
	}
	if !known && e.Flow != 0 {
		f = c.flowFromEvent(e)
		if f == nil {
			return
		}
	}
	if !c.packetClock {
		// Built from events only: their times are the range. With packets,
		// the time axes span the first to the last packet.
		c.keep(ts)
		c.span(ts)
	}
	typ := e.Type
	if typ == events.TypeLossInfer && e.Confirmed != nil && !*e.Confirmed {
		// A reported hole that may still close by itself (reordering):
		// counted and drawn apart from loss.
		typ = LossSuspect
	}
	c.typeCount[typ]++
	if f != nil {
		f.events[typ]++
		c.noteKernel(f, e)
	}
	switch e.Type {
	case events.TypeKernelSample:
		c.kernelSeen = true
		return
	case events.TypeRTTSample:
		if f != nil && f.detail != nil && e.RTTms > 0 {
			f.detail.rtt.add(ts, e.RTTms)
		}
		return
	case events.TypePacket:
		return
	}
	if events.IsFinding(e.Type) {
		c.evRate.add(ts, 1)
	}
	tl := c.timeline[typ]
	if tl == nil {
		if len(c.timeline) >= 64 {
			return // untrusted input inventing types
		}
		tl = newThinned[eventMark](c.lim.EventsPerType)
		c.timeline[typ] = tl
	}
	detail := e.Kind
	if detail == "" {
		detail = e.Reason
	}
	tl.add(eventMark{TS: ts, Frame: e.Frame, Flow: e.Flow, Dir: e.Dir, Sev: e.Severity,
		Detail: c.strs.id(detail), Seq: e.Seq, Len: e.Len, RTTms: e.RTTms, Ctx: e.Context})
	if f == nil {
		return
	}
	f.heatEvts.add(c.rel(ts))
	if e.Type == events.TypeRetransmission {
		f.retransBytes += uint64(e.Len)
	}
	if f.detail == nil {
		return
	}
	ds := &f.detail.dir[e.Dir&1]
	switch e.Type {
	case events.TypeRetransmission:
		ds.retr.add(ts, float64(e.Len))
		ds.retrans.add(marker{TS: ts, Seq: ds.seqU.near(e.Seq), Len: e.Len})
	case events.TypeOutOfOrder:
		ds.ooo.add(marker{TS: ts, Seq: ds.seqU.near(e.Seq), Len: e.Len})
	}
}

// maxEarly bounds the records held while waiting for the first packet.
const maxEarly = 4096

// start fixes time 0 and replays the records held until then.
func (c *Collector) start(first int64) {
	c.started, c.first = true, first
	early := c.early
	c.early = nil
	for i := range early {
		c.Event(&early[i])
	}
}

// finish ends collection: records still held (a capture without packets)
// are placed with the first of them as time 0.
func (c *Collector) finish() {
	if !c.started && len(c.early) > 0 {
		c.start(int64(c.early[0].TS))
	}
}

// rel is ts relative to the first record, saturating (untrusted times).
func (c *Collector) rel(ts int64) int64 {
	if ts <= c.first {
		return 0
	}
	if d := ts - c.first; d > 0 {
		return d
	}
	return maxTS
}

func (c *Collector) keep(ts int64) {
	if c.kept == 0 || ts < c.kept {
		c.kept = ts
	}
}

// selFirst is the first time the report shows: the first record kept.
func (c *Collector) selFirst() int64 {
	if c.kept == 0 {
		return c.first
	}
	return c.kept
}

// near places a relative sequence number next to the highest seen without
// moving the unwrapper (events may refer to old segments).
func (u *unwrapper) near(v uint32) float64 {
	if !u.seen {
		return float64(v)
	}
	base := u.hi &^ 0xffffffff
	x := base | uint64(v)
	if x > u.hi && x-u.hi > 1<<31 && base > 0 {
		x -= 1 << 32
	}
	return float64(x)
}

// flowFromEvent creates a connection known only from events (a report built
// from events.jsonl without the capture).
func (c *Collector) flowFromEvent(e *events.Event) *flowData {
	src, err1 := netip.ParseAddrPort(e.Src)
	dst, err2 := netip.ParseAddrPort(e.Dst)
	if err1 != nil || err2 != nil {
		return nil
	}
	p := events.Packet{Flow: e.Flow, Dir: e.Dir, TS: int64(e.TS),
		Src: src.Addr(), SrcPort: src.Port(), Dst: dst.Addr(), DstPort: dst.Port()}
	f := c.flow(&p)
	if f != nil {
		f.last = int64(e.TS)
	}
	return f
}

// fill completes a connection's record with what the collector saw and the
// record lacks: the process (flows.jsonl of a capture without kernel
// records for it), event counts and retransmitted bytes (a record made
// without detectors).
func (f *flowData) fill(r *events.FlowRecord) {
	if r.PID == 0 {
		r.PID = f.pid
	}
	if r.Comm == "" {
		r.Comm = f.comm
	}
	if r.Events == nil {
		r.Events = f.events
	}
	if r.Events[events.TypeRetransmission] == 0 && f.events[events.TypeRetransmission] > 0 {
		// Only inconsistent inputs get here (flows.jsonl with events but
		// none of events.jsonl's retransmissions).
		r.Events = maps.Clone(r.Events)
		r.Events[events.TypeRetransmission] = f.events[events.TypeRetransmission]
	}
	if r.Retransmitted == 0 {
		r.Retransmitted = f.retransBytes
	}
}

// record is a connection's record made from what the collector saw, for a
// connection the pipeline gave none (a report from events.jsonl alone).
func (f *flowData) record() events.FlowRecord {
	r := events.FlowRecord{Type: "flow", Flow: f.id, Client: f.client.String(), Server: f.server.String(),
		ClientAddr: f.client.Addr().String(), ServerAddr: f.server.Addr().String(),
		ClientPort: f.client.Port(), ServerPort: f.server.Port(),
		First: events.Timestamp(f.first), Last: events.Timestamp(f.last), DurationMS: float64(f.last-f.first) / 1e6,
		PacketsC2S: f.packets[0], PacketsS2C: f.packets[1], BytesC2S: f.bytes[0], BytesS2C: f.bytes[1],
		End: "unknown", Events: f.events, Retransmitted: f.retransBytes, PID: f.pid, Comm: f.comm}
	if f.detail != nil {
		r.RTTMinMS, r.RTTAvgMS, r.RTTMaxMS = rttStats(f.detail.rtt)
	}
	return r
}

// noteKernel records process and congestion figures from kernel records.
func (c *Collector) noteKernel(f *flowData, e *events.Event) {
	k := e.Kernel
	if k != nil {
		// A kernel record comes from the capturing host's socket; its
		// direction says which side that is (see conntable.Sides).
		if e.Dir == events.DirS2C {
			f.sockets |= 2
		} else {
			f.sockets |= 1
		}
		if k.PID != 0 && f.pid == 0 {
			f.pid = k.PID
		}
		if k.Comm != "" && f.comm == "" {
			f.comm = k.Comm
		}
	}
	if e.Type != events.TypeKernelSample {
		return
	}
	cwnd, srttUS := e.Context.KernelCwnd, e.Context.KernelSRTTus
	if k != nil {
		if k.SndCwnd != 0 {
			cwnd = k.SndCwnd
		}
		if k.SRTTus != 0 {
			srttUS = k.SRTTus
		}
	}
	if cwnd != 0 {
		if f.kernelSamples == 0 || cwnd < f.cwndLo {
			f.cwndLo = cwnd
		}
		if cwnd > f.cwndHi {
			f.cwndHi = cwnd
		}
		f.kernelSamples++
	}
	if f.detail != nil {
		ts := int64(e.TS)
		if cwnd != 0 {
			f.detail.cwnd.add(ts, float64(cwnd))
		}
		if srttUS != 0 {
			f.detail.srtt.add(ts, float64(srttUS)/1000)
		}
	}
}
