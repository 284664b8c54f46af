package detectors

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// want is one expected event: type on frame, with kind/reason/count when set.
type want struct {
	frame  uint64
	typ    string
	detail string // kind or reason; "" matches any
	count  int    // 0 matches any
}

func (w want) String() string {
	return fmt.Sprintf("frame %d %s %s count=%d", w.frame, w.typ, w.detail, w.count)
}

func matches(w want, e *events.Event) bool {
	if e.Frame != w.frame || e.Type != w.typ {
		return false
	}
	if w.detail != "" && e.Kind != w.detail && e.Reason != w.detail {
		return false
	}
	return w.count == 0 || e.Count == w.count
}

func describe(evs []events.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  frame %d %s kind=%s reason=%s count=%d ref=%d dir=%s", e.Frame, e.Type, e.Kind, e.Reason, e.Count, e.RefFrame, e.Dir)
	}
	return b.String()
}

type ruleCase struct {
	name     string
	pkts     func() []events.Packet
	advance  time.Duration // Advance to last packet + advance (0: none)
	want     []want
	never    []want // none of these may appear (frame 0 = on any frame)
	noTshark string // why the tshark comparison does not apply
}

const ms = time.Millisecond

var ruleCases = []ruleCase{
	{
		name: "clean transfer has no findings, and RTT samples",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 1000).after(ms).data(0, 1001, 1000)
			c.after(10*ms).ack(1, 2001).after(ms).send(0, FA, 2001, 1, 0, 502).after(ms).send(1, FA, 1, 2002, 0, 502)
			c.after(ms).ack(0, 2)
			return c.pkts
		},
		want: []want{{3, events.TypeRTTSample, events.ReasonHandshake, 0}, {6, events.TypeRTTSample, events.ReasonDataAck, 0}},
		never: []want{{0, events.TypeRetransmission, "", 0}, {0, events.TypeOutOfOrder, "", 0}, {0, events.TypeDupAck, "", 0},
			{0, events.TypeLossInfer, "", 0}, {0, events.TypeHandshakeAnomaly, "", 0}, {0, events.TypeKeepAlive, "", 0}},
	},
	{
		name: "RTO retransmission without dup ACKs, after an ACK stall",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 1000).after(ms).data(0, 1001, 1000).after(5*ms).ack(1, 1001)
			c.after(300*ms).data(0, 1001, 1000) // frame 7
			return c.pkts
		},
		want: []want{{7, events.TypeRetransmission, events.RetransRTO, 0}, {7, events.TypeLossInfer, events.ReasonRetransNoDupAcks, 0},
			{7, events.TypeLossInfer, events.ReasonAckStall, 0}},
		never: []want{{7, events.TypeOutOfOrder, "", 0}},
	},
	{
		name: "a retransmission by RACK's reorder timer after a SACK is fast, one long after is a timeout",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			for i := uint32(0); i < 4; i++ {
				c.after(100*time.Microsecond).data(0, 1+i*1000, 1000)
			}
			c.after(10*ms).ack(1, 1001)                                                          // frame 8: srtt about 10 ms
			c.after(200*time.Microsecond).send(1, A, 1, 1001, 0, 502, sackOpt(1000, 2001, 4001)) // 9: 1001 still missing
			c.after(15*ms).data(0, 1001, 1000)                                                   // 10: the reorder timer (srtt/2 < 15 ms < 2 srtt + 12 ms)
			c.after(ms).send(1, A, 1, 1001, 0, 502, sackOpt(1000, 2001, 4001))                   // 11
			c.after(100*ms).data(0, 1001, 1000)                                                  // 12: a timeout
			return c.pkts
		},
		want:  []want{{10, events.TypeRetransmission, events.RetransFast, 0}, {12, events.TypeRetransmission, events.RetransRTO, 0}},
		never: []want{{10, events.TypeLossInfer, events.ReasonRetransNoDupAcks, 0}},
	},
	{
		name: "fast retransmission after three dup ACKs; loss inferred at the third, not the second",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			for i := uint32(0); i < 5; i++ {
				c.after(100*time.Microsecond).data(0, 1+i*1000, 1000) // frames 4-8
			}
			c.after(10*ms).ack(1, 1001) // 9
			c.after(ms).ack(1, 1001)    // 10 dup 1
			c.after(ms).ack(1, 1001)    // 11 dup 2
			c.after(ms).ack(1, 1001)    // 12 dup 3
			c.after(ms).data(0, 1001, 1000)
			return c.pkts
		},
		want: []want{{10, events.TypeDupAck, "", 1}, {11, events.TypeDupAck, "", 2}, {12, events.TypeDupAck, "", 3},
			{12, events.TypeLossInfer, events.ReasonTripleDupAck, 3}, {13, events.TypeRetransmission, events.RetransFast, 0}},
		never: []want{{11, events.TypeLossInfer, "", 0}, {13, events.TypeOutOfOrder, "", 0}, {13, events.TypeLossInfer, events.ReasonRetransNoDupAcks, 0}},
	},
	{
		name: "dup ACK refers to the last ACK that changed the ACK number",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 1000).after(ms).data(0, 1001, 1000).after(ms).data(0, 2001, 1000)
			c.after(ms).ack(1, 1001).after(ms).ack(1, 1001).after(ms).ack(1, 2001).after(ms).ack(1, 2001)
			return c.pkts
		},
		want:  []want{{8, events.TypeDupAck, "", 1}, {10, events.TypeDupAck, "", 1}},
		never: []want{{9, events.TypeDupAck, "", 0}},
	},
	{
		name: "three data segments carrying the same ACK number are not dup ACKs",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			for i := uint32(0); i < 4; i++ {
				c.after(ms).data(0, 1+i*100, 100)
			}
			return c.pkts
		},
		never: []want{{0, events.TypeDupAck, "", 0}, {0, events.TypeLossInfer, "", 0}},
	},
	{
		name: "spurious retransmission of data already ACKed",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 1000).after(5*ms).ack(1, 1001).after(200*ms).data(0, 1, 1000)
			return c.pkts
		},
		want: []want{{6, events.TypeRetransmission, events.RetransSpurious, 0}},
	},
	{
		name: "reordering 0,2,1 is flagged: lost segment then out-of-order, not retransmission",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(100*time.Microsecond).data(0, 201, 100).after(100*time.Microsecond).data(0, 101, 100)
			return c.pkts
		},
		want:  []want{{5, events.TypeLostSegment, "", 0}, {6, events.TypeOutOfOrder, "", 0}},
		never: []want{{6, events.TypeRetransmission, "", 0}},
	},
	{
		name: "a retransmission is not also counted as out-of-order",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(50*ms).data(0, 1, 100)
			return c.pkts
		},
		want:  []want{{6, events.TypeRetransmission, events.RetransRTO, 0}},
		never: []want{{6, events.TypeOutOfOrder, "", 0}},
	},
	{
		name: "keep-alives (0 and 1 byte) are not retransmissions and their ACKs not dup ACKs",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).ack(1, 101)
			c.after(75*time.Second).send(0, A, 100, 1, 0, 502).after(ms).ack(1, 101) // 6 keep-alive, 7 its ACK
			c.after(75*time.Second).send(0, A, 100, 1, 1, 502).after(ms).ack(1, 101) // 8 keep-alive, 9 its ACK
			return c.pkts
		},
		want:  []want{{6, events.TypeKeepAlive, "", 0}, {8, events.TypeKeepAlive, "", 0}},
		never: []want{{0, events.TypeRetransmission, "", 0}, {0, events.TypeDupAck, "", 0}, {0, events.TypeLossInfer, "", 0}},
	},
	{
		name: "zero window, and an RST with window 0 is not a zero window",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).send(1, A, 1, 101, 0, 0) // 5 zero window
			c.after(ms).send(1, RA, 1, 101, 0, 0)                          // 6 RST window 0
			return c.pkts
		},
		want:  []want{{5, events.TypeZeroWindow, "", 0}},
		never: []want{{6, events.TypeZeroWindow, "", 0}},
	},
	{
		name: "zero-window probe and its ACK; no ACK stall while the window is closed",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).send(1, A, 1, 101, 0, 0) // 5 zero window
			c.after(300*ms).data(0, 101, 1).after(ms).send(1, A, 1, 101, 0, 0)
			c.after(600*ms).data(0, 101, 1).after(ms).send(1, A, 1, 101, 0, 0)
			return c.pkts
		},
		want: []want{{6, events.TypeZeroWindowProbe, "", 0}, {7, events.TypeZeroWindow, "", 0}, {8, events.TypeZeroWindowProbe, "", 0}},
		never: []want{{0, events.TypeRetransmission, "", 0}, {0, events.TypeDupAck, "", 0}, {0, events.TypeLossInfer, "", 0},
			{0, events.TypeKeepAlive, "", 0}},
	},
	{
		name: "window full at the peer's ACK plus scaled window",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, S, 0, 0, 0, 64240, wsOpt(7)).after(ms).send(1, SA, 0, 1, 0, 65160, wsOpt(7)).after(ms)
			c.send(0, A, 1, 1, 0, 502).after(ms).send(1, A, 1, 1, 0, 10) // 4: window 10<<7 = 1280
			c.after(ms).data(0, 1, 1000).after(ms).data(0, 1001, 280)    // 6 fills it
			return c.pkts
		},
		want:  []want{{6, events.TypeWindowFull, "", 0}},
		never: []want{{5, events.TypeWindowFull, "", 0}},
	},
	{
		name: "SYN retry: retransmission of kind syn and a handshake anomaly with the count",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, S, 0, 0, 0, 64240).after(time.Second).send(0, S, 0, 0, 0, 64240)
			c.after(2*time.Second).send(0, S, 0, 0, 0, 64240).after(ms).send(1, SA, 0, 1, 0, 65160).after(ms).send(0, A, 1, 1, 0, 502)
			return c.pkts
		},
		want: []want{{2, events.TypeRetransmission, events.RetransSYN, 0}, {2, events.TypeHandshakeAnomaly, events.ReasonSYNRetry, 1},
			{3, events.TypeHandshakeAnomaly, events.ReasonSYNRetry, 2}},
		never: []want{{0, events.TypeHandshakeAnomaly, events.ReasonNoSYNACK, 0}},
	},
	{
		name: "SYN never answered: no_syn_ack at the end",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, S, 0, 0, 0, 64240).after(time.Second).send(0, S, 0, 0, 0, 64240).after(2*time.Second).send(0, S, 0, 0, 0, 64240)
			return c.pkts
		},
		want: []want{{3, events.TypeHandshakeAnomaly, events.ReasonNoSYNACK, 2}},
	},
	{
		name: "SYN answered by RST: refused",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, S, 0, 0, 0, 64240).after(ms).send(1, RA, 0, 1, 0, 0)
			return c.pkts
		},
		want:  []want{{2, events.TypeHandshakeAnomaly, events.ReasonRefused, 0}},
		never: []want{{0, events.TypeZeroWindow, "", 0}, {0, events.TypeHandshakeAnomaly, events.ReasonNoSYNACK, 0}},
	},
	{
		name: "a healthy long connection raises no handshake anomaly",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			for i := uint32(0); i < 20; i++ {
				c.after(time.Second).data(0, 1+i*100, 100).after(ms).ack(1, 101+i*100)
			}
			return c.pkts
		},
		advance: time.Minute,
		never:   []want{{0, events.TypeHandshakeAnomaly, "", 0}, {0, events.TypeLossInfer, "", 0}},
	},
	{
		name: "midstream capture: no handshake anomaly, no SYN timeout",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.data(0, 1, 100).after(ms).ack(1, 101).after(time.Minute).data(0, 101, 100).after(ms).ack(1, 201)
			return c.pkts
		},
		advance: time.Minute,
		never:   []want{{0, events.TypeHandshakeAnomaly, "", 0}, {0, events.TypeRetransmission, "", 0}},
	},
	{
		name: "no spurious out-of-order across a sequence wrap; real reordering there is flagged",
		pkts: func() []events.Packet {
			c := newConn(1, false, 0xFFFFF000, 0xFFFFFFF0).handshake()
			for i := uint32(0); i < 6; i++ {
				c.after(100*time.Microsecond).data(0, 1+i*1000, 1000) // crosses 2^32 in the 5th segment
			}
			c.after(5*ms).ack(1, 6001)
			c.after(ms).data(0, 6001, 1000).after(100*time.Microsecond).data(0, 8001, 1000).after(100*time.Microsecond).data(0, 7001, 1000)
			return c.pkts
		},
		want:  []want{{12, events.TypeLostSegment, "", 0}, {13, events.TypeOutOfOrder, "", 0}},
		never: []want{{4, events.TypeOutOfOrder, "", 0}, {5, events.TypeOutOfOrder, "", 0}, {6, events.TypeOutOfOrder, "", 0}, {7, events.TypeOutOfOrder, "", 0}, {8, events.TypeOutOfOrder, "", 0}, {9, events.TypeOutOfOrder, "", 0}, {0, events.TypeRetransmission, "", 0}},
	},
	{
		name: "IPv6 fast retransmission",
		pkts: func() []events.Packet {
			c := newConn(1, true, 77, 99).handshake()
			for i := uint32(0); i < 4; i++ {
				c.after(100*time.Microsecond).data(0, 1+i*1200, 1200)
			}
			c.after(10*ms).ack(1, 1201).after(ms).ack(1, 1201).after(ms).ack(1, 1201).after(ms).ack(1, 1201)
			c.after(ms).data(0, 1201, 1200)
			return c.pkts
		},
		want: []want{{11, events.TypeDupAck, "", 3}, {11, events.TypeLossInfer, events.ReasonTripleDupAck, 0}, {12, events.TypeRetransmission, events.RetransFast, 0}},
	},
	{
		name: "FIN retransmission",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).send(0, FA, 1, 1, 0, 502).after(400*ms).send(0, FA, 1, 1, 0, 502)
			return c.pkts
		},
		want: []want{{5, events.TypeRetransmission, events.RetransFIN, 0}},
	},
	{
		name: "out-of-order window is the handshake RTT when known",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, S, 0, 0, 0, 64240).after(20*ms).send(1, SA, 0, 1, 0, 65160).after(20*ms).send(0, A, 1, 1, 0, 502)
			c.after(ms).data(0, 1, 100).after(ms).data(0, 201, 100).after(10*ms).data(0, 101, 100) // 10 ms < iRTT 40 ms
			return c.pkts
		},
		want:  []want{{6, events.TypeOutOfOrder, "", 0}},
		never: []want{{6, events.TypeRetransmission, "", 0}},
	},
	{
		name: "ACK stall reported by the clock alone (Advance), once",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(ms).ack(1, 101)
			return c.pkts
		},
		advance: 500 * ms,
		want:    []want{{6, events.TypeLossInfer, events.ReasonAckStall, 0}},
	},
	{
		name: "no ACK stall when everything is acknowledged",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).ack(1, 101)
			return c.pkts
		},
		advance: time.Minute,
		never:   []want{{0, events.TypeLossInfer, "", 0}},
	},
	{
		name: "SACK hole: loss inferred from the ACK's SACK block, about the other direction's data",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 1000).after(ms).data(0, 1001, 1000).after(ms).data(0, 2001, 1000)
			c.after(ms).ack(1, 1001)
			c.after(ms).send(1, A, 1, 1001, 0, 502, func(o *events.Options) {
				o.NumSACK, o.SACK[0] = 1, events.SACKBlock{Left: 1000 + 2001, Right: 1000 + 3001}
			})
			return c.pkts
		},
		want: []want{{8, events.TypeLossInfer, events.ReasonSACKHole, 0}, {8, events.TypeDupAck, "", 1}},
	},
	{
		name: "Karn's rule: no sample from a retransmitted segment without timestamps",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(300*ms).data(0, 1, 100).after(5*ms).ack(1, 101)
			return c.pkts
		},
		want:  []want{{5, events.TypeRetransmission, events.RetransRTO, 0}},
		never: []want{{6, events.TypeRTTSample, events.ReasonDataAck, 0}, {6, events.TypeRTTSample, events.ReasonTimestamp, 0}},
	},
	{
		name: "TSval/TSecr RTT sample of retransmitted data",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(10, 1)).after(300*ms).send(0, PA, 1, 1, 100, 502, tsOpt(310, 1))
			c.after(7*ms).send(1, A, 1, 101, 0, 502, tsOpt(2, 310))
			return c.pkts
		},
		want:  []want{{6, events.TypeRTTSample, events.ReasonTimestamp, 0}},
		never: []want{{6, events.TypeRTTSample, events.ReasonDataAck, 0}},
	},
	{
		name: "window full against a SYN/ACK's window, which is never scaled",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, S, 0, 0, 0, 64240, wsOpt(7)).after(ms).send(1, SA, 0, 1, 0, 1000, wsOpt(7)).after(ms)
			c.send(0, A, 1, 1, 0, 502).after(ms).data(0, 1, 1000)
			return c.pkts
		},
		want: []want{{4, events.TypeWindowFull, "", 0}},
	},
	{
		name: "ACK of data never seen damps the dup-ACK count that decides fast retransmissions",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 1000).after(ms).data(0, 3001, 1000) // 5: lost segment (1001-3000 not captured)
			c.after(ms).ack(1, 2001).after(ms).ack(1, 2001).after(ms).ack(1, 2001).after(ms).ack(1, 2001)
			c.after(ms).data(0, 2001, 1000)
			return c.pkts
		},
		want: []want{{5, events.TypeLostSegment, "", 0}},
	},
	{
		name: "data after a 1-byte zero-window probe that advanced nextseq is new data",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).ack(1, 101)
			c.after(ms).data(0, 101, 1).after(ms).ack(1, 102).after(ms).data(0, 101, 500)
			return c.pkts
		},
		never: []want{{8, events.TypeRetransmission, "", 0}, {8, events.TypeOutOfOrder, "", 0}},
	},
	{
		name: "retransmission long after a dup-ACK burst is an RTO, not fast",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			for i := uint32(0); i < 4; i++ {
				c.after(100*time.Microsecond).data(0, 1+i*1000, 1000)
			}
			c.after(5*ms).ack(1, 1001).after(ms).ack(1, 1001).after(ms).ack(1, 1001)
			c.after(300*ms).data(0, 1001, 1000)
			return c.pkts
		},
		want:  []want{{11, events.TypeRetransmission, events.RetransRTO, 0}},
		never: []want{{11, events.TypeLossInfer, events.ReasonRetransNoDupAcks, 0}},
	},
	{
		name: "a gap right after the sequence number wraps to exactly 0 is still a lost segment (tshark misses it)",
		pkts: func() []events.Packet {
			c := newConn(1, false, 0xFFFFFFFF-1000, 5000).handshake()
			c.after(ms).data(0, 1, 1000) // nextseq becomes exactly 0
			c.after(100*time.Microsecond).data(0, 2001, 1000)
			c.after(100*time.Microsecond).data(0, 1001, 1000)
			return c.pkts
		},
		want:     []want{{5, events.TypeLostSegment, "", 0}, {6, events.TypeOutOfOrder, "", 0}},
		noTshark: "Wireshark uses nextseq 0 as 'unknown' and skips the lost-segment check (docs/detectors.md)",
	},
	{
		name: "ACK-clocked SACK recovery is kind fast even without two dup ACKs",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			for i := uint32(0); i < 5; i++ {
				c.after(100*time.Microsecond).data(0, 1+i*1000, 1000) // 4-8
			}
			c.after(5*ms).send(1, A, 1, 1001, 0, 502, func(o *events.Options) {
				o.NumSACK, o.SACK[0] = 1, events.SACKBlock{Left: 1000 + 2001, Right: 1000 + 5001}
			}) // 9
			c.after(200*time.Microsecond).data(0, 1001, 1000) // 10
			return c.pkts
		},
		want:  []want{{10, events.TypeRetransmission, events.RetransFast, 0}, {9, events.TypeLossInfer, events.ReasonSACKHole, 0}},
		never: []want{{10, events.TypeLossInfer, events.ReasonRetransNoDupAcks, 0}},
	},
	{
		name: "an ACK of unseen data leaves the sender's dup-ACK count at -1, which Wireshark reads as >= 2",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, PA, 1, 1, 100, 502)
			c.after(ms).send(1, PA, 1, 101, 100, 502)
			c.after(ms).send(1, PA, 101, 501, 100, 502) // ACKs c2s data never seen
			c.after(8*ms).send(1, PA, 1, 501, 100, 502)
			return c.pkts
		},
		want: []want{{4, events.TypeRetransmission, events.RetransFast, 0}},
	},
	{
		name: "an ACK into a gap of the other direction catches the bound up and does not damp its dup ACKs",
		pkts: func() []events.Packet {
			c := newConn(1, false, 1000, 5000)
			c.send(0, PA, 1, 1, 242, 502)
			c.after(13*ms).send(0, PA, 356, 1, 665, 502)
			c.after(150*time.Microsecond).send(0, A, 1021, 1, 0, 502)
			c.after(10*time.Microsecond).send(1, PA, 1, 337, 100, 502)
			c.after(8*ms).send(1, PA, 1, 337, 100, 502)
			return c.pkts
		},
		want: []want{{5, events.TypeRetransmission, "", 0}}, // tshark: a plain retransmission, not fast
	},
}

