package sessionfiles

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
)

// bulk writes a sender-side capture of one bulk transfer: n data segments
// of 1448 bytes 10 µs apart, an ACK for every second one, behind a
// handshake, and a receiver window that closes to a few segments for a
// tenth of the time (so the limit changes).
func bulk(f *os.File, n int) error {
	g := capgen.NewWriter(f)
	cli, srv := [4]byte{10, 1, 0, 1}, [4]byte{10, 1, 0, 2}
	ts := capgen.Start
	seg := func(fromCli bool, flags uint8, seq, ack uint32, n int, win uint16, syn bool) error {
		s := capgen.Segment{TS: ts, Flags: flags, Seq: seq, Ack: ack, Len: n, Window: win, SYNOptions: syn,
			Src: cli, Dst: srv, SrcPort: 40000, DstPort: 5201}
		if !fromCli {
			s.Src, s.Dst, s.SrcPort, s.DstPort = srv, cli, 5201, 40000
		}
		return g.Write(&s)
	}
	const cisn, sisn = 1000, 5000
	seg(true, capgen.SYN, cisn, 0, 0, 64240, true)
	ts += 50_000
	seg(false, capgen.SYN|capgen.ACK, sisn, cisn+1, 0, 65160, true)
	ts += 50_000
	seg(true, capgen.ACK, cisn+1, sisn+1, 0, 502, false)
	next := uint32(cisn + 1)
	for i := 0; i < n; i++ {
		ts += 10_000
		if err := seg(true, capgen.PSH|capgen.ACK, next, sisn+1, 1448, 502, false); err != nil {
			return err
		}
		next += 1448
		if i%2 == 1 {
			win := uint16(3000) // × 128: 375 kB
			if i%20_000 > 18_000 {
				win = 30 // 3.8 kB: window-limited
			}
			ts += 5_000
			seg(false, capgen.ACK, sisn+1, next, 0, win, false)
		}
	}
	return g.Flush()
}

// BenchmarkLimits runs parse-pcap's whole path (detectors on, every event
// written) with and without the limits analysis, on a bulk transfer and on
// 200,000 short connections; the difference is the analysis's cost
// (budget: at most 10 % of parse-pcap time).
//
//	go test ./internal/sessionfiles -run XXX -bench Limits -benchtime 5x
func BenchmarkLimits(b *testing.B) {
	dir := b.TempDir()
	shapes := []struct {
		name    string
		packets int
		gen     func(f *os.File) error
	}{
		{"bulk", 300_000 * 3 / 2, func(f *os.File) error { return bulk(f, 300_000) }},
		{"short", 1_600_000, func(f *os.File) error {
			return capgen.Short(f, 200_000, int64(50*time.Microsecond), int64(time.Millisecond))
		}},
	}
	for _, s := range shapes {
		in := filepath.Join(dir, s.name+".pcap")
		f, err := os.Create(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.gen(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		for _, on := range []bool{false, true} {
			name := s.name + "/limits-off"
			if on {
				name = s.name + "/limits-on"
			}
			b.Run(name, func(b *testing.B) {
				cfg := detectors.DefaultConfig()
				cfg.Limits = on
				cpu0 := cpuTime()
				for i := 0; b.Loop(); i++ {
					pc := pipeline.Config{Flows: conntrack.DefaultConfig(),
						NewDetector: func(emit func(*events.Event)) pipeline.Detector { return detectors.New(cfg, emit) }}
					res, err := Run(context.Background(), Options{Input: in, OutDir: filepath.Join(dir, name, strconv.Itoa(i)), Pipeline: pc})
					if err != nil {
						b.Fatal(err)
					}
					if on && len(res.Summary.Limits) == 0 && s.name == "bulk" {
						b.Fatal("no limits computed")
					}
				}
				// CPU time is steadier than wall time on a shared machine.
				b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
				b.ReportMetric(float64(s.packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
