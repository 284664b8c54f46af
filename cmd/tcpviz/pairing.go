package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/tcpviz/tcpviz/internal/pairing"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/viz"
)

// pairConfig is the pipeline pairing reads a capture with: the flow table
// and the decoder's settings, no detectors.
func pairConfig(det *detectorFlags) (pipeline.Config, error) {
	cfg, err := det.pipelineConfig()
	if err != nil {
		return cfg, err
	}
	return pipeline.Config{Flows: cfg.Flows, Decode: cfg.Decode}, nil
}

// readPair reads f.pair and pairs it with a, the capture f.in already read
// (nil: read it here), keeping the connections the connection filters
// (flow, hosts, ports; A's view) select.
func readPair(ctx context.Context, f *reportFlags, a *pairing.Capture) (*pairing.Result, error) {
	flt, err := f.filter.compile(true)
	if err != nil {
		return nil, err
	}
	if err := flt.Compile(); err != nil {
		return nil, err
	}
	cfg, err := pairConfig(f.det)
	if err != nil {
		return nil, err
	}
	if a == nil {
		if a, err = pairing.Read(ctx, f.in, cfg, 0); err != nil {
			return nil, err
		}
	}
	b, err := pairing.Read(ctx, f.pair, cfg, 0)
	if err != nil {
		return nil, err
	}
	r := pairing.Pair(a, b)
	if flt.Narrows() {
		r.Keep(flt.MatchConn)
	}
	return r, nil
}

// summaryPair prints the pairing of two captures.
func summaryPair(f *reportFlags, format string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := readPair(ctx, f, nil)
	if err != nil {
		return err
	}
	switch format {
	case viz.FormatJSON:
		return pairing.WriteJSON(os.Stdout, r)
	case viz.FormatCSV:
		return pairing.WriteCSV(os.Stdout, r)
	}
	return pairing.WriteText(os.Stdout, r)
}
