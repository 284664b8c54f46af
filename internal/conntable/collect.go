package conntable

import (
	"context"
	"io"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/pcapng"
)

// Source says which capture to read.
type Source struct {
	Input string    // path, or "-" for standard input
	Stdin io.Reader // read when Input is "-" (os.Stdin when nil)
	// Pipeline is the pipeline configuration (detectors fill in the
	// retransmission and RTT columns; without them those stay empty).
	Pipeline pipeline.Config
	// Progress, when set, is called every 64k records and at the end with
	// the bytes consumed, the input size (0 when unknown) and the records.
	Progress func(done, size int64, records uint64)
}

// Result is what Collect read.
type Result struct {
	Rows  []Row // in the order connections ended; Sort them
	Stats pipeline.Stats
}

// Collect runs a capture through the pipeline and returns one row per
// connection. It writes nothing to disk. A capture cut short inside a block
// counts up to its last complete block, with a warning in Stats.
func Collect(ctx context.Context, src Source) (*Result, error) {
	in, err := sessionfiles.OpenInput(src.Input, src.Stdin)
	if err != nil {
		return nil, err
	}
	defer in.Close()

	var flows []events.FlowRecord
	cfg := src.Pipeline
	userOnFlow := cfg.OnFlow
	cfg.OnFlow = func(r *events.FlowRecord) {
		flows = append(flows, *r)
		if userOnFlow != nil {
			userOnFlow(r)
		}
	}
	cfg.Source = in.Name
	p := pipeline.New(cfg)
	sides := NewSides()
	p.AddSink(sides)

	r := pcapng.NewReader(in, in.Name)
	if err := sessionfiles.Feed(ctx, r, in.Size, p, src.Progress, nil); err != nil {
		return nil, err
	}
	res := &Result{Stats: p.Stats(), Rows: make([]Row, len(flows))}
	for i := range flows {
		res.Rows[i] = FromFlow(&flows[i], sides.LocalIsServer(flows[i].Flow))
	}
	return res, nil
}
