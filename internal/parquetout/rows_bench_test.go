package parquetout

import (
	"os"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// BenchmarkWriteRows: rows per second into Parquet, by table.
func BenchmarkWriteRows(b *testing.B) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano()
	b.Run("events", func(b *testing.B) {
		w, _ := New(Config{Dir: b.TempDir(), Host: "h", Stem: "s"})
		e := event(time.Unix(0, t0), 1)
		b.ReportAllocs()
		for i := range b.N {
			e.TS = events.Timestamp(t0 + int64(i)*1000)
			e.Frame = uint64(i)
			w.Event(e)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("packets", func(b *testing.B) {
		w, _ := New(Config{Dir: b.TempDir(), Host: "h", Stem: "s", Packets: true})
		p := &events.Packet{Flow: 1, Seq: 1000, RelSeq: 1, Len: 1448, Window: 512, WindowScaled: 512 << 7, Flags: events.FlagACK}
		p.Options.HasTS = true
		if os.Getenv("BENCH_SACK") != "" {
			p.Options.NumSACK = 2
			p.Options.SACK[0], p.Options.SACK[1] = events.SACKBlock{Left: 5000, Right: 9000}, events.SACKBlock{Left: 12000, Right: 15000}
		}
		b.ReportAllocs()
		for i := range b.N {
			p.TS = t0 + int64(i)*1000
			p.Frame = uint64(i)
			p.Seq += 1448
			p.RelSeq += 1448
			w.Packet(p)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	})
}
