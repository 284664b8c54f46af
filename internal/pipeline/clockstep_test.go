package pipeline_test

import (
	"net/netip"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng"
)

// TestClockStepsAreBounded: a clock that steps 46 years forward (a device
// that booted at the epoch, then synchronised) and a timestamp past 2262 (a
// broken capture: tcpdump's smb_data_print-segv.pcapng) used to make the
// limits detector open a window every 500 ms across the step, billions of
// them. Each packet must cost what any packet does; the out-of-range one
// takes the time of the packet before it.
func TestClockStepsAreBounded(t *testing.T) {
	p := pipeline.New(pipecfg.Detectors())
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	times := []int64{1e9, 2e9, 1.48e18, 1.48e18 + 1e9, pcapng.TSOutOfRange, 1.48e18 + 2e9}
	var last events.Packet
	for i, ts := range times {
		pk := events.Packet{Frame: uint64(i + 1), TS: ts, Src: src, Dst: dst, SrcPort: 40000, DstPort: 80,
			Seq: uint32(1 + 100*i), Ack: 1, Flags: events.FlagACK | events.FlagPSH, Window: 500, Len: 100}
		p.FeedPacket(&pk)
		last = pk
		if ts == pcapng.TSOutOfRange && pk.TS != 1.48e18+1e9 {
			t.Errorf("out-of-range timestamp became %d, want the previous packet's", pk.TS)
		}
	}
	p.Finish()
	st := p.Stats()
	if st.TCPPackets != uint64(len(times)) || st.BadTimes != 1 || last.TS != 1.48e18+2e9 {
		t.Errorf("%d packets, %d bad times", st.TCPPackets, st.BadTimes)
	}
}
