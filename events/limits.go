package events

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limit names: what held a sender back, the keys of LimitSeconds and the
// values of `dominant`.
const (
	LimitRwnd      = "rwnd"      // the receiver's advertised window (zero window included)
	LimitCwnd      = "cwnd"      // the congestion window: the network
	LimitSndbuf    = "sndbuf"    // the sender's own socket send buffer
	LimitApp       = "app"       // the application had nothing to send
	LimitRecovery  = "recovery"  // loss recovery, or waiting for a retransmission timeout
	LimitHandshake = "handshake" // the connection was being set up
)

// LimitNames lists the limits in the order of LimitSeconds.Array.
var LimitNames = [...]string{LimitRwnd, LimitCwnd, LimitSndbuf, LimitApp, LimitRecovery, LimitHandshake}

// Sources of a limits split.
const (
	LimitSourceKernel  = "kernel"  // the kernel's chronographs and probe records
	LimitSourcePackets = "packets" // inferred from the packets alone
)

// TypeLimitChange marks when the dominant limit of a direction changes.
const TypeLimitChange = "limit_change"

// LimitSeconds splits a direction's time into what limited its sender.
type LimitSeconds struct {
	Rwnd      float64 `json:"rwnd"`
	Cwnd      float64 `json:"cwnd"`
	Sndbuf    float64 `json:"sndbuf"`
	App       float64 `json:"app"`
	Recovery  float64 `json:"recovery"`
	Handshake float64 `json:"handshake"`
}

// Array returns the seconds in LimitNames order.
func (s LimitSeconds) Array() [6]float64 {
	return [6]float64{s.Rwnd, s.Cwnd, s.Sndbuf, s.App, s.Recovery, s.Handshake}
}

// LimitSecondsOf builds LimitSeconds from LimitNames order.
func LimitSecondsOf(a [6]float64) LimitSeconds {
	return LimitSeconds{Rwnd: a[0], Cwnd: a[1], Sndbuf: a[2], App: a[3], Recovery: a[4], Handshake: a[5]}
}

// Total is the time split.
func (s LimitSeconds) Total() float64 {
	t := 0.0
	for _, v := range s.Array() {
		t += v
	}
	return t
}

// Share is the dominant limit's share of the time split (Dominant), to
// four decimals: the share every output shows. The records do not carry
// it: it follows from the seconds, which they do.
func (s LimitSeconds) Share() float64 {
	_, x := s.Dominant()
	return math.Round(x*1e4) / 1e4
}

// Dominant is the limit with the most time and its share of the total
// ("" when no time was split).
func (s LimitSeconds) Dominant() (string, float64) {
	a := s.Array()
	best, total := -1, 0.0
	for i, v := range a {
		total += v
		if v > 0 && (best < 0 || v > a[best]) {
			best = i
		}
	}
	if best < 0 || total <= 0 {
		return "", 0
	}
	return LimitNames[best], a[best] / total
}

// DirLimits is what limited the sender of one direction.
type DirLimits struct {
	// Source is "kernel" when the split comes from the kernel's own
	// accounting, "packets" when it is inferred from packets alone.
	Source   string       `json:"source"`
	Seconds  LimitSeconds `json:"seconds"`
	Dominant string       `json:"dominant"`
	// Goodput: payload bytes acknowledged, in bits per second, over the
	// direction's time from its first data to its last acknowledgement, and
	// the best LimitWindow of it.
	GoodputAvgBps  float64 `json:"goodput_avg_bps"`
	GoodputPeakBps float64 `json:"goodput_peak_bps"`
	// MaxWindow is the largest receive window the peer advertised while
	// data was outstanding, in bytes (scaled; -1 when the scale is
	// unknown).
	MaxWindow int64 `json:"max_window"`
	// Kernel holds the chronograph totals behind a kernel split, in
	// seconds, as ss -ti shows them (busy includes both limited times).
	Kernel *KernelChrono `json:"kernel,omitempty"`
	// Packets is the inference from packets beside a kernel split.
	Packets *PacketLimits `json:"packets,omitempty"`
}

// KernelChrono is a socket's chronographs over the connection.
type KernelChrono struct {
	Busy          float64 `json:"busy"`
	RwndLimited   float64 `json:"rwnd_limited"`
	SndbufLimited float64 `json:"sndbuf_limited"`
}

// PacketLimits is the split inferred from packets for a direction whose
// split came from the kernel, and how often the two named the same limit.
type PacketLimits struct {
	Seconds  LimitSeconds `json:"seconds"`
	Dominant string       `json:"dominant"`
	// Agreement is the share of time (in LimitWindow steps) in which the
	// inference named the same dominant limit as the kernel; -1 when no
	// window had both.
	Agreement float64 `json:"agreement"`
}

