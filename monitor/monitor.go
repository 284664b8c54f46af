// Package monitor follows rolling capture files as they are written and
// raises alerts when a connection's retransmissions, losses or reordering
// in a sliding window of capture time cross a threshold.
//
// One pipeline (decode, connection table, detectors) runs across every file
// followed, so a connection's detector state continues from one ring file
// to the next. Frame numbers restart with each file: alerts name the file.
package monitor

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// Config is everything `tcpviz monitor` takes.
type Config struct {
	Follow   FollowConfig
	Pipeline pipeline.Config
	// Window is the span of capture time the counts cover (default 60s).
	Window     time.Duration
	Thresholds Thresholds
	// Alerts receives one line per alert; JSON selects JSON objects; Color
	// colours the human form.
	Alerts io.Writer
	JSON   bool
	Color  bool
	// Host is the host label of JSON alerts (Alertmanager shape); empty
	// leaves it out.
	Host string
	// EventsOut, if not nil, receives every detector event as JSON Lines.
	EventsOut io.Writer
	// Log receives notices (files, gaps, restarts); nil discards them.
	Log io.Writer
	// IdleClock, when set, lets capture time run on while no packet comes:
	// once the wall clock is IdleGrace past the moment the newest packet
	// was read, the window and the detectors are advanced by the wall time
	// elapsed beyond the grace, so counts decay and RECOVERED lines come
	// even when the capture goes quiet. Nil keeps to capture time only.
	IdleClock func() time.Time
	IdleGrace time.Duration
	// OnCaughtUp, if set, is called with the counters each time every byte
	// written so far has been processed (tests, progress displays).
	OnCaughtUp func(Summary)
	// Sinks receive every packet and event besides the alert window
	// (metrics, Parquet). A sink with an Advance(int64) method is also told
	// when the idle clock moves capture time on.
	Sinks []pipeline.Sink
	// OnFile, if set, is called when records start coming from another file.
	OnFile func(path string)
}

// Summary is the account of a run.
type Summary struct {
	Files      int
	Records    uint64 // records processed (packets, custom and stats blocks)
	Skipped    uint64 // records of existing files skipped at start-up
	Packets    uint64
	TCPPackets uint64
	Kernel     uint64 // kernel records
	Gaps       int
	Restarts   int
	FileErrors int
	Damaged    int // damaged blocks skipped (the files read on after them)
	Events     map[string]int
	Alerts     map[string]int // by level
	InWindow   map[string]int // kind totals in the window at the end
	Flows      int            // connections with counts in the window
	Current    string         // file being read
	Elapsed    time.Duration
	Warnings   []string

	CaptureDrops uint64 // packets the capture itself dropped (statistics blocks)
	BadRecords   uint64 // kernel records that failed to decode
	// CaughtUp is when every byte written so far had last been read;
	// LastPacket the capture time of the newest packet (ns).
	CaughtUp   time.Time
	LastPacket int64
	// Active counts the alerts in force (WARN or CRITICAL, not yet
	// RECOVERED) by kind and level.
	Active map[ActiveKey]int
}

// ActiveKey groups alerts in force.
type ActiveKey struct{ Kind, Level string }

// Monitor ties a follower, a pipeline and a window together: the driver
// runs the pipeline over the follower's records, the monitor is its sink.
type Monitor struct {
	cfg    Config
	fol    *Follower
	p      *pipeline.Pipeline // the driver's, from the start of Run
	win    *Window
	out    alertWriter
	evOut  *events.Writer
	file   string
	events map[string]int
	start  time.Time

	lastTS   int64     // newest packet time
	lastWall time.Time // when it was read

	warned int // pipeline warnings already printed

	mu   sync.Mutex
	snap Summary
}

