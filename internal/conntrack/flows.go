// Package conntrack keeps the connection table: it gives every TCP packet its
// connection id and direction, relative sequence numbers and scaled window,
// and keeps one summary per connection (flows.jsonl, the tcplife table).
//
// Connection ids start at 1 in order of first appearance (0 means "no
// connection"), so flow N is usually Wireshark's tcp.stream N-1.
// Connections are told apart the way Wireshark's tcp.stream does: by the
// 4-tuple, with a new connection when a fresh SYN (a new ISN) reuses the
// tuple of a closed one. Unlike Wireshark, the tunnel identifier (VXLAN or
// Geneve VNI, GRE key) is part of the key: overlays reuse addresses per
// tenant, so the same 4-tuple in two VNIs is two connections. Some overlays
// use a different identifier each way; a connection seen one way only
// takes the first packet of the other way under another identifier (see
// joinReverse). Closed and idle connections are expired on capture time so
// memory stays bounded by live connections, not by file length; a packet
// that continues one after it left rejoins it under the same id (ended.go).
package conntrack

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/recent"
)

// Config bounds the table.
type Config struct {
	// CloseLinger keeps a closed connection whose end was not clean (FINs
	// not both acknowledged, or a packet after the normal end) this long
	// after its last packet, so late retransmissions still find it.
	CloseLinger time.Duration
	// IdleTimeout expires a connection with no packet for this long.
	IdleTimeout time.Duration
	// FinLinger keeps a connection that ended (both FINs acknowledged, or a
	// RST) this long after its last packet: long enough for the kernel's
	// closing records and the peer's packets still in flight, short enough
	// that a busy server's finished connections leave memory at once. A
	// packet after a RST starts the linger again. Zero means CloseLinger.
	FinLinger time.Duration
	// MaxClosed bounds the closed connections (FIN both ways, or RST) kept
	// for late packets: past it, the one that closed longest ago leaves at
	// once. It bounds memory whatever the rate at which connections close.
	// Zero means no bound.
	MaxClosed int
	// MaxEnded is how many connections that left the table are remembered
	// (88 bytes each, without pointers) so that a packet continuing one
	// rejoins it under its id, as in Wireshark's tcp.stream (ended.go).
	// Zero remembers none: such a packet starts a new connection.
	MaxEnded int
}

// DefaultConfig returns the defaults documented in docs/events.md.
func DefaultConfig() Config {
	return Config{CloseLinger: 60 * time.Second, IdleTimeout: 15 * time.Minute, FinLinger: time.Second,
		MaxClosed: DefaultMaxClosed, MaxEnded: DefaultMaxEnded}
}

// DefaultMaxClosed is the default bound on closed connections kept: about
// 6 MB of connection and detector state (2.7 KB each). Below 2,048 closes
// per second every closed connection still lingers its full FinLinger; a
// busier server's leave sooner (at 20,000 per second, after 0.1 s), which
// keeps a capture of 200,000 short connections under 64 MiB.
const DefaultMaxClosed = 2048

// DefaultMaxEnded is the default number of connections that left the
// table remembered for rejoining: about 300 KB with its index (with the
// detectors' share, 200,000 short connections peak 2.6 MiB higher).
const DefaultMaxEnded = 2048

// key is a connection's endpoints without pointers (netip.Addr holds one):
// 48 bytes that hash as plain memory and cost the garbage collector nothing
// to scan, which counts with hundreds of thousands of connections. (Zones,
// which addresses from packets never carry, are not part of it.)
type key struct {
	a, b   [16]byte      // a < b, so both directions share a key
	tun    events.Tunnel // a tenant's tunnel identifier, 0 outside overlays
	ap, bp uint16
	v4     uint8 // bit 0: a is IPv4, bit 1: b is
}

// untunneled is the key of the same 4-tuple outside any tunnel.
func (k key) untunneled() key {
	k.tun = 0
	return k
}

func makeKey(src, dst netip.AddrPort, tun events.Tunnel) key {
	if !tun.Tenant() {
		tun = 0
	}
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	k := key{a: src.Addr().As16(), b: dst.Addr().As16(), tun: tun, ap: src.Port(), bp: dst.Port()}
	if src.Addr().Is4() {
		k.v4 |= 1
	}
	if dst.Addr().Is4() {
		k.v4 |= 2
	}
	return k
}

