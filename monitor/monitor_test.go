package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
	"github.com/tcpviz/tcpviz/pcapng"
)

// harness runs a Monitor in the background.
type harness struct {
	t      *testing.T
	m      *Monitor
	out    *syncbuf.Buffer
	log    *syncbuf.Buffer
	cancel context.CancelFunc
	done   chan error
}

func startMonitor(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, out: &syncbuf.Buffer{}, log: &syncbuf.Buffer{}, done: make(chan error, 1)}
	cfg.Alerts, cfg.JSON, cfg.Log = h.out, true, h.log
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- m.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	waitFor(t, "the monitor to start", 5*time.Second, func() bool { return m.fol.passDone.Load() >= 1 })
	return h
}

// sync waits until the monitor has read file up to size bytes.
func (h *harness) sync(file string, size int64) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%s read up to %d", filepath.Base(file), size), 10*time.Second, func() bool {
		f, n, _ := h.m.fol.readPosition()
		return f == file && n >= size
	})
}

// waitRecords waits until n records were processed.
func (h *harness) waitRecords(n uint64) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%d records", n), 10*time.Second, func() bool { return h.m.Summary().Records >= n })
}

func (h *harness) stop() Summary {
	if h.cancel != nil {
		h.cancel()
		h.cancel = nil
		if err := <-h.done; err != nil {
			h.t.Errorf("monitor: %v", err)
		}
	}
	return h.m.Final()
}

