package conntable

import (
	"context"
	"io"

	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
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
	sides := NewSides()
	run, err := driver.Run(ctx, driver.Source{Path: src.Input, Stdin: src.Stdin, Pipeline: src.Pipeline,
		KeepFlows: true, Progress: src.Progress}, sides)
	if err != nil {
		return nil, err
	}
	res := &Result{Stats: run.Stats, Rows: make([]Row, len(run.Flows))}
	for i := range run.Flows {
		res.Rows[i] = FromFlow(&run.Flows[i], sides.LocalIsServer(run.Flows[i].Flow))
	}
	return res, nil
}