// Conn is one connection. It keeps counters and flags only; the summary
// record (events.FlowRecord, with its strings and maps) is built once, when
// the connection leaves the table, so a live connection costs about 300
// bytes here plus its map entries.
type Conn struct {
	ID     uint64
	Client netip.AddrPort
	Server netip.AddrPort

	// Fields are ordered by size so the struct has no padding.
	first, last           int64 // capture time of the first and last packet
	firstFrame, lastFrame uint64
	synAt, synAckAt       int64
	hsRTT                 int64            // SYN → the client's ACK of the SYN/ACK, once seen
	doneAt                int64            // time of the packet that ended it (or of the last one, after a RST)
	packets, bytes, wire  [2]uint64        // per direction: packets, payload bytes, frame bytes
	encap                 string           // the first packet's encapsulation path (shared with the decoder)
	tunnel                [2]events.Tunnel // per direction, the first packet's tunnel
	base                  [2]uint32        // sequence base per direction (ISN, or first seq - 1)
	synSeq                [2]uint32        // ISN from the SYN, to tell a SYN retry from a new connection
	finSeq                [2]uint32        // sequence number of each side's FIN
	mss                   [2]uint16
	history               [2]uint16 // bit per history letter already recorded
	wscale                [2]int8   // advertised shift per direction, -1 unknown
	shift                 [2]int8   // shift applied to each direction's window, -1 unknown (setShift)
	baseSet               [2]bool
	synSeen               [2]bool
	finSeen               [2]bool
	rstSeen               [2]bool
	finAcked              [2]bool
	done                  bool // both FINs acknowledged, or a RST: queued in Table.done
	gone                  bool // left the table (leave): byID no longer holds it
	hsSeen, sackPerm      bool
	steady                bool // Observe's shortcut applies (update)
	nhist                 uint8
	hist                  [16]byte // Zeek history letters in order (at most 8 per side)

	// Zero window: zw[d] while side d's last advertisement was a zero
	// window; zwFrom is when either side's began (the union), zwTotal the
	// time of the periods already ended (ns).
	zwFrom, zwTotal int64
	zw              [2]bool

	// Extra is what the pipeline adds to the summary (event counts, the
	// socket owner); nil until it adds any.
	Extra *Extra
}

// Extra is the part of a connection's summary that most connections lack:
// what comes from detector events and kernel records (the detectors add
// their RTT figures when the connection leaves the table), and the records
// written before, for a connection that rejoined the table.
type Extra struct {
	Events        []EventCount // by type, in order of first occurrence
	Retransmitted uint64       // payload bytes of retransmission events
	PID           uint32
	lastEvent     uint8 // index in Events of the latest event's type
	Comm          string
	Resumed       int // records of the connection written before this one (ended.go)
}

// EventCount is the number of events of one type.
type EventCount struct {
	Type  string
	Count int
}

// X returns the connection's Extra, allocating it on first use.
func (c *Conn) X() *Extra {
	if c.Extra == nil {
		c.Extra = &Extra{}
	}
	return c.Extra
}

// CountEvent counts one event of type typ.
func (x *Extra) CountEvent(typ string) {
	if i := int(x.lastEvent); i < len(x.Events) && x.Events[i].Type == typ {
		x.Events[i].Count++ // runs of one type are common
		return
	}
	for i := range x.Events {
		if x.Events[i].Type == typ {
			x.Events[i].Count++
			x.lastEvent = uint8(i)
			return
		}
	}
	x.lastEvent = uint8(len(x.Events))
	x.Events = append(x.Events, EventCount{typ, 1})
}

// Comm returns the socket owner's command name, "" when unknown.
func (c *Conn) Comm() string {
	if c.Extra == nil {
		return ""
	}
	return c.Extra.Comm
}

// Bytes returns the payload bytes a direction carried so far.
func (c *Conn) Bytes(d events.Dir) uint64 { return c.bytes[d] }

// Closed reports whether both sides sent FIN or either sent RST.
func (c *Conn) Closed() bool { return (c.finSeen[0] && c.finSeen[1]) || c.rstSeen[0] || c.rstSeen[1] }

// Base returns the sequence base of a direction, for relative numbers.
func (c *Conn) Base(d events.Dir) (uint32, bool) { return c.base[d], c.baseSet[d] }

// WScale returns the window shift a direction advertised, or -1.
func (c *Conn) WScale(d events.Dir) int { return int(c.wscale[d]) }

