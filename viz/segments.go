package viz

import (
	"iter"
	"net/netip"
	"sort"

	"github.com/tcpviz/tcpviz/events"
)

// SegmentLimits bound what a Segments sink keeps.
type SegmentLimits struct {
	// PerConn is the most packets (and, separately, events) kept per
	// connection; later ones are counted, not kept.
	PerConn int
	// Total is the most packets kept over all connections. When it is
	// reached the connection with the fewest findings (then the fewest
	// packets) is dropped whole, so the connections a report details at the
	// end (the worst ones) are the ones still held.
	Total int
}

// DefaultSegmentLimits keep 200k packets per connection and 2M in all
// (about 40 bytes each while collecting).
var DefaultSegmentLimits = SegmentLimits{PerConn: 200_000, Total: 2_000_000}

func (l SegmentLimits) withDefaults() SegmentLimits {
	if l.PerConn <= 0 {
		l.PerConn = DefaultSegmentLimits.PerConn
	}
	if l.Total <= 0 {
		l.Total = DefaultSegmentLimits.Total
	}
	return l
}

// Segments is a pipeline sink that keeps every packet and event of each
// connection, up to SegmentLimits, for the connection pages: the
// time-sequence graph at the level of single segments, with frame numbers.
// It is separate from Collector, which keeps the downsampled overview.
type Segments struct {
	lim    SegmentLimits
	filter Filter
	pinned map[uint64]bool // connections never dropped (tcpviz report --flow)

	conns   map[uint64]*segConn
	dropped map[uint64]bool // given up for the total bound
	total   int
	first   int64 // first packet: the time filter's origin
}

// segPacket is one packet of a connection, as the connection page draws it.
type segPacket struct {
	TS       int64
	Frame    uint64
	Seq, Ack uint32 // relative to each side's ISN
	Len      uint32
	Win      int64 // scaled receive window, -1 when the scale is unknown
	Flags    uint16
	Dir      events.Dir
	SACK     uint8 // SACK blocks (in segConn.sack, in packet order)
}

// segSACK is one SACK block, relative to the data sender's ISN.
type segSACK struct{ Left, Right uint32 }

// segEvent is one event of a connection.
type segEvent struct {
	TS       int64
	Frame    uint64
	RefFrame uint64
	Type     string
	Kind     string
	Dir      events.Dir
	Seq, Len uint32
	RTTms    float64
	Limit    *events.LimitChange
	Kern     *segKernel
}

// segKernel is what a kernel sample shows on the connection page.
type segKernel struct {
	Cwnd, Ssthresh, SRTTus, MinRTTus, PacketsOut, SndWnd, MSS uint32
	CAState                                                   uint8
	DeliveryBps, PacingBps                                    float64
}

type segConn struct {
	id             uint64
	client, server netip.AddrPort
	isn            [2]uint32
	isnKnown       [2]bool
	pkts           chunks[segPacket]
	sack           []segSACK
	evs            chunks[segEvent]
	lostPkts       uint64 // beyond the per-connection bound
	lostEvs        uint64
	findings       int
}

// NewSegments returns a Segments sink. pinned connections (the ones a user
// asked for) are never dropped for the total bound.
func NewSegments(lim SegmentLimits, f Filter, pinned []uint64) *Segments {
	s := &Segments{lim: lim.withDefaults(), filter: f, conns: map[uint64]*segConn{}, dropped: map[uint64]bool{},
		pinned: map[uint64]bool{}}
	for _, id := range pinned {
		s.pinned[id] = true
	}
	return s
}

func (s *Segments) conn(p *events.Packet) *segConn {
	if c, ok := s.conns[p.Flow]; ok {
		return c
	}
	if s.dropped[p.Flow] {
		return nil
	}
	client, server := p.Endpoints()
	if !s.filter.MatchConn(p.Flow, client, server) {
		s.dropped[p.Flow] = true
		return nil
	}
	c := &segConn{id: p.Flow, client: client, server: server}
	s.conns[p.Flow] = c
	return c
}

