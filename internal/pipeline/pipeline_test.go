package pipeline

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/pcapng"
)

func TestWarningsAreBounded(t *testing.T) {
	p := New(Config{Flows: conntrack.DefaultConfig()})
	for i := 0; i < 10*maxWarnings; i++ {
		p.Warn(fmt.Sprintf("warning %d", i))
	}
	w := p.Stats().Warnings
	if len(w) != maxWarnings+1 || w[0] != "warning 0" || w[maxWarnings] != "further warnings not kept" {
		t.Errorf("%d warnings kept, last %q", len(w), w[len(w)-1])
	}
}

// Out-of-range timestamps are a warning and stay out of the time span; a
// step back of more than a second is a warning too.
func TestTimesWarn(t *testing.T) {
	p := New(Config{Flows: conntrack.DefaultConfig()})
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i, ts := range []int64{2e18, pcapng.TSOutOfRange, -5, 2e18 + 1e9, 2e18 - 3e9} {
		p.FeedPacket(&events.Packet{Frame: uint64(i + 1), TS: ts, Src: src, Dst: dst, SrcPort: 1000, DstPort: 80, Flags: events.FlagACK})
	}
	st := p.Stats()
	if st.FirstTS != 2e18-3e9 || st.LastTS != 2e18+1e9 || st.BadTimes != 2 || st.ClockSteps != 1 {
		t.Errorf("first %d, last %d, bad %d, steps %d", st.FirstTS, st.LastTS, st.BadTimes, st.ClockSteps)
	}
	all := strings.Join(st.Warnings, "\n")
	if !strings.Contains(all, "frame 2: timestamp out of range") || !strings.Contains(all, "frame 5: timestamp") {
		t.Errorf("warnings: %q", st.Warnings)
	}
}

// A connection that comes back after it left the table writes a second
// record with the same id, marked resumed; the summary counts it once.
func TestResumedConnectionCountsOnce(t *testing.T) {
	var recs []events.FlowRecord
	p := New(Config{Flows: conntrack.DefaultConfig(), OnFlow: func(r *events.FlowRecord) { recs = append(recs, *r) }})
	cli, srv := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	other := netip.MustParseAddr("10.0.0.3")
	const minute = int64(60e9)
	for i, pk := range []events.Packet{
		{TS: 0, Src: cli, Dst: srv, SrcPort: 40000, DstPort: 80, Flags: events.FlagACK | events.FlagPSH, Seq: 100, Ack: 500, Len: 10},
		{TS: 16 * minute, Src: other, Dst: srv, SrcPort: 40000, DstPort: 80, Flags: events.FlagACK, Seq: 1, Ack: 1}, // the first is idle: it leaves
		{TS: 17 * minute, Src: srv, Dst: cli, SrcPort: 80, DstPort: 40000, Flags: events.FlagACK, Seq: 500, Ack: 110},
	} {
		pk.Frame = uint64(i + 1)
		p.FeedPacket(&pk)
	}
	p.Finish()
	var ids []uint64
	var resumed []int
	for _, r := range recs {
		ids, resumed = append(ids, r.Flow), append(resumed, r.Resumed)
	}
	if st := p.Stats(); st.Flows != 2 || fmt.Sprint(ids) != "[1 1 2]" || fmt.Sprint(resumed) != "[0 1 0]" {
		t.Errorf("summary flows %d (want 2); records of flows %v resumed %v, want [1 1 2] resumed [0 1 0]", st.Flows, ids, resumed)
	}
}

// eventsOnlySink answers WantsPackets with wants.
type eventsOnlySink struct {
	countSink
	wants bool
}

func (s *eventsOnlySink) WantsPackets() bool { return s.wants }

// A sink that says it wants no packets gets the events alone; one that
// says it wants them, or says nothing, gets both.
func TestSinkWantsPackets(t *testing.T) {
	p := New(Config{Flows: conntrack.DefaultConfig()})
	plain, yes, no := &countSink{}, &eventsOnlySink{wants: true}, &eventsOnlySink{}
	for _, s := range []Sink{plain, yes, no} {
		p.AddSink(s)
	}
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := range 3 {
		p.FeedPacket(&events.Packet{Frame: uint64(i + 1), TS: int64(i + 1), Src: src, Dst: dst, SrcPort: 1000, DstPort: 80, Flags: events.FlagACK})
	}
	p.emit(&events.Event{Type: events.TypeDupAck, Flow: 1})
	for name, c := range map[string]*countSink{"plain": plain, "wants": &yes.countSink, "wants none": &no.countSink} {
		wantPk := 3
		if name == "wants none" {
			wantPk = 0
		}
		if c.packets != wantPk || c.events != 1 {
			t.Errorf("%s sink: %d packets, %d events; want %d and 1", name, c.packets, c.events, wantPk)
		}
	}
}

// emit counts events by type whatever the texts' addresses: many types
// (more than its sets hold, so sets are shared and entries pushed out),
// the same text at two addresses, in runs and interleaved.
func TestEmitCountsByType(t *testing.T) {
	var types []string
	for i := range 40 {
		types = append(types, fmt.Sprintf("type_%d", i))
	}
	twin := string([]byte(events.TypeDupAck)) // the same text at another address
	for _, tc := range []struct {
		name  string
		order func(i int) string
	}{
		{"cycle", func(i int) string { return types[i%len(types)] }},
		{"runs", func(i int) string { return types[(i/7)%len(types)] }},
		{"two alternating", func(i int) string { return types[(i%2)*17] }},
		{"twins", func(i int) string {
			if i%3 == 0 {
				return twin
			}
			return events.TypeDupAck
		}},
		{"mixed", func(i int) string {
			if i%5 == 0 {
				return twin
			}
			return types[(i*i+3*i)%len(types)]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{Flows: conntrack.DefaultConfig()})
			want := map[string]int{}
			for i := range 3000 {
				typ := tc.order(i)
				want[typ]++
				p.emit(&events.Event{Type: typ, Flow: 1})
			}
			if got := p.Stats().Events; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("counts %v, want %v", got, want)
			}
		})
	}
}