// Table is the connection table. It is not safe for concurrent use.
type Table struct {
	cfg   Config
	conns map[key]*Conn // a connection under each direction's tunnel identifier
	// half holds, by 4-tuple alone, the latest connection inside a tenant's
	// tunnel that has been seen one way only.
	half      map[key]*Conn
	byID      map[uint64]*Conn
	nextID    uint64
	lastSweep int64
	onExpire  func(*Conn)
	// done holds the connections that ended (both FINs acknowledged, or a
	// RST), in the order they did; they leave after FinLinger without
	// waiting for a sweep.
	done     []*Conn
	doneHead int
	// closed holds the connections that closed, in the order they did,
	// and nclosed counts those still in the table (MaxClosed).
	closed     []*Conn
	closedHead int
	nclosed    int
	// syns holds the connections that have sent only their first SYN
	// (halfopen.go); conns and byID hold the others.
	syns       synTable
	compactSYN bool
	encaps     []string
	encapIdx   map[string]uint16
	// last is the connection of the latest packet outside a tenant's
	// tunnel, which that packet's 4-tuple (lastA to lastB) keys in conns
	// with no tunnel identifier; nil once it leaves the table.
	last         *Conn
	lastA, lastB netip.AddrPort
	lastDir      events.Dir // direction of a packet from lastA to lastB
	noCache      bool       // tests: look every packet up by its key
	noSteady     bool       // tests: every packet through update
	scratch      Conn       // a half-open connection's Conn while it leaves
	leaving      synRec     // and its record
	onPromote    []func(id uint64)
	// synExtra holds what the pipeline added to half-open connections.
	synExtra map[uint64]*Extra
	gone     []*Conn                      // reused by sweep
	ended    recent.Table[key, endedConn] // connections that left, for rejoining (ended.go)
	flushing bool
}

// New returns a Table. onExpire is called for every connection that leaves
// the table (expired, replaced by a new connection on the same tuple, or at
// Flush), after its summary is final.
func New(cfg Config, onExpire func(*Conn)) *Table {
	return &Table{cfg: cfg, conns: make(map[key]*Conn), half: make(map[key]*Conn), byID: make(map[uint64]*Conn), onExpire: onExpire,
		compactSYN: true, ended: recent.New[key, endedConn](cfg.MaxEnded)}
}

// Len is the number of connections in the table.
func (t *Table) Len() int { return len(t.byID) + t.syns.live }

// Get returns a live connection by id.
func (t *Table) Get(id uint64) *Conn {
	if c := t.last; c != nil && c.ID == id {
		return c // events are mostly about the latest packet's connection
	}
	if c := t.byID[id]; c != nil {
		return c
	}
	if i, ok := t.syns.byID(id); ok {
		return t.promote(i)
	}
	return nil
}

// Base returns the sequence base of a live connection's direction (Conn.Base).
func (t *Table) Base(id uint64, d events.Dir) (uint32, bool) {
	if c := t.byID[id]; c != nil {
		return c.Base(d)
	}
	if i, ok := t.syns.byID(id); ok && d == events.DirC2S {
		return t.syns.at(i).seq, true
	}
	return 0, false
}

// find returns the live connection of k, making a half-open one a Conn.
func (t *Table) find(k key) *Conn {
	if c := t.conns[k]; c != nil {
		return c
	}
	if i, ok := t.syns.find(&k); ok {
		return t.promote(i)
	}
	return nil
}

// Lookup finds the live connection of a 4-tuple outside any tunnel and the
// direction of a packet from src to dst.
func (t *Table) Lookup(src, dst netip.AddrPort) (*Conn, events.Dir, bool) {
	// A kernel record is mostly about the connection of the packets
	// around it: the previous packet's, found without building and
	// hashing the key (about 400 instructions).
	if c, d := t.cached(src, dst, 0); c != nil {
		return c, d, true
	}
	c := t.find(makeKey(src, dst, 0))
	if c == nil {
		return nil, 0, false
	}
	if c.Client == src {
		return c, events.DirC2S, true
	}
	return c, events.DirS2C, true
}

