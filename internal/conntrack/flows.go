// Package conntrack keeps the connection table: it gives every TCP packet its
// connection id and direction, relative sequence numbers and scaled window,
// and keeps one summary per connection (flows.jsonl, the tcplife table).
//
// Connection ids start at 1 in order of first appearance (0 means "no
// connection"), so flow N is usually Wireshark's tcp.stream N-1.
// Connections are told apart the way Wireshark's tcp.stream does: by the
// 4-tuple, with a new connection when a fresh SYN (a new ISN) reuses the
// tuple of a closed one. Closed and idle connections are expired on capture
// time so memory stays bounded by live connections, not by file length.
package conntrack

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// Config bounds the table.
type Config struct {
	// CloseLinger keeps a closed connection (FIN both ways, or RST) this long
	// after its last packet, so late retransmissions still find it.
	CloseLinger time.Duration
	// IdleTimeout expires a connection with no packet for this long.
	IdleTimeout time.Duration
}

// DefaultConfig returns the defaults documented in docs/events.md.
func DefaultConfig() Config {
	return Config{CloseLinger: 60 * time.Second, IdleTimeout: 15 * time.Minute}
}

type key struct {
	a, b netip.AddrPort // a < b, so both directions share a key
}

func makeKey(src, dst netip.AddrPort) key {
	if src.Compare(dst) < 0 {
		return key{src, dst}
	}
	return key{dst, src}
}

// Conn is one connection.
type Conn struct {
	ID     uint64
	Client netip.AddrPort
	Server netip.AddrPort

	base     [2]uint32 // sequence base per direction (ISN, or first seq - 1)
	baseSet  [2]bool
	synSeq   [2]uint32 // ISN from the SYN, to tell a SYN retry from a new connection
	synSeen  [2]bool
	wscale   [2]int // advertised shift per direction, -1 unknown
	finSeen  [2]bool
	rstSeen  [2]bool
	history  [2]uint16 // bit per history letter already recorded
	synAt    int64
	synAckAt int64
	last     int64

	// Rec is the summary written to flows.jsonl; the pipeline adds event
	// counts, RTT figures and kernel data to it.
	Rec events.FlowRecord
}

// Closed reports whether both sides sent FIN or either sent RST.
func (c *Conn) Closed() bool { return (c.finSeen[0] && c.finSeen[1]) || c.rstSeen[0] || c.rstSeen[1] }

// Base returns the sequence base of a direction, for relative numbers.
func (c *Conn) Base(d events.Dir) (uint32, bool) { return c.base[d], c.baseSet[d] }

// WScale returns the window shift a direction advertised, or -1.
func (c *Conn) WScale(d events.Dir) int { return c.wscale[d] }

// Table is the connection table. It is not safe for concurrent use.
type Table struct {
	cfg       Config
	conns     map[key]*Conn
	byID      map[uint64]*Conn
	nextID    uint64
	lastSweep int64
	onExpire  func(*Conn)
}

// New returns a Table. onExpire is called for every connection that leaves
// the table (expired, replaced by a new connection on the same tuple, or at
// Flush), after its summary is final.
func New(cfg Config, onExpire func(*Conn)) *Table {
	return &Table{cfg: cfg, conns: make(map[key]*Conn), byID: make(map[uint64]*Conn), onExpire: onExpire}
}

// Len is the number of connections in the table.
func (t *Table) Len() int { return len(t.conns) }

// Get returns a live connection by id.
func (t *Table) Get(id uint64) *Conn { return t.byID[id] }

// Lookup finds the live connection of a 4-tuple and the direction of a
// packet from src to dst.
func (t *Table) Lookup(src, dst netip.AddrPort) (*Conn, events.Dir, bool) {
	c := t.conns[makeKey(src, dst)]
	if c == nil {
		return nil, 0, false
	}
	if c.Client == src {
		return c, events.DirC2S, true
	}
	return c, events.DirS2C, true
}

