// Package capture runs tcpviz's eBPF capture: it loads the ebpfcap programs
// on one interface, merges the packet headers and the kernel's TCP state
// records by timestamp on one clock, and writes them into pcapng files,
// rotating them like dumpcap's ring buffer.
package capture

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/tcpviz/tcpviz/ebpfcap"
)

// Config is everything `tcpviz capture` takes.
type Config struct {
	// Interface to capture on (-i). Required.
	Interface string
	// Output is the capture file (-w). Without rotation it is written as
	// is; with rotation, files are named base_NNNNN_YYYYmmddHHMMSS.ext.
	// "-" writes the pcapng stream to standard output (no rotation).
	Output string
	// Stdout is where "-" writes (os.Stdout when nil): `tcpviz top` reads
	// the stream from a pipe.
	Stdout *os.File

	// RotateBytes starts a new file when the current one reaches this size
	// (--rotate-size, in MB of 1,000,000 bytes); 0: no size limit.
	RotateBytes int64
	// RotateInterval starts a new file after this long (--rotate-seconds).
	RotateInterval time.Duration
	// RotateFiles keeps at most this many files, deleting the oldest
	// (--rotate-files); 0 keeps all. Needs RotateBytes or RotateInterval.
	RotateFiles int

	// Duration stops the capture after this long (--duration); 0: no limit.
	Duration time.Duration
	// Count stops the capture after this many packets (--count); 0: no limit.
	Count uint64

	// Ports and Hosts filter packets and kernel records (--port, --host,
	// repeatable): a port filter matches either port, a host filter either
	// address.
	Ports []uint16
	Hosts []netip.Addr
	// Snaplen is how many bytes of each packet are kept (--snaplen,
	// default 128, at most ebpfcap.MaxSnaplen).
	Snaplen uint32
	// SampleInterval is the longest gap between two kernel samples of a busy
	// socket (--sample-interval, default 100ms).
	SampleInterval time.Duration
	// AllNetns keeps kernel records of sockets in every network namespace
	// (--all-netns); by default only the capture's namespace.
	AllNetns bool
	// PID and Comm keep only sockets owned by that process (--pid, --comm),
	// best effort: see docs/capture.md.
	PID  uint32
	Comm string
	// Netns runs the capture inside a named network namespace (a name
	// under /run/netns or a path such as /proc/PID/ns/net) (--netns).
	Netns string
	// NoKernelRecords captures packets only (--no-kernel).
	NoKernelRecords bool

	// PacketRingBytes and KernelRingBytes size the BPF ring buffers
	// (defaults 8 MiB and 1 MiB).
	PacketRingBytes, KernelRingBytes uint32

	// Log receives notices (attach mode, unavailable kernel records, file
	// rotations); nil discards them.
	Log io.Writer
	// Ready, if not nil, is called once the programs are attached and the
	// first file is open: packets from then on are captured.
	Ready func()
	// Status, if not nil, is called about once a second with the figures
	// so far (the command's live status line).
	Status func(Status)
}

// Status is a running capture's progress.
type Status struct {
	Packets uint64 // packets written
	Bytes   int64  // bytes written to every file so far
	Drops   uint64 // records lost in the kernel
	File    string // the file being written
}

func (c *Config) setDefaults() {
	if c.Snaplen == 0 {
		c.Snaplen = 128
	}
	if c.SampleInterval == 0 {
		c.SampleInterval = 100 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// ConfigError is a configuration that cannot run: a usage error, found
// before anything is loaded or created.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// Validate checks the configuration as Run does first (defaults applied),
// so a command line can report a usage error before any side effect.
func (c Config) Validate() error {
	c.setDefaults()
	return c.validate()
}

func (c *Config) validate() error {
	if err := c.check(); err != nil {
		return &ConfigError{Msg: err.Error()}
	}
	return nil
}

func (c *Config) check() error {
	switch {
	case c.Interface == "":
		return fmt.Errorf("capture: no interface given (-i)")
	case c.Output == "":
		return fmt.Errorf("capture: no output file given (-w)")
	case c.Snaplen > ebpfcap.MaxSnaplen:
		return fmt.Errorf("capture: snaplen %d above the maximum of %d", c.Snaplen, ebpfcap.MaxSnaplen)
	case c.Snaplen < 64:
		return fmt.Errorf("capture: snaplen %d too small for TCP headers (minimum 64)", c.Snaplen)
	case c.RotateBytes < 0 || c.RotateInterval < 0 || c.RotateFiles < 0 || c.Duration < 0:
		return fmt.Errorf("capture: negative rotation or duration limit")
	case c.RotateFiles > 0 && c.RotateBytes == 0 && c.RotateInterval == 0:
		return fmt.Errorf("capture: --rotate-files needs --rotate-size or --rotate-seconds")
	case c.Output == "-" && c.rotating():
		return fmt.Errorf("capture: cannot rotate standard output (-w -)")
	case c.PID != 0 && c.Comm != "":
		return fmt.Errorf("capture: give --pid or --comm, not both")
	case len(c.Comm) > maxComm:
		// The kernel keeps 15 bytes of a process name: a longer one never matches.
		return fmt.Errorf("capture: --comm %q is %d bytes; process names are at most %d", c.Comm, len(c.Comm), maxComm)
	case c.SampleInterval < time.Millisecond:
		return fmt.Errorf("capture: sample interval %v below 1ms", c.SampleInterval)
	}
	for _, r := range []struct {
		name string
		size uint32
	}{{"packet", c.PacketRingBytes}, {"kernel-record", c.KernelRingBytes}} {
		// The kernel wants a power of two, at least a page.
		if r.size != 0 && (r.size < 4096 || r.size&(r.size-1) != 0) {
			return fmt.Errorf("capture: %s ring of %d bytes: want a power of two of at least 4096", r.name, r.size)
		}
	}
	return nil
}

// maxComm is TASK_COMM_LEN - 1.
const maxComm = 15

func (c *Config) rotating() bool { return c.RotateBytes > 0 || c.RotateInterval > 0 }
