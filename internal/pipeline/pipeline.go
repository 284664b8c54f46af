// Package pipeline is the one path every tcpviz command shares: records from
// a capture reader are decoded, assigned to connections, run through the
// detectors, and handed to sinks (JSONL writers, the monitor's alert window,
// the dashboards' collector). It keeps no per-packet history, so memory is
// bounded by live connections.
package pipeline

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// Sink receives what the pipeline produces. Both pointers are valid only
// during the call: copy what you keep.
type Sink interface {
	Packet(p *events.Packet)
	Event(e *events.Event)
}

// Detector is the extension point through which every analysis plugs into
// the pipeline; users see it as detectors.Detector (docs/detectors.md,
// "Adding a detector"), and detectors.NewSet builds every registered one as
// one Detector. It is declared here, not in detectors, so the pipeline does
// not import the detectors: their tests run captures through the pipeline.
// The pipeline calls it from one goroutine.
type Detector interface {
	// Packet sees one TCP segment, in capture order, with Flow and Dir set
	// by the connection table. p is valid only during the call.
	Packet(p *events.Packet)
	// Kernel sees one kernel record, with the connection and direction it
	// belongs to (flow 0: none in the table).
	Kernel(frame uint64, rec *kblock.Record, flow uint64, dir events.Dir)
	// Advance moves capture time forward without a packet (a live run's
	// clock), for timeouts.
	Advance(now int64)
	// Finish ends the input: report what is pending.
	Finish()
	// CloseFlow ends a connection that left the table: settle what is
	// pending on it and add the detector's figures (RTT, limits, the
	// kernel check) to its record, the one every output reads
	// (flows.jsonl, the tables, the dashboards).
	CloseFlow(flow uint64, r *events.FlowRecord)
}

// Config says how to build a pipeline.
type Config struct {
	Flows conntrack.Config
	// Decode holds the decoder's settings (tunnel ports, reassembly
	// limits); the zero value means decode.DefaultConfig.
	Decode *decode.Config
	// NewDetector builds the detector engine around the pipeline's emit
	// function; nil runs no detectors.
	NewDetector func(emit func(*events.Event)) Detector
	// OnFlow receives each connection's summary once the connection leaves
	// the table (closed and quiet, idle, or at Finish); the record is reused
	// after the call: copy it to keep it.
	OnFlow func(r *events.FlowRecord)
	// Source names the input in warnings ("x.pcapng: offset 123: ...").
	Source string
}

// Stats are the pipeline's counters.
type Stats struct {
	Frames        uint64 // frame number of the last record (packets + custom blocks)
	Packets       uint64 // packet records
	TCPPackets    uint64
	KernelRecords uint64
	CaptureDrops  uint64            // drops reported by the capture's statistics blocks
	OtherCustom   uint64            // custom blocks of other writers
	BadKernel     uint64            // kernel records that failed to decode
	Skipped       map[string]uint64 // by reason; unsupported encapsulations and link types by name
	Fragments     decode.FragStats
	Events        map[string]int
	FirstTS       int64 // earliest packet timestamp (not the first packet's: clocks step back)
	LastTS        int64 // latest packet timestamp
	ClockSteps    int   // timestamps more than a second below one already seen
	BadTimes      int   // packets whose timestamp is out of range
	Flows         int
	KernelRetrans events.RetransCheck // all flows together
	KernelLimits  events.LimitsCheck  // limits from packets against the kernel's, all flows
	// Zero-window time of all connections (ms) and the connections with any.
	ZeroWindowMS    float64
	ZeroWindowFlows int
	Warnings        []string
}

// Pipeline is not safe for concurrent use.
type Pipeline struct {
	cfg     Config
	dec     *decode.Decoder
	table   *conntrack.Table
	det     Detector
	sinks   []Sink
	psinks  []Sink // the sinks that take packets
	pkt     events.Packet
	krec    kblock.Record
	skipped [decode.NumSkipReasons]uint64
	details map[decode.Detail]uint64 // unsupported encapsulations and link types
	frags   decode.FragStats         // reassembly by decoders outside the pipeline (AddFragStats)
	dcfg    decode.Config
	stats   Stats
	rec     events.FlowRecord // reused for OnFlow
	// Events by type (Stats.Events), in order of first occurrence.
	evCounts []conntrack.EventCount
	typeSets [1 << typeBits][2]typeSlot // evCounts' indexes by the types' addresses (emit)
	slotted  bool                       // the detectors build events in a sink's place (AddSink)
	// Per connection with both, the kernel's and the inferred srtt medians
	// (summary: their medians over connections).
	kernelRTT, inferredRTT, sampleRTT []float64
}