// Observe assigns p to its connection and fills Flow, Dir, RelSeq, RelAck and
// WindowScaled. It returns the connection.
func (t *Table) Observe(p *events.Packet) *Conn {
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	k := makeKey(src, dst)
	c := t.conns[k]
	syn := p.Flags&events.FlagSYN != 0 && p.Flags&events.FlagACK == 0
	if c != nil && syn && t.isNewConnection(c, src, p) {
		t.expire(k, c)
		c = nil
	}
	if c == nil {
		c = t.newConn(k, src, dst, p)
	}
	var d events.Dir
	if src != c.Client {
		d = events.DirS2C
	}
	t.update(c, d, p)
	if p.TS-t.lastSweep > int64(time.Second) {
		t.sweep(p.TS)
	}
	return c
}

// isNewConnection tells a SYN that opens a new connection on a reused tuple
// from a retransmitted SYN of the current one.
func (t *Table) isNewConnection(c *Conn, src netip.AddrPort, p *events.Packet) bool {
	if src != c.Client {
		return true // the old server now connects out: certainly a new connection
	}
	if c.synSeen[0] && c.synSeq[0] == p.Seq {
		return false // a SYN retry
	}
	return c.Closed() || c.Rec.BytesC2S+c.Rec.BytesS2C > 0 || !c.synSeen[0] || p.TS-c.last > int64(time.Second)*30
}

func (t *Table) newConn(k key, src, dst netip.AddrPort, p *events.Packet) *Conn {
	client, server := src, dst
	switch {
	case p.Flags&events.FlagSYN != 0 && p.Flags&events.FlagACK != 0:
		client, server = dst, src // a SYN/ACK comes from the server
	case p.Flags&events.FlagSYN != 0:
	case src.Port() < 1024 && dst.Port() >= 1024:
		// Mid-stream with no handshake: a well-known source port marks the server.
		client, server = dst, src
	}
	t.nextID++
	c := &Conn{ID: t.nextID, Client: client, Server: server, wscale: [2]int{-1, -1}}
	c.Rec = events.FlowRecord{
		Type: "flow", Flow: c.ID,
		Client: client.String(), Server: server.String(),
		ClientAddr: client.Addr().String(), ServerAddr: server.Addr().String(),
		ClientPort: client.Port(), ServerPort: server.Port(),
		First: events.Timestamp(p.TS), FirstFrame: p.Frame,
		WScaleC2S: -1, WScaleS2C: -1,
	}
	t.conns[k] = c
	t.byID[c.ID] = c
	return c
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
	c.Rec.History += string(letter)
}

// MarkRetransmission records a retransmission in the history string.
func (c *Conn) MarkRetransmission(d events.Dir) { c.mark(d, histRetrans, 'T') }

