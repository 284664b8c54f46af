package lifetable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pipeline"
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
	name, in := src.Input, src.Stdin
	var size int64
	if src.Input == "-" {
		name = "stdin"
		if in == nil {
			in = os.Stdin
		}
	} else {
		f, err := os.Open(src.Input)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}

	var flows []events.FlowRecord
	cfg := src.Pipeline
	userOnFlow := cfg.OnFlow
	cfg.OnFlow = func(r *events.FlowRecord) {
		flows = append(flows, *r)
		if userOnFlow != nil {
			userOnFlow(r)
		}
	}
	p := pipeline.New(cfg)
	sides := NewSides()
	p.AddSink(sides)

	r := pcapng.NewReader(in, name)
	total := func() int64 {
		if r.Compressed() {
			return 0 // offsets count decompressed bytes
		}
		return size
	}
	var n uint64
	for ; ; n++ {
		if n&0xffff == 0 && n > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if src.Progress != nil {
				src.Progress(r.Offset(), total(), n)
			}
		}
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, pcapng.ErrNeedMore) {
			p.Warn(err.Error())
			break
		}
		if err != nil {
			return nil, err
		}
		if err := p.Feed(rec); err != nil {
			return nil, fmt.Errorf("%s: offset %d: %w", name, rec.Offset, err)
		}
	}
	p.Finish()
	if src.Progress != nil {
		src.Progress(r.Offset(), total(), n)
	}
	res := &Result{Stats: p.Stats(), Rows: make([]Row, len(flows))}
	for i := range flows {
		res.Rows[i] = FromFlow(&flows[i], sides.LocalIsServer(flows[i].Flow))
	}
	return res, nil
}
