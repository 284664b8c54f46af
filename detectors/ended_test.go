package detectors

import (
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// TestClosedConnectionResumes: a connection that closed (it left the flow
// table) and comes back under the same id keeps where its sequence and
// acknowledgment numbers stood, as a tshark stream does: a replayed
// segment is a retransmission, a repeated ACK a duplicate ACK. A
// connection never seen before starts afresh and flags neither.
func TestClosedConnectionResumes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		later   func(c *tconn)
		resumes bool
		want    string // the event type the later packet raises when the state is kept
	}{
		{"replayed data", func(c *tconn) { c.data(0, 1, 100) }, true, events.TypeRetransmission},
		{"a repeated ACK", func(c *tconn) { c.ack(1, 101) }, true, events.TypeDupAck},
		{"another connection's first packets", func(c *tconn) { c.data(0, 1, 100) }, false, events.TypeRetransmission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConn(1, false, 1000, 5000).handshake()
			c.after(ms).data(0, 1, 100).after(ms).ack(1, 101)
			n := len(c.pkts)
			c.after(time.Hour)
			tc.later(c)
			var got []events.Event
			e := New(DefaultConfig(), func(ev *events.Event) { got = append(got, *ev) })
			for i := range c.pkts[:n] {
				e.Packet(&c.pkts[i])
			}
			var r events.FlowRecord
			e.CloseFlow(1, &r) // the connection left the table
			later := c.pkts[n:]
			if !tc.resumes {
				for i := range later {
					later[i].Flow = 2
				}
			}
			got = got[:0]
			for i := range later {
				e.Packet(&later[i])
			}
			found := false
			for _, ev := range got {
				found = found || ev.Type == tc.want
			}
			if found != tc.resumes {
				t.Errorf("%s raised: %v, want %v:%s", tc.want, found, tc.resumes, describe(got))
			}
		})
	}
}
