// Package livetable keeps one row per live TCP connection for `tcpviz top`:
// what the pipeline's packets, detector events and kernel records say about
// it now, rates over the last interval and a minute of history. It holds no
// TCP analysis of its own: the connection ids, directions, retransmissions
// and limits come from the same conntrack and detectors every command runs;
// this table only keeps the newest of each and the bytes seen per interval.
package livetable

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// HistoryLen is how many intervals of history a row keeps for sparklines.
const HistoryLen = 60

// RecentEvents is how many of a connection's newest findings a row keeps.
const RecentEvents = 8

// Linger is how long a closed connection stays in the table (greyed).
const Linger = 5 * time.Second

// Row is one connection as of the last Snapshot. Rates are bytes per second
// over the last interval; Local is this host's end when kernel records say
// which socket is ours, else the connection's client (the SYN sender).
type Row struct {
	Flow   uint64 `json:"flow"`
	PID    uint32 `json:"pid,omitempty"`
	Comm   string `json:"comm,omitempty"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`

	Kernel       bool    `json:"kernel"` // kernel records seen for this socket
	Cwnd         uint32  `json:"cwnd,omitempty"`
	Ssthresh     uint32  `json:"ssthresh,omitempty"`
	SRTTms       float64 `json:"srtt_ms,omitempty"`
	RTTVarms     float64 `json:"rttvar_ms,omitempty"`
	InFlight     int64   `json:"bytes_in_flight"`
	SendRate     float64 `json:"send_bytes_per_second"`
	RecvRate     float64 `json:"recv_bytes_per_second"`
	DeliveryRate float64 `json:"delivery_bytes_per_second,omitempty"`
	PacingRate   float64 `json:"pacing_bytes_per_second,omitempty"`
	Retrans      uint64  `json:"retransmissions"`          // total, segments
	RetransNow   uint64  `json:"retransmissions_interval"` // in the last interval
	RetransFrom  string  `json:"retransmissions_source"`   // "kernel" or "packets"
	Limit        string  `json:"limit,omitempty"`
	AgeSeconds   float64 `json:"age_seconds"`
	Closed       bool    `json:"closed"`

	// History, oldest first, one entry per interval (not in JSON).
	CwndHist  []float64 `json:"-"`
	SRTTHist  []float64 `json:"-"`
	RateHist  []float64 `json:"-"`
	Recent    []string  `json:"-"` // newest findings, oldest first
	localSide events.Dir
}

// Totals are the footer's figures.
type Totals struct {
	Connections  int
	Closed       int
	SendRate     float64
	RecvRate     float64
	RetransNow   uint64
	Packets      uint64
	CaptureDrops uint64
	Interval     time.Duration
}

type conn struct {
	row      Row
	first    time.Time
	closedAt time.Time
	known    bool // local end known from a kernel record

	bytes       [2]uint64 // payload bytes this interval, by events.Dir
	maxEnd      [2]uint32 // highest relative sequence end sent, by Dir
	maxAck      [2]uint32 // highest relative ack sent, by Dir
	fin, rst    bool
	inferred    uint64 // retransmission events from packets
	inferredNow uint64
	kernelTotal uint32
	kernelBase  uint32 // kernel total at the previous snapshot
	kernelSeen  bool
	ownerTries  int
}

// Table is a pipeline sink. Its methods may be called from the goroutine
// that feeds the pipeline while another takes snapshots.
type Table struct {
	mu      sync.Mutex
	conns   map[uint64]*conn
	last    time.Time
	packets uint64
	drops   func() uint64
	now     func() time.Time
	started chan struct{} // closed at the first packet

	// Owners, if set, finds the process of connections whose records name
	// none (ProcOwners in live mode); asked at most three times for each.
	Owners func(want map[[2]string]bool) map[[2]string]Owner
}

// New returns an empty table. drops, if not nil, reports capture drops for
// the footer.
func New(drops func() uint64) *Table {
	return &Table{conns: make(map[uint64]*conn), drops: drops, now: time.Now, started: make(chan struct{})}
}

func (t *Table) get(flow uint64) *conn {
	c := t.conns[flow]
	if c == nil {
		c = &conn{first: t.now()}
		c.row.Flow = flow
		t.conns[flow] = c
	}
	return c
}

// Started is closed when the first packet reaches the table.
func (t *Table) Started() <-chan struct{} { return t.started }