// New builds a pipeline.
func New(cfg Config) *Pipeline {
	dcfg := decode.DefaultConfig()
	if cfg.Decode != nil {
		dcfg = *cfg.Decode
	}
	p := &Pipeline{cfg: cfg, dcfg: dcfg, dec: decode.NewWithConfig(dcfg)}
	p.table = conntrack.New(cfg.Flows, p.expired)
	if cfg.NewDetector != nil {
		p.det = cfg.NewDetector(p.emit)
		// The detectors read the SYNs the table keeps instead of copying them.
		if u, ok := p.det.(interface{ UseTable(*conntrack.Table) }); ok {
			u.UseTable(p.table)
		}
	}
	return p
}

// AddSink adds a receiver of packets and events. A sink with a method
// WantsPackets() bool that says false is not called for packets (an event
// writer without packet records: a call per packet for nothing).
//
// A sink with a method EventSlot() func() *events.Event that returns a
// function (an event writer's queue: events.AsyncWriter.Slot) gives the
// detectors, if they take it (SetEventSlot), the place to build each event
// in, so that it is not copied; the first such sink does.
func (p *Pipeline) AddSink(s Sink) {
	p.sinks = append(p.sinks, s)
	if w, ok := s.(interface{ WantsPackets() bool }); !ok || w.WantsPackets() {
		p.psinks = append(p.psinks, s)
	}
	if ss, ok := s.(interface{ EventSlot() func() *events.Event }); ok && !p.slotted {
		if d, ok := p.det.(interface{ SetEventSlot(func() *events.Event) }); ok {
			if slot := ss.EventSlot(); slot != nil {
				d.SetEventSlot(slot)
				p.slotted = true
			}
		}
	}
}

// Table exposes the connection table (read-only use).
func (p *Pipeline) Table() *conntrack.Table { return p.table }

// Feed processes one record from a capture reader.
func (p *Pipeline) Feed(rec *pcapng.Record) error {
	if rec.Frame > p.stats.Frames {
		p.stats.Frames = rec.Frame
	}
	switch rec.Type {
	case pcapng.RecordPacket:
		p.pkt.TS = rec.TS // the decoder's fragment timeout runs on capture time
		ok, why := p.dec.Decode(LinkType(rec), rec.Data, rec.OrigLen, &p.pkt)
		if ok {
			why = decode.SkipNone
		}
		p.pkt.Frame, p.pkt.TS, p.pkt.Interface = rec.Frame, rec.TS, int(rec.InterfaceID)
		p.FeedDecoded(&p.pkt, why, p.dec.Detail())
		return nil
	case pcapng.RecordCustom:
		if !kblock.IsPEN(rec.PEN) {
			p.stats.OtherCustom++
			return nil
		}
		if _, err := kblock.Decode(rec.CustomData, &p.krec); err != nil {
			p.stats.BadKernel++
			if p.stats.BadKernel <= 10 {
				p.warn(fmt.Sprintf("%soffset %d: %v", p.source(), rec.Offset, err))
			}
			return nil
		}
		p.kernel(rec.Frame, &p.krec)
	case pcapng.RecordStats:
		st := &rec.Stats
		if n := st.Dropped + st.OSDropped; n > 0 {
			name := fmt.Sprintf("interface %d", rec.InterfaceID)
			if rec.Interface != nil && rec.Interface.Name != "" {
				name = rec.Interface.Name
			}
			p.stats.CaptureDrops += n
			p.warn(fmt.Sprintf("%soffset %d: %s: the capture dropped %d packets (interface %d, capture %d)", p.source(), rec.Offset, name, n, st.Dropped, st.OSDropped))
		}
	}
	return nil
}

