//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/tcpviz/tcpviz/ebpfcap"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// Loop timing.
const (
	// reorderWindow: a kernel record waits this long for packets that were
	// captured before it but read after it (they come from another ring and
	// other CPUs).
	reorderWindow = 100 * time.Millisecond
	// The ring is polled every pause, within [minPause, maxPause]: longer
	// while each poll finds little (fewer wakeups per packet), shorter when
	// polls find a lot (the ring must not fill up).
	minPause   = time.Millisecond
	maxPause   = 20 * time.Millisecond
	pollTarget = 256 << 10 // bytes per poll below which the pause grows
	pollMax    = 2 << 20   // bytes per poll above which it shrinks
	// flushEvery: how stale the file may get for a reader following it.
	flushEvery = 200 * time.Millisecond
	// idleWait bounds a wait for packets, so the loop still flushes, checks
	// --duration and notices a cancelled context.
	idleWait     = 100 * time.Millisecond
	clockPeriod  = 10 * time.Second
	batchPackets = 1024
)

// pending is a kernel record waiting for its place among the packets.
type pending struct {
	boot uint64
	rec  kblock.Record
}

// session is one running capture.
type session struct {
	cfg   *Config
	link  linkInfo
	prog  *ebpfcap.Capture
	clock bootClock
	files *fileSet
	sum   Summary
	// closedBytes is what the files closed so far hold (Status.Bytes).
	closedBytes int64

	file     *os.File
	w        *pcapng.Writer
	opened   time.Time
	osName   string
	kbuf     []byte
	waiting  []pending // sorted by boot time
	lastBoot uint64    // boot time of the last block written
	held     []byte    // a packet record read ahead (see loop)
	queued   []ebpfcap.Packet
	arena    []byte // the bytes of the queued packets
	pause    time.Duration
	polled   int // packet ring bytes read since the last pause
	flushed  time.Time
	splitGSO bool // the device has no TSO: GSO packets leave as segments
	seg      segmenter
	segTS    int64 // time and options of the packet being split
	segOpts  pcapng.PacketOptions
	holding  bool
	stop     bool
	// Kernel records wait for the file's first packet (kernelHold), at
	// most maxKernelHold: a custom block has no timestamp, and Wireshark
	// takes the first record's time (none: the epoch) as the capture's
	// start, which leaves its I/O statistics empty. heldUpTo is the first
	// packet's time: records up to it were held on purpose, not late.
	kernelHold bool
	heldUpTo   uint64
}

// maxKernelHold bounds how long kernel records wait for a file's first
// packet; a file with none gets them anyway.
const maxKernelHold = time.Second

// Run captures until ctx is cancelled (Ctrl-C, SIGTERM) or a --duration or
// --count limit is reached; then it drains the rings, writes the statistics
// block, closes the file and returns the summary.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return Summary{}, err
	}
	if err := checkCaps(); err != nil {
		return Summary{}, err
	}
	// The output is checked (and a ring locked) before anything is loaded.
	if !cfg.rotating() && cfg.Output != "-" {
		// create() checks again, atomically.
		if _, err := os.Lstat(cfg.Output); err == nil {
			return Summary{}, fmt.Errorf("capture: %s already exists; not overwriting it", cfg.Output)
		}
		if st, err := os.Stat(filepath.Dir(cfg.Output)); err != nil || !st.IsDir() {
			return Summary{}, fmt.Errorf("capture: output directory %s: not a directory or missing", filepath.Dir(cfg.Output))
		}
	}
	files, err := newFileSet(cfg.Output, cfg.rotating(), cfg.RotateFiles)
	if err != nil {
		return Summary{}, err
	}
	defer files.unlock()
	files.stdout = cfg.Stdout
	s := &session{cfg: &cfg, pause: minPause, files: files}
	s.sum = Summary{Interface: cfg.Interface, KernelRecords: map[string]uint64{}, Unavailable: map[string]string{}}

	if err := inNetns(cfg.Netns, s.attach); err != nil {
		return s.sum, err
	}
	defer s.prog.Close()
	s.sum.Mode = s.prog.Mode
	for k, v := range s.prog.Unavailable {
		s.sum.Unavailable[k] = v
	}
	fmt.Fprintf(cfg.Log, "capturing on %s with %s, snaplen %d\n", cfg.Interface, s.prog.Mode, cfg.Snaplen)
	for _, k := range sortedKeys(s.sum.Unavailable) {
		fmt.Fprintf(cfg.Log, "kernel records unavailable: %s: %s\n", k, s.sum.Unavailable[k])
	}

	pr, err := ringbuf.NewReader(s.prog.Packets)
	if err != nil {
		return s.sum, fmt.Errorf("capture: packet ring: %w", err)
	}
	defer pr.Close()
	kr, err := ringbuf.NewReader(s.prog.Kernel)
	if err != nil {
		return s.sum, fmt.Errorf("capture: kernel-record ring: %w", err)
	}
	defer kr.Close()

	// Loading parsed the kernel's BTF: tens of MB of garbage. Collect and
	// return it now rather than while capturing.
	runtime.GC()
	debug.FreeOSMemory()

	s.osName = osName()
	s.clock.measure()
	s.sum.Start = time.Now()
	if err := s.openFile(s.sum.Start); err != nil {
		return s.sum, err
	}
	if cfg.Output != "-" {
		// Where `tcpviz monitor` without a path finds this capture.
		remove, err := recordRun(cfg.Output)
		if err != nil && cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "%v: tcpviz monitor needs --pcap-path %s\n", err, cfg.Output)
		}
		defer remove()
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}

	loopErr := s.loop(ctx, pr, kr)

	// Stop: detach so nothing new arrives, then drain what is in the rings.
	detachErr := s.prog.Detach()
	if loopErr == nil {
		loopErr = s.drainAll(pr, kr)
	}
	s.sum.End = time.Now()
	closeErr := s.closeFile(s.sum.End)
	s.readCounters()
	s.sum.Files = s.files.all
	if loopErr != nil {
		// Closing after a failed write (a full disk) fails for the same
		// reason: the first error says it.
		return s.sum, errors.Join(loopErr, detachErr)
	}
	return s.sum, errors.Join(detachErr, closeErr)
}

