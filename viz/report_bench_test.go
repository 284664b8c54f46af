package viz

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// BenchmarkReportFile builds the report of the capture TCPVIZ_BENCH_PCAP as
// `tcpviz report` does (detectors on, the connection pages of the worst
// DefaultDetailConns connections with every segment) and reports the size
// of report.html. scripts/bench-report.sh makes a 1M-packet capture; with
// -cpuprofile it shows where the time goes.
func BenchmarkReportFile(b *testing.B) {
	in := os.Getenv("TCPVIZ_BENCH_PCAP")
	if in == "" {
		b.Skip("TCPVIZ_BENCH_PCAP names no capture")
	}
	dir := b.TempDir()
	var size int64
	for b.Loop() {
		segs := NewSegments(SegmentLimits{}, Filter{}, nil)
		input, err := Load(context.Background(), in, LoadOptions{Pipeline: pipecfg.Detectors(), Segments: segs})
		if err != nil {
			b.Fatal(err)
		}
		r, err := Build(input.Collector, input.Flows, input.Summary, Options{Segments: segs, CaptureFile: in})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.WriteFiles(dir); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(dir, FileReport))
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB-report.html")
}
