package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/connfilter"
	"github.com/tcpviz/tcpviz/internal/conntable"
)

// liveFlows is `flows --follow PATH` (a running capture's files) and
// `flows --live` (straight from eBPF): a tcplife row for each connection
// as it closes, with the offline table's columns and formats.
type liveFlows struct {
	follow    string
	fromStart bool
	live      bool
	capture   capture.Config
	det       *detectorFlags
}

func (lf *liveFlows) enabled() bool { return lf.follow != "" || lf.live }

func (lf *liveFlows) run(filter connfilter.Filter, opts conntable.Options) error {
	if lf.live {
		if err := needLinux("flows --live"); err != nil {
			return err
		}
		if err := checkCapturePrivileges(); err != nil {
			return err
		}
		if lf.capture.Interface == "" {
			lf.capture.Interface = defaultRouteInterface()
		}
	}
	cfg, err := lf.det.pipelineConfig()
	if err != nil {
		return err
	}
	// A reset connection is printed 2 s after its end instead of after the
	// minute the table keeps it for late duplicates in files.
	cfg.Flows.CloseLinger = 2 * time.Second
	sides := conntable.NewSides()
	opts.Color = opts.Format == conntable.FormatText && useColor(os.Stdout)
	var werr error
	cfg.OnFlow = func(r *events.FlowRecord) {
		row := conntable.FromFlow(r, sides.LocalIsServer(r.Flow))
		if opts.Origin == 0 {
			opts.Origin = row.Start
		}
		if werr != nil || !conntable.Match(&filter, &row, opts.Origin) {
			return
		}
		werr = conntable.Write(os.Stdout, []conntable.Row{row}, opts)
		opts.Header = false
	}
	if opts.Header && opts.Format != conntable.FormatJSON && !opts.Why {
		// The header goes out at once, so a user sees the command is ready.
		if werr = conntable.Write(os.Stdout, nil, opts); werr != nil {
			return werr
		}
		opts.Header = false
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	status := make(chan string, 16)
	go func() {
		for s := range status {
			os.Stderr.WriteString("tcpviz flows: " + s + "\n")
		}
	}()
	in, err := newLiveInput(lf.follow, lf.fromStart, lf.capture, status)
	if err != nil {
		return err
	}
	// Connections still in the table when the input stops are printed too
	// (finish): closed ones waiting out their linger and, with their state,
	// those still open.
	err = in.run(ctx, cfg, true, sides)
	if werr != nil {
		return werr
	}
	return feedError(err)
}
