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
