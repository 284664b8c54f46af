package pipeline_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

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

// TestTimeSpan: the span and the clock steps over random timestamps (mostly
// forward, some a little or far back, some out of range, some zero) are
// those the rules give, whichever path a packet's time takes.
func TestTimeSpan(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		p := pipeline.New(pipecfg.Detectors())
		var first, last int64
		steps, bad, valid := 0, 0, 0
		ts := int64(1e18)
		for i := range 2000 {
			switch r := rng.IntN(100); {
			case r < 80:
				ts += rng.Int64N(1e8)
			case r < 90:
				ts -= rng.Int64N(9e8) // written a little out of order
			case r < 95:
				ts -= 1e9 + rng.Int64N(1e10) // a clock step
			}
			pts := ts
			switch rng.IntN(50) {
			case 0:
				pts = pcapng.TSOutOfRange
			case 1:
				pts = -1
			case 2:
				if seed%2 == 0 { // a zero time, in half the runs
					pts = 0
				}
			}
			if i == 0 {
				pts = ts
			}
			switch {
			case pts < 0 || pts == pcapng.TSOutOfRange:
				bad++
			case valid == 0:
				first, last = pts, pts
				valid++
			default:
				if pts < last-int64(time.Second) {
					steps++
				}
				first, last = min(first, pts), max(last, pts)
				valid++
			}
			pk := events.Packet{Frame: uint64(i + 1), TS: pts, Src: src, Dst: dst, SrcPort: 40000, DstPort: 80,
				Seq: uint32(1 + 100*i), Ack: 1, Flags: events.FlagACK, Window: 500, Len: 100}
			p.FeedPacket(&pk)
		}
		st := p.Stats()
		if st.FirstTS != first || st.LastTS != last || st.ClockSteps != steps || st.BadTimes != bad {
			t.Fatalf("seed %d: span %d-%d, %d steps, %d bad; want %d-%d, %d, %d",
				seed, st.FirstTS, st.LastTS, st.ClockSteps, st.BadTimes, first, last, steps, bad)
		}
	}
}
