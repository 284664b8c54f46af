package detectors

import (
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
)

// embryos holds the connections that have sent nothing but their first SYN
// (port scans, SYN floods, servers that never answer) in a slab of
// pointer-free records reused as connections grow or leave: about 150
// bytes per half-open connection, where a map of records costs twice that
// and a flow's state about 1 KB.
type embryos struct {
	slab []embryo
	free []uint32          // slab entries to reuse
	idx  map[uint64]uint32 // connection id → slab entry
	q    []uint64          // ids in order of arrival, for the SYN timeout
	head int               // q before head has been looked at
}

// get returns the embryo of connection id, nil when it has none. The
// pointer is valid until the next add.
func (m *embryos) get(id uint64) *embryo {
	i, ok := m.idx[id]
	if !ok {
		return nil
	}
	return &m.slab[i]
}

func (m *embryos) add(id uint64, s embryo) {
	var i uint32
	if n := len(m.free); n > 0 {
		i, m.free = m.free[n-1], m.free[:n-1]
		m.slab[i] = s
	} else {
		i = uint32(len(m.slab))
		m.slab = append(m.slab, s)
	}
	m.idx[id] = i
	m.q = append(m.q, id)
}

func (m *embryos) del(id uint64) {
	if i, ok := m.idx[id]; ok {
		delete(m.idx, id)
		m.free = append(m.free, i)
	}
}

// embryo is a connection that has sent only its first SYN, kept as the
// fields of that SYN the detectors read (the payload is empty; encapsulation
// and frame sizes are not looked at). It holds no pointers, so a port scan's
// half-open connections cost the garbage collector nothing to scan.
type embryo struct {
	frame          uint64
	ts, now        int64 // the SYN's time; the engine's clock when it came
	windowScaled   int64
	seq, ack       uint32
	relSeq, relAck uint32
	tsVal, tsEcr   uint32
	src, dst       [16]byte
	srcPort        uint16
	dstPort        uint16
	flags, window  uint16
	mss            uint16
	wscale         uint8
	bits           uint8 // embryo* flags below
	dir            events.Dir
	noAnswer       bool // no_syn_ack already reported
}

const (
	embryoHasMSS = 1 << iota
	embryoHasWScale
	embryoSACKPerm
	embryoHasTS
	embryoSrc4
	embryoDst4
)

// bareSYN reports whether p is a SYN without ACK, RST or FIN: the first
// test of embryoFits, which the engine makes before the call.
func bareSYN(p *events.Packet) bool { return p.Flags&(fSYN|fACK|fRST|fFIN) == fSYN }

// embryoFits reports whether p is a SYN an embryo holds exactly.
func embryoFits(p *events.Packet) bool {
	return bareSYN(p) && p.Len == 0 && p.Options.NumSACK == 0 &&
		p.Src.Zone() == "" && p.Dst.Zone() == "" && p.Src.IsValid() && p.Dst.IsValid()
}

func newEmbryo(p *events.Packet, now int64) embryo {
	o := &p.Options
	s := embryo{frame: p.Frame, ts: p.TS, now: now, windowScaled: p.WindowScaled,
		seq: p.Seq, ack: p.Ack, relSeq: p.RelSeq, relAck: p.RelAck, tsVal: o.TSVal, tsEcr: o.TSEcr,
		src: p.Src.As16(), dst: p.Dst.As16(), srcPort: p.SrcPort, dstPort: p.DstPort,
		flags: p.Flags, window: p.Window, mss: o.MSS, wscale: o.WScale, dir: p.Dir}
	for _, b := range [...]struct {
		on  bool
		bit uint8
	}{{o.HasMSS, embryoHasMSS}, {o.HasWScale, embryoHasWScale}, {o.SACKPerm, embryoSACKPerm},
		{o.HasTS, embryoHasTS}, {p.Src.Is4(), embryoSrc4}, {p.Dst.Is4(), embryoDst4}} {
		if b.on {
			s.bits |= b.bit
		}
	}
	return s
}

// packet rebuilds the SYN of connection id.
func (s *embryo) packet(id uint64, p *events.Packet) {
	addr := func(a [16]byte, v4 bool) netip.Addr {
		x := netip.AddrFrom16(a)
		if v4 {
			return x.Unmap()
		}
		return x
	}
	*p = events.Packet{Frame: s.frame, TS: s.ts, Src: addr(s.src, s.bits&embryoSrc4 != 0), Dst: addr(s.dst, s.bits&embryoDst4 != 0),
		SrcPort: s.srcPort, DstPort: s.dstPort, Seq: s.seq, Ack: s.ack, Flags: s.flags, Window: s.window,
		Options: events.Options{MSS: s.mss, WScale: s.wscale, HasMSS: s.bits&embryoHasMSS != 0,
			HasWScale: s.bits&embryoHasWScale != 0, SACKPerm: s.bits&embryoSACKPerm != 0,
			HasTS: s.bits&embryoHasTS != 0, TSVal: s.tsVal, TSEcr: s.tsEcr},
		Flow: id, Dir: s.dir, RelSeq: s.relSeq, RelAck: s.relAck, WindowScaled: s.windowScaled}
}