// Observe assigns p to its connection and fills Flow, Dir, RelSeq, RelAck and
// WindowScaled. It returns the connection, or nil when p is the bare SYN
// of a new connection (kept as a half-open record: Get makes it a Conn).
func (t *Table) Observe(p *events.Packet) *Conn {
	// Both queues are empty on most packets: no call then. The tuple is
	// read after them, so it is kept aside for a call only on the paths
	// that make one, not on the steady path below.
	if t.doneHead < len(t.done) {
		t.expireDone(p.TS)
	}
	if t.closedHead < len(t.closed) {
		t.boundClosed()
	}
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	c, cd := t.cached(src, dst, p.Tunnel)
	// Most packets continue an established connection and change none of
	// its state but the counters: update's other checks are skipped then.
	if c != nil && c.steady && p.Window != 0 && p.Flags&(events.FlagSYN|events.FlagFIN|events.FlagRST) == 0 && !t.noSteady {
		c.count(cd, p)
		c.markSegment(cd, p)
		c.notePerm(p)
		c.relative(cd, p)
		if p.TS-t.lastSweep > int64(time.Second) {
			t.sweep(p.TS)
		}
		return c
	}
	var k key
	keyed := c == nil
	if keyed {
		k = makeKey(src, dst, p.Tunnel)
		c = t.find(k)
		if c == nil && k.tun != 0 {
			c = t.joinReverse(k, src, p)
		}
	}
	syn := p.Flags&events.FlagSYN != 0 && p.Flags&events.FlagACK == 0
	if c != nil && syn && t.isNewConnection(c, src, p) {
		t.leave(c, false)
		c = nil
	}
	if c == nil && !keyed {
		k = makeKey(src, dst, p.Tunnel)
	}
	if c == nil && t.ended.Len() > 0 {
		c = t.rejoin(k, src, dst, p)
	}
	if c == nil {
		if t.keepSYN(k, t.nextID+1, src, p) {
			t.nextID++
			t.setSYN(p)
			if p.TS-t.lastSweep > int64(time.Second) {
				t.sweep(p.TS)
			}
			return nil
		}
		c = t.newConn(k, src, dst, p)
	}
	var d events.Dir
	if src != c.Client {
		d = events.DirS2C
	}
	if (keyed || t.last == nil) && k.tun == 0 {
		t.last, t.lastA, t.lastB, t.lastDir = c, src, dst, d
	}
	wasClosed := c.Closed()
	t.update(c, d, p)
	if !wasClosed && c.Closed() {
		t.closed = append(t.closed, c)
		t.nclosed++
	}
	if k.tun != 0 && c.packets[d] == 1 && c.packets[1-d] > 0 {
		if hk := k.untunneled(); t.half[hk] == c {
			delete(t.half, hk) // seen both ways under one identifier
		}
	}
	if p.TS-t.lastSweep > int64(time.Second) {
		t.sweep(p.TS)
	}
	return c
}

// cached returns the connection of the previous packet outside a tenant's
// tunnel when p (from src to dst) has the same 4-tuple either way:
// consecutive packets usually share a connection, and comparing the tuple
// costs less than building the key and hashing it.
func (t *Table) cached(src, dst netip.AddrPort, tun events.Tunnel) (*Conn, events.Dir) {
	if t.last == nil || tun.Tenant() || t.noCache {
		return nil, 0
	}
	if src == t.lastA && dst == t.lastB {
		return t.last, t.lastDir
	}
	if src == t.lastB && dst == t.lastA {
		return t.last, t.lastDir ^ 1
	}
	return nil, 0
}

// joinReverse finds the connection that a packet inside a tenant's tunnel
// answers under another identifier: some overlays (Geneve and VXLAN set up
// per direction) carry one connection with a different VNI each way. It is
// the latest connection on the same 4-tuple seen only the other way, and
// the packet must fit it: a SYN answering its SYN/ACK, or an
// acknowledgment within 1 GiB of its sequence numbers. The same tuple in
// two tenants seen both ways stays two connections.
func (t *Table) joinReverse(k key, src netip.AddrPort, p *events.Packet) *Conn {
	hk := k.untunneled()
	c := t.half[hk]
	if c == nil {
		return nil
	}
	d := events.DirC2S
	if src != c.Client {
		d = events.DirS2C
	}
	o := 1 - d
	if c.packets[d] > 0 || c.packets[o] == 0 {
		return nil
	}
	switch {
	case p.Flags&events.FlagACK != 0 && c.baseSet[o]:
		if diff := int32(p.Ack - c.base[o]); diff < -(1<<30) || diff > 1<<30 {
			return nil
		}
	case p.Flags&events.FlagSYN != 0 && c.synSeen[o]:
	default:
		return nil
	}
	delete(t.half, hk)
	t.conns[k] = c
	return c
}

// isNewConnection tells a SYN that opens a new connection on a reused tuple
// from a retransmitted SYN of the current one.
func (t *Table) isNewConnection(c *Conn, src netip.AddrPort, p *events.Packet) bool {
	return opensNew(src == c.Client, c.synSeen, c.synSeq[0], c.base[0], c.Closed() || c.bytes[0]+c.bytes[1] > 0, c.last, p)
}

// opensNew is isNewConnection on the fields it reads, for live connections
// and for those that left the table (ended.go): fromClient tells who sent
// the SYN p, closedOrData that the connection closed or carried payload.
func opensNew(fromClient bool, synSeen [2]bool, clientISN, clientBase uint32, closedOrData bool, last int64, p *events.Packet) bool {
	if !fromClient {
		return true // the old server now connects out: certainly a new connection
	}
	if synSeen[0] && clientISN == p.Seq {
		return false // a SYN retry
	}
	if !synSeen[0] && synSeen[1] && clientBase == p.Seq {
		// The SYN that the SYN/ACK already captured answers (multi-queue
		// NICs reorder them): the same connection, as in Wireshark.
		return false
	}
	return closedOrData || !synSeen[0] || p.TS-last > int64(time.Second)*30
}

