package detectors

import (
	"bytes"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
)

// BenchmarkLimitsShort runs 20,000 short connections (capgen.Short) from
// memory through the pipeline, detectors on, and encodes every flow record,
// with and without the limits analysis: the difference is the analysis's
// cost per connection, without the files and goroutines of parse-pcap
// (BenchmarkLimits in internal/sessionfiles measures those).
func BenchmarkLimitsShort(b *testing.B) {
	const n = 20_000
	var capture bytes.Buffer
	if err := capgen.Short(&capture, n, int64(50*time.Microsecond), int64(time.Millisecond)); err != nil {
		b.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		name := "limits-off"
		if on {
			name = "limits-on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Limits = on
			var buf []byte
			b.ReportAllocs()
			cpu0 := int64(cputime.Process())
			for b.Loop() {
				p := pipeline.New(pipeline.Config{Flows: conntrack.DefaultConfig(),
					NewDetector: func(emit func(*events.Event)) pipeline.Detector { return New(cfg, emit) },
					OnFlow:      func(r *events.FlowRecord) { buf = r.AppendJSON(buf[:0]) }})
				feed.Bytes(b, capture.Bytes(), "short.pcap", p)
				p.Finish()
			}
			// CPU time: on a shared machine the wall clock measures the wait
			// for a core.
			b.ReportMetric(float64(int64(cputime.Process())-cpu0)/float64(b.N*n), "cpu-ns/conn")
		})
	}
}