// attach finds the interface and loads and attaches the programs; it runs
// in the capture's network namespace.
func (s *session) attach() error {
	li, err := lookupLink(s.cfg.Interface)
	if err != nil {
		return err
	}
	s.link = li
	if !li.loopback {
		tso, err := deviceTSO(li.name)
		if err != nil {
			fmt.Fprintf(s.cfg.Log, "%v; GSO packets are written as the stack built them\n", err)
			tso = true
		}
		s.splitGSO = !tso
		s.seg.l2len = int(li.l2len)
		if s.splitGSO {
			fmt.Fprintf(s.cfg.Log, "%s has no TSO: GSO packets are written as the segments the kernel sends\n", li.name)
		}
	}
	opts := ebpfcap.Options{
		Ifindex: li.index, L2Len: li.l2len, Snaplen: s.cfg.Snaplen,
		// Every packet on lo leaves and comes back in; ingress sees it
		// after software segmentation, as libpcap records it.
		Ingress: true, Egress: !li.loopback,
		Ports: s.cfg.Ports, Hosts: s.cfg.Hosts, PID: s.cfg.PID, Comm: s.cfg.Comm,
		SampleInterval: s.cfg.SampleInterval, PacketRing: s.cfg.PacketRingBytes, KernelRing: s.cfg.KernelRingBytes,
		NoKernelRecords: s.cfg.NoKernelRecords,
	}
	if why := btfMissing(); why != "" && !s.cfg.NoKernelRecords {
		opts.NoKernelRecords = true
		s.sum.Unavailable["kernel records"] = why
	}
	if !s.cfg.AllNetns {
		if opts.NetnsInode, err = ebpfcap.NetnsInode(); err != nil {
			return err
		}
	}
	prog, err := ebpfcap.Load(opts)
	if err != nil {
		return fmt.Errorf("capture on %s: %w", s.cfg.Interface, err)
	}
	s.prog = prog
	return nil
}

