package main

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/monitor"
)

// liveInput is what top and flows --follow/--live read: a running
// capture's files followed as they grow, or the eBPF capture itself with no
// file. Its notices go to status.
type liveInput struct {
	stream driver.Stream
	live   *capture.Live // nil when following files
	seen   atomic.Uint64 // drops reported by the records read so far
}

// newLiveInput follows path (from its start with fromStart), or captures
// with cfg when path is empty.
func newLiveInput(path string, fromStart bool, cfg capture.Config, status chan<- string) (*liveInput, error) {
	in := &liveInput{}
	if path == "" {
		cfg.Log = statusWriter{status}
		in.live = &capture.Live{Config: cfg}
		in.stream = in.live
		return in, nil
	}
	f, err := monitor.NewFollower(monitor.FollowConfig{Path: path, FromStart: fromStart, Log: statusWriter{status}})
	if err != nil {
		return nil, err
	}
	in.stream = f
	return in, nil
}

// drops is the capture's drops so far: from its statistics records, and
// once a live capture has stopped, its own count.
func (in *liveInput) drops() uint64 {
	n := in.seen.Load()
	if in.live != nil {
		n = max(n, in.live.Drops())
	}
	return n
}

// run feeds the pipeline built from cfg, with sinks, until the input ends or
// ctx is done; with finish, connections still open then are closed (their
// records go to cfg.OnFlow).
func (in *liveInput) run(ctx context.Context, cfg pipeline.Config, finish bool, sinks ...pipeline.Sink) error {
	var p *pipeline.Pipeline
	_, err := driver.Run(ctx, driver.Source{
		Stream: in.stream, Pipeline: cfg, Finish: finish,
		Setup: func(pp *pipeline.Pipeline) { p = pp },
		Check: func() error {
			in.seen.Store(p.CaptureDrops())
			return nil
		},
	}, sinks...)
	return err
}

// statusWriter turns notices into status lines for the view.
type statusWriter struct{ ch chan<- string }

func (s statusWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		select {
		case s.ch <- line:
		default: // the view is behind: drop the notice rather than block the feed
		}
	}
	return len(b), nil
}