// NewDecoder returns a decoder with the pipeline's decoding settings, for
// callers that decode ahead on other goroutines (FeedDecoded).
func (p *Pipeline) NewDecoder() *decode.Decoder { return decode.NewWithConfig(p.dcfg) }

// AddFragStats adds the reassembly counters of a decoder that decoded
// records for FeedDecoded, once it has been flushed.
func (p *Pipeline) AddFragStats(f decode.FragStats) { p.frags.Add(f) }

func (p *Pipeline) fragStats() decode.FragStats {
	f := p.dec.FragStats()
	f.Add(p.frags)
	return f
}

// LinkType is the link type of a packet record's interface (0 when the
// record names none).
func LinkType(rec *pcapng.Record) uint16 {
	if rec.Interface == nil {
		return 0
	}
	return rec.Interface.LinkType
}

// FeedDecoded is Feed for a packet record that a decode.Decoder already
// decoded, on another goroutine (sessionfiles reads and decodes ahead): pk
// holds the packet, with the record's Frame, TS and Interface; why is the
// decoder's verdict, SkipNone when pk holds the packet, and detail its
// Detail for an unsupported encapsulation or link type. Records that are
// not packets go to Feed.
func (p *Pipeline) FeedDecoded(pk *events.Packet, why decode.SkipReason, detail decode.Detail) {
	if pk.Frame > p.stats.Frames {
		p.stats.Frames = pk.Frame
	}
	p.stats.Packets++
	if why != decode.SkipNone {
		p.skipped[why]++
		if why == decode.SkipUnsupported || why == decode.SkipLinkType {
			if p.details == nil {
				p.details = make(map[decode.Detail]uint64)
			}
			if len(p.details) < maxDetails {
				p.details[detail]++
			}
		}
		return
	}
	p.packet(pk)
}

// FeedPacket runs an already decoded packet through the pipeline (tests and
// callers that decode themselves). Frame and TS must be set.
func (p *Pipeline) FeedPacket(pk *events.Packet) {
	p.stats.Packets++
	if pk.Frame > p.stats.Frames {
		p.stats.Frames = pk.Frame
	}
	p.packet(pk)
}

func (p *Pipeline) packet(pk *events.Packet) {
	p.stats.TCPPackets++
	// Time mostly moves forward: a later timestamp only moves LastTS.
	if st := &p.stats; pk.TS >= st.LastTS && st.LastTS != 0 && pk.TS != pcapng.TSOutOfRange {
		st.LastTS = pk.TS
	} else {
		p.times(pk)
	}
	p.table.Observe(pk)
	if p.det != nil {
		p.det.Packet(pk)
	}
	for _, s := range p.psinks {
		s.Packet(pk)
	}
}

// clockStep is how far a timestamp may fall below the latest one seen
// before it is a clock step (or merged captures) rather than packets
// written a little out of order.
const clockStep = int64(time.Second)

// times keeps the earliest and latest packet timestamps and warns when
// time goes back: durations then span the earliest to the latest time.
func (p *Pipeline) times(pk *events.Packet) {
	st := &p.stats
	if pk.TS < 0 || pk.TS == pcapng.TSOutOfRange {
		st.BadTimes++
		if st.BadTimes == 1 {
			p.warn(fmt.Sprintf("%sframe %d: timestamp out of range (before 1970 or past 2262); such packets are left out of the time span and take the time of the packet before them", p.source(), pk.Frame))
		}
		// A time centuries away would make every time-based figure of
		// the connection (and its windows) meaningless.
		pk.TS = st.LastTS
		return
	}
	if st.FirstTS == 0 && st.LastTS == 0 {
		st.FirstTS, st.LastTS = pk.TS, pk.TS
		return
	}
	if pk.TS < st.LastTS-clockStep {
		st.ClockSteps++
		p.warn(fmt.Sprintf("%sframe %d: timestamp %s is %s before an earlier packet's (a clock step or merged captures); durations span the earliest to the latest timestamp",
			p.source(), pk.Frame, time.Unix(0, pk.TS).UTC().Format(time.RFC3339Nano), time.Duration(st.LastTS-pk.TS)))
	}
	st.FirstTS = min(st.FirstTS, pk.TS)
	st.LastTS = max(st.LastTS, pk.TS)
}

