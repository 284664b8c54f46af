package sessionfiles

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
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

// BenchmarkLimits runs parse-pcap's whole path (detectors on, every file
// written) with and without the limits analysis on a bulk transfer, 200,000
// short connections, a 300,000-SYN scan and the captures named by
// TCPVIZ_BENCH_PCAP (space-separated). Every iteration runs both, in
// alternating order so a change of the machine's load hits both alike; the
// benchmark reports the least CPU (user + system) and wall time each took
// over the iterations (on a shared machine the least is the run the others
// disturbed least), what the analysis adds (budget: at most 10 % of
// parse-pcap's CPU), and the median over the iterations of what it added to
// the run beside it (%cpu-added-median, steadier at a high load).
//
// Each run is sessionfiles.Run, what parse-pcap runs: the three files
// written as parse-pcap writes them (renamed into place, not flushed to the
// disk: session.SetDurable is off unless --sync), and timed until they are
// complete, as a user waits. The files go under the test's temporary
// directory; TMPDIR=/dev/shm keeps the disk's writeback out of the figures:
//
//	TMPDIR=/dev/shm go test ./internal/sessionfiles -run XXX -bench Limits -benchtime 8x
func BenchmarkLimits(b *testing.B) {
	dir := b.TempDir()
	type shape struct {
		name string
		in   string
		gen  func(f *os.File) error
	}
	shapes := []shape{
		{"bulk", "", func(f *os.File) error { return bulk(f, 300_000) }},
		{"short", "", func(f *os.File) error {
			return capgen.Short(f, 200_000, int64(50*time.Microsecond), int64(time.Millisecond))
		}},
		{"scan", "", func(f *os.File) error { return capgen.Scan(f, 300_000, int64(10*time.Microsecond)) }},
	}
	for _, in := range strings.Fields(os.Getenv("TCPVIZ_BENCH_PCAP")) {
		shapes = append(shapes, shape{name: strings.TrimSuffix(filepath.Base(in), filepath.Ext(in)), in: in})
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			in := s.in
			if in == "" {
				in = filepath.Join(dir, s.name+".pcap")
				if _, err := os.Stat(in); err != nil {
					f, err := os.Create(in)
					if err != nil {
						b.Fatal(err)
					}
					if err := s.gen(f); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			}
			// Least cpu and wall time per setting: [0] limits off, [1] on;
			// and each iteration's pair, this iteration's in last.
			var cpu, wall, last [2]time.Duration
			var ratios []float64
			run := func(on bool, i int) {
				cfg := detectors.DefaultConfig()
				cfg.Limits = on
				pc := pipeline.Config{Flows: conntrack.DefaultConfig(),
					NewDetector: func(emit func(*events.Event)) pipeline.Detector { return detectors.New(cfg, emit) }}
				out := filepath.Join(dir, s.name, strconv.FormatBool(on), strconv.Itoa(i))
				runtime.GC() // the previous run's garbage is not this run's work
				c0, t0 := cputime.Process(), time.Now()
				res, err := Run(context.Background(), Options{Input: in, OutDir: out, Pipeline: pc})
				if err != nil {
					b.Fatal(err)
				}
				k := 0
				if on {
					k = 1
				}
				c, w := cputime.Process()-c0, time.Since(t0)
				last[k] = c
				if cpu[k] == 0 || c < cpu[k] {
					cpu[k] = c
				}
				if wall[k] == 0 || w < wall[k] {
					wall[k] = w
				}
				if on && len(res.Summary.Limits) == 0 && s.name == "bulk" {
					b.Fatal("no limits computed")
				}
				os.RemoveAll(out)
			}
			for i := 0; b.Loop(); i++ {
				first := i%2 == 1
				run(first, i)
				run(!first, i)
				ratios = append(ratios, last[1].Seconds()/last[0].Seconds())
			}
			slices.Sort(ratios)
			// The median of the iterations' own on/off ratios: at a high load
			// average the least times of the two settings can come from
			// different moments of the machine's load, a pair run back to back
			// from the same one.
			b.ReportMetric(100*(ratios[len(ratios)/2]-1), "%cpu-added-median")
			b.ReportMetric(cpu[0].Seconds(), "cpu-s-off")
			b.ReportMetric(cpu[1].Seconds(), "cpu-s-on")
			b.ReportMetric(100*(cpu[1].Seconds()/cpu[0].Seconds()-1), "%cpu-added")
			b.ReportMetric(wall[0].Seconds(), "wall-s-off")
			b.ReportMetric(wall[1].Seconds(), "wall-s-on")
			b.ReportMetric(100*(wall[1].Seconds()/wall[0].Seconds()-1), "%wall-added")
		})
	}
}
