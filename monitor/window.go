package monitor

import (
	"fmt"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// Kind is what the window counts and alerts on.
type Kind uint8

const (
	KindRetransmission Kind = iota // retransmission events (any kind)
	KindLoss                       // loss_infer (not the unconfirmed ones) and lost_segment
	KindOutOfOrder                 // out_of_order
	KindReordering                 // reordering: holes that closed without a retransmission
	numKinds
)

var kindNames = [numKinds]string{"retransmission", "loss", "out_of_order", "reordering"}

func (k Kind) String() string { return kindNames[k] }

// KindNames lists what the window counts, in order.
func KindNames() []string { return kindNames[:] }

// kindOf maps an event to the kind it counts as. A loss_infer that is
// still a suspect ("confirmed": false) is not counted: it may be
// reordering, which is counted when the hole closes.
func kindOf(e *events.Event) (Kind, bool) {
	switch e.Type {
	case events.TypeRetransmission:
		return KindRetransmission, true
	case events.TypeLossInfer:
		return KindLoss, e.Confirmed == nil || *e.Confirmed
	case events.TypeLostSegment:
		return KindLoss, true
	case events.TypeOutOfOrder:
		return KindOutOfOrder, true
	case events.TypeReordering:
		return KindReordering, true
	}
	return 0, false
}

// Thresholds are the per-kind counts in the window that raise a WARN; a
// count of CriticalFactor × threshold raises a CRITICAL. 0 disables a kind;
// a factor below 2 disables CRITICAL.
type Thresholds struct {
	Retransmission int
	Loss           int
	OutOfOrder     int
	Reordering     int
	CriticalFactor int
}

// DefaultThresholds are the documented defaults (docs/monitor.md).
func DefaultThresholds() Thresholds {
	return Thresholds{Retransmission: 10, Loss: 10, OutOfOrder: 20, Reordering: 10, CriticalFactor: 5}
}

func (t Thresholds) of(k Kind) int {
	switch k {
	case KindRetransmission:
		return t.Retransmission
	case KindLoss:
		return t.Loss
	case KindReordering:
		return t.Reordering
	}
	return t.OutOfOrder
}

// Validate reports thresholds that cannot work.
func (t Thresholds) Validate() error {
	if t.Retransmission < 0 || t.Loss < 0 || t.OutOfOrder < 0 || t.Reordering < 0 {
		return fmt.Errorf("thresholds %d/%d/%d/%d: must not be negative", t.Retransmission, t.Loss, t.OutOfOrder, t.Reordering)
	}
	if t.CriticalFactor < 0 {
		return fmt.Errorf("critical factor %d: must not be negative", t.CriticalFactor)
	}
	return nil
}

// Level is an alert level.
type Level uint8

const (
	LevelNone Level = iota
	LevelWarn
	LevelCritical
	LevelRecovered // the count fell back below the threshold
)

var levelNames = [...]string{"NONE", "WARN", "CRITICAL", "RECOVERED"}

func (l Level) String() string { return levelNames[l] }

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if n == string(b) {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("alert level %q: unknown", b)
}

// Alert is one line of monitor output.
type Alert struct {
	Time      events.Timestamp `json:"time"` // capture time of the crossing
	Level     Level            `json:"level"`
	Kind      string           `json:"kind"`
	Count     int              `json:"count"` // events of this kind and flow in the window
	Threshold int              `json:"threshold"`
	WindowS   float64          `json:"window_s"`
	Flow      uint64           `json:"flow"`
	Client    string           `json:"client"`
	Server    string           `json:"server"`
	File      string           `json:"file,omitempty"`  // file of the triggering event
	Frame     uint64           `json:"frame,omitempty"` // its frame number within that file
	// Hints from the event context: kernel values when the capture carries
	// kernel samples, inferred ones otherwise.
	KernelCwnd    uint32  `json:"kernel_cwnd,omitempty"`
	KernelSRTTms  float64 `json:"kernel_srtt_ms,omitempty"`
	SRTTms        float64 `json:"srtt_ms,omitempty"`
	BytesInFlight int64   `json:"bytes_in_flight,omitempty"`
	// Since is when the connection's alert of this kind started (its first
	// WARN or CRITICAL); From is the level a RECOVERED alert ends.
	Since events.Timestamp `json:"since"`
	From  Level            `json:"from,omitempty"`
}

// counter counts events in a sliding window. Events closer together than
// the merge width share one bucket, which bounds memory to about 64 buckets
// per counter whatever the event rate; a bucket leaves the window when its
// newest event does, so a count can include events up to one width (1/64 of
// the window) older than the window.
type counter struct {
	b []bucket
	n int
}

type bucket struct {
	first, last int64
	n           int
}

func (c *counter) add(ts, width int64) {
	if k := len(c.b); k > 0 {
		t := &c.b[k-1]
		if ts-t.first < width {
			t.n++
			t.last = max(t.last, ts)
			c.n++
			return
		}
	}
	c.b = append(c.b, bucket{first: ts, last: ts, n: 1})
	c.n++
}

// evict drops buckets whose newest event is at or before cutoff.
func (c *counter) evict(cutoff int64) {
	i := 0
	for i < len(c.b) && c.b[i].last <= cutoff {
		c.n -= c.b[i].n
		i++
	}
	if i > 0 {
		c.b = append(c.b[:0], c.b[i:]...)
	}
}

// flowWindow is one connection's counts and alert levels.
type flowWindow struct {
	c              [numKinds]counter
	level          [numKinds]Level
	since          [numKinds]int64 // start of the alert at level
	client, server string
	ctx            events.Context
}

func (f *flowWindow) idle() bool {
	for k := range f.c {
		if f.c[k].n > 0 || f.level[k] != LevelNone {
			return false
		}
	}
	return true
}

// Window keeps the per-flow and total counts over capture time and
// decides when an alert fires. It is not safe for concurrent use.
type Window struct {
	span, width int64
	th          Thresholds
	flows       map[uint64]*flowWindow
	total       [numKinds]counter
	now         int64
	nextSweep   int64
	emit        func(*Alert)
	alert       Alert
	fired       [4]int // alerts by level
}

// NewWindow builds a window of the given span that hands alerts to emit
// (the pointer is valid only during the call).
func NewWindow(span time.Duration, th Thresholds, emit func(*Alert)) *Window {
	if span <= 0 {
		span = time.Minute
	}
	return &Window{span: int64(span), width: max(int64(span)/64, 1), th: th,
		flows: make(map[uint64]*flowWindow), emit: emit}
}

// Now is the window's capture time.
func (w *Window) Now() int64 { return w.now }

// Flows is the number of connections the window keeps.
func (w *Window) Flows() int { return len(w.flows) }

// Total is the count of a kind over all connections in the window.
func (w *Window) Total(k Kind) int { return w.total[k].n }

// Active counts the alerts in force by kind and level.
func (w *Window) Active() map[ActiveKey]int {
	out := make(map[ActiveKey]int)
	for _, f := range w.flows {
		for k, l := range f.level {
			if l == LevelWarn || l == LevelCritical {
				out[ActiveKey{Kind(k).String(), l.String()}]++
			}
		}
	}
	return out
}

// Fired is the number of alerts of a level so far.
func (w *Window) Fired(l Level) int { return w.fired[l] }

// Advance moves capture time forward (never back). Counts that fall back
// below their threshold give RECOVERED alerts, and connections with empty
// windows are forgotten.
func (w *Window) Advance(now int64) {
	if now <= w.now {
		return
	}
	w.now = now
	if now < w.nextSweep {
		return
	}
	w.nextSweep = now + w.width
	cutoff := now - w.span
	for k := range w.total {
		w.total[k].evict(cutoff)
	}
	for id, f := range w.flows {
		for k := range f.c {
			f.c[k].evict(cutoff)
			if f.level[k] != LevelNone && f.c[k].n < w.th.of(Kind(k)) {
				from := f.level[k]
				f.level[k] = LevelNone
				w.fire(LevelRecovered, Kind(k), id, f, now, "", 0, from)
				f.since[k] = 0
			}
		}
		if f.idle() {
			delete(w.flows, id)
		}
	}
}

// Add counts one detector event. file is where its frame is.
func (w *Window) Add(e *events.Event, file string) {
	ts := int64(e.TS)
	w.Advance(ts)
	k, ok := kindOf(e)
	if !ok {
		return
	}
	ts = max(ts, w.now-w.span+1) // a late event still counts once
	f := w.flows[e.Flow]
	if f == nil {
		f = &flowWindow{}
		w.flows[e.Flow] = f
	}
	if f.client == "" {
		f.client, f.server = e.Src, e.Dst
		if e.Dir == events.DirS2C {
			f.client, f.server = e.Dst, e.Src
		}
	}
	f.ctx = e.Context
	c := &f.c[k]
	c.evict(w.now - w.span)
	c.add(ts, w.width)
	w.total[k].add(ts, w.width)
	th := w.th.of(k)
	if th <= 0 {
		return
	}
	crit := th * w.th.CriticalFactor
	switch {
	case w.th.CriticalFactor >= 2 && c.n >= crit && f.level[k] < LevelCritical:
		if f.level[k] == LevelNone {
			f.since[k] = int64(e.TS)
		}
		f.level[k] = LevelCritical
		w.fire(LevelCritical, k, e.Flow, f, int64(e.TS), file, e.Frame, LevelNone)
	case c.n >= th && f.level[k] < LevelWarn:
		f.since[k] = int64(e.TS)
		f.level[k] = LevelWarn
		w.fire(LevelWarn, k, e.Flow, f, int64(e.TS), file, e.Frame, LevelNone)
	}
}

func (w *Window) fire(l Level, k Kind, flow uint64, f *flowWindow, ts int64, file string, frame uint64, from Level) {
	w.fired[l]++
	th := w.th.of(k)
	if l == LevelCritical {
		th *= w.th.CriticalFactor
	}
	w.alert = Alert{Time: events.Timestamp(ts), Level: l, Kind: k.String(), Count: f.c[k].n, Threshold: th,
		WindowS: float64(w.span) / 1e9, Flow: flow, Client: f.client, Server: f.server, File: file, Frame: frame,
		KernelCwnd: f.ctx.KernelCwnd, KernelSRTTms: float64(f.ctx.KernelSRTTus) / 1000, SRTTms: f.ctx.SRTTms,
		BytesInFlight: f.ctx.BytesInFlight, Since: events.Timestamp(f.since[k]), From: from}
	if w.emit != nil {
		w.emit(&w.alert)
	}
}
