//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// errNotFound marks a missing capture tool.
var errNotFound = errors.New("tool not installed")

// CaptureOptions select the capture tool and format.
type CaptureOptions struct {
	// Snaplen in bytes; default 128 (headers only).
	Snaplen int
	// PcapNG writes pcapng with dumpcap instead of classic pcap with
	// tcpdump.
	PcapNG bool
	// Filter is a capture filter (pcap-filter syntax), e.g. "tcp".
	Filter string
	// Nano asks tcpdump for nanosecond timestamps (classic pcap only).
	Nano bool
}

// Capture records the traffic on interface dev ("any" works too) inside ns
// into file, and returns a function that stops the capture and waits until
// the file is complete. It returns only once the capture is running.
func (l *Lab) Capture(ns, dev, file string, opts CaptureOptions) (stop func() error, err error) {
	snap := opts.Snaplen
	if snap == 0 {
		snap = 128
	}
	var name, ready string
	var args []string
	if opts.PcapNG {
		name, ready = "dumpcap", "Capturing on"
		args = []string{"-q", "-i", dev, "-s", strconv.Itoa(snap), "-w", file}
		if opts.Filter != "" {
			args = append(args, "-f", opts.Filter)
		}
	} else {
		name, ready = "tcpdump", "listening on"
		args = []string{"-i", dev, "-s", strconv.Itoa(snap), "-U", "--immediate-mode", "-n", "-w", file}
		if opts.Nano {
			args = append(args, "--time-stamp-precision", "nano")
		}
		if opts.Filter != "" {
			args = append(args, opts.Filter)
		}
	}
	if _, err := exec.LookPath(name); err != nil {
		return nil, fmt.Errorf("capture needs %s (Debian packages tcpdump, tshark): %w: %w", name, errNotFound, err)
	}
	p, err := l.Start(ns, name, args...)
	if err != nil {
		return nil, err
	}
	if err := p.WaitOutput(ready, 10*time.Second); err != nil {
		_ = l.Stop(p)
		return nil, fmt.Errorf("capture on %s in %s: %w", dev, ns, err)
	}
	// The socket is open, but give the kernel a moment to attach the filter
	// before the caller starts traffic.
	time.Sleep(50 * time.Millisecond)
	return func() error {
		// Let packets in flight reach the capture buffer first. dumpcap
		// has no immediate mode: libpcap hands packets over when a ring
		// block fills or its timeout passes, and a stop loses the rest.
		if opts.PcapNG {
			time.Sleep(1200 * time.Millisecond)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		if err := l.Stop(p); err != nil {
			return fmt.Errorf("stop %s: %w: %s", name, err, p.Output())
		}
		return nil
	}, nil
}
