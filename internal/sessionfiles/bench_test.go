package sessionfiles

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
)

// BenchmarkConnHeavy runs parse-pcap's whole path (detectors on, every event
// written) over the connection-heavy captures: a 300,000-SYN port scan and
// 200,000 short complete connections (1.6M packets). It reports packets per
// second and the process's peak RSS; run one shape per process for a
// meaningful peak:
//
//	go test ./internal/sessionfiles -run XXX -bench 'ConnHeavy/scan' -benchtime 1x
//	go test ./internal/sessionfiles -run XXX -bench 'ConnHeavy/short' -benchtime 1x
func BenchmarkConnHeavy(b *testing.B) {
	shapes := []struct {
		name    string
		packets int
		gen     func(f *os.File) error
	}{
		{"scan", 300_000, func(f *os.File) error { return capgen.Scan(f, 300_000, int64(10*time.Microsecond)) }},
		{"short", 1_600_000, func(f *os.File) error {
			return capgen.Short(f, 200_000, int64(50*time.Microsecond), int64(time.Millisecond))
		}},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			dir := b.TempDir()
			in := filepath.Join(dir, s.name+".pcap")
			f, err := os.Create(in)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.gen(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				cfg := pipeline.Config{Flows: conntrack.DefaultConfig(),
					NewDetector: func(emit func(*events.Event)) pipeline.Detector {
						return detectors.New(detectors.DefaultConfig(), emit)
					}}
				if _, err := Run(context.Background(), Options{Input: in, OutDir: filepath.Join(dir, "out"+strconv.Itoa(i)), Pipeline: cfg}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
			b.ReportMetric(peakRSS()/(1<<20), "MiB-peak-RSS")
		})
	}
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			n, _ := strconv.ParseFloat(string(bytes.Fields(v)[0]), 64)
			return n * 1024
		}
	}
	return 0
}
