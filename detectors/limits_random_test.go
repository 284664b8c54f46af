package detectors

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// randomShort plays one short connection of many shapes: IPv4 or IPv6,
// with or without the handshake (or its last ACK; data in the SYN and the
// SYN/ACK now and then), window scale and MSS,
// a server that speaks first or not, one to four
// request/response rounds (requests and responses of several segments,
// ACKs apart or not, pauses past the gap and idle tests, a retransmission,
// a keep-alive, a small or zero window, a segment the capture missed now
// and then), and a FIN exchange
// from either side, a RST or no end at all. Some are one-way uploads.
func randomShort(r *rand.Rand, flow uint64, start int64) *tconn {
	c := newConn(flow, r.IntN(4) == 0, r.Uint32(), r.Uint32())
	c.ts = start
	rtt := us(r, 20_000)
	if r.IntN(6) == 0 {
		rtt = us(r, 300_000)
	}
	var opts []opt
	if r.IntN(4) != 0 {
		opts = append(opts, wsOpt(uint8(r.IntN(9))))
	}
	seg := uint32(1460)
	if r.IntN(4) != 0 {
		seg = uint32(500 + r.IntN(1000))
		opts = append(opts, mssOpt(uint16(seg)))
	}
	win := func() uint16 {
		switch r.IntN(12) {
		case 0:
			return 0
		case 1:
			return uint16(r.IntN(8))
		case 2:
			return uint16(r.IntN(2000))
		}
		return uint16(500 + r.IntN(65000))
	}
	pause := func() time.Duration {
		switch r.IntN(8) {
		case 0:
			return rtt*2 + us(r, 30_000) // past the gap test
		case 1:
			return us(r, 2_000_000) // past appWait and windows
		}
		return us(r, int(rtt/time.Microsecond)/4+1)
	}
	cseq, sseq := uint32(1), uint32(1)
	if r.IntN(8) != 0 {
		var tfo uint32 // data in the SYN (TCP Fast Open)
		if r.IntN(8) == 0 {
			tfo = uint32(1 + r.IntN(500))
		}
		c.send(0, S, 0, 0, tfo, 64240, opts...).after(rtt / 2)
		if r.IntN(10) == 0 { // the SYN again
			c.send(0, S, 0, 0, tfo, 64240, opts...).after(rtt / 2)
		}
		cseq += tfo
		var early uint32 // data in the SYN/ACK
		if tfo > 0 && r.IntN(2) == 0 {
			early = uint32(1 + r.IntN(300))
		}
		c.send(1, SA, 0, cseq, early, 65160, opts...).after(rtt / 2)
		sseq += early
		if r.IntN(6) != 0 { // else the capture missed it
			c.send(0, A, cseq, sseq, 0, win())
		}
	}
	oneWay := r.IntN(6) == 0
	if !oneWay && r.IntN(5) == 0 { // the server speaks first (a banner)
		n := uint32(1 + r.IntN(200))
		c.after(us(r, 500)).send(1, PA, sseq, cseq, n, win())
		sseq += n
	}
	// send writes n bytes from d in segments; acks from the other side
	// come between some of them.
	send := func(d events.Dir, n uint32) {
		seq, ack := &cseq, &sseq
		if d == 1 {
			seq, ack = &sseq, &cseq
		}
		for n > 0 {
			k := min(n, seg)
			c.after(us(r, 200))
			if r.IntN(15) != 0 { // else the capture missed it
				c.send(d, PA, *seq, *ack, k, win())
			}
			if r.IntN(12) == 0 { // retransmitted
				c.after(pause()).send(d, PA, *seq, *ack, k, win())
			}
			*seq += k
			n -= k
			if r.IntN(3) == 0 {
				c.after(rtt/2).send(d^1, A, *ack, *seq, 0, win())
			}
		}
	}
	for range 1 + r.IntN(4) {
		c.after(pause())
		send(0, uint32(1+r.IntN(4000)))
		c.after(rtt / 2)
		if oneWay || r.IntN(4) == 0 {
			c.send(1, A, sseq, cseq, 0, win())
		}
		if !oneWay {
			c.after(pause())
			send(1, uint32(1+r.IntN(6000)))
			c.after(rtt / 2)
			if r.IntN(2) == 0 {
				c.send(0, A, cseq, sseq, 0, win())
			}
		}
		switch r.IntN(8) {
		case 0: // a keep-alive and its answer
			c.after(pause()).send(0, A, cseq-1, sseq, 0, win())
			c.after(rtt).send(1, A, sseq, cseq, 0, win())
		case 1: // a bare ACK past data the capture missed
			cseq += uint32(1 + r.IntN(3000))
			c.after(pause()).send(0, A, cseq, sseq, 0, win())
		}
	}
	c.after(pause())
	switch r.IntN(5) {
	case 0, 1: // the client closes first
		c.send(0, FA, cseq, sseq, 0, win()).after(rtt / 2)
		cseq++
		c.send(1, FA, sseq, cseq, 0, win()).after(rtt / 2)
		sseq++
		c.send(0, A, cseq, sseq, 0, win())
	case 2: // the server closes first
		c.send(1, FA, sseq, cseq, 0, win()).after(rtt / 2)
		sseq++
		c.send(0, FA, cseq, sseq, 0, win()).after(rtt / 2)
		cseq++
		c.send(1, A, sseq, cseq, 0, win())
	case 3:
		c.send(0, RA, cseq, sseq, 0, 0)
	}
	return c
}