// FeedKernel runs one kernel record through the pipeline.
func (p *Pipeline) FeedKernel(frame uint64, r *kblock.Record) {
	if frame > p.stats.Frames {
		p.stats.Frames = frame
	}
	p.kernel(frame, r)
}

func (p *Pipeline) kernel(frame uint64, r *kblock.Record) {
	p.stats.KernelRecords++
	local := netip.AddrPortFrom(r.Saddr, r.Sport)
	remote := netip.AddrPortFrom(r.Daddr, r.Dport)
	var flow uint64
	var dir events.Dir
	if c, d, ok := p.table.Lookup(local, remote); ok {
		flow, dir = c.ID, d
		if r.Comm != "" && c.Comm() == "" {
			x := c.X()
			x.PID, x.Comm = r.PID, r.Comm
		}
	}
	if p.det != nil {
		p.det.Kernel(frame, r, flow, dir)
		return
	}
	// Without detectors, kernel records still reach the sinks as events.
	e := events.KernelEvent(frame, r, flow, dir)
	p.emit(&e)
}

// emit is how detector events enter the pipeline.
func (p *Pipeline) emit(e *events.Event) {
	// The counter of e's type, by the address of its text: the types
	// are the detectors' constants, and comparing the text against each
	// type seen cost more than the rest of the hand-off.
	set := &p.typeSets[events.TextSet(events.TextKey(e.Type), typeBits)]
	if i := set[0].at - 1; i >= 0 && events.SameString(e.Type, set[0].typ) {
		p.evCounts[i].Count++
	} else {
		p.evCounts[p.typeOther(set, e.Type)].Count++
	}
	// Extra, not Get: an event (no_syn_ack) leaves a connection that sent
	// only its SYN as the table's small record.
	if x := p.table.Extra(e.Flow); x != nil {
		x.CountEvent(e.Type)
		if e.Type == events.TypeRetransmission {
			p.table.Get(e.Flow).MarkRetransmission(e.Dir)
			x.Retransmitted += uint64(e.Len)
		}
	}
	for _, s := range p.sinks {
		s.Event(e)
	}
}

// typeBits gives the sets of event types whose counter emit finds by
// address: 1<<typeBits sets of two (the newest first), so that two types
// in use whose addresses meet in one set do not take turns there (every
// turn a search of evCounts by text). 64 sets for the 10-odd types in use:
// with 16, two busy types shared a set on the bench capture, and the
// second slot is a call (typeOther).
const typeBits = 6

// typeSlot holds the index in evCounts of the type typ (the string keeps
// the text from being freed and its address reused); at is the index + 1,
// 0 in an empty slot.
type typeSlot struct {
	typ string
	at  int
}

// typeOther is the index in evCounts of the counter of typ, a type not
// first in its set (emit looks there).
func (p *Pipeline) typeOther(set *[2]typeSlot, typ string) int {
	if k := &set[1]; k.at > 0 && events.SameString(typ, k.typ) {
		return k.at - 1
	}
	i := p.typeIndex(typ)
	set[1], set[0] = set[0], typeSlot{typ, i + 1}
	return i
}

// typeIndex finds (or adds) the counter of an event type.
func (p *Pipeline) typeIndex(typ string) int {
	for i := range p.evCounts {
		if p.evCounts[i].Type == typ {
			return i
		}
	}
	p.evCounts = append(p.evCounts, conntrack.EventCount{Type: typ})
	return len(p.evCounts) - 1
}

// record builds a connection's record, the one every output reads
// (flows.jsonl, the connection tables, the dashboards, Parquet): the
// table's counters with the pipeline's event counts and socket owner, then
// the detectors' figures. A new per-connection figure goes in here, through
// conntrack.Conn.Record or the detector's CloseFlow.
func (p *Pipeline) record(c *conntrack.Conn) *events.FlowRecord {
	r := &p.rec
	c.Record(r)
	if p.det != nil {
		p.det.CloseFlow(c.ID, r)
	}
	return r
}