// Packet implements the pipeline sink.
func (s *Segments) Packet(p *events.Packet) {
	if s.first == 0 {
		s.first = p.TS
	}
	if p.Flow == 0 || !s.filter.MatchTime(p.TS, s.first) {
		return
	}
	c := s.conn(p)
	if c == nil {
		return
	}
	d := p.Dir & 1
	if !c.isnKnown[d] {
		c.isn[d], c.isnKnown[d] = p.Seq-p.RelSeq, true
	}
	if c.pkts.n >= s.lim.PerConn {
		c.lostPkts++
		return
	}
	sp := segPacket{TS: p.TS, Frame: p.Frame, Seq: p.RelSeq, Ack: p.RelAck, Len: p.Len, Win: p.WindowScaled,
		Flags: p.Flags, Dir: d}
	peer := d ^ 1
	for i := 0; i < int(p.Options.NumSACK) && i < len(p.Options.SACK); i++ {
		b := p.Options.SACK[i]
		c.sack = append(c.sack, segSACK{b.Left - c.isn[peer], b.Right - c.isn[peer]})
		sp.SACK++
	}
	c.pkts.add(sp)
	s.total++
	if s.total > s.lim.Total {
		s.shed()
	}
}

// Event implements the pipeline sink.
func (s *Segments) Event(e *events.Event) {
	c := s.conns[e.Flow]
	if c == nil || e.Type == events.TypePacket || !s.filter.MatchTime(int64(e.TS), s.first) {
		return
	}
	if events.IsFinding(e.Type) {
		c.findings++
	}
	if c.evs.n >= s.lim.PerConn {
		c.lostEvs++
		return
	}
	se := segEvent{TS: int64(e.TS), Frame: e.Frame, RefFrame: e.RefFrame, Type: e.Type, Kind: e.Kind, Dir: e.Dir & 1,
		Seq: e.Seq, Len: e.Len, RTTms: e.RTTms}
	if se.Kind == "" {
		se.Kind = e.Reason
	}
	if e.Type == events.TypeLossInfer && e.Confirmed != nil && !*e.Confirmed {
		se.Type = LossSuspect
	}
	if e.Type == events.TypeKernelRetransmit {
		se.Kind = e.Cause
	}
	if e.Limit != nil {
		l := *e.Limit
		se.Limit = &l
	}
	if k := e.Kernel; k != nil && e.Type == events.TypeKernelSample {
		sk := &segKernel{Cwnd: k.SndCwnd, Ssthresh: k.Ssthresh, SRTTus: k.SRTTus, MinRTTus: k.MinRTTus,
			PacketsOut: k.PacketsOut, SndWnd: k.SndWnd, MSS: k.MSS, CAState: k.CAState, PacingBps: float64(k.PacingRate) * 8}
		if k.RateIntervalUS > 0 && k.MSS > 0 {
			sk.DeliveryBps = float64(k.RateDelivered) * float64(k.MSS) * 8 / (float64(k.RateIntervalUS) / 1e6)
		}
		se.Kern = sk
	}
	c.evs.add(se)
}

// shed drops whole connections, least interesting first, until the total
// is 90% of its bound: one sort per shedding, not one scan per packet.
func (s *Segments) shed() {
	list := make([]*segConn, 0, len(s.conns))
	for _, c := range s.conns {
		if !s.pinned[c.id] {
			list = append(list, c)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].findings != list[j].findings {
			return list[i].findings < list[j].findings
		}
		if list[i].pkts.n != list[j].pkts.n {
			return list[i].pkts.n < list[j].pkts.n
		}
		return list[i].id < list[j].id
	})
	for _, c := range list {
		if s.total <= s.lim.Total*9/10 {
			return
		}
		s.total -= c.pkts.n
		delete(s.conns, c.id)
		s.dropped[c.id] = true
	}
}

// has reports whether a connection's segments are held.
func (s *Segments) has(id uint64) bool {
	if s == nil {
		return false
	}
	return s.conns[id] != nil
}

// chunks is an append-only list in blocks, so that growing it never copies
// what it holds (a connection can have 200k packets).
type chunks[T any] struct {
	c [][]T
	n int
}

func (k *chunks[T]) add(v T) {
	if len(k.c) == 0 || len(k.c[len(k.c)-1]) == cap(k.c[len(k.c)-1]) {
		k.c = append(k.c, make([]T, 0, min(max(k.n, 256), 1<<16)))
	}
	last := &k.c[len(k.c)-1]
	*last = append(*last, v)
	k.n++
}

// all yields every element in order.
func (k *chunks[T]) all() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for _, c := range k.c {
			for i := range c {
				if !yield(&c[i]) {
					return
				}
			}
		}
	}
}

// first and last return the first and last element (the list must not be
// empty).
func (k *chunks[T]) first() *T { return &k.c[0][0] }
func (k *chunks[T]) last() *T  { c := k.c[len(k.c)-1]; return &c[len(c)-1] }
