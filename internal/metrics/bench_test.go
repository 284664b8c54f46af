package metrics

import (
	"context"
	"os"
	"testing"

	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// BenchmarkTrafficOverhead runs the monitor's pipeline (decode, connection
// table, detectors) over a capture with and without the metrics sink and
// reports ns per packet; the difference is what --metrics-addr costs the
// monitor per packet. Capture: $TCPVIZ_BENCH_CAPTURE, else a lossy sample.
func BenchmarkTrafficOverhead(b *testing.B) {
	in := os.Getenv("TCPVIZ_BENCH_CAPTURE")
	if in == "" {
		in = "../../samples/bbr-loss-sender.pcapng"
	}
	for _, withMetrics := range []bool{false, true} {
		name := "without"
		if withMetrics {
			name = "with"
		}
		b.Run(name, func(b *testing.B) {
			var packets uint64
			for range b.N {
				cfg := pipecfg.Detectors()
				o := sessionfiles.Options{Input: in, OutDir: b.TempDir(), Pipeline: cfg}
				if withMetrics {
					tr := NewTraffic(NewRegistry(), []uint16{5001, 5201})
					o.Sinks = []pipeline.Sink{tr}
					o.Pipeline.OnFlow = tr.Flow
				}
				res, err := sessionfiles.Run(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				packets += res.Summary.Packets
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
		})
	}
}