func (s *session) loop(ctx context.Context, pr, kr *ringbuf.Reader) error {
	var end time.Time
	if s.cfg.Duration > 0 {
		end = s.sum.Start.Add(s.cfg.Duration)
	}
	past := time.Unix(1, 0)
	nextClock := time.Now().Add(clockPeriod)
	nextLink := time.Now().Add(linkPeriod)
	var rec ringbuf.Record
	for !s.stop {
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		if !end.IsZero() && !now.Before(end) {
			return nil
		}
		if now.After(nextClock) {
			s.clock.measure()
			nextClock = now.Add(clockPeriod)
		}
		if now.After(nextLink) {
			if err := s.linkGone(); err != nil {
				return err
			}
			nextLink = now.Add(linkPeriod)
			s.status()
		}
		if err := s.rotateByTime(now); err != nil {
			return err
		}
		// Packets up to w are written only after the kernel ring was
		// drained at w, so a kernel record always precedes the packets
		// captured after it; a packet read past w waits for the next round.
		w := s.clock.now()
		if kr.AvailableBytes() > 0 {
			if err := s.drainKernel(kr); err != nil {
				return err
			}
		}
		if err := s.queueHeld(); err != nil {
			return err
		}
		busy := pr.AvailableBytes() > 0
		if busy {
			pr.SetDeadline(past)
			for i := 0; i < batchPackets; i++ {
				err := pr.ReadInto(&rec)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				if err != nil {
					return fmt.Errorf("capture: read packet ring: %w", err)
				}
				s.polled += len(rec.RawSample) + 8 // the ring's record header
				var p ebpfcap.Packet
				if err := ebpfcap.ParsePacket(rec.RawSample, &p); err != nil {
					return fmt.Errorf("capture: %w", err)
				}
				if p.BootNS > w {
					s.hold(rec.RawSample)
					break
				}
				s.queue(&p)
			}
		}
		if err := s.writeQueued(); err != nil {
			return err
		}
		if busy {
			continue
		}
		// Idle: kernel records older than the reorder window can no longer
		// be overtaken by a packet; the file is brought up to date for
		// readers following it.
		if err := s.flushWaiting(w - uint64(reorderWindow)); err != nil {
			return err
		}
		if now.Sub(s.flushed) >= flushEvery {
			if err := s.w.Flush(); err != nil {
				return err
			}
			s.flushed = now
		}
		wait := idleWait
		if !end.IsZero() && end.Sub(now) < wait {
			wait = max(end.Sub(now), 0)
		}
		if s.polled == 0 {
			// Nothing since the last pause: sleep until the kernel wakes
			// us for the first new packet (it does when we have caught up).
			pr.SetDeadline(now.Add(wait))
			err := pr.ReadInto(&rec)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
			case err != nil:
				return fmt.Errorf("capture: read packet ring: %w", err)
			default:
				s.hold(rec.RawSample)
				s.pause = minPause
			}
			continue
		}
		// Packets are flowing: poll at intervals instead of being woken,
		// so each wakeup brings many packets. The interval grows while
		// polls find little and shrinks when they find a lot.
		switch {
		case s.polled < pollTarget:
			s.pause = min(2*s.pause, maxPause)
		case s.polled > pollMax:
			s.pause = max(s.pause/2, minPause)
		}
		s.polled = 0
		time.Sleep(min(s.pause, wait))
	}
	return nil
}

// linkPeriod is how often the capture checks that its interface exists.
const linkPeriod = time.Second

// linkGone reports an interface that no longer exists (deleted, or its
// namespace destroyed): its hooks went with it and nothing more can come.
// An interface that is down, or renamed, keeps its index and its hooks.
func (s *session) linkGone() error {
	var gone error
	err := inNetns(s.cfg.Netns, func() error {
		if _, err := net.InterfaceByIndex(s.link.index); err != nil && strings.Contains(err.Error(), "no such network interface") {
			gone = fmt.Errorf("capture: interface %s disappeared (deleted, or moved to another namespace); stopping", s.link.name)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("capture: network namespace %s of interface %s disappeared; stopping", s.cfg.Netns, s.link.name)
	}
	return gone
}

// drainAll empties both rings after the programs were detached.
func (s *session) drainAll(pr, kr *ringbuf.Reader) error {
	if err := s.drainKernel(kr); err != nil {
		return err
	}
	if err := s.queueHeld(); err != nil {
		return err
	}
	pr.SetDeadline(time.Unix(1, 0))
	var rec ringbuf.Record
	for !s.stop {
		err := pr.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return fmt.Errorf("capture: read packet ring: %w", err)
		}
		var p ebpfcap.Packet
		if err := ebpfcap.ParsePacket(rec.RawSample, &p); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		s.queue(&p)
		if len(s.queued) >= batchPackets {
			if err := s.writeQueued(); err != nil {
				return err
			}
		}
	}
	if err := s.writeQueued(); err != nil {
		return err
	}
	return s.flushWaiting(^uint64(0))
}

func (s *session) drainKernel(kr *ringbuf.Reader) error {
	kr.SetDeadline(time.Unix(1, 0))
	var rec ringbuf.Record
	for {
		err := kr.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("capture: read kernel-record ring: %w", err)
		}
		var p pending
		boot, err := ebpfcap.ParseKernel(rec.RawSample, &p.rec)
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		p.boot = boot
		// Insert in time order; records from other CPUs are only slightly
		// out of order, so the search from the end is short.
		i := len(s.waiting)
		for i > 0 && s.waiting[i-1].boot > boot {
			i--
		}
		s.waiting = append(s.waiting, pending{})
		copy(s.waiting[i+1:], s.waiting[i:])
		s.waiting[i] = p
	}
}