func (t *Table) newConn(k key, src, dst netip.AddrPort, p *events.Packet) *Conn {
	client, server := src, dst
	switch {
	case p.Flags&events.FlagSYN != 0 && p.Flags&events.FlagACK != 0:
		client, server = dst, src // a SYN/ACK comes from the server
	case p.Flags&events.FlagSYN != 0:
	case serverPort(src.Port(), dst.Port()):
		// Mid-stream with no handshake: the source port looks like the
		// service's, the destination's like a client's.
		client, server = dst, src
	}
	t.nextID++
	c := &Conn{ID: t.nextID, Client: client, Server: server, wscale: [2]int8{-1, -1},
		first: p.TS, firstFrame: p.Frame, encap: p.Encap}
	t.add(k, c)
	return c
}

// add puts a new or rejoining connection in the table under key k.
func (t *Table) add(k key, c *Conn) {
	t.conns[k] = c
	if k.tun != 0 {
		t.half[k.untunneled()] = c
	}
	t.byID[c.ID] = c
}

// serverPort reports whether port a is more likely a server's than port b,
// for connections whose handshake was not captured: a well-known port
// (below 1024) against any other, or a registered port against one from
// the ephemeral ranges (Linux 32768-60999, IANA 49152-65535). Otherwise the
// sender of the first packet stays the client.
func serverPort(a, b uint16) bool {
	switch {
	case a < 1024 && b >= 1024:
		return true
	case b < 1024:
		return false
	}
	return a < 32768 && b >= 32768
}

// History letters (Zeek): upper case for the client, lower for the server.
const (
	histSYN = 1 << iota
	histSYNACK
	histACK
	histData
	histFIN
	histRST
	histRetrans
	histZeroWin
)

func (c *Conn) mark(d events.Dir, bit uint16, letter byte) {
	if c.history[d]&bit != 0 {
		return
	}
	c.history[d] |= bit
	if d == events.DirS2C {
		letter += 'a' - 'A'
	}
	if int(c.nhist) < len(c.hist) {
		c.hist[c.nhist] = letter
		c.nhist++
	}
}

// MarkRetransmission records a retransmission in the history string.
func (c *Conn) MarkRetransmission(d events.Dir) { c.mark(d, histRetrans, 'T') }

// count adds p to the counters of direction d.
func (c *Conn) count(d events.Dir, p *events.Packet) {
	c.last = p.TS
	c.lastFrame = p.Frame
	// A clock that stepped back must not make a connection end before it
	// began: first is the earliest time, last the last packet's (which
	// ageing needs), so first <= last whatever the order.
	c.first = min(c.first, p.TS)
	if c.packets[d] == 0 {
		c.tunnel[d] = p.Tunnel
	}
	c.packets[d]++
	c.bytes[d] += uint64(p.Len)
	c.wire[d] += uint64(p.WireLen)
}

// notePerm records SACK permitted once both sides' SYNs are in.
func (c *Conn) notePerm(p *events.Packet) {
	// The option's own test first: only SYNs carry it.
	if p.Options.SACKPerm && !c.sackPerm && c.synSeen[0] && c.synSeen[1] {
		c.sackPerm = true
	}
}

// markSegment records data or a bare ACK in the history (one call of mark,
// so that it is inlined).
func (c *Conn) markSegment(d events.Dir, p *events.Packet) {
	bit, letter := uint16(histData), byte('D')
	if p.Len == 0 {
		if p.Flags&(events.FlagSYN|events.FlagFIN|events.FlagRST) != 0 || p.Flags&events.FlagACK == 0 {
			return
		}
		bit, letter = histACK, 'A'
	}
	c.mark(d, bit, letter)
}

