package detectors

import (
	"reflect"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// TestClosedFlowReused: the state of a closed connection (with its RTT
// statistics and the room of its segment list) is reused for the next new
// one, and the new one's events and figures are those it has on an
// engine that never saw another connection.
func TestClosedFlowReused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func(c *tconn)
	}{
		{"clean", func(c *tconn) {
			c.after(ms).data(0, 1, 100).after(ms).ack(1, 101)
		}},
		{"loss and a retransmission", func(c *tconn) {
			c.after(ms).data(0, 1, 100).data(0, 101, 100).data(0, 201, 100)
			c.after(ms).ack(1, 101).ack(1, 101).ack(1, 101)
			c.after(ms).data(0, 101, 100).after(ms).ack(1, 301)
		}},
		{"data both ways", func(c *tconn) {
			c.after(ms).data(0, 1, 50).after(ms).data(1, 1, 500).after(ms).ack(0, 501).after(time.Second)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := newConn(1, false, 1000, 5000).handshake()
			tc.first(first)
			second := newConn(2, false, 77000, 99000).handshake()
			second.after(ms).data(0, 1, 300).data(0, 301, 300).after(ms).ack(1, 301).ack(1, 301).ack(1, 301)
			second.after(ms).data(0, 301, 300).after(ms).ack(1, 601)

			var got []events.Event
			e := New(DefaultConfig(), func(ev *events.Event) { got = append(got, *ev) })
			for i := range first.pkts {
				e.Packet(&first.pkts[i])
			}
			old := e.flows[1]
			oldRTT := [2]*rttStats{old.h[0].rtt, old.h[1].rtt}
			var r events.FlowRecord
			e.CloseFlow(1, &r)
			if old.h[0].segs.len() != 0 || cap(old.h[0].segs.e) == 0 {
				t.Errorf("closed state keeps %d segments in a room of %d, want none in its room", old.h[0].segs.len(), cap(old.h[0].segs.e))
			}
			got = got[:0]
			gotRec := run(e, second.pkts)
			if e.flows[2] != old {
				t.Errorf("the closed connection's state was not reused")
			}
			if s := e.flows[2].h[0].rtt; s == nil || s != oldRTT[0] && s != oldRTT[1] {
				t.Errorf("the closed connection's RTT statistics were not reused")
			}

			var want []events.Event
			fresh := New(DefaultConfig(), func(ev *events.Event) { want = append(want, *ev) })
			wantRec := run(fresh, second.pkts)
			if len(want) == 0 {
				t.Fatal("the second connection raises no event")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("events on reused state:%s\nwant:%s", describe(got), describe(want))
			}
			if !reflect.DeepEqual(gotRec, wantRec) {
				t.Errorf("record on reused state %+v, want %+v", gotRec, wantRec)
			}
		})
	}
}

// run feeds pkts (one connection's) to e and returns the connection's
// figures.
func run(e *Engine, pkts []events.Packet) events.FlowRecord {
	for i := range pkts {
		e.Packet(&pkts[i])
	}
	e.Advance(pkts[len(pkts)-1].TS + int64(time.Minute))
	var r events.FlowRecord
	e.FillFlow(pkts[0].Flow, &r)
	return r
}