// TestLimitsShortcutsSame runs random short connections through the limits
// analysis with its shortcuts and with every packet and span on the
// general path (limGeneral), several at a time and one engine for many
// (closed connections' states are reused), with windows from the default
// down to a millisecond: every record and event must be the same.
func TestLimitsShortcutsSame(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 12))
		n := 20 + r.IntN(40)
		var cs []*tconn
		for i := range n {
			cs = append(cs, randomShort(r, uint64(i+1), epoch+int64(i)*int64(us(r, 5000))))
		}
		pkts := merge(cs...)
		cfg := DefaultConfig()
		if w := []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 50 * time.Millisecond}[seed%4]; w > 0 {
			cfg.LimitWindow = w
		}
		var out [2][]byte
		for i, general := range []bool{false, true} {
			e := New(cfg, func(ev *events.Event) { out[i] = append(ev.AppendJSON(out[i]), '\n') })
			e.limGeneral = general
			for j := range pkts {
				e.Packet(&pkts[j])
				// Connections end in the order they started, a few packets
				// after their last, as the flow table ends them.
				if id := uint64(j/4 + 1); j%4 == 3 && id <= uint64(n) && cs[id-1].pkts[len(cs[id-1].pkts)-1].TS < pkts[j].TS {
					out[i] = endFlow(e, id, out[i])
				}
			}
			for id := uint64(1); id <= uint64(n); id++ {
				out[i] = endFlow(e, id, out[i])
			}
			e.Finish()
		}
		// Most connections carried data both ways: their records have
		// limits to compare.
		if k := bytes.Count(out[0], []byte(`"s2c":{"source":"packets"`)); k < n/2 {
			t.Fatalf("seed %d: %d of %d records with limits from the server", seed, k, n)
		}
		if string(out[0]) != string(out[1]) {
			a, b := firstDiff(out[0], out[1])
			t.Fatalf("seed %d: with the shortcuts\n%s\non the general path\n%s", seed, a, b)
		}
	}
}

// us is a random duration of 1 to n microseconds.
func us(r *rand.Rand, n int) time.Duration { return time.Duration(r.IntN(n)+1) * time.Microsecond }

// endFlow writes connection id's record and forgets it (once).
func endFlow(e *Engine, id uint64, b []byte) []byte {
	if e.flows[id] == nil {
		return b
	}
	var rec events.FlowRecord
	e.FillFlow(id, &rec)
	e.Close(id)
	return append(rec.AppendJSON(b), '\n')
}

// firstDiff returns the first line where a and b differ, from each.
func firstDiff(a, b []byte) (string, string) {
	la, lb := splitLines(a), splitLines(b)
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: %s", i+1, x), fmt.Sprintf("line %d: %s", i+1, y)
		}
	}
	return "", ""
}

func splitLines(b []byte) []string {
	var l []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		l = append(l, string(b[:i]))
		b = b[min(i+1, len(b)):]
	}
	return l
}