func (t *Table) update(c *Conn, d events.Dir, p *events.Packet) {
	c.count(d, p)
	f := p.Flags
	if f&events.FlagSYN != 0 {
		if !c.synSeen[d] {
			c.synSeen[d] = true
			c.synSeq[d] = p.Seq
			c.base[d], c.baseSet[d] = p.Seq, true
			if p.Options.HasWScale {
				c.wscale[d] = int8(p.Options.WScale)
			}
			c.mss[d] = p.Options.MSS
			if f&events.FlagACK == 0 {
				c.synAt = p.TS
			} else {
				c.synAckAt = p.TS
			}
		}
		if f&events.FlagACK != 0 {
			c.mark(d, histSYNACK, 'H')
		} else {
			c.mark(d, histSYN, 'S')
		}
	}
	if !c.baseSet[d] {
		c.base[d], c.baseSet[d] = p.Seq-1, true
	}
	if f&events.FlagACK != 0 && !c.baseSet[d^1] {
		c.base[d^1], c.baseSet[d^1] = p.Ack-1, true
	}
	if f&events.FlagFIN != 0 {
		if !c.finSeen[d] {
			c.finSeq[d] = p.Seq + p.Len
		}
		c.finSeen[d] = true
		c.mark(d, histFIN, 'F')
	}
	if f&events.FlagACK != 0 && c.finSeen[d^1] && !c.finAcked[d^1] && events.SeqGreater(p.Ack, c.finSeq[d^1]) {
		c.finAcked[d^1] = true
		if c.finAcked[d] && !c.done && t.cfg.FinLinger > 0 {
			c.done, c.doneAt = true, p.TS
			t.done = append(t.done, c)
		}
	}
	if f&events.FlagRST != 0 {
		c.rstSeen[d] = true
		c.mark(d, histRST, 'R')
		if !c.done && t.cfg.FinLinger > 0 {
			c.done, c.doneAt = true, p.TS
			t.done = append(t.done, c)
		}
	}
	c.markSegment(d, p)
	if p.Window == 0 && f&(events.FlagSYN|events.FlagFIN|events.FlagRST) == 0 {
		c.mark(d, histZeroWin, 'W')
	}
	if p.Window == 0 || c.zw[d] { // else zeroWindow has nothing to do
		c.zeroWindow(d, p)
	}
	// The handshake completes with the client's first ACK after the SYN/ACK.
	if !c.hsSeen && d == events.DirC2S && f&events.FlagSYN == 0 && f&events.FlagACK != 0 &&
		c.synSeen[0] && c.synSeen[1] && c.synAckAt != 0 {
		c.hsSeen = true
		if rtt := p.TS - c.synAt; rtt > 0 { // none when the clock stepped back
			c.hsRTT = rtt
		}
	}
	c.notePerm(p)
	// Steady: a packet without SYN, FIN or RST that advertises an open
	// window would change nothing above but the counters, the history's
	// data or ACK letter and sackPerm (Observe's shortcut).
	c.steady = c.baseSet[0] && c.baseSet[1] && !c.finSeen[0] && !c.finSeen[1] && !c.zw[0] && !c.zw[1] &&
		(c.hsSeen || !c.synSeen[0] || !c.synSeen[1] || c.synAckAt == 0)
	c.setShift()
	c.relative(d, p)
}

// relative fills p's connection, direction, relative numbers and scaled
// window.
func (c *Conn) relative(d events.Dir, p *events.Packet) {
	p.Flow, p.Dir = c.ID, d
	p.RelSeq = p.Seq - c.base[d]
	p.RelAck = 0
	if p.Flags&events.FlagACK != 0 {
		p.RelAck = p.Ack - c.base[d^1] // update set the base an ACK counts from
	}
	p.WindowScaled = -1
	if p.Flags&events.FlagSYN != 0 {
		p.WindowScaled = int64(p.Window) // never scaled (RFC 7323)
	} else if s := c.shift[d]; s >= 0 {
		p.WindowScaled = int64(p.Window) << s
	}
}

// setShift sets the window shift of both directions once both SYNs are in:
// scaling is on only when both sides offered it.
func (c *Conn) setShift() {
	switch {
	case !c.synSeen[0] || !c.synSeen[1]:
		c.shift = [2]int8{-1, -1} // unknown
	case c.wscale[0] >= 0 && c.wscale[1] >= 0:
		c.shift = c.wscale
	default:
		c.shift = [2]int8{}
	}
}

// zeroWindow follows the time a side's receive window was zero: from a
// packet advertising a zero window (as the detectors' zero_window: never a
// SYN, FIN or RST) to that side's next packet with an open window (an RST's
// window means nothing). Both sides' periods are joined, so time when both
// were zero counts once.
func (c *Conn) zeroWindow(d events.Dir, p *events.Packet) {
	f := p.Flags
	switch {
	case f&(events.FlagSYN|events.FlagRST) != 0:
	case p.Window == 0 && f&events.FlagFIN == 0 && !c.zw[d]:
		if !c.zw[d^1] {
			c.zwFrom = p.TS
		}
		c.zw[d] = true
	case p.Window != 0 && c.zw[d]:
		c.zw[d] = false
		if !c.zw[d^1] && p.TS > c.zwFrom {
			c.zwTotal += p.TS - c.zwFrom
		}
	}
}

// ZeroWindow is the time (ns) during which either side advertised a zero
// window, up to the last packet for a window still closed.
func (c *Conn) ZeroWindow() int64 {
	t := c.zwTotal
	if (c.zw[0] || c.zw[1]) && c.last > c.zwFrom {
		t += c.last - c.zwFrom
	}
	return t
}

