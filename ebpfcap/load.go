//go:build linux

package ebpfcap

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// Options configure the programs before they are loaded.
type Options struct {
	// Ifindex of the interface whose packets are captured.
	Ifindex int
	// L2Len is the link-layer header length in front of IP: 14 for Ethernet
	// and loopback, 0 for raw-IP devices (tun, wireguard).
	L2Len uint32
	// Snaplen is how many bytes of each packet are kept (at most MaxSnaplen).
	Snaplen uint32
	// Ingress and Egress select the tc hooks. On lo every packet passes both,
	// so one of them is enough.
	Ingress, Egress bool
	// Ports and Hosts filter packets and kernel records: a packet is kept
	// when either port is in Ports (if any) and either address is in Hosts
	// (if any).
	Ports []uint16
	Hosts []netip.Addr
	// PID or Comm keep only sockets owned by that process (best effort: the
	// owner is learned when the process connects, sends, receives or closes).
	PID  uint32
	Comm string
	// NetnsInode keeps kernel records of sockets in this network namespace;
	// 0 keeps every namespace.
	NetnsInode uint32
	// SampleInterval is the longest gap between two tcp_probe samples of a
	// busy socket (default 100ms); changes are reported sooner.
	SampleInterval time.Duration
	// PacketRing and KernelRing are the ring buffer sizes in bytes (powers
	// of two, multiples of the page size; defaults 8 MiB and 1 MiB).
	PacketRing, KernelRing uint32
	// NoKernelRecords loads only the packet programs.
	NoKernelRecords bool
	// ForceClsBPF attaches the packet programs with cls_bpf even where
	// tcx works (to test the fallback).
	ForceClsBPF bool
}

// Attach modes of the packet programs.
const (
	ModeTCX    = "tcx"
	ModeClsBPF = "cls_bpf (clsact qdisc)"
)

// Capture is the loaded and attached set of programs.
type Capture struct {
	// Packets and Kernel are the two ring buffers (packet headers, kernel
	// records).
	Packets, Kernel *ebpf.Map
	// Mode says how the packet programs are attached (ModeTCX, ModeClsBPF).
	Mode string
	// Tracepoints lists the kernel hooks attached; Unavailable the ones
	// missing on this kernel, with the reason.
	Tracepoints []string
	Unavailable map[string]string

	coll    *ebpf.Collection
	links   []link.Link
	cleanup []func() error
}

// Required tracepoints are the heart of the kernel records; optional ones are
// used when the kernel has them.
var tracepoints = []struct {
	prog, event string
	ownerOnly   bool // only needed for --pid/--comm
}{
	{"tcp_probe", "tcp_probe", false},
	{"tcp_retransmit", "tcp_retransmit_skb", false},
	{"tcp_retransmit_err", "tcp_retransmit_skb", false},
	{"inet_sock_set_state", "inet_sock_set_state", false},
	{"tcp_send_reset", "tcp_send_reset", false},
	{"tcp_receive_reset", "tcp_receive_reset", false},
	{"sock_send_length", "sock_send_length", true},
	{"sock_recv_length", "sock_recv_length", true},
}

// optionalProgs are dropped first when the kernel refuses a tracing program.
var optionalProgs = map[string]bool{
	"tcp_send_reset": true, "tcp_receive_reset": true, "sock_send_length": true, "sock_recv_length": true,
}

// Load loads the programs with opts and attaches them. The caller must run
// in the network namespace of opts.Ifindex. Close detaches everything.
func Load(opts Options) (_ *Capture, err error) {
	if err := removeMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("load eBPF object: %w", err)
	}
	if err := configure(spec, &opts); err != nil {
		return nil, err
	}

	c := &Capture{Unavailable: map[string]string{}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if !opts.NoKernelRecords {
		c.pickTracepoints(spec, opts.PID != 0 || opts.Comm != "")
	} else {
		for _, tp := range tracepoints {
			delete(spec.Programs, tp.prog)
		}
	}

	// A tracing program the verifier refuses should not cost the packets:
	// retry without the optional hooks, then without kernel records, and
	// say why.
	for _, drop := range []func(name string) bool{
		func(name string) bool { return optionalProgs[name] },
		func(string) bool { return true },
	} {
		c.coll, err = ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{})
		if err == nil || len(c.tracingProgs(spec)) == 0 {
			break
		}
		why := shortErr(err)
		for _, name := range c.tracingProgs(spec) {
			if drop(name) {
				c.Unavailable[spec.Programs[name].AttachTo] = "load failed: " + why
				delete(spec.Programs, name)
			}
		}
	}
	if err != nil && len(c.tracingProgs(spec)) == 0 && c.coll == nil {
		c.coll, err = ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{})
	}
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load eBPF programs: %+v", ve)
		}
		return nil, fmt.Errorf("load eBPF programs: %w", err)
	}
	c.Packets = c.coll.Maps["pkts"]
	c.Kernel = c.coll.Maps["krecs"]

	if err := c.fillFilters(&opts); err != nil {
		return nil, err
	}
	if err := c.attachTracing(spec); err != nil {
		return nil, err
	}
	if err := c.attachPackets(&opts); err != nil {
		return nil, err
	}
	return c, nil
}