// New checks the configuration and prepares a run.
func New(cfg Config) (*Monitor, error) {
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if err := cfg.Thresholds.Validate(); err != nil {
		return nil, err
	}
	if cfg.Alerts == nil {
		cfg.Alerts = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.IdleGrace <= 0 {
		cfg.IdleGrace = 2 * time.Second
	}
	cfg.Follow.Log = cfg.Log
	fol, err := NewFollower(cfg.Follow)
	if err != nil {
		return nil, err
	}
	m := &Monitor{cfg: cfg, fol: fol, events: make(map[string]int),
		out: alertWriter{w: cfg.Alerts, json: cfg.JSON, color: cfg.Color, host: cfg.Host}}
	m.win = NewWindow(cfg.Window, cfg.Thresholds, m.out.write)
	if cfg.EventsOut != nil {
		m.evOut = events.NewWriter(cfg.EventsOut, 64<<10)
	}
	fol.caughtUp = m.caughtUp
	return m, nil
}

// Following describes what is followed, for the start-up line.
func (m *Monitor) Following() string { return m.fol.src.String() }

// Run follows the files until ctx is done. It returns nil then, or the
// first error writing output.
func (m *Monitor) Run(ctx context.Context) error {
	m.start = time.Now()
	_, err := driver.Run(ctx, driver.Source{
		Stream:   m.fol,
		Pipeline: m.cfg.Pipeline,
		Setup:    func(p *pipeline.Pipeline) { m.p = p },
		OnFile: func(file string) {
			m.file = file
			if m.cfg.OnFile != nil {
				m.cfg.OnFile(file)
			}
		},
		Check: m.outErr,
	}, append([]pipeline.Sink{m}, m.cfg.Sinks...)...)
	m.flush()
	if err == nil {
		err = m.outErr()
	}
	return err
}

func (m *Monitor) outErr() error {
	if m.out.err != nil {
		return fmt.Errorf("write alerts: %w", m.out.err)
	}
	if m.evOut != nil && m.evOut.Err() != nil {
		return fmt.Errorf("write events: %w", m.evOut.Err())
	}
	return nil
}

// Packet is the pipeline sink: packets move capture time forward.
func (m *Monitor) Packet(p *events.Packet) {
	if p.TS > m.lastTS {
		m.lastTS = p.TS
		m.lastWall = time.Time{}
	}
	m.win.Advance(p.TS)
}

// Event is the pipeline sink: every detector event is counted and logged.
func (m *Monitor) Event(e *events.Event) {
	m.events[e.Type]++
	if m.evOut != nil {
		m.evOut.Event(e)
	}
	m.win.Add(e, m.file)
}

func (m *Monitor) flush() {
	if m.evOut != nil {
		_ = m.evOut.Flush() // a failure stays in Err for outErr
	}
}

// caughtUp runs whenever everything written so far has been read.
func (m *Monitor) caughtUp() {
	if m.cfg.IdleClock != nil && m.lastTS > 0 {
		now := m.cfg.IdleClock()
		if m.lastWall.IsZero() {
			m.lastWall = now
		} else if idle := now.Sub(m.lastWall) - m.cfg.IdleGrace; idle > 0 {
			t := m.lastTS + int64(idle)
			m.win.Advance(t)
			m.p.Advance(t)
			for _, s := range m.cfg.Sinks {
				if a, ok := s.(interface{ Advance(int64) }); ok {
					a.Advance(t)
				}
			}
		}
	}
	m.flush()
	s := m.summary()
	s.CaughtUp = time.Now()
	// Capture drops and bad kernel records, as they are found.
	for ; m.warned < len(s.Warnings); m.warned++ {
		fmt.Fprintf(m.cfg.Log, "monitor: %s: %s\n", m.file, s.Warnings[m.warned])
	}
	m.mu.Lock()
	m.snap = s
	m.mu.Unlock()
	if m.cfg.OnCaughtUp != nil {
		m.cfg.OnCaughtUp(s)
	}
}

func (m *Monitor) summary() Summary {
	fs := m.fol.Stats()
	var ps pipeline.Stats
	if m.p != nil {
		ps = m.p.Stats()
	}
	s := Summary{Files: fs.Files, Records: fs.Records, Skipped: fs.Skipped, Packets: ps.Packets,
		TCPPackets: ps.TCPPackets, Kernel: ps.KernelRecords, Gaps: fs.Gaps, Restarts: fs.Restarts,
		FileErrors: fs.Errors, Damaged: fs.Damaged, Events: make(map[string]int, len(m.events)), Alerts: make(map[string]int),
		InWindow: make(map[string]int), Flows: m.win.Flows(), Current: m.fol.Current(), Warnings: ps.Warnings,
		CaptureDrops: ps.CaptureDrops, BadRecords: ps.BadKernel, LastPacket: m.lastTS, Active: m.win.Active()}
	for k, v := range m.events {
		s.Events[k] = v
	}
	for _, l := range []Level{LevelWarn, LevelCritical, LevelRecovered} {
		s.Alerts[l.String()] = m.win.Fired(l)
	}
	for k := Kind(0); k < numKinds; k++ {
		s.InWindow[k.String()] = m.win.Total(k)
	}
	if !m.start.IsZero() {
		s.Elapsed = time.Since(m.start)
	}
	return s
}

// Summary returns the counters as of the last time the monitor caught up;
// safe to call from any goroutine. After Run returned it is final.
func (m *Monitor) Summary() Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snap
}

// Final returns the counters after Run returned.
func (m *Monitor) Final() Summary { return m.summary() }

// Write prints the one-screen summary.
func (s Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "tcpviz monitor: %s, %d files read", s.Elapsed.Round(time.Millisecond), s.Files)
	if s.Restarts > 0 {
		fmt.Fprintf(w, " (%d started over)", s.Restarts)
	}
	if s.Gaps > 0 {
		fmt.Fprintf(w, ", %d missing (gaps)", s.Gaps)
	}
	if s.FileErrors > 0 {
		fmt.Fprintf(w, ", %d abandoned on errors", s.FileErrors)
	}
	if s.Damaged > 0 {
		fmt.Fprintf(w, ", %d damaged block(s) skipped", s.Damaged)
	}
	fmt.Fprintln(w)
	if s.Current != "" {
		fmt.Fprintf(w, "  last file: %s\n", s.Current)
	}
	fmt.Fprintf(w, "  records:   %d processed, %d skipped at start-up\n", s.Records, s.Skipped)
	fmt.Fprintf(w, "  packets:   %d (%d TCP), %d kernel records\n", s.Packets, s.TCPPackets, s.Kernel)
	total := 0
	for _, n := range s.Events {
		total += n
	}
	fmt.Fprintf(w, "  events:    %d%s\n", total, countList(s.Events))
	fmt.Fprintf(w, "  alerts:    %d WARN, %d CRITICAL, %d RECOVERED\n",
		s.Alerts["WARN"], s.Alerts["CRITICAL"], s.Alerts["RECOVERED"])
	fmt.Fprintf(w, "  in window: %d flows%s\n", s.Flows, countList(s.InWindow))
	for i, warn := range s.Warnings {
		if i == 5 {
			fmt.Fprintf(w, "  ... %d more warnings\n", len(s.Warnings)-5)
			break
		}
		fmt.Fprintf(w, "  warning:   %s\n", warn)
	}
}

// countList formats " (a 1, b 2)" sorted by count, largest first.
func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