// expireDone lets the connections that ended leave once they have been
// quiet for FinLinger. One that saw a packet after a normal end (a late
// retransmission) goes back to the sweep and CloseLinger; one reset waits
// FinLinger again from its last packet (the peer's packets still in flight
// draw more resets).
func (t *Table) expireDone(now int64) {
	linger := int64(t.cfg.FinLinger)
	for t.doneHead < len(t.done) {
		c := t.done[t.doneHead]
		if !c.gone && c.last == c.doneAt && now-c.last <= linger {
			break // the oldest is still lingering: so are the others
		}
		t.done[t.doneHead] = nil
		t.doneHead++
		switch {
		case c.gone:
			// Already gone (a new connection on the tuple, MaxClosed).
		case c.last != c.doneAt && (c.rstSeen[0] || c.rstSeen[1]):
			c.doneAt = c.last
			t.done = append(t.done, c)
		case c.last != c.doneAt:
			c.done = false
		default:
			t.expire(c)
		}
	}
	t.done, t.doneHead = compact(t.done, t.doneHead)
}

// boundClosed expires the connections that closed longest ago while more
// than MaxClosed closed ones are in the table.
func (t *Table) boundClosed() {
	for t.cfg.MaxClosed > 0 && t.nclosed > t.cfg.MaxClosed && t.closedHead < len(t.closed) {
		c := t.closed[t.closedHead]
		t.closed[t.closedHead] = nil
		t.closedHead++
		if !c.gone {
			t.expire(c)
		}
	}
	t.closed, t.closedHead = compact(t.closed, t.closedHead)
	// Most closed connections leave by the linger, not from the head:
	// drop the queue's entries for them once they outnumber the rest.
	if n := len(t.closed) - t.closedHead; n > 2*t.nclosed+64 {
		live := t.closed[:0]
		for _, c := range t.closed[t.closedHead:] {
			if !c.gone {
				live = append(live, c)
			}
		}
		clear(t.closed[len(live):])
		t.closed, t.closedHead = live, 0
	}
}

// compact moves a queue's entries from head to the front once half of it
// is spent.
func compact(q []*Conn, head int) ([]*Conn, int) {
	if head == 0 || head*2 < len(q) {
		return q, head
	}
	n := copy(q, q[head:])
	clear(q[n:])
	return q[:n], 0
}

// sweep expires closed and idle connections.
func (t *Table) sweep(now int64) {
	t.lastSweep = now
	linger, idle := int64(t.cfg.CloseLinger), int64(t.cfg.IdleTimeout)
	gone := t.gone[:0]
	for _, c := range t.byID {
		age := now - c.last
		if (linger > 0 && c.Closed() && age > linger) || (idle > 0 && age > idle) {
			gone = append(gone, c)
		}
	}
	// In id order, half-open connections among the others, so that the
	// summaries come out in the same order in every run.
	slices.SortFunc(gone, func(a, b *Conn) int { return cmp.Compare(a.ID, b.ID) })
	s := &t.syns
	i := 0
	for _, c := range gone {
		for ; idle > 0 && i < s.n && s.at(i).id < c.ID; i++ {
			if r := s.at(i); !r.dead && now-r.ts > idle {
				t.expireSYN(i)
			}
		}
		t.expire(c)
	}
	for ; idle > 0 && i < s.n; i++ {
		if r := s.at(i); !r.dead && now-r.ts > idle {
			t.expireSYN(i)
		}
	}
	clear(gone)
	t.gone = gone[:0]
}

// expire lets c leave the table and remembers it for a packet that
// continues it.
func (t *Table) expire(c *Conn) { t.leave(c, !t.flushing) }

// leave lets c leave the table; remember keeps what rejoining it needs (not
// for a connection a new one replaces on its tuple, nor at the end).
func (t *Table) leave(c *Conn, remember bool) {
	if c.Closed() {
		t.nclosed--
	}
	for _, tun := range [...]events.Tunnel{c.tunnel[0], c.tunnel[1], 0} {
		if k := makeKey(c.Client, c.Server, tun); t.conns[k] == c {
			delete(t.conns, k)
			if remember {
				t.remember(k, c)
			}
		}
	}
	if k := makeKey(c.Client, c.Server, 0); t.half[k] == c {
		delete(t.half, k)
	}
	delete(t.byID, c.ID)
	c.gone = true // the queues test this instead of looking the id up
	if t.last == c {
		t.last = nil
	}
	if t.onExpire != nil {
		t.onExpire(c)
	}
}

