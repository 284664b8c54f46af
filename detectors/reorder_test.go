package detectors

import (
	"testing"

	"github.com/tcpviz/tcpviz/events"
)

func sackOpt(isn, left, right uint32) opt {
	return func(o *events.Options) {
		o.NumSACK, o.SACK[0] = 1, events.SACKBlock{Left: isn + left, Right: isn + right}
	}
}

// TestReorderingToldFromLoss: a hole the receiver reports is a suspect
// (loss_infer confirmed false); it becomes reordering when it closes by
// itself and confirmed loss when a retransmission fills it.
func TestReorderingToldFromLoss(t *testing.T) {
	type outcome struct {
		unconfirmed, confirmed, reordering int
		degreeSegs                         int
		paws                               int // confirmed, the original discarded by PAWS
	}
	tests := []struct {
		name  string
		build func(c *tconn)
		want  outcome
	}{
		{
			name: "segment 2 overtaken by 3 and 4, then arrives",
			build: func(c *tconn) {
				c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(ms).data(0, 201, 100).after(ms).data(0, 301, 100)
				c.after(ms).ack(1, 101)
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 301))
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 401))
				c.after(ms).ack(1, 401)
			},
			want: outcome{unconfirmed: 1, reordering: 1, degreeSegs: 2},
		},
		{
			name: "segment 2 lost and retransmitted",
			build: func(c *tconn) {
				c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(ms).data(0, 201, 100).after(ms).data(0, 301, 100)
				c.after(ms).ack(1, 101)
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 301))
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 401))
				c.after(ms).data(0, 101, 100)
				c.after(ms).ack(1, 401)
			},
			want: outcome{unconfirmed: 1, confirmed: 1},
		},
		{
			name: "retransmitted before the report came back",
			build: func(c *tconn) {
				c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(ms).data(0, 201, 100)
				c.after(300*ms).data(0, 101, 100)
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 301))
				c.after(ms).ack(1, 301)
			},
			want: outcome{unconfirmed: 1, confirmed: 1},
		},
		{
			name: "retransmitted, but a D-SACK says the original arrived too",
			build: func(c *tconn) {
				c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(ms).data(0, 201, 100).after(ms).data(0, 301, 100)
				c.after(ms).ack(1, 101)
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 301))
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 401))
				c.after(ms).data(0, 101, 100)
				c.after(ms).ack(1, 401)
				c.after(ms).send(1, A, 1, 401, 0, 502, sackOpt(1000, 101, 201))
			},
			want: outcome{unconfirmed: 1, reordering: 1, degreeSegs: 2},
		},
		{
			name: "a D-SACK comes back while the rest of the hole is still open",
			build: func(c *tconn) {
				c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(ms).data(0, 201, 100)
				c.after(ms).data(0, 301, 100).after(ms).data(0, 401, 100)
				c.after(ms).ack(1, 101)
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 301, 401))
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 301, 501))
				c.after(ms).data(0, 101, 100)
				c.after(ms).ack(1, 201)
				c.after(ms).send(1, A, 1, 201, 0, 502, sackOpt(1000, 101, 201))
				c.after(20*ms).ack(1, 501)
				c.after(20*ms).ack(1, 501)
			},
			want: outcome{unconfirmed: 1, reordering: 1, degreeSegs: 2},
		},
		{
			name: "retransmitted, but the first ACK covering it echoes the original's TSval",
			build: func(c *tconn) {
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(10, 1)).after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(11, 1))
				c.after(ms).send(0, PA, 201, 1, 100, 502, tsOpt(12, 1))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 10))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 10), sackOpt(1000, 201, 301))
				c.after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(16, 1))
				c.after(ms).send(1, A, 1, 301, 0, 502, tsOpt(6, 11))
			},
			want: outcome{unconfirmed: 1, reordering: 1, degreeSegs: 1},
		},
		{
			// The closing ACK echoes the later originals' TSval, as new
			// as the retransmission's: only the first ACK covering the
			// retransmission proves it spurious.
			name: "the ACK that partly fills the hole echoes the original's TSval",
			build: func(c *tconn) {
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(9, 1)).after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(10, 1))
				c.after(ms).send(0, PA, 201, 1, 100, 502, tsOpt(20, 1)).after(ms).send(0, PA, 301, 1, 100, 502, tsOpt(20, 1))
				c.after(ms).send(0, PA, 401, 1, 100, 502, tsOpt(20, 1))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 9))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 9), sackOpt(1000, 401, 501))
				c.after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(21, 1))
				c.after(ms).send(1, A, 1, 201, 0, 502, tsOpt(6, 10), sackOpt(1000, 401, 501))
				c.after(ms).send(1, A, 1, 501, 0, 502, tsOpt(6, 21))
				c.after(20*ms).send(1, A, 1, 501, 0, 502, tsOpt(7, 21))
			},
			want: outcome{unconfirmed: 1, reordering: 1, degreeSegs: 1},
		},
		{
			name: "a D-SACK delayed by a stall: nothing sent after the retransmission was acknowledged yet",
			build: func(c *tconn) {
				c.after(ms).data(0, 1, 100).after(ms).data(0, 101, 100).after(ms).data(0, 201, 100).after(ms).data(0, 301, 100)
				c.after(ms).ack(1, 101)
				c.after(ms).send(1, A, 1, 101, 0, 502, sackOpt(1000, 201, 301))
				c.after(ms).data(0, 101, 100)
				c.after(ms).ack(1, 401)
				// Longer than two smoothed RTTs (about 2 ms here), shorter
				// than eight.
				c.after(10*ms).ack(1, 401)
				c.after(ms).send(1, A, 1, 401, 0, 502, sackOpt(1000, 101, 201))
			},
			want: outcome{unconfirmed: 1, reordering: 1, degreeSegs: 1},
		},
		{
			// Linux tcp_paws_discard: a segment more than one tick older
			// than TS.Recent is dropped; here TS.Recent is 20 (the
			// retransmission of the first segment) and the original at
			// the hole carries 10.
			name: "the original is discarded by PAWS after a retransmission with a newer TSval overtook it",
			build: func(c *tconn) {
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(10, 1)).after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(10, 1))
				c.after(ms).send(0, PA, 201, 1, 100, 502, tsOpt(10, 1))
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(20, 1))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 20), sackOpt(1000, 201, 301))
				// The original at 101 arrives and is discarded: a
				// duplicate ACK with nothing new.
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 20), sackOpt(1000, 201, 301))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 20), sackOpt(1000, 1, 101))
				c.after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(21, 1))
				c.after(ms).send(1, A, 1, 301, 0, 502, tsOpt(6, 21))
				c.after(ms).send(0, PA, 301, 1, 100, 502, tsOpt(22, 1))
				c.after(20*ms).send(1, A, 1, 401, 0, 502, tsOpt(7, 22))
			},
			want: outcome{unconfirmed: 1, confirmed: 1, paws: 1},
		},
		{
			// The report's ACK still echoes the original's TSval; a
			// later duplicate ACK at the hole's edge echoes the
			// retransmission's (holesACK marks the hole then).
			name: "the original is discarded by PAWS, seen on a later duplicate ACK",
			build: func(c *tconn) {
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(10, 1)).after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(10, 1))
				c.after(ms).send(0, PA, 201, 1, 100, 502, tsOpt(10, 1))
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(20, 1))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 10), sackOpt(1000, 201, 301))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 20), sackOpt(1000, 201, 301))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 20), sackOpt(1000, 1, 101))
				c.after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(21, 1))
				c.after(ms).send(1, A, 1, 301, 0, 502, tsOpt(6, 21))
				c.after(ms).send(0, PA, 301, 1, 100, 502, tsOpt(22, 1))
				c.after(20*ms).send(1, A, 1, 401, 0, 502, tsOpt(7, 22))
			},
			want: outcome{unconfirmed: 1, confirmed: 1, paws: 1},
		},
		{
			name: "an original one tick older than TS.Recent passes PAWS",
			build: func(c *tconn) {
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(10, 1)).after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(10, 1))
				c.after(ms).send(0, PA, 201, 1, 100, 502, tsOpt(10, 1))
				c.after(ms).send(0, PA, 1, 1, 100, 502, tsOpt(11, 1))
				c.after(ms).send(1, A, 1, 101, 0, 502, tsOpt(5, 11), sackOpt(1000, 201, 301))
				c.after(ms).send(0, PA, 101, 1, 100, 502, tsOpt(12, 1))
				c.after(ms).send(1, A, 1, 301, 0, 502, tsOpt(6, 12))
				c.after(ms).send(0, PA, 301, 1, 100, 502, tsOpt(13, 1))
				c.after(20*ms).send(1, A, 1, 401, 0, 502, tsOpt(7, 13))
			},
			want: outcome{unconfirmed: 1, confirmed: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newConn(1, false, 1000, 5000).handshake()
			tc.build(c)
			evs, _ := runEngine(DefaultConfig(), c.pkts, 0)
			var got outcome
			for _, e := range evs {
				switch {
				case e.Type == events.TypeLossInfer && e.Reason == events.ReasonSACKHole && e.Confirmed != nil && !*e.Confirmed:
					got.unconfirmed++
				case e.Type == events.TypeLossInfer && e.Confirmed != nil && *e.Confirmed:
					got.confirmed++
					if e.Note == NoteLossPAWS {
						got.paws++
					}
				case e.Type == events.TypeReordering:
					got.reordering++
					got.degreeSegs = e.DegreeSegs
				}
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v:%s", got, tc.want, describe(evs))
			}
		})
	}
}