// flushWaiting writes the waiting kernel records with boot time <= upTo;
// ^uint64(0) writes them all. Until the file has a packet they wait for it
// (kernelHold), at most maxKernelHold, except at the very end.
func (s *session) flushWaiting(upTo uint64) error {
	n := 0
	for n < len(s.waiting) && s.waiting[n].boot <= upTo {
		p := &s.waiting[n]
		if err := s.rotateBySize(); err != nil {
			return err
		}
		if s.kernelHold {
			if now := s.clock.now(); upTo != ^uint64(0) && (now < p.boot || now-p.boot < uint64(maxKernelHold)) {
				break
			}
			s.kernelHold = false // a file of kernel records only, so far
		}
		if err := s.writeKernel(p.boot, &p.rec); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		m := copy(s.waiting, s.waiting[n:])
		clear(s.waiting[m:])
		s.waiting = s.waiting[:m]
	}
	return nil
}

func (s *session) writeKernel(boot uint64, r *kblock.Record) error {
	switch {
	case boot >= s.lastBoot:
		s.lastBoot = boot
	case boot > s.heldUpTo:
		s.sum.LateRecords++
	}
	r.TS = s.clock.wall(boot)
	s.kbuf = kblock.Append(s.kbuf[:0], r)
	if err := s.w.WriteCustom(kblock.PEN, s.kbuf, true); err != nil {
		return fmt.Errorf("capture: write %s: %w", s.files.all[len(s.files.all)-1], err)
	}
	s.sum.KernelRecords[r.Kind.String()]++
	return nil
}

// hold keeps a copy of a packet record read ahead of the kernel ring.
func (s *session) hold(raw []byte) {
	s.held = append(s.held[:0], raw...)
	s.holding = true
}

func (s *session) queueHeld() error {
	if !s.holding {
		return nil
	}
	s.holding = false
	var p ebpfcap.Packet
	if err := ebpfcap.ParsePacket(s.held, &p); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	s.queue(&p)
	return nil
}

// queue copies a packet out of the ring into this round's batch. Packets
// from different CPUs reach the ring a few µs out of time order; a round is
// written sorted.
func (s *session) queue(p *ebpfcap.Packet) {
	off := len(s.arena)
	s.arena = append(s.arena, p.Data...)
	q := *p
	// Earlier packets keep pointing into the old array if append moved
	// the arena; their bytes stay valid.
	q.Data = s.arena[off:len(s.arena):len(s.arena)]
	s.queued = append(s.queued, q)
}

// writeQueued writes the batch in time order (an insertion sort: the batch
// is nearly sorted already) and empties it.
func (s *session) writeQueued() error {
	q := s.queued
	for i := 1; i < len(q); i++ {
		for j := i; j > 0 && q[j].BootNS < q[j-1].BootNS; j-- {
			q[j], q[j-1] = q[j-1], q[j]
		}
	}
	for i := range q {
		if err := s.packet(&q[i]); err != nil {
			return err
		}
	}
	clear(q) // drop the references into old arenas
	s.queued = q[:0]
	s.arena = s.arena[:0]
	return nil
}

func (s *session) packet(p *ebpfcap.Packet) error {
	if err := s.flushWaiting(p.BootNS); err != nil {
		return err
	}
	if err := s.rotateBySize(); err != nil {
		return err
	}
	if p.BootNS > s.lastBoot {
		s.lastBoot = p.BootNS
	}
	ts := s.clock.wall(p.BootNS)
	opts := pcapng.PacketOptions{Flags: uint32(p.Dir) & pcapng.FlagDirectionMask}
	if s.splitGSO && p.Dir == ebpfcap.DirOutbound && p.GSOSegs > 1 {
		s.segTS, s.segOpts = ts, opts
		split, err := s.seg.split(p.Data, p.Len, p.GSOSegs, p.GSOSize, s.writeSegment)
		if err != nil {
			return err
		}
		if split {
			return s.flushWaiting(p.BootNS)
		}
	}
	if err := s.writePacket(ts, p.Data, p.Len, opts); err != nil {
		return err
	}
	// The records held for the file's first packet follow it.
	return s.flushWaiting(p.BootNS)
}