// Packet implements the pipeline's Sink.
func (t *Table) Packet(p *events.Packet) {
	if p.Flow == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.packets == 0 {
		close(t.started)
	}
	t.packets++
	c := t.get(p.Flow)
	if c.row.Local == "" {
		// The first packet's sender is the client as conntrack sees it.
		client, server := events.Endpoint(p.Src, p.SrcPort), events.Endpoint(p.Dst, p.DstPort)
		if p.Dir == events.DirS2C {
			client, server = server, client
		}
		c.row.Local, c.row.Remote, c.row.localSide = client, server, events.DirC2S
	}
	d := p.Dir & 1
	c.bytes[d] += uint64(p.Len)
	if end := p.RelSeq + p.Len; p.Len > 0 && int32(end-c.maxEnd[d]) > 0 {
		c.maxEnd[d] = end
	}
	if p.Flags&events.FlagACK != 0 && int32(p.RelAck-c.maxAck[d]) > 0 {
		c.maxAck[d] = p.RelAck
	}
	switch {
	case p.Flags&events.FlagRST != 0:
		c.rst = true
		c.close(t.now())
	case p.Flags&events.FlagFIN != 0:
		c.fin = true
	}
}

// Event implements the pipeline's Sink.
func (t *Table) Event(e *events.Event) {
	if e.Flow == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.get(e.Flow)
	switch e.Type {
	case events.TypeKernelSample, events.TypeKernelRetransmit, events.TypeKernelState, events.TypeKernelReset:
		if e.Kernel != nil {
			c.kernel(e.Kernel, e.Dir, t.now())
		}
		return
	case events.TypeRetransmission:
		c.inferred++
		c.inferredNow++
	case events.TypeLimitChange:
		if e.Limit != nil {
			c.row.Limit = e.Limit.To
		}
	}
	if events.IsFinding(e.Type) {
		s := e.Type
		if e.Kind != "" {
			s += " " + e.Kind
		} else if e.Reason != "" {
			s += " " + e.Reason
		}
		c.row.Recent = append(c.row.Recent, e.TS.Time().Local().Format("15:04:05.000")+" "+s)
		if n := len(c.row.Recent); n > RecentEvents {
			c.row.Recent = slices.Delete(c.row.Recent, 0, n-RecentEvents)
		}
	}
}

// kernel takes the newest kernel state of the socket. dir is the direction
// in which the socket sends (its Saddr is the connection's source then).
func (c *conn) kernel(r *kblock.Record, dir events.Dir, now time.Time) {
	c.row.Kernel = true
	if !c.known && r.Saddr.IsValid() {
		c.row.Local = endpoint(r.Saddr, r.Sport)
		c.row.Remote = endpoint(r.Daddr, r.Dport)
		c.row.localSide = dir
		c.known = true
	}
	if r.PID != 0 {
		c.row.PID = r.PID
	}
	if r.Comm != "" {
		c.row.Comm = r.Comm
	}
	switch r.Kind {
	case kblock.KindProbe:
		c.row.Cwnd, c.row.Ssthresh = r.SndCwnd, r.Ssthresh
		c.row.SRTTms = float64(r.SRTTus) / 1000
		c.row.RTTVarms = float64(r.RTTVarus) / 1000
		c.row.PacingRate = float64(r.PacingRate)
		if r.RateIntervalUS > 0 && r.MSS > 0 {
			c.row.DeliveryRate = float64(r.RateDelivered) * float64(r.MSS) / (float64(r.RateIntervalUS) / 1e6)
		}
		if r.TotalRetrans >= c.kernelTotal {
			c.kernelTotal = r.TotalRetrans
		}
		c.kernelSeen = true
		c.row.State = "ESTABLISHED"
	case kblock.KindState:
		c.row.State = kblock.StateName(r.NewState)
		if r.NewState == 7 { // TCP_CLOSE
			c.close(now)
		}
	case kblock.KindReset:
		c.close(now)
	}
}

func (c *conn) close(now time.Time) {
	if c.closedAt.IsZero() {
		c.closedAt = now
	}
	c.row.Closed = true
}

func endpoint(a netip.Addr, p uint16) string {
	return netip.AddrPortFrom(a.Unmap(), p).String()
}

