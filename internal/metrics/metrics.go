// Package metrics turns the pipeline's packets, events and connection
// summaries into Prometheus metrics, and the monitor's counters into health
// metrics. Names follow Prometheus conventions (base units, _total
// counters); labels stay bounded: direction, event kind, and the service
// port (the lower port of a connection, kept only when it is in a configured
// list, else "other"). Never a 5-tuple or a flow id.
package metrics

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/monitor"
)

// DefaultPorts are the service ports kept as label values by default.
var DefaultPorts = []uint16{22, 25, 53, 80, 110, 143, 389, 443, 465, 587, 636, 993, 995, 1433, 2049, 2379, 3306,
	5432, 5672, 6379, 8080, 8443, 9092, 9200, 11211, 27017}

// Other is the service_port value of every port not in the list.
const Other = "other"

const namespace = "tcpviz"

// Traffic is a pipeline sink that counts what the detectors find. Its
// methods run on the pipeline's goroutine; scrapes may run concurrently.
type Traffic struct {
	ports map[uint16]string

	segments, bytes, resets, retrans, loss, reorder, zeroWin, eventsTotal *CounterVec
	rtt, goodput                                                          *HistogramVec

	cache map[childKey]*Counter
	// Zero-window periods in progress, by flow and the direction that
	// advertised the zero window; and retransmitted bytes per flow and
	// direction, for goodput.
	zw      map[flowDir]int64
	reBytes map[uint64]*[2]uint64

	lastSrc, lastDst string
	lastPort         string
}

type flowDir struct {
	flow uint64
	dir  events.Dir
}

type childKey struct {
	vec  *CounterVec
	dir  events.Dir
	port string
	kind string
}

// NewTraffic builds the traffic metrics and registers them with reg.
// ports lists the service ports kept as labels (nil: DefaultPorts).
func NewTraffic(reg *Registry, ports []uint16) *Traffic {
	if ports == nil {
		ports = DefaultPorts
	}
	t := &Traffic{ports: make(map[uint16]string, len(ports)), cache: make(map[childKey]*Counter),
		zw: make(map[flowDir]int64), reBytes: make(map[uint64]*[2]uint64)}
	for _, p := range ports {
		t.ports[p] = strconv.Itoa(int(p))
	}
	dp := []string{"direction", "service_port"}
	dpk := []string{"direction", "service_port", "kind"}
	counter := func(name, help string, labels []string) *CounterVec {
		return NewCounterVec(namespace+"_"+name, help, labels...)
	}
	t.segments = counter("data_segments_total", "TCP segments carrying payload, retransmissions included.", dp)
	t.bytes = counter("payload_bytes_total", "TCP payload bytes, retransmissions included.", dp)
	t.resets = counter("resets_total", "TCP segments with RST set.", dp)
	t.retrans = counter("retransmitted_segments_total", "Retransmitted segments by kind (rto, fast, spurious, syn, fin).", dpk)
	t.loss = counter("loss_events_total", "Inferred losses by kind (the loss_infer reason, or lost_segment).", dpk)
	t.reorder = counter("reordering_events_total", "Segments that arrived out of order.", dp)
	t.zeroWin = counter("zero_window_seconds_total", "Time a receiver advertised a zero window; direction is the advertiser's.", dp)
	t.eventsTotal = counter("events_total", "Detector events by type.", []string{"direction", "service_port", "type"})
	t.rtt = NewHistogramVec(namespace+"_rtt_seconds",
		"RTT samples from data to the ACK that covers it and from TCP timestamps.",
		ExponentialBuckets(50e-6, 2, 18), "service_port")
	t.goodput = NewHistogramVec(namespace+"_goodput_bits_per_second",
		"Per connection and direction that carried data: payload bytes not retransmitted, over the connection's duration, in bits per second.",
		ExponentialBuckets(1e3, 4, 12), dp...)
	reg.Register(t.segments, t.bytes, t.resets, t.retrans, t.loss, t.reorder, t.zeroWin, t.eventsTotal, t.rtt, t.goodput)
	return t
}

