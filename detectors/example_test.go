package detectors_test

import (
	"context"
	"fmt"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// fullSegments reports every segment that carries a full MSS-sized payload
// (1448 bytes with timestamps on an Ethernet path): a whole detector.
type fullSegments struct {
	emit func(*events.Event)
	ev   events.Event // reused: the pipeline copies what it keeps
}

func (d *fullSegments) Packet(p *events.Packet) {
	if p.Len != 1448 {
		return
	}
	d.ev = events.Event{Type: "full_segment", Frame: p.Frame, TS: events.Timestamp(p.TS), Flow: p.Flow,
		Dir: p.Dir, Severity: events.SevInfo, Seq: p.RelSeq, Len: p.Len}
	d.emit(&d.ev)
}

func (d *fullSegments) Kernel(uint64, *kblock.Record, uint64, events.Dir) {}
func (d *fullSegments) Advance(int64)                                     {}
func (d *fullSegments) Finish()                                           {}
func (d *fullSegments) CloseFlow(uint64, *events.FlowRecord)              {}

// A detector of your own runs beside the built-in ones: register it (from an
// init function in a real program) and every run that builds its detectors
// with NewSet, as every tcpviz command does, runs it too. Its events reach
// every output, and each connection's record counts them.
func ExampleRegister() {
	detectors.Register("full-segments", func(cfg detectors.Config, emit func(*events.Event)) detectors.Detector {
		return &fullSegments{emit: emit}
	})
	fmt.Println(detectors.Registered())

	cfg := pipeline.Config{Flows: conntrack.DefaultConfig(),
		NewDetector: func(emit func(*events.Event)) pipeline.Detector {
			return detectors.NewSet(detectors.DefaultConfig(), emit)
		}}
	flows := 0
	cfg.OnFlow = func(r *events.FlowRecord) {
		if r.Events["full_segment"] > 0 {
			flows++
		}
	}
	res, err := driver.Run(context.Background(), driver.Source{Path: "../samples/kernel-lossy-bulk.pcapng", Pipeline: cfg})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Stats.Events["full_segment"], "full segments in", flows, "connection")
	// Output:
	// [tcp full-segments]
	// 1411 full segments in 1 connection
}