func TestRules(t *testing.T) {
	var oracle []tsharkCase
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			pkts := tc.pkts()
			var adv int64
			if tc.advance != 0 {
				adv = pkts[len(pkts)-1].TS + int64(tc.advance)
			}
			evs, _ := runEngine(DefaultConfig(), pkts, adv)
			for _, w := range tc.want {
				found := false
				for i := range evs {
					if matches(w, &evs[i]) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing %v; got:%s", w, describe(evs))
				}
			}
			for _, w := range tc.never {
				for i := range evs {
					e := &evs[i]
					if (w.frame == 0 || e.Frame == w.frame) && e.Type == w.typ && (w.detail == "" || e.Kind == w.detail || e.Reason == w.detail) {
						t.Errorf("unexpected frame %d %s %s%s", e.Frame, e.Type, e.Kind, e.Reason)
					}
				}
			}
			if tc.noTshark == "" {
				oracle = append(oracle, tsharkCase{tc.name, pkts, oracleFrames(evs)})
			}
		})
	}
	t.Run("same flags as tshark", func(t *testing.T) { checkTshark(t, oracle) })
}

// TestOutOfOrderProvenRetransmission: Wireshark's timing rule calls a quick
// retransmission out-of-order; when the same bytes already passed the
// capture point (sender side) tcpviz says so in the note. Data filling a gap
// (receiver side reordering) gets no note.
func TestOutOfOrderProvenRetransmission(t *testing.T) {
	tests := []struct {
		name  string
		pkts  func() []events.Packet
		frame uint64
		note  string
	}{
		{"sender side: a copy of bytes seen", func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			for i := uint32(0); i < 4; i++ {
				c.after(100*time.Microsecond).data(0, 1+i*1000, 1000)
			}
			c.after(100*time.Microsecond).data(0, 2001, 1000) // 8: sent again within 3 ms
			return c.pkts
		}, 8, NoteCopy},
		{"receiver side: reordering fills a gap", func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(100*time.Microsecond).data(0, 201, 100).after(100*time.Microsecond).data(0, 101, 100)
			return c.pkts
		}, 6, ""},
		{"receiver side: the second copy of a gap's data", func() []events.Packet {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(100*time.Microsecond).data(0, 201, 100).after(100*time.Microsecond).data(0, 101, 100)
			c.after(100*time.Microsecond).data(0, 101, 100)
			return c.pkts
		}, 7, NoteCopy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, _ := runEngine(DefaultConfig(), tc.pkts(), 0)
			found := false
			for _, e := range evs {
				if e.Frame == tc.frame && e.Type == events.TypeOutOfOrder {
					found = true
					if e.Note != tc.note {
						t.Errorf("note %q, want %q", e.Note, tc.note)
					}
				}
			}
			if !found {
				t.Errorf("no out_of_order on frame %d:%s", tc.frame, describe(evs))
			}
		})
	}
}