// writeSegment writes segment i of a split GSO packet, 1 ns after the
// previous one so the segments keep their order when sorted.
func (s *session) writeSegment(seg []byte, origLen uint32, i int) error {
	return s.writePacket(s.segTS+int64(i), seg, origLen, s.segOpts)
}

func (s *session) writePacket(ts int64, data []byte, origLen uint32, opts pcapng.PacketOptions) error {
	if s.stop {
		return nil
	}
	if err := s.w.WritePacket(0, ts, data, origLen, opts); err != nil {
		return fmt.Errorf("capture: write %s: %w", s.files.all[len(s.files.all)-1], err)
	}
	if s.kernelHold {
		s.kernelHold, s.heldUpTo = false, s.lastBoot
	}
	s.sum.Packets++
	if s.cfg.Count > 0 && s.sum.Packets >= s.cfg.Count {
		s.stop = true
	}
	return nil
}

func (s *session) rotateBySize() error {
	if s.cfg.RotateBytes > 0 && s.w.Size() >= s.cfg.RotateBytes {
		return s.rotate(time.Now())
	}
	return nil
}

func (s *session) rotateByTime(now time.Time) error {
	if s.cfg.RotateInterval > 0 && now.Sub(s.opened) >= s.cfg.RotateInterval {
		return s.rotate(now)
	}
	return nil
}

func (s *session) rotate(now time.Time) error {
	if err := s.closeFile(now); err != nil {
		return err
	}
	if err := s.openFile(now); err != nil {
		return err
	}
	removed, err := s.files.trim()
	s.sum.Deleted = append(s.sum.Deleted, removed...)
	return err
}

func (s *session) openFile(now time.Time) error {
	f, name, err := s.files.next(now)
	if err != nil {
		return err
	}
	w, err := pcapng.NewWriter(f, pcapng.WriterOptions{Application: "tcpviz capture", OS: s.osName,
		BufferSize: 256 << 10})
	if err == nil {
		_, err = w.AddInterface(pcapng.Interface{LinkType: s.link.linkType, SnapLen: s.cfg.Snaplen, Name: s.link.name})
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("capture: start %s: %w", name, err)
	}
	s.file, s.w, s.opened = f, w, now
	s.kernelHold = true
	if s.cfg.rotating() {
		fmt.Fprintf(s.cfg.Log, "writing %s\n", name)
	}
	return nil
}

// closeFile ends the current file with an Interface Statistics Block:
// counts since the capture started, as dumpcap writes them.
func (s *session) closeFile(now time.Time) error {
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	s.readCounters()
	st := pcapng.InterfaceStats{
		StartTime: s.sum.Start.UnixNano(),
		EndTime:   now.UnixNano(),
		Received:  s.sum.PacketsSeen,
		OSDropped: s.sum.PacketsLost + s.sum.PacketErrors,
		Delivered: s.sum.Packets,
		Known: pcapng.StatsStartTime | pcapng.StatsEndTime | pcapng.StatsReceived |
			pcapng.StatsOSDropped | pcapng.StatsDelivered,
	}
	err := s.w.WriteStats(0, now.UnixNano(), st)
	if err == nil {
		err = s.w.Close()
	}
	s.closedBytes += s.w.Size()
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	s.file, s.w = nil, nil
	if err != nil {
		return fmt.Errorf("capture: finish %s: %w", name, err)
	}
	return nil
}

// status reports progress to Config.Status.
func (s *session) status() {
	if s.cfg.Status == nil || s.w == nil {
		return
	}
	s.readCounters()
	s.cfg.Status(Status{Packets: s.sum.Packets, Bytes: s.closedBytes + s.w.Size(),
		Drops: s.sum.Drops(), File: s.file.Name()})
}

func (s *session) readCounters() {
	c, err := s.prog.Counters()
	if err != nil {
		return // keep the last values; the maps outlive the programs
	}
	s.sum.PacketsLost = c.PacketsLost
	s.sum.KernelLost = c.KernelLost
	s.sum.PacketErrors = c.PacketLoadErrors
	s.sum.PacketsSeen = c.PacketsSeen
}

func osName() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "Linux"
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
}