func (h *harness) alerts() []Alert {
	h.t.Helper()
	var out []Alert
	for _, line := range strings.Split(strings.TrimSpace(h.out.String()), "\n") {
		if line == "" {
			continue
		}
		a, err := ParseAlertmanager([]byte(line))
		if err != nil {
			h.t.Fatalf("alert line %q: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

// wantAlert is what a test checks of an alert.
type wantAlert struct {
	level        Level
	kind         string
	count        int
	at           loc   // file and frame for WARN/CRITICAL
	after, until int64 // capture-time bounds for RECOVERED
}

func checkAlerts(t *testing.T, got []Alert, want []wantAlert) {
	t.Helper()
	if len(got) != len(want) {
		for _, a := range got {
			t.Logf("got %s %s count %d flow %s -> %s %s frame %d", a.Level, a.Kind, a.Count, a.Client, a.Server, filepath.Base(a.File), a.Frame)
		}
		t.Fatalf("%d alerts, want %d", len(got), len(want))
	}
	for i, w := range want {
		a := got[i]
		if a.Level != w.level || a.Kind != w.kind || a.Count != w.count {
			t.Errorf("alert %d: %s %s count %d, want %s %s count %d", i, a.Level, a.Kind, a.Count, w.level, w.kind, w.count)
		}
		if a.Client != lossy.String() || a.Server != server.String() {
			t.Errorf("alert %d: flow %s -> %s, want the lossy flow %s -> %s", i, a.Client, a.Server, lossy, server)
		}
		if w.level == LevelRecovered {
			if ts := int64(a.Time); ts < w.after || ts > w.until {
				t.Errorf("alert %d: RECOVERED at %v, want between %v and %v", i, a.Time.Time(),
					time.Unix(0, w.after).UTC(), time.Unix(0, w.until).UTC())
			}
			continue
		}
		if a.File != w.at.file || a.Frame != w.at.frame || int64(a.Time) != w.at.ts {
			t.Errorf("alert %d: at %s frame %d (%v), want %s frame %d", i, filepath.Base(a.File), a.Frame, a.Time.Time(),
				filepath.Base(w.at.file), w.at.frame)
		}
	}
}

// scenarioAlerts are the alerts the scenario must raise with thresholds
// retransmission 5, loss 8, factor 3 and a 60 s window: each lossy round
// gives one retransmission and one loss_infer.
func scenarioAlerts(r *ring) []wantAlert {
	rt := r.retrans
	const win, slack = 60e9, 2e9 // sweeps run about once a second of capture time
	return []wantAlert{
		{level: LevelWarn, kind: "retransmission", count: 5, at: rt[4]},
		{level: LevelWarn, kind: "loss", count: 8, at: rt[7]},
		{level: LevelCritical, kind: "retransmission", count: 15, at: rt[14]},
		// Below 8 losses once the 13th has left the window.
		{level: LevelRecovered, kind: "loss", count: 7, after: rt[12].ts + win, until: rt[12].ts + win + slack},
		{level: LevelRecovered, kind: "retransmission", count: 4, after: rt[15].ts + win, until: rt[15].ts + win + slack},
	}
}

var scenarioThresholds = Thresholds{Retransmission: 5, Loss: 8, OutOfOrder: 1, CriticalFactor: 3}

func TestMonitorRing(t *testing.T) {
	modes := []struct {
		name     string
		noNotify bool
		poll     time.Duration
	}{
		// fsnotify alone must drive it: the poll interval never elapses.
		{"fsnotify", false, time.Hour},
		{"poll", true, 10 * time.Millisecond},
	}
	paths := []struct {
		name string
		path func(dir string) string
	}{
		{"capture -w name", func(dir string) string { return filepath.Join(dir, "ring.pcapng") }},
		{"glob", func(dir string) string { return filepath.Join(dir, "ring*") }},
		{"directory", func(dir string) string { return dir }},
		{"symlink", func(dir string) string { return filepath.Join(dir, "ring-current.pcapng") }},
	}
	pkts := scenario(t, 20, 70)
	for _, mode := range modes {
		for _, p := range paths {
			t.Run(mode.name+"/"+p.name, func(t *testing.T) {
				dir := t.TempDir()
				r := newRing(t, dir, "ring")
				r.link = filepath.Join(dir, "ring-current.pcapng")
				if p.name == "symlink" {
					r.rotate() // the link must exist: the first file, header only
				}
				h := startMonitor(t, Config{
					Follow:     FollowConfig{Path: p.path(dir), PollInterval: mode.poll, NoNotify: mode.noNotify},
					Pipeline:   pipecfg.Detectors(),
					Window:     time.Minute,
					Thresholds: scenarioThresholds,
				})
				r.pause = h.sync // let the monitor see every chunk's first half alone
				if r.f == nil {
					r.rotate()
				}
				for i, k := range pkts {
					if i > 0 && i%60 == 0 {
						r.rotate()
					}
					r.write(k)
					if i%7 == 6 {
						r.flush()
					}
				}
				r.close()
				h.waitRecords(uint64(len(pkts)))
				s := h.stop()
				if s.Records != uint64(len(pkts)) || s.Packets != uint64(len(pkts)) {
					t.Errorf("processed %d records (%d packets), want %d: a packet was read twice or skipped", s.Records, s.Packets, len(pkts))
				}
				if s.Files != len(r.files) {
					t.Errorf("read %d files, want %d", s.Files, len(r.files))
				}
				if s.Gaps != 0 || s.Restarts != 0 || s.FileErrors != 0 {
					t.Errorf("gaps %d, restarts %d, errors %d; want none\n%s", s.Gaps, s.Restarts, s.FileErrors, h.log)
				}
				checkAlerts(t, h.alerts(), scenarioAlerts(r))
			})
		}
	}
}

// The same capture read with --from-start after it was written gives the
// same alerts.
func TestMonitorFromStart(t *testing.T) {
	dir := t.TempDir()
	r := newRing(t, dir, "ring")
	pkts := scenario(t, 20, 70)
	r.rotate()
	for i, k := range pkts {
		if i > 0 && i%50 == 0 {
			r.rotate()
		}
		r.write(k)
	}
	r.close()
	var evlog syncbuf.Buffer
	h := startMonitor(t, Config{
		Follow:     FollowConfig{Path: filepath.Join(dir, "ring.pcapng"), FromStart: true, NoNotify: true, PollInterval: 10 * time.Millisecond},
		Pipeline:   pipecfg.Detectors(),
		Thresholds: scenarioThresholds,
		EventsOut:  &evlog,
	})
	h.waitRecords(uint64(len(pkts)))
	s := h.stop()
	if s.Records != uint64(len(pkts)) || s.Skipped != 0 {
		t.Errorf("processed %d records, skipped %d; want %d and 0", s.Records, s.Skipped, len(pkts))
	}
	checkAlerts(t, h.alerts(), scenarioAlerts(r))
	// --events-out has every detector event, one JSON object a line.
	n := 0
	retrans := 0
	for _, line := range strings.Split(strings.TrimSpace(evlog.String()), "\n") {
		var e struct{ Type string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events line %q: %v", line, err)
		}
		n++
		if e.Type == "retransmission" {
			retrans++
		}
	}
	total := 0
	for _, c := range s.Events {
		total += c
	}
	if n != total || retrans != len(r.retrans) || s.Events["retransmission"] != len(r.retrans) {
		t.Errorf("events file: %d lines, %d retransmissions; summary %d events, %d retransmissions; want %d retransmissions",
			n, retrans, total, s.Events["retransmission"], len(r.retrans))
	}
}

// By default the bytes already in the files are skipped (but their
// interface descriptions are read) and only what is appended counts.
func TestMonitorStartsAtEnd(t *testing.T) {
	dir := t.TempDir()
	r := newRing(t, dir, "ring")
	pkts := scenario(t, 20, 70)
	r.rotate()
	const before = 100
	for _, k := range pkts[:before] {
		r.write(k)
	}
	r.flush()
	h := startMonitor(t, Config{
		Follow:     FollowConfig{Path: filepath.Join(dir, "ring.pcapng"), PollInterval: 10 * time.Millisecond},
		Pipeline:   pipecfg.Detectors(),
		Thresholds: scenarioThresholds,
	})
	if s := h.m.Summary(); s.Skipped != before || s.Records != 0 {
		t.Fatalf("at start: skipped %d, processed %d; want %d and 0", s.Skipped, s.Records, before)
	}
	for i, k := range pkts[before:] {
		if i == 60 {
			r.rotate()
		}
		r.write(k)
	}
	r.close()
	rest := uint64(len(pkts) - before)
	h.waitRecords(rest)
	s := h.stop()
	if s.Records != rest || s.Packets != rest {
		t.Errorf("processed %d records (%d packets), want %d", s.Records, s.Packets, rest)
	}
	// The retransmissions before the start are not counted: rounds 0..7
	// are in the skipped part, so the window starts with the 9th.
	for _, a := range h.alerts() {
		if a.Level == LevelWarn && a.Kind == "retransmission" {
			if a.Frame != r.retrans[before/7+4].frame {
				t.Errorf("WARN at frame %d, want the 5th retransmission after the start", a.Frame)
			}
		}
	}
}

func TestMonitorSummaryText(t *testing.T) {
	s := Summary{Files: 3, Records: 1000, Skipped: 10, Packets: 990, TCPPackets: 980, Kernel: 10, Gaps: 1, Restarts: 1,
		Events: map[string]int{"retransmission": 5, "dup_ack": 9}, Alerts: map[string]int{"WARN": 2, "CRITICAL": 1, "RECOVERED": 1},
		InWindow: map[string]int{"retransmission": 3, "loss": 0}, Flows: 2, Elapsed: 1500 * time.Millisecond,
		Current: "/cap/ring_00003_20261123093000.pcapng"}
	var b bytes.Buffer
	s.Write(&b)
	want := `tcpviz monitor: 1.5s, 3 files read (1 started over), 1 missing (gaps)
  last file: /cap/ring_00003_20261123093000.pcapng
  records:   1000 processed, 10 skipped at start-up
  packets:   990 (980 TCP), 10 kernel records
  events:    14 (dup_ack 9, retransmission 5)
  alerts:    2 WARN, 1 CRITICAL, 1 RECOVERED
  in window: 2 flows (retransmission 3)
`
	if b.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", b.String(), want)
	}
}

func TestUseColor(t *testing.T) {
	for _, c := range []struct {
		terminal bool
		noColor  string
		want     bool
	}{{true, "", true}, {true, "1", false}, {true, "0", false}, {false, "", false}, {false, "1", false}} {
		if got := colorFor(c.terminal, c.noColor); got != c.want {
			t.Errorf("terminal %v, NO_COLOR=%q: colour %v, want %v", c.terminal, c.noColor, got, c.want)
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("NO_COLOR", "")
	if UseColor(f) {
		t.Error("colour on a regular file")
	}
}

// When the capture goes quiet, capture time runs on with the wall clock
// once the grace period is over: counts decay and RECOVERED comes.
func TestMonitorIdleClock(t *testing.T) {
	dir := t.TempDir()
	pkts := scenario(t, 5, 0)
	appendFile(t, filepath.Join(dir, "cap.pcapng"), pcapngOf(t, pkts, 0, len(pkts)))
	wall0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var wall atomic.Int64
	wall.Store(wall0.UnixNano())
	h := startMonitor(t, Config{
		Follow:     FollowConfig{Path: filepath.Join(dir, "cap.pcapng"), FromStart: true, NoNotify: true, PollInterval: 5 * time.Millisecond},
		Pipeline:   pipecfg.Detectors(),
		Window:     10 * time.Second,
		Thresholds: Thresholds{Retransmission: 3},
		IdleClock:  func() time.Time { return time.Unix(0, wall.Load()) },
		IdleGrace:  2 * time.Second,
	})
	h.waitRecords(uint64(len(pkts)))
	passes := func(n int64) {
		target := h.m.fol.passDone.Load() + n
		waitFor(t, "passes", 5*time.Second, func() bool { return h.m.fol.passDone.Load() >= target })
	}
	passes(3)
	levels := func() (s []Level) {
		for _, a := range h.alerts() {
			s = append(s, a.Level)
		}
		return s
	}
	if got := levels(); !slices.Equal(got, []Level{LevelWarn}) {
		t.Fatalf("alerts %v after reading, want one WARN", got)
	}
	// Within the grace period nothing moves.
	wall.Store(wall0.Add(1900 * time.Millisecond).UnixNano())
	passes(3)
	if got := levels(); len(got) != 1 {
		t.Fatalf("alerts %v within the grace period, want the WARN only", got)
	}
	// 11 s beyond the grace: the 10 s window is empty.
	wall.Store(wall0.Add(13 * time.Second).UnixNano())
	waitFor(t, "RECOVERED", 5*time.Second, func() bool { return len(h.alerts()) == 2 })
	a := h.alerts()[1]
	last := pkts[len(pkts)-1].ts
	if a.Level != LevelRecovered || a.Count != 0 || int64(a.Time) != last+11e9 {
		t.Errorf("second alert %s count %d at %v, want RECOVERED count 0 at %v", a.Level, a.Count, a.Time.Time(), time.Unix(0, last+11e9).UTC())
	}
}

// Drops reported by the capture (Interface Statistics Blocks) are printed
// as soon as they are read.
func TestMonitorReportsCaptureDrops(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cap.pcapng")
	var b bytes.Buffer
	w, err := pcapng.NewWriter(&b, pcapng.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: snaplen, Name: "eth7"}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteStats(0, t0, pcapng.InterfaceStats{Received: 100, Dropped: 3, OSDropped: 4}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	h := startMonitor(t, Config{Follow: FollowConfig{Path: path, PollInterval: 10 * time.Millisecond, NoNotify: true},
		Pipeline: pipecfg.Detectors()})
	appendFile(t, path, b.Bytes())
	waitFor(t, "the drop notice", 5*time.Second, func() bool {
		return strings.Contains(h.log.String(), "eth7: the capture dropped 7 packets")
	})
}
