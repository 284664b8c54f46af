package pairing

import (
	"context"
	"testing"

	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// BenchmarkReadAndPair reads both captures of a 200,000-segment transfer
// (about 400,000 packets each, 1 % data loss) and pairs them:
// go test ./internal/pairing -run '^$' -bench ReadAndPair -benchtime 3x
func BenchmarkReadAndPair(b *testing.B) {
	s := synth{n: 200_000, delay: 1e6}
	for i := 50; i < s.n; i += 100 {
		s.lost = append(s.lost, i)
	}
	cp, sp, tr := s.write(b, b.TempDir())
	cfg := pipeline.Config{Flows: conntrack.DefaultConfig()}
	var segs int
	b.ResetTimer()
	for range b.N {
		ca, err := Read(context.Background(), cp, cfg, 0)
		if err != nil {
			b.Fatal(err)
		}
		cb, err := Read(context.Background(), sp, cfg, 0)
		if err != nil {
			b.Fatal(err)
		}
		r := Pair(ca, cb)
		if r.Conns[0].Dirs[0].DataLost != tr.dataLost[0] {
			b.Fatalf("lost %d, want %d", r.Conns[0].Dirs[0].DataLost, tr.dataLost[0])
		}
		segs = ca.Segments + cb.Segments
	}
	b.ReportMetric(float64(segs)*float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}