// ServicePort is the label value of a connection's ports.
func (t *Traffic) ServicePort(a, b uint16) string {
	if s, ok := t.ports[min(a, b)]; ok {
		return s
	}
	return Other
}

func (t *Traffic) child(vec *CounterVec, dir events.Dir, port, kind string) *Counter {
	k := childKey{vec, dir, port, kind}
	c := t.cache[k]
	if c == nil {
		if kind == "" {
			c = vec.WithLabelValues(dir.String(), port)
		} else {
			c = vec.WithLabelValues(dir.String(), port, kind)
		}
		t.cache[k] = c
	}
	return c
}

// Packet counts segments, bytes and resets, and ends zero-window periods.
func (t *Traffic) Packet(p *events.Packet) {
	port := t.ServicePort(p.SrcPort, p.DstPort)
	if p.Len > 0 {
		t.child(t.segments, p.Dir, port, "").Inc()
		t.child(t.bytes, p.Dir, port, "").Add(float64(p.Len))
	}
	if p.Flags&events.FlagRST != 0 {
		t.child(t.resets, p.Dir, port, "").Inc()
	}
	if len(t.zw) > 0 && p.Window != 0 && p.Flags&(events.FlagSYN|events.FlagRST) == 0 {
		k := flowDir{p.Flow, p.Dir}
		if start, ok := t.zw[k]; ok {
			delete(t.zw, k)
			if p.TS > start {
				t.child(t.zeroWin, p.Dir, port, "").Add(float64(p.TS-start) / 1e9)
			}
		}
	}
}

func (t *Traffic) eventPort(e *events.Event) string {
	if e.Src == t.lastSrc && e.Dst == t.lastDst {
		return t.lastPort
	}
	s, _ := netip.ParseAddrPort(e.Src)
	d, _ := netip.ParseAddrPort(e.Dst)
	t.lastSrc, t.lastDst, t.lastPort = e.Src, e.Dst, t.ServicePort(s.Port(), d.Port())
	return t.lastPort
}

// Event counts detector events.
func (t *Traffic) Event(e *events.Event) {
	if e.Kernel != nil {
		return
	}
	port := t.eventPort(e)
	t.child(t.eventsTotal, e.Dir, port, e.Type).Inc()
	switch e.Type {
	case events.TypeRetransmission:
		t.child(t.retrans, e.Dir, port, e.Kind).Inc()
		r := t.reBytes[e.Flow]
		if r == nil {
			r = new([2]uint64)
			t.reBytes[e.Flow] = r
		}
		r[e.Dir] += uint64(e.Len)
	case events.TypeLossInfer:
		t.child(t.loss, e.Dir, port, e.Reason).Inc()
	case events.TypeLostSegment:
		t.child(t.loss, e.Dir, port, events.TypeLostSegment).Inc()
	case events.TypeOutOfOrder:
		t.child(t.reorder, e.Dir, port, "").Inc()
	case events.TypeZeroWindow:
		k := flowDir{e.Flow, e.Dir}
		if _, ok := t.zw[k]; !ok {
			t.zw[k] = int64(e.TS)
		}
	case events.TypeRTTSample:
		if e.Reason != events.ReasonHandshake && e.RTTms > 0 {
			t.rtt.WithLabelValues(port).Observe(e.RTTms / 1000)
		}
	}
}

