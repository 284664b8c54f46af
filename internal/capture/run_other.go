//go:build !linux

package capture

import (
	"context"
	"errors"
)

// ErrUnsupported is returned by Run on systems without eBPF.
var ErrUnsupported = errors.New("capture needs Linux (eBPF); on this system read capture files with parse-pcap, flows, report, summary or monitor")

// Run fails at once: capturing needs Linux's eBPF.
func Run(ctx context.Context, cfg Config) (Summary, error) { return Summary{}, ErrUnsupported }
