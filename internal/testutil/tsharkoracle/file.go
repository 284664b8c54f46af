package tsharkoracle

import (
	"context"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// NewDetector builds the detector engine under test, e.g.
//
//	func(emit func(*events.Event)) pipeline.Detector { return detectors.New(cfg, emit) }
type NewDetector func(emit func(*events.Event)) pipeline.Detector

// Ours runs tcpviz's pipeline (decode, connection table, detectors) over a
// capture and returns its frame-level flags.
func Ours(path string, det NewDetector) (Frames, error) {
	fr := make(Frames)
	if err := RunPipeline(path, det, frameSink(fr)); err != nil {
		return nil, err
	}
	return fr, nil
}

// RunPipeline runs a capture through tcpviz's pipeline into sinks.
func RunPipeline(path string, det NewDetector, sinks ...pipeline.Sink) error {
	_, err := RunStats(path, det, sinks...)
	return err
}

type frameSink Frames

func (s frameSink) Packet(*events.Packet) {}
func (s frameSink) Event(e *events.Event) { Frames(s).Add(e) }

// CheckFile compares tcpviz with tshark on one capture.
func CheckFile(ctx context.Context, path string, det NewDetector) (ours, theirs Frames, res []KindResult, err error) {
	if ours, err = Ours(path, det); err != nil {
		return nil, nil, nil, err
	}
	if theirs, err = Run(ctx, path); err != nil {
		return nil, nil, nil, err
	}
	return ours, theirs, Compare(ours, theirs), nil
}