func configure(spec *ebpf.CollectionSpec, o *Options) error {
	if o.Snaplen == 0 {
		o.Snaplen = 128
	}
	if o.Snaplen > MaxSnaplen {
		return fmt.Errorf("snaplen %d above the maximum of %d", o.Snaplen, MaxSnaplen)
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = 100 * time.Millisecond
	}
	var comm [16]byte
	if len(o.Comm) > 15 {
		// The kernel keeps 15 characters of a task name.
		o.Comm = o.Comm[:15]
	}
	copy(comm[:], o.Comm)
	set := map[string]any{
		"cfg_snaplen":      o.Snaplen,
		"cfg_l2len":        o.L2Len,
		"cfg_filter_ports": boolByte(len(o.Ports) > 0),
		"cfg_filter_hosts": boolByte(len(o.Hosts) > 0),
		"cfg_filter_owner": boolByte(o.PID != 0 || o.Comm != ""),
		"cfg_pid":          o.PID,
		"cfg_comm":         comm,
		"cfg_netns":        o.NetnsInode,
		"cfg_sample_ns":    uint64(o.SampleInterval.Nanoseconds()),
		"cfg_jiffy_us":     jiffyUS(),
	}
	for name, v := range set {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("eBPF object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	if o.PacketRing != 0 {
		spec.Maps["pkts"].MaxEntries = o.PacketRing
	}
	if o.KernelRing != 0 {
		spec.Maps["krecs"].MaxEntries = o.KernelRing
	}
	return nil
}

// jiffyUS is USEC_PER_SEC / HZ, as the kernel converts chronographs for
// tcp_info; 0 when HZ is unknown.
func jiffyUS() uint32 {
	if hz := KernelHZ(); hz > 0 {
		return uint32(1000000 / hz)
	}
	return 0
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// pickTracepoints drops the programs whose tracepoint this kernel lacks, and
// picks the tcp_retransmit_skb variant matching its argument list.
func (c *Capture) pickTracepoints(spec *ebpf.CollectionSpec, owner bool) {
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		for _, tp := range tracepoints {
			delete(spec.Programs, tp.prog)
			c.Unavailable[tp.event] = "no kernel BTF: " + err.Error()
		}
		return
	}
	for _, tp := range tracepoints {
		if tp.ownerOnly && !owner {
			delete(spec.Programs, tp.prog)
			continue
		}
		n, err := tracepointArgs(kernel, tp.event)
		if err != nil {
			delete(spec.Programs, tp.prog)
			c.Unavailable[tp.event] = "not in this kernel"
			continue
		}
		switch tp.prog {
		case "tcp_retransmit":
			if n >= 3 {
				delete(spec.Programs, tp.prog)
			}
		case "tcp_retransmit_err":
			if n < 3 {
				delete(spec.Programs, tp.prog)
			}
		}
	}
}

// tracepointArgs counts the arguments of a BTF-enabled tracepoint.
func tracepointArgs(kernel *btf.Spec, event string) (int, error) {
	var td *btf.Typedef
	if err := kernel.TypeByName("btf_trace_"+event, &td); err != nil {
		return 0, err
	}
	ptr, ok := td.Type.(*btf.Pointer)
	if !ok {
		return 0, fmt.Errorf("btf_trace_%s is not a pointer", event)
	}
	fp, ok := ptr.Target.(*btf.FuncProto)
	if !ok {
		return 0, fmt.Errorf("btf_trace_%s is not a function pointer", event)
	}
	return len(fp.Params) - 1, nil // the first parameter is the tracepoint's data pointer
}

func (c *Capture) tracingProgs(spec *ebpf.CollectionSpec) []string {
	var names []string
	for name, p := range spec.Programs {
		if p.Type == ebpf.Tracing {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func (c *Capture) fillFilters(o *Options) error {
	one := uint8(1)
	for _, p := range o.Ports {
		if err := c.coll.Maps["ports"].Put(p, one); err != nil {
			return fmt.Errorf("port filter %d: %w", p, err)
		}
	}
	for _, h := range o.Hosts {
		key := h.As16() // IPv4 as IPv4-mapped IPv6, the kernel's key form
		if err := c.coll.Maps["hosts"].Put(key, one); err != nil {
			return fmt.Errorf("host filter %s: %w", h, err)
		}
	}
	return nil
}

func (c *Capture) attachTracing(spec *ebpf.CollectionSpec) error {
	for _, tp := range tracepoints {
		prog, ok := c.coll.Programs[tp.prog]
		if !ok {
			continue
		}
		l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			c.Unavailable[tp.event] = "attach failed: " + shortErr(err)
			continue
		}
		c.links = append(c.links, l)
		c.Tracepoints = append(c.Tracepoints, tp.event)
	}
	return nil
}

func (c *Capture) attachPackets(o *Options) error {
	type hook struct {
		prog   string
		tcx    ebpf.AttachType
		parent string
	}
	var hooks []hook
	if o.Ingress {
		hooks = append(hooks, hook{"capture_ingress", ebpf.AttachTCXIngress, "ingress"})
	}
	if o.Egress {
		hooks = append(hooks, hook{"capture_egress", ebpf.AttachTCXEgress, "egress"})
	}
	c.Mode = ModeTCX
	for _, h := range hooks {
		if !o.ForceClsBPF {
			l, err := link.AttachTCX(link.TCXOptions{Interface: o.Ifindex, Program: c.coll.Programs[h.prog], Attach: h.tcx})
			if err == nil {
				c.links = append(c.links, l)
				continue
			}
			if !errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("attach %s to interface %d with tcx: %w", h.prog, o.Ifindex, err)
			}
		}
		// Kernels before 6.6: a cls_bpf filter on a clsact qdisc.
		c.Mode = ModeClsBPF
		undo, err := attachClsBPF(o.Ifindex, h.parent, c.coll.Programs[h.prog])
		if err != nil {
			return fmt.Errorf("attach %s to interface %d with cls_bpf: %w", h.prog, o.Ifindex, err)
		}
		c.cleanup = append(c.cleanup, undo)
	}
	return nil
}

// Counters are the kernel-side counts, summed over CPUs.
type Counters struct {
	PacketsLost       uint64 // packet ring buffer full
	KernelLost        uint64 // kernel-record ring buffer full
	PacketsSeen       uint64 // TCP packets that passed the filters
	PacketLoadErrors  uint64 // bytes could not be copied from the packet
	RetransmitsFailed uint64 // tcp_retransmit_skb calls that sent nothing
	ProbesSkipped     uint64 // tcp_probe hits the sample policy skipped
}

// Counters reads the kernel-side counters.
func (c *Capture) Counters() (Counters, error) {
	var out Counters
	dst := []*uint64{&out.PacketsLost, &out.KernelLost, &out.PacketsSeen, &out.PacketLoadErrors,
		&out.RetransmitsFailed, &out.ProbesSkipped}
	m := c.coll.Maps["counters"]
	for i, p := range dst {
		var per []uint64
		if err := m.Lookup(uint32(i), &per); err != nil {
			return out, fmt.Errorf("read counter %d: %w", i, err)
		}
		for _, v := range per {
			*p += v
		}
	}
	return out, nil
}

// Detach removes the programs from their hooks but keeps the maps, so the
// rings can still be drained and the counters read.
func (c *Capture) Detach() error {
	var errs []error
	for _, l := range c.links {
		errs = append(errs, l.Close())
	}
	c.links = nil
	for _, f := range c.cleanup {
		errs = append(errs, f())
	}
	c.cleanup = nil
	return errors.Join(errs...)
}

// Close detaches and unloads everything.
func (c *Capture) Close() error {
	var errs []error
	for _, l := range c.links {
		errs = append(errs, l.Close())
	}
	c.links = nil
	for _, f := range c.cleanup {
		errs = append(errs, f())
	}
	c.cleanup = nil
	if c.coll != nil {
		c.coll.Close()
		c.coll = nil
	}
	return errors.Join(errs...)
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// NetnsInode returns the inode of the calling thread's network namespace.
func NetnsInode() (uint32, error) {
	fi, err := os.Stat("/proc/thread-self/ns/net")
	if err != nil {
		return 0, fmt.Errorf("network namespace: %w", err)
	}
	return uint32(inode(fi)), nil
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
