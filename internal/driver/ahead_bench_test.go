package driver

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
	"github.com/tcpviz/tcpviz/pcapng"
)

// BenchmarkReadAhead measures the reader stage of parse-pcap alone: reading
// and decoding TCPVIZ_BENCH_PCAP into batches, as the pipeline receives
// them (the batches are handed straight back). It reports the CPU time of
// the reading goroutine's thread per record (read-ns/rec, from
// RUSAGE_THREAD: steadier than wall time on a shared machine):
//
//	TCPVIZ_BENCH_PCAP=/tmp/x.pcap go test ./internal/driver -run XXX \
//	  -bench ReadAhead -benchtime 5x
func BenchmarkReadAhead(b *testing.B) {
	in := os.Getenv("TCPVIZ_BENCH_PCAP")
	if in == "" {
		b.Skip("TCPVIZ_BENCH_PCAP names no capture")
	}
	var cpu time.Duration
	var recs int
	for b.Loop() {
		f, err := os.Open(in)
		if err != nil {
			b.Fatal(err)
		}
		out, st := newAheadQueue(), newStock(1)
		used := make(chan time.Duration, 1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := cputime.Thread()
			readAhead(context.Background(), pcapng.NewReader(f, in), decode.NewWithConfig(decode.DefaultConfig()), out, st)
			used <- cputime.Thread() - cpu0
		}()
		for a, ok := out.get(); ok; a, ok = out.get() {
			recs += len(a.items)
			giveBack(st, a)
		}
		cpu += <-used
		f.Close()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(recs), "read-ns/rec")
}