// Snapshot ends the current interval: it returns every row (closed ones
// until Linger has passed), with rates over the time since the previous
// snapshot, and the totals.
func (t *Table) Snapshot() ([]Row, Totals) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	elapsed := now.Sub(t.last)
	if t.last.IsZero() || elapsed <= 0 {
		elapsed = time.Second
	}
	t.last = now
	tot := Totals{Interval: elapsed, Packets: t.packets}
	if t.drops != nil {
		tot.CaptureDrops = t.drops()
	}
	t.resolveOwners()
	rows := make([]Row, 0, len(t.conns))
	for id, c := range t.conns {
		if !c.closedAt.IsZero() && now.Sub(c.closedAt) > Linger {
			delete(t.conns, id)
			continue
		}
		r := c.snapshot(now, elapsed)
		rows = append(rows, r)
		tot.Connections++
		if r.Closed {
			tot.Closed++
		}
		tot.SendRate += r.SendRate
		tot.RecvRate += r.RecvRate
		tot.RetransNow += r.RetransNow
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Flow < rows[j].Flow })
	return rows, tot
}

func (t *Table) resolveOwners() {
	if t.Owners == nil {
		return
	}
	want := make(map[[2]string]bool)
	for _, c := range t.conns {
		if c.row.PID == 0 && c.closedAt.IsZero() && c.ownerTries < 3 {
			c.ownerTries++
			want[[2]string{c.row.Local, c.row.Remote}] = true
			want[[2]string{c.row.Remote, c.row.Local}] = true
		}
	}
	if len(want) == 0 {
		return
	}
	found := t.Owners(want)
	for _, c := range t.conns {
		if c.row.PID != 0 {
			continue
		}
		o, ok := found[[2]string{c.row.Local, c.row.Remote}]
		if !ok {
			// The other end is the local socket (both ends on this host).
			o, ok = found[[2]string{c.row.Remote, c.row.Local}]
		}
		if ok {
			c.row.PID, c.row.Comm = o.PID, o.Comm
		}
	}
}

func (c *conn) snapshot(now time.Time, elapsed time.Duration) Row {
	out, in := c.row.localSide&1, (c.row.localSide^1)&1
	sec := elapsed.Seconds()
	c.row.SendRate = float64(c.bytes[out]) / sec
	c.row.RecvRate = float64(c.bytes[in]) / sec
	c.bytes = [2]uint64{}
	c.row.InFlight = int64(int32(c.maxEnd[out] - c.maxAck[in]))
	if c.row.InFlight < 0 {
		c.row.InFlight = 0
	}
	if c.kernelSeen {
		c.row.Retrans, c.row.RetransNow, c.row.RetransFrom = uint64(c.kernelTotal), uint64(c.kernelTotal-c.kernelBase), "kernel"
		c.kernelBase = c.kernelTotal
	} else {
		c.row.Retrans, c.row.RetransNow, c.row.RetransFrom = c.inferred, c.inferredNow, "packets"
	}
	c.inferredNow = 0
	if c.row.State == "" || (!c.kernelSeen && !c.row.Closed) {
		c.row.State = packetState(c)
	}
	c.row.AgeSeconds = now.Sub(c.first).Seconds()
	c.row.CwndHist = push(c.row.CwndHist, float64(c.row.Cwnd))
	c.row.SRTTHist = push(c.row.SRTTHist, c.row.SRTTms)
	c.row.RateHist = push(c.row.RateHist, c.row.SendRate+c.row.RecvRate)
	r := c.row
	r.CwndHist = slices.Clone(c.row.CwndHist)
	r.SRTTHist = slices.Clone(c.row.SRTTHist)
	r.RateHist = slices.Clone(c.row.RateHist)
	r.Recent = slices.Clone(c.row.Recent)
	return r
}

// packetState names the state from the packets when no kernel record does.
func packetState(c *conn) string {
	switch {
	case c.rst:
		return "RESET"
	case c.fin:
		return "CLOSING"
	default:
		return "ACTIVE"
	}
}

func push(h []float64, v float64) []float64 {
	h = append(h, v)
	if len(h) > HistoryLen {
		h = slices.Delete(h, 0, len(h)-HistoryLen)
	}
	return h
}

// Matches reports whether a row matches a filter typed by the user: every
// space-separated word must appear in the row's text (case-insensitive).
func (r *Row) Matches(filter string) bool {
	if filter == "" {
		return true
	}
	text := strings.ToLower(strings.Join([]string{r.Comm, r.Local, r.Remote, r.State, r.Limit,
		uitoa(uint64(r.PID))}, " "))
	for _, w := range strings.Fields(strings.ToLower(filter)) {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

func uitoa(v uint64) string {
	if v == 0 {
		return ""
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