// Flow observes a finished connection's goodput and closes its
// zero-window periods at its last packet.
func (t *Traffic) Flow(r *events.FlowRecord) {
	port := t.ServicePort(r.ClientPort, r.ServerPort)
	for _, d := range []events.Dir{events.DirC2S, events.DirS2C} {
		k := flowDir{r.Flow, d}
		if start, ok := t.zw[k]; ok {
			delete(t.zw, k)
			if int64(r.Last) > start {
				t.child(t.zeroWin, d, port, "").Add(float64(int64(r.Last)-start) / 1e9)
			}
		}
	}
	var re [2]uint64
	if p := t.reBytes[r.Flow]; p != nil {
		re = *p
		delete(t.reBytes, r.Flow)
	}
	secs := r.DurationMS / 1000
	if secs <= 0 {
		return
	}
	for d, b := range [2]uint64{r.BytesC2S, r.BytesS2C} {
		if b == 0 {
			continue
		}
		good := b - min(b, re[d])
		t.goodput.WithLabelValues(events.Dir(d).String(), port).Observe(float64(good) * 8 / secs)
	}
}

// Health exposes the monitor's own counters at scrape time.
type Health struct {
	summary func() monitor.Summary
	now     func() time.Time
}

// NewHealth builds the health collector; summary is monitor.Summary.
func NewHealth(summary func() monitor.Summary) *Health {
	return &Health{summary: summary, now: time.Now}
}

// Collect implements Collector.
func (h *Health) Collect() []Family {
	s := h.summary()
	one := func(name, help, typ string, v float64) Family {
		return Family{Name: namespace + "_monitor_" + name, Help: help, Type: typ, Metrics: []Metric{{Value: v}}}
	}
	counter := func(name, help string, v float64) Family { return one(name, help, TypeCounter, v) }
	fams := []Family{
		counter("files_read_total", "Capture files the monitor has opened.", float64(s.Files)),
		counter("records_total", "Records read (packets, custom and statistics blocks).", float64(s.Records)),
		counter("packets_total", "Packet records read.", float64(s.Packets)),
		counter("kernel_records_total", "Kernel records read.", float64(s.Kernel)),
		counter("gaps_total", "Rolling files that disappeared before they were read.", float64(s.Gaps)),
		counter("restarts_total", "Files that were truncated or replaced and read again from the start.", float64(s.Restarts)),
		counter("file_errors_total", "Files abandoned on errors.", float64(s.FileErrors)),
		counter("capture_dropped_packets_total", "Packets the capture itself reports as dropped (pcapng statistics blocks).", float64(s.CaptureDrops)),
		counter("bad_records_total", "Kernel records that failed to decode.", float64(s.BadRecords)),
		counter("damaged_blocks_total", "Damaged blocks skipped in the capture files.", float64(s.Damaged)),
	}
	behind := 0.0
	if !s.CaughtUp.IsZero() {
		behind = h.now().Sub(s.CaughtUp).Seconds()
	}
	fams = append(fams, one("seconds_behind", "Seconds since the monitor last had read every byte written to the files it follows.", TypeGauge, behind))
	if s.LastPacket > 0 {
		fams = append(fams, one("last_packet_timestamp_seconds", "Capture time of the newest packet read (Unix seconds).", TypeGauge, float64(s.LastPacket)/1e9))
	}
	active := Family{Name: namespace + "_monitor_active_alerts", Help: "Alerts in force (WARN or CRITICAL, not yet RECOVERED).", Type: TypeGauge}
	for _, kind := range monitor.KindNames() {
		for _, lvl := range []string{"WARN", "CRITICAL"} {
			active.Metrics = append(active.Metrics, Metric{Labels: []Label{{"kind", kind}, {"level", lvl}},
				Value: float64(s.Active[monitor.ActiveKey{Kind: kind, Level: lvl}])})
		}
	}
	alerts := Family{Name: namespace + "_monitor_alerts_total", Help: "Alert lines printed, by level.", Type: TypeCounter}
	for _, lvl := range []string{"WARN", "CRITICAL", "RECOVERED"} {
		alerts.Metrics = append(alerts.Metrics, Metric{Labels: []Label{{"level", lvl}}, Value: float64(s.Alerts[lvl])})
	}
	return append(fams, active, alerts)
}