// FlowLimits holds the directions that carried data; one that carried none
// is the zero DirLimits (Dir returns nil for it). A record holds them by
// value, so a connection's limits cost no allocation of their own: on
// captures of many short connections that allocation, and the collector's
// work for it, cost more than the analysis.
type FlowLimits struct {
	C2S DirLimits `json:"c2s,omitzero"`
	S2C DirLimits `json:"s2c,omitzero"`
}

// IsZero reports whether no direction was split (the record has no
// limits).
func (l FlowLimits) IsZero() bool { return l.C2S.IsZero() && l.S2C.IsZero() }

// IsZero reports whether the direction carried no data (it has no split).
func (l DirLimits) IsZero() bool { return l.Source == "" }

// Dir returns the limits of direction d (nil when it carried no data).
func (l *FlowLimits) Dir(d Dir) *DirLimits {
	if l == nil {
		return nil
	}
	dl := &l.C2S
	if d == DirS2C {
		dl = &l.S2C
	}
	if dl.IsZero() {
		return nil
	}
	return dl
}

// LimitChange is the detail of a limit_change event: the dominant limit of
// the window [Start, End) differs from the one before.
type LimitChange struct {
	Source string    `json:"source"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Share  float64   `json:"share"` // of To within the window
	Start  Timestamp `json:"start"`
	End    Timestamp `json:"end"`
}

// MainLimits returns the limits of the direction that carried more
// payload (the transfer a user asks about), nil when none was split.
func (r *FlowRecord) MainLimits() (*DirLimits, Dir) {
	c2s, s2c := r.Limits.Dir(DirC2S), r.Limits.Dir(DirS2C)
	switch {
	case c2s == nil:
		return s2c, DirS2C
	case s2c == nil:
		return c2s, DirC2S
	case r.BytesS2C > r.BytesC2S:
		return s2c, DirS2C
	}
	return c2s, DirC2S
}

// Inferred reports whether the split was inferred from packets.
func (l *DirLimits) Inferred() bool { return l.Source != LimitSourceKernel }

// Label is the short verdict of the tables: the dominant limit and its
// share, "~" in front when inferred from packets ("rwnd 61%", "~cwnd 80%").
func (l *DirLimits) Label() string {
	if l == nil || l.Dominant == "" {
		return "-"
	}
	s := l.Dominant + " " + strconv.FormatFloat(l.Seconds.Share()*100, 'f', 0, 64) + "%"
	if l.Inferred() {
		s = "~" + s
	}
	return s
}

// Held is the time the sender had something to send and was held back:
// everything but app and handshake.
func (l *DirLimits) Held() float64 {
	s := l.Seconds
	// The seconds are whole microseconds; their float sum is not always
	// (7.012105999999999 for 7.012106).
	return math.Round((s.Rwnd+s.Cwnd+s.Sndbuf+s.Recovery)*1e6) / 1e6
}

// Sentence says in one plain sentence what limited the direction, e.g.
// "61 % of 4.0 s limited by the receiver's window (at most 16 KiB
// advertised): the receiver is not reading fast enough or its buffer is too
// small".
func (l *DirLimits) Sentence() string {
	if l == nil || l.Dominant == "" {
		return "no data sent"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%.0f %% of %s ", l.Seconds.Share()*100, fmtSeconds(l.Seconds.Total()))
	switch l.Dominant {
	case LimitRwnd:
		b.WriteString("limited by the receiver's window")
		if l.MaxWindow >= 0 {
			fmt.Fprintf(&b, " (at most %s advertised)", fmtBytes(l.MaxWindow))
		}
		b.WriteString(": the receiver is not reading fast enough or its buffer is too small")
	case LimitCwnd:
		b.WriteString("limited by the congestion window: the network path (its bandwidth, queue or losses) set the pace")
	case LimitSndbuf:
		b.WriteString("limited by the sender's socket buffer: the send buffer (SO_SNDBUF, net.ipv4.tcp_wmem) is too small for the path")
	case LimitApp:
		b.WriteString("with nothing to send: the sending application wrote slower than the connection could carry")
	case LimitRecovery:
		b.WriteString("in loss recovery: retransmitting lost segments or waiting for a retransmission timeout")
	case LimitHandshake:
		b.WriteString("setting up the connection: the handshake was slow or repeated")
	default:
		b.WriteString("limited by " + l.Dominant)
	}
	if l.GoodputAvgBps > 0 {
		fmt.Fprintf(&b, "; goodput %s average, %s peak", fmtRate(l.GoodputAvgBps), fmtRate(l.GoodputPeakBps))
	}
	if l.Inferred() {
		b.WriteString(" (inferred from packets)")
	} else if l.Packets != nil && l.Packets.Agreement >= 0 {
		fmt.Fprintf(&b, " (kernel accounting; packets agree %.0f %% of the time)", l.Packets.Agreement*100)
	} else {
		b.WriteString(" (kernel accounting)")
	}
	return b.String()
}

func fmtSeconds(s float64) string { return fmtSecondsSep(s, " ") }

// fmtSecondsSep writes a duration in s or ms with sep before the unit.
func fmtSecondsSep(s float64, sep string) string {
	switch {
	case s >= 10:
		return strconv.FormatFloat(s, 'f', 0, 64) + sep + "s"
	case s >= 0.1:
		return strconv.FormatFloat(s, 'f', 1, 64) + sep + "s"
	}
	return strconv.FormatFloat(s*1000, 'f', 1, 64) + sep + "ms"
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func fmtRate(bps float64) string {
	switch {
	case bps >= 1e9:
		return strconv.FormatFloat(bps/1e9, 'f', 2, 64) + " Gbit/s"
	case bps >= 1e6:
		return strconv.FormatFloat(bps/1e6, 'f', 1, 64) + " Mbit/s"
	case bps >= 1e3:
		return strconv.FormatFloat(bps/1e3, 'f', 0, 64) + " kbit/s"
	}
	return strconv.FormatFloat(bps, 'f', 0, 64) + " bit/s"
}

// LimitsCheck compares, over the directions whose split came from the
// kernel, the inference from packets with the kernel's accounting.
type LimitsCheck struct {
	Directions   int     `json:"directions"`    // directions with both
	SameDominant int     `json:"same_dominant"` // of those, where both named the same dominant limit
	Agreement    float64 `json:"agreement"`     // share of their time in which both named the same limit
	weighted     float64 // Σ agreement × seconds
	seconds      float64
}

// Add counts one direction's limits.
func (c *LimitsCheck) Add(l *DirLimits) {
	if l == nil || l.Inferred() || l.Packets == nil || l.Packets.Agreement < 0 {
		return
	}
	c.Directions++
	if l.Packets.Dominant == l.Dominant {
		c.SameDominant++
	}
	t := l.Seconds.Total()
	c.weighted += l.Packets.Agreement * t
	c.seconds += t
	if c.seconds > 0 {
		c.Agreement = c.weighted / c.seconds
	}
}

func (c LimitsCheck) String() string {
	return fmt.Sprintf("%d directions with the kernel's accounting; the packets named the same dominant limit in %d, the same limit %.1f %% of the time",
		c.Directions, c.SameDominant, c.Agreement*100)
}

// Verdict is one connection's answer to "why was it slow".
type Verdict struct {
	Flow     uint64  `json:"flow"`
	Client   string  `json:"client"`
	Server   string  `json:"server"`
	Dir      Dir     `json:"dir"`
	Limit    string  `json:"limit"`
	Share    float64 `json:"share"`
	Source   string  `json:"source"`
	HeldS    float64 `json:"held_s"` // seconds the sender was held back (not app, not handshake)
	Sentence string  `json:"why"`
	// Problem says why the connection ranks among the worst (Problem.Reason).
	Problem string `json:"problem,omitempty"`
}

// Line is a verdict as the text outputs print it: the problem, then the
// sentence of what limited the sender.
func (v Verdict) Line() string {
	if v.Problem == "" {
		return v.Sentence
	}
	return v.Problem + ". " + v.Sentence
}

// WorstLimits returns the verdicts of at most n worst connections, worst
// first (ComparePriority).
func WorstLimits(flows []FlowRecord, n int) []Verdict {
	w := Worst{N: n}
	for i := range flows {
		w.Add(&flows[i])
	}
	return w.List
}

// Worst keeps, in bounded memory, the N worst connections (ComparePriority)
// that had a problem or were held back.
type Worst struct {
	N    int
	List []Verdict // worst first
	keys []Problem // List's ranking keys
}

// Add considers one connection.
func (w *Worst) Add(r *FlowRecord) {
	p := r.Problem()
	if w.N <= 0 || (!p.Any() && p.HeldS <= 0) {
		return
	}
	if n := len(w.List); n >= w.N {
		// Full: most connections rank after the last kept, one comparison.
		if c := ComparePriority(p, w.keys[n-1]); c > 0 || (c == 0 && r.Flow > w.List[n-1].Flow) {
			return
		}
	}
	i := 0
	for i < len(w.List) {
		c := ComparePriority(p, w.keys[i])
		if c < 0 || (c == 0 && r.Flow < w.List[i].Flow) {
			break
		}
		i++
	}
	if i >= w.N {
		return
	}
	v := Verdict{Flow: r.Flow, Client: r.Client, Server: r.Server, Sentence: "no data sent", Problem: p.Reason()}
	if l, d := r.MainLimits(); l != nil {
		v.Dir, v.Limit, v.Share, v.Source, v.HeldS, v.Sentence = d, l.Dominant, l.Seconds.Share(), l.Source, l.Held(), l.Sentence()
	}
	w.List = append(w.List, Verdict{})
	copy(w.List[i+1:], w.List[i:])
	w.List[i] = v
	w.keys = append(w.keys, Problem{})
	copy(w.keys[i+1:], w.keys[i:])
	w.keys[i] = p
	if len(w.List) > w.N {
		w.List, w.keys = w.List[:w.N], w.keys[:w.N]
	}
}
