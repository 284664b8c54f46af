package sessionfiles

import (
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng"
)

// BenchmarkPipelineFile measures parse-pcap's critical path alone: the
// pipeline goroutine (connection table, detectors, handing events and flow
// records to their writers) over the packets of TCPVIZ_BENCH_PCAP, decoded
// into memory beforehand. The writers run as in parse-pcap, writing to
// io.Discard on their own goroutines. It reports the CPU time of the
// pipeline's own thread per packet (pipe-ns/pkt, from RUSAGE_THREAD:
// steadier than wall time on a shared machine; it includes the garbage
// collection work the pipeline is made to assist with):
//
//	TCPVIZ_BENCH_PCAP=/tmp/x.pcap go test ./internal/sessionfiles -run XXX \
//	  -bench PipelineFile -benchtime 5x
func BenchmarkPipelineFile(b *testing.B) {
	in := os.Getenv("TCPVIZ_BENCH_PCAP")
	if in == "" {
		b.Skip("TCPVIZ_BENCH_PCAP names no capture")
	}
	pkts := decodeAll(b, in)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	for b.Loop() {
		evw := events.NewAsyncWriter(events.NewWriter(io.Discard, 256<<10))
		flw := events.NewAsyncWriter(events.NewWriter(io.Discard, 64<<10))
		cfg := pipecfg.Detectors()
		cfg.OnFlow = flw.Flow
		p := pipeline.New(cfg)
		p.AddSink(&jsonlSink{w: nil, async: evw, table: p.Table()})
		cpu0 := cputime.Thread()
		for i := range pkts {
			// The pipeline sets the connection fields afresh on every run.
			p.FeedPacket(&pkts[i])
		}
		p.Finish()
		cpu += cputime.Thread() - cpu0
		evw.Close()
		flw.Close()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(len(pkts)), "pipe-ns/pkt")
}

// decodeAll decodes every TCP packet of a capture, as the reader stage
// hands them to the pipeline.
func decodeAll(b *testing.B, path string) []events.Packet {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := pcapng.NewReader(f, path)
	dec := decode.NewWithConfig(decode.DefaultConfig())
	var pkts []events.Packet
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if rec.Type != pcapng.RecordPacket {
			continue
		}
		var pk events.Packet
		pk.TS = rec.TS
		if ok, _ := dec.Decode(pipeline.LinkType(rec), rec.Data, rec.OrigLen, &pk); !ok {
			continue
		}
		pk.Frame, pk.TS, pk.Interface = rec.Frame, rec.TS, int(rec.InterfaceID)
		pk.Payload = nil // the reader's buffer; nothing on this path reads it
		pkts = append(pkts, pk)
	}
	return pkts
}
