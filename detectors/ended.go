package detectors

import (
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/recent"
)

// A connection that left the flow table (ended and quiet, or idle) may
// come back: a packet that continues it rejoins it under its id
// (internal/conntrack, ended.go). Wireshark analyses such a packet with the
// state its stream had (a replayed segment is a retransmission, an ACK
// that repeats the last one a duplicate ACK), so the engine keeps, for the
// last maxEnded connections it closed, where both directions' sequence
// and acknowledgment numbers stood (seqState: plain values, which the
// garbage collector never scans) and gives that back to the connection
// when its id comes again. The rest (segments awaiting an ACK, RTT
// samples, gaps, limits) starts afresh, as for a connection whose start
// was not captured, and its figures in the connection's next record cover
// the packets since it came back.

// maxEnded is how many closed connections' sequence state is kept: as many
// as the connection table remembers by default.
const maxEnded = conntrack.DefaultMaxEnded

// endedFlow is what the engine keeps of a closed connection.
type endedFlow struct {
	h            [2]seqState
	mruSYN, irtt int64
}

func newEndedTable() recent.Table[uint64, endedFlow] { return recent.New[uint64, endedFlow](maxEnded) }

// remember keeps f's sequence state when it closes.
func (e *Engine) remember(f *flow) {
	e.ended.Add(f.id, endedFlow{h: [2]seqState{f.h[0].seqState, f.h[1].seqState}, mruSYN: f.mruSYN, irtt: f.irtt})
}

// resume gives f, new state for a connection id, the sequence state the
// connection had when it closed, if it did.
func (e *Engine) resume(f *flow) {
	s, ok := e.ended.Take(f.id)
	if !ok {
		return
	}
	f.h[0].seqState, f.h[1].seqState = s.h[0], s.h[1]
	f.mruSYN, f.irtt = s.mruSYN, s.irtt
}