// UseTable makes the engine read the SYN of a connection that has sent
// nothing else from the pipeline's connection table, which keeps it
// anyway, instead of keeping a copy (the pipeline calls it): the table
// tells the engine when such a connection grows, and the engine grows its
// state from the SYN then.
func (e *Engine) UseTable(t *conntrack.Table) {
	e.tab = t
	t.OnPromote(func(id uint64) {
		if e.flows[id] != nil {
			return
		}
		now, ok := t.SYN(id, &e.synPkt)
		if !ok {
			return
		}
		f := e.newFlow()
		e.replayPacket(f, &e.synPkt, now, id <= e.synCursor)
		e.flows[id] = f
	})
}

// keepAsEmbryo keeps the first packet of a connection as an embryo when it
// is a bare SYN whose analysis raises no event (so replaying it later gives
// the same state, and nothing is reported out of order). With a table
// (UseTable), the table holds it (with the engine's clock): it must be the
// SYN the table kept.
func (e *Engine) keepAsEmbryo(p *events.Packet) bool {
	if !embryoFits(p) || e.flows[p.Flow] != nil || e.ended.Has(p.Flow) {
		return false
	}
	if e.tab != nil {
		if _, ok := e.tab.SYN(p.Flow, &e.synPkt); !ok || !sameSYN(&e.synPkt, p) {
			return false
		}
	} else if e.syns.get(p.Flow) != nil {
		return false
	}
	emit := e.emit
	e.spoke = false
	e.emit = e.mute
	f := &e.scratch
	initFlow(f, p)
	e.process(f, p)
	e.emit = emit
	if e.spoke {
		return false
	}
	if e.tab == nil {
		e.syns.add(p.Flow, newEmbryo(p, e.now))
	} else if e.now != p.TS {
		e.tab.SetSYNClock(p.Flow, e.now)
	}
	return true
}

// sameSYN reports whether the table's SYN q is p in every field the
// detectors read.
func sameSYN(q, p *events.Packet) bool {
	return q.Frame == p.Frame && q.TS == p.TS && q.Src == p.Src && q.Dst == p.Dst && q.SrcPort == p.SrcPort &&
		q.DstPort == p.DstPort && q.Seq == p.Seq && q.Ack == p.Ack && q.Flags == p.Flags && q.Window == p.Window &&
		q.Options == p.Options && q.Flow == p.Flow && q.Dir == p.Dir && q.RelSeq == p.RelSeq &&
		q.RelAck == p.RelAck && q.WindowScaled == p.WindowScaled
}

// replay makes f the state the embryo's SYN left.
func (e *Engine) replay(f *flow, id uint64, s *embryo) {
	s.packet(id, &e.synPkt)
	e.replayPacket(f, &e.synPkt, s.now, s.noAnswer)
}

// replayPacket makes f the state a SYN kept by the table left, at the
// engine's clock when it came; noAnswer says whether no_syn_ack was
// reported.
func (e *Engine) replayPacket(f *flow, syn *events.Packet, at int64, noAnswer bool) {
	now, frame := e.now, e.frame
	e.now, e.frame = at, syn.Frame
	initFlow(f, syn)
	e.process(f, syn)
	f.noAnswer = noAnswer
	e.now, e.frame = now, frame
}

// scanTable raises no_syn_ack for the SYNs the table keeps that have
// waited the SYN timeout, in arrival order: synCursor is the last one
// looked at (so one kept and before it has been reported), and the scan
// stops at the first kept one still young.
func (e *Engine) scanTable(now int64, final bool) {
	for after := e.synCursor; ; {
		id, ts, ok := e.tab.NextSYN(after)
		if !ok {
			return
		}
		after = id
		if e.flows[id] != nil { // not kept: checked as a flow
			if !final {
				e.synCursor = id
			}
			continue
		}
		if now-ts < e.synTimeout {
			if final {
				continue
			}
			return
		}
		at, _ := e.tab.SYN(id, &e.synPkt)
		f := &e.scratch
		e.replayPacket(f, &e.synPkt, at, false)
		e.checkNoAnswer(f, now, final)
		if !final {
			e.synCursor = id
		}
	}
}

// embryoNoAnswer raises no_syn_ack for an embryo whose SYN has waited the
// SYN timeout (checkNoAnswer on the flow it would grow into).
func (e *Engine) embryoNoAnswer(id uint64, now int64, final bool) {
	s := e.syns.get(id)
	if s == nil || s.noAnswer || now-s.ts < e.synTimeout {
		return
	}
	f := &e.scratch
	e.replay(f, id, s)
	e.checkNoAnswer(f, now, final)
	s.noAnswer = f.noAnswer
}

// flowOf returns the live state of a connection, growing an embryo.
func (e *Engine) flowOf(id uint64) *flow {
	if f := e.flows[id]; f != nil {
		return f
	}
	if s := e.syns.get(id); s != nil {
		f := e.newFlow()
		e.replay(f, id, s)
		e.syns.del(id)
		e.flows[id] = f
		return f
	}
	return nil
}

// peek returns the state of a connection without growing an embryo: an
// embryo's is rebuilt in the engine's scratch flow, valid until the next
// packet.
func (e *Engine) peek(id uint64) *flow {
	if f := e.flows[id]; f != nil {
		return f
	}
	if s := e.syns.get(id); s != nil {
		e.replay(&e.scratch, id, s)
		return &e.scratch
	}
	if e.tab != nil {
		if at, ok := e.tab.SYN(id, &e.synPkt); ok {
			e.replayPacket(&e.scratch, &e.synPkt, at, id <= e.synCursor)
			return &e.scratch
		}
	}
	return nil
}
