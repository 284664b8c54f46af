package conntrack

import (
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
)

// A connection leaves the table soon after it ends (FinLinger after a RST
// or acknowledged FINs) or after IdleTimeout without a packet, so memory
// follows the live connections. A packet may still come later that
// continues it: the peer's data in flight after a RST, a late FIN
// retransmission, an SSH session quiet for an hour, a capture that replays
// a connection. Wireshark keeps such a packet in the connection's stream
// (its tcp.stream changes only on a SYN with a new initial sequence
// number), and so does tcpviz: the table remembers the last MaxEnded
// connections that left it, each in a small record without pointers (key,
// id, sequence bases, the SYNs' sequence numbers, window scales: 88
// bytes, which the garbage collector never scans), looked at only when a
// packet finds no live connection. A packet that continues one rejoins it
// under the same id, with the same client, sequence bases and window
// scales; a SYN that opens a new connection by the rules of
// isNewConnection starts a new one as before.
//
// The connection's record was written when it left, so a rejoined
// connection writes another record with the same id when it leaves again:
// its figures cover the packets since it came back, and "resumed" counts
// the records of that id before it (docs/events.md).

// endedConn is what the table remembers of a connection that left it
// (recent.Table adds the 48-byte key: 88 bytes in all).
type endedConn struct {
	id     uint64
	last   int64 // its last packet
	base   [2]uint32
	synSeq [2]uint32
	parts  uint32 // records written for the id
	wscale [2]int8
	bits   uint8
}

const (
	endClientA = 1 << iota // the client is the key's side a
	endBase0
	endBase1
	endSYN0
	endSYN1
	endClosedOrData // closed, or carried payload (isNewConnection)
)

// remember keeps what rejoining c under key k needs.
func (t *Table) remember(k key, c *Conn) {
	if t.cfg.MaxEnded <= 0 {
		return
	}
	n := endedConn{id: c.ID, last: c.last, base: c.base, synSeq: c.synSeq, wscale: c.wscale, parts: 1}
	if c.Extra != nil {
		n.parts = uint32(c.Extra.Resumed) + 1
	}
	for _, b := range [...]struct {
		on  bool
		bit uint8
	}{{c.Client.Compare(c.Server) <= 0, endClientA}, // makeKey puts the lower end first
		{c.baseSet[0], endBase0}, {c.baseSet[1], endBase1}, {c.synSeen[0], endSYN0}, {c.synSeen[1], endSYN1},
		{c.Closed() || c.bytes[0]+c.bytes[1] > 0, endClosedOrData}} {
		if b.on {
			n.bits |= b.bit
		}
	}
	t.ended.Add(k, n)
}

// rejoin returns the connection that p continues among those that left,
// back in the table under its id; nil when there is none or p is a SYN
// that opens a new connection.
func (t *Table) rejoin(k key, src, dst netip.AddrPort, p *events.Packet) *Conn {
	e, ok := t.ended.Take(k)
	if !ok {
		return nil
	}
	if t.byID[e.id] != nil {
		return nil // back already, under its other direction's tunnel identifier
	}
	fromClient := (src.Compare(dst) <= 0) == (e.bits&endClientA != 0)
	syn := p.Flags&events.FlagSYN != 0 && p.Flags&events.FlagACK == 0
	if syn && opensNew(fromClient, [2]bool{e.bits&endSYN0 != 0, e.bits&endSYN1 != 0}, e.synSeq[0], e.base[0],
		e.bits&endClosedOrData != 0, e.last, p) {
		return nil
	}
	client, server := src, dst
	if !fromClient {
		client, server = dst, src
	}
	c := &Conn{ID: e.id, Client: client, Server: server, first: p.TS, firstFrame: p.Frame, encap: p.Encap,
		base: e.base, synSeq: e.synSeq, wscale: e.wscale, Extra: &Extra{Resumed: int(e.parts)},
		baseSet: [2]bool{e.bits&endBase0 != 0, e.bits&endBase1 != 0},
		synSeen: [2]bool{e.bits&endSYN0 != 0, e.bits&endSYN1 != 0}}
	c.setShift()
	t.add(k, c)
	return c
}
