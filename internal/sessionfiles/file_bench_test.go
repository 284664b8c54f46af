package sessionfiles

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// BenchmarkParseFile runs parse-pcap's whole path (detectors on, every event
// written) over the capture named by TCPVIZ_BENCH_PCAP, for profiles of a
// real or generated capture:
//
//	TCPVIZ_BENCH_PCAP=/tmp/x.pcap go test ./internal/sessionfiles -run XXX \
//	  -bench ParseFile -benchtime 3x -cpuprofile cpu.out
func BenchmarkParseFile(b *testing.B) {
	in := os.Getenv("TCPVIZ_BENCH_PCAP")
	if in == "" {
		b.Skip("TCPVIZ_BENCH_PCAP names no capture")
	}
	dir := b.TempDir()
	cpu0 := cputime.Process()
	for i := 0; b.Loop(); i++ {
		cfg := pipecfg.Detectors()
		if _, err := Run(context.Background(), Options{Input: in, OutDir: filepath.Join(dir, "out"+strconv.Itoa(i)), Pipeline: cfg}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time (every goroutine) is steadier than wall time on a shared
	// machine.
	b.ReportMetric((cputime.Process()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(peakRSS()/(1<<20), "MiB-peak-RSS")
}