func (t *Table) update(c *Conn, d events.Dir, p *events.Packet) {
	r := &c.Rec
	c.last = p.TS
	r.Last = events.Timestamp(p.TS)
	r.LastFrame = p.Frame
	r.DurationMS = float64(int64(r.Last)-int64(r.First)) / 1e6
	if d == events.DirC2S {
		r.PacketsC2S++
		r.BytesC2S += uint64(p.Len)
		r.WireC2S += uint64(p.WireLen)
	} else {
		r.PacketsS2C++
		r.BytesS2C += uint64(p.Len)
		r.WireS2C += uint64(p.WireLen)
	}

	f := p.Flags
	if f&events.FlagSYN != 0 {
		if !c.synSeen[d] {
			c.synSeen[d] = true
			c.synSeq[d] = p.Seq
			c.base[d], c.baseSet[d] = p.Seq, true
			if p.Options.HasWScale {
				c.wscale[d] = int(p.Options.WScale)
			}
			if d == events.DirC2S {
				r.MSSC2S = p.Options.MSS
			} else {
				r.MSSS2C = p.Options.MSS
			}
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
		c.finSeen[d] = true
		c.mark(d, histFIN, 'F')
	}
	if f&events.FlagRST != 0 {
		c.rstSeen[d] = true
		c.mark(d, histRST, 'R')
	}
	if p.Len > 0 {
		c.mark(d, histData, 'D')
	} else if f&(events.FlagSYN|events.FlagFIN|events.FlagRST) == 0 && f&events.FlagACK != 0 {
		c.mark(d, histACK, 'A')
	}
	if p.Window == 0 && f&(events.FlagSYN|events.FlagFIN|events.FlagRST) == 0 {
		c.mark(d, histZeroWin, 'W')
	}
	// The handshake completes with the client's first ACK after the SYN/ACK.
	if !r.HandshakeSeen && d == events.DirC2S && f&events.FlagSYN == 0 && f&events.FlagACK != 0 &&
		c.synSeen[0] && c.synSeen[1] && c.synAckAt != 0 {
		r.HandshakeSeen = true
		r.HandshakeRTTms = float64(p.TS-c.synAt) / 1e6
	}
	if c.synSeen[0] && c.synSeen[1] {
		r.SACKPermitted = r.SACKPermitted || p.Options.SACKPerm
	}

	p.Flow = c.ID
	p.Dir = d
	p.RelSeq = p.Seq - c.base[d]
	if c.baseSet[d^1] {
		p.RelAck = p.Ack - c.base[d^1]
	}
	if f&events.FlagACK == 0 {
		p.RelAck = 0
	}
	p.WindowScaled = -1
	switch {
	case f&events.FlagSYN != 0:
		p.WindowScaled = int64(p.Window) // never scaled (RFC 7323)
	case c.synSeen[0] && c.synSeen[1]:
		shift := 0
		if c.wscale[0] >= 0 && c.wscale[1] >= 0 {
			shift = c.wscale[d] // scaling is on only when both sides offered it
		}
		p.WindowScaled = int64(p.Window) << shift
	}
}

// sweep expires closed and idle connections.
func (t *Table) sweep(now int64) {
	t.lastSweep = now
	linger, idle := int64(t.cfg.CloseLinger), int64(t.cfg.IdleTimeout)
	for k, c := range t.conns {
		age := now - c.last
		if (linger > 0 && c.Closed() && age > linger) || (idle > 0 && age > idle) {
			t.expire(k, c)
		}
	}
}

func (t *Table) expire(k key, c *Conn) {
	delete(t.conns, k)
	delete(t.byID, c.ID)
	c.finish()
	if t.onExpire != nil {
		t.onExpire(c)
	}
}

// Flush expires every connection, in id order (end of input).
func (t *Table) Flush() {
	cs := make([]*Conn, 0, len(t.conns))
	for _, c := range t.conns {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *Conn) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range cs {
		t.expire(makeKey(c.Client, c.Server), c)
	}
}

// finish computes the end state and the Zeek conn_state.
func (c *Conn) finish() {
	r := &c.Rec
	r.WScaleC2S, r.WScaleS2C = c.wscale[0], c.wscale[1]
	synC, synAckS := c.history[0]&histSYN != 0, c.history[1]&histSYNACK != 0
	established := synC && synAckS
	switch {
	case synC && !synAckS && c.rstSeen[1]:
		r.End, r.State = "refused", "REJ"
	case synC && !synAckS && c.rstSeen[0]:
		r.End, r.State = "rst", "RSTOS0"
	case synC && !synAckS && c.finSeen[0]:
		r.End, r.State = "half_closed", "SH"
	case synC && !synAckS && r.PacketsS2C == 0:
		r.End, r.State = "no_answer", "S0"
	case !synC && synAckS && c.rstSeen[1]:
		r.End, r.State = "rst", "RSTRH"
	case !synC && synAckS && c.finSeen[1]:
		r.End, r.State = "half_closed", "SHR"
	case c.rstSeen[0] || c.rstSeen[1]:
		r.End = "rst"
		r.State = "RSTR"
		if c.rstSeen[0] {
			r.State = "RSTO"
		}
		if !established {
			r.State = "OTH"
		}
	case c.finSeen[0] && c.finSeen[1]:
		r.End, r.State = "fin", "SF"
		if !established {
			r.State = "OTH"
		}
	case c.finSeen[0] || c.finSeen[1]:
		r.End = "half_closed"
		r.State = "S2"
		if c.finSeen[1] {
			r.State = "S3"
		}
		if !established {
			r.State = "OTH"
		}
	default:
		r.End = "open"
		r.State = "S1"
		if !established {
			r.State = "OTH"
		}
	}
}