// expired is called by the flow table when a connection leaves it.
func (p *Pipeline) expired(c *conntrack.Conn) {
	r := p.record(c)
	if rc := r.KernelRetrans; rc != nil {
		p.stats.KernelRetrans.Add(rc)
		if rc.KernelSRTTP50MS > 0 && rc.InferredSRTTP50MS > 0 {
			p.kernelRTT = append(p.kernelRTT, rc.KernelSRTTP50MS)
			p.inferredRTT = append(p.inferredRTT, rc.InferredSRTTP50MS)
			p.sampleRTT = append(p.sampleRTT, rc.InferredRTTP50MS)
		}
	}
	p.stats.KernelLimits.Add(r.Limits.Dir(events.DirC2S))
	p.stats.KernelLimits.Add(r.Limits.Dir(events.DirS2C))
	if r.ZeroWindowMS > 0 {
		p.stats.ZeroWindowMS += r.ZeroWindowMS
		p.stats.ZeroWindowFlows++
	}
	if r.Resumed == 0 {
		p.stats.Flows++ // connections, not records (a connection that rejoined writes more)
	}
	if p.cfg.OnFlow != nil {
		p.cfg.OnFlow(r)
	}
}

// Advance moves capture time forward without a packet (the monitor's clock),
// so timeouts such as an ACK stall can fire.
func (p *Pipeline) Advance(now int64) {
	if p.det != nil {
		p.det.Advance(now)
	}
}

// Finish ends the input: detectors report what is pending and every
// connection's summary is handed out.
func (p *Pipeline) Finish() {
	if p.det != nil {
		p.det.Finish()
	}
	p.dec.Flush()
	if f := p.fragStats(); f.Expired+f.Evicted+f.Overlaps > 0 {
		p.warn(fmt.Sprintf("%s%d fragmented IP datagrams were never completed (%d timed out or cut off by the end of the input, %d dropped at the memory limits, %d with overlapping IPv6 fragments)",
			p.source(), f.Expired+f.Evicted+f.Overlaps, f.Expired, f.Evicted, f.Overlaps))
	}
	p.table.Flush()
	k := &p.stats.KernelRetrans
	k.Rates()
	k.KernelSRTTP50MS, k.InferredSRTTP50MS = median(p.kernelRTT), median(p.inferredRTT)
	k.InferredRTTP50MS = median(p.sampleRTT)
}

func (p *Pipeline) source() string {
	if p.cfg.Source == "" {
		return ""
	}
	return p.cfg.Source + ": "
}

// maxDetails bounds the distinct unsupported protocols named; the rest are
// counted under the reason alone.
const maxDetails = 64

// maxWarnings bounds the warnings kept, so a long monitor run stays small.
const maxWarnings = 100

func (p *Pipeline) warn(s string) {
	switch n := len(p.stats.Warnings); {
	case n < maxWarnings:
		p.stats.Warnings = append(p.stats.Warnings, s)
	case n == maxWarnings:
		p.stats.Warnings = append(p.stats.Warnings, "further warnings not kept")
	}
}

// Warn records a warning for the summary (e.g. a truncated last block).
func (p *Pipeline) Warn(s string) { p.warn(s) }

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	s := p.stats
	s.Skipped = make(map[string]uint64)
	for _, r := range decode.SkipReasons() {
		if n := p.skipped[r]; n > 0 {
			s.Skipped[r.String()] = n
		}
	}
	// Unsupported encapsulations are named: "unsupported_encapsulation:gre-proto-0x88be".
	for d, n := range p.details {
		r := decode.SkipUnsupported
		if d.Field == "linktype" {
			r = decode.SkipLinkType
		}
		s.Skipped[r.String()+":"+d.String()] += n
		if s.Skipped[r.String()] -= n; s.Skipped[r.String()] == 0 {
			delete(s.Skipped, r.String())
		}
	}
	s.Events = make(map[string]int, len(p.evCounts))
	for _, c := range p.evCounts {
		s.Events[c.Type] = c.Count
	}
	s.Fragments = p.fragStats()
	return s
}

// median of xs (0 for none); sorts xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// CaptureDrops is the packets the capture's statistics blocks report
// dropped so far; cheap enough to read after every record.
func (p *Pipeline) CaptureDrops() uint64 { return p.stats.CaptureDrops }
