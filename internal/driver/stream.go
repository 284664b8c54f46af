package driver

import (
	"context"
	"fmt"
	"time"

	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng"
)

// Handler receives each record of a stream with the file it came from. The
// record is only valid during the call.
type Handler = func(file string, rec *pcapng.Record) error

// Stream is a capture read while it is being written: a running capture's
// files followed as they grow and rotate (monitor.Follower), or a live
// capture with no file (capture.Live). Run hands every record to h, in
// order, until ctx is done, the stream ends, or h fails.
type Stream interface {
	Run(ctx context.Context, h Handler) error
}

// runStream is Run over in.Stream: records are fed one at a time as they
// come (nothing is read ahead: a record must reach the sinks as soon as it
// is written), OnFile is called when the records start coming from another
// file, and Check after every record.
func runStream(ctx context.Context, in Source, p *pipeline.Pipeline, res *Result) error {
	file := ""
	err := in.Stream.Run(ctx, func(f string, rec *pcapng.Record) error {
		if f != file {
			file = f
			if in.OnFile != nil {
				in.OnFile(f)
			}
		}
		if err := p.Feed(rec); err != nil {
			return fmt.Errorf("%s: offset %d: %w", f, rec.Offset, err)
		}
		if in.Check != nil {
			return in.Check()
		}
		return nil
	})
	if in.Finish {
		p.Finish()
	}
	res.Seconds = time.Since(res.Started).Seconds()
	res.Stats = p.Stats()
	res.Frames = res.Stats.Frames
	return err
}