// Flush expires every connection, in id order (end of input).
func (t *Table) Flush() {
	cs := make([]*Conn, 0, len(t.byID))
	for _, c := range t.byID {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *Conn) int { return cmp.Compare(a.ID, b.ID) })
	t.flushing = true // nothing comes after: nothing to remember
	defer func() { t.flushing = false }()
	// Merge with the half-open records, already in id order.
	s := &t.syns
	i := 0
	for _, c := range cs {
		for ; i < s.n && s.at(i).id < c.ID; i++ {
			if !s.at(i).dead {
				t.expireSYN(i)
			}
		}
		t.expire(c)
	}
	for ; i < s.n; i++ {
		if !s.at(i).dead {
			t.expireSYN(i)
		}
	}
	if t.Len() > 0 { // made a Conn while the others left
		t.Flush()
	}
}

// Record fills r with the connection's summary (flows.jsonl): counters,
// handshake figures, the end state and Zeek conn_state, and what the
// pipeline added.
func (c *Conn) Record(r *events.FlowRecord) {
	*r = events.FlowRecord{
		Type: "flow", Flow: c.ID,
		Client: c.Client.String(), Server: c.Server.String(),
		ClientAddr: c.Client.Addr().String(), ServerAddr: c.Server.Addr().String(),
		ClientPort: c.Client.Port(), ServerPort: c.Server.Port(),
		First: events.Timestamp(c.first), Last: events.Timestamp(c.last),
		DurationMS: float64(c.last-c.first) / 1e6,
		FirstFrame: c.firstFrame, LastFrame: c.lastFrame,
		PacketsC2S: c.packets[0], PacketsS2C: c.packets[1],
		BytesC2S: c.bytes[0], BytesS2C: c.bytes[1],
		WireC2S: c.wire[0], WireS2C: c.wire[1],
		HandshakeSeen: c.hsSeen,
		WScaleC2S:     int(c.wscale[0]), WScaleS2C: int(c.wscale[1]),
		MSSC2S: c.mss[0], MSSS2C: c.mss[1],
		SACKPermitted: c.sackPerm,
		History:       string(c.hist[:c.nhist]),
	}
	if c.hsSeen {
		r.HandshakeRTTms = float64(c.hsRTT) / 1e6
	}
	r.Encap = c.encap
	r.Tunnel = c.flowTunnel()
	r.End, r.State = c.endState()
	r.SetZeroWindow(c.ZeroWindow())
	if x := c.Extra; x != nil {
		if len(x.Events) > 0 {
			r.Events = make(map[string]int, len(x.Events))
			for _, e := range x.Events {
				r.Events[e.Type] = e.Count
			}
		}
		r.Retransmitted = x.Retransmitted
		r.PID, r.Comm = x.PID, x.Comm
		r.Resumed = x.Resumed
	}
}

// flowTunnel is the connection's tunnel for its record, nil outside one.
func (c *Conn) flowTunnel() *events.FlowTunnel {
	t, peer := c.tunnel[0], c.tunnel[1]
	if t == 0 {
		t, peer = peer, 0
	}
	if t == 0 {
		return nil
	}
	ft := &events.FlowTunnel{Kind: t.Kind(), ID: t.ID()}
	if peer != 0 && peer != t {
		id := peer.ID()
		ft.PeerID = &id
	}
	return ft
}

// endState is how the connection ended and its Zeek conn_state.
func (c *Conn) endState() (end, state string) {
	synC, synAckS := c.history[0]&histSYN != 0, c.history[1]&histSYNACK != 0
	established := synC && synAckS
	switch {
	case synC && !synAckS && c.rstSeen[1]:
		return "refused", "REJ"
	case synC && !synAckS && c.rstSeen[0]:
		return "rst", "RSTOS0"
	case synC && !synAckS && c.finSeen[0]:
		return "half_closed", "SH"
	case synC && !synAckS && c.packets[1] == 0:
		return "no_answer", "S0"
	case !synC && synAckS && c.rstSeen[1]:
		return "rst", "RSTRH"
	case !synC && synAckS && c.finSeen[1]:
		return "half_closed", "SHR"
	case c.rstSeen[0] || c.rstSeen[1]:
		state = "RSTR"
		if c.rstSeen[0] {
			state = "RSTO"
		}
		if !established {
			state = "OTH"
		}
		return "rst", state
	case c.finSeen[0] && c.finSeen[1]:
		if !established {
			return "fin", "OTH"
		}
		return "fin", "SF"
	case c.finSeen[0] || c.finSeen[1]:
		state = "S2"
		if c.finSeen[1] {
			state = "S3"
		}
		if !established {
			state = "OTH"
		}
		return "half_closed", state
	default:
		if !established {
			return "open", "OTH"
		}
		return "open", "S1"
	}
}
