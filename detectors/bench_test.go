package detectors

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
)

// bulkTransfer crafts a sender-side view of a bulk transfer: 1448-byte
// segments, an ACK for every second segment, and one segment in lossEvery
// lost (answered by duplicate ACKs and a fast retransmission).
func bulkTransfer(segments, lossEvery int) []events.Packet {
	c := newConn(1, false, 0xFFF00000, 12345).handshake(wsOpt(7), tsOpt(1, 0))
	const mss = 1448
	var (
		next     uint32 = 1 // next new byte to send
		rcvEdge  uint32 = 1 // receiver's contiguous edge
		hole     uint32     // start of a lost segment, 0 when none
		dups     int
		received int
	)
	for i := 0; i < segments; i++ {
		c.after(10 * time.Microsecond)
		seq := next
		next += mss
		c.send(0, PA, seq, 1, mss, 502, tsOpt(uint32(i/100+10), 5))
		if lossEvery > 0 && i%lossEvery == lossEvery/2 && hole == 0 {
			hole = seq // lost after the capture point
			if received%2 == 1 {
				// out-of-order data is ACKed at once: flush the delayed ACK
				c.after(5*time.Microsecond).send(1, A, 1, rcvEdge, 0, 3000, tsOpt(5, uint32(i/100+10)))
				received++
			}
			continue
		}
		received++
		if hole != 0 {
			dups++
			c.after(5*time.Microsecond).send(1, A, 1, rcvEdge, 0, 3000, tsOpt(5, uint32(i/100+10)))
			if dups == 3 {
				c.after(5*time.Microsecond).send(0, PA, hole, 1, mss, 502, tsOpt(uint32(i/100+10), 5))
				rcvEdge, hole, dups = next, 0, 0
				c.after(5*time.Microsecond).send(1, A, 1, rcvEdge, 0, 3000, tsOpt(5, uint32(i/100+10)))
			}
			continue
		}
		rcvEdge = next
		if received%2 == 0 {
			c.after(5*time.Microsecond).send(1, A, 1, rcvEdge, 0, 3000, tsOpt(5, uint32(i/100+10)))
		}
	}
	return c.pkts
}

// BenchmarkEngine measures the detectors alone on a bulk transfer with 1 %
// loss; ns/packet is the figure to compare with the pipeline's budget.
func BenchmarkEngine(b *testing.B) {
	pkts := bulkTransfer(200000, 100)
	nEvents := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := New(DefaultConfig(), func(*events.Event) { nEvents++ })
		for j := range pkts {
			e.Packet(&pkts[j])
		}
		e.Finish()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
	b.ReportMetric(float64(nEvents)/float64(b.N), "events/op")
	b.ReportMetric(float64(len(pkts)), "packets/op")
}

// TestBulkTransferFindings checks the benchmark's traffic is what it claims:
// every loss is found as three dup ACKs and one fast retransmission.
func TestBulkTransferFindings(t *testing.T) {
	pkts := bulkTransfer(20000, 100)
	evs, _ := runEngine(DefaultConfig(), pkts, 0)
	count := map[string]int{}
	for _, e := range evs {
		k := e.Type + "/" + e.Kind + e.Reason
		if e.Confirmed != nil && *e.Confirmed {
			k += "/confirmed"
		}
		count[k]++
	}
	// Each hole is reported (unconfirmed), then confirmed by the retransmission.
	if count["retransmission/fast"] != 200 || count["dup_ack/"] != 600 || count["loss_infer/triple_duplicate_ack"] != 200 ||
		count["loss_infer/triple_duplicate_ack/confirmed"] != 200 {
		t.Errorf("findings %v", count)
	}
	if count["out_of_order/"] != 0 || count["retransmission/rto"] != 0 || count["lost_segment/"] != 0 {
		t.Errorf("false findings %v", count)
	}
}

// BenchmarkPipeline reads a pcap of the bulk transfer from memory through
// the whole pipeline, without and with the detectors: the difference is the
// detectors' share (budget: at most 30 %).
func BenchmarkPipeline(b *testing.B) { benchPipeline(b, false) }

// BenchmarkPipelineLimits is BenchmarkPipeline with the detectors on, with
// and without the limits analysis (budget: at most 10 % more).
func BenchmarkPipelineLimits(b *testing.B) { benchPipeline(b, true) }

func benchPipeline(b *testing.B, limits bool) {
	pkts := bulkTransfer(200000, 100)
	path := filepath.Join(b.TempDir(), "bulk.pcap")
	writeCapture(b, path, pkts, false)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	type variant struct {
		name        string
		det, limits bool
	}
	variants := []variant{{"without-detectors", false, false}, {"with-detectors", true, true}}
	if limits {
		variants = []variant{{"limits-off", true, false}, {"limits-on", true, true}}
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			dc := DefaultConfig()
			dc.Limits = v.limits
			for i := 0; i < b.N; i++ {
				cfg := pipeline.Config{Flows: conntrack.DefaultConfig()}
				if v.det {
					cfg.NewDetector = func(emit func(*events.Event)) pipeline.Detector { return New(dc, emit) }
				}
				p := pipeline.New(cfg)
				feed.Bytes(b, data, path, p)
				p.Finish()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
		})
	}
}

// BenchmarkEngineLimits is BenchmarkEngine with and without the limits
// analysis: the difference is its per-packet cost.
func BenchmarkEngineLimits(b *testing.B) {
	pkts := bulkTransfer(200000, 100)
	for _, on := range []bool{false, true} {
		name := "limits-off"
		if on {
			name = "limits-on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Limits = on
			b.ReportAllocs()
			for b.Loop() {
				e := New(cfg, func(*events.Event) {})
				for j := range pkts {
					e.Packet(&pkts[j])
				}
				var r events.FlowRecord
				e.FillFlow(1, &r)
				e.Finish()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
		})
	}
}
