package viz

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntable"
	"github.com/tcpviz/tcpviz/internal/pairing"
)

// Chart names accepted by Options.Charts (and --charts).
const (
	ChartOverview   = "overview"
	ChartTimeline   = "timeline"
	ChartCongestion = "congestion"
	ChartTSG        = "tsg"
	ChartThroughput = "throughput"
	ChartSummary    = "summary"
	ChartHeatmap    = "heatmap"
)

// AllCharts lists every chart section in report order.
var AllCharts = []string{ChartOverview, ChartTimeline, ChartCongestion, ChartTSG, ChartThroughput, ChartSummary, ChartHeatmap}

// Options shape a report.
type Options struct {
	Title    string
	Source   string   // what the report was built from (shown in the header)
	Charts   []string // sections to draw; empty: all
	TopFlows int      // connections drawn in the per-flow charts (default 4)
	HeatRows int      // heatmap rows (default 30)
	HeatCols int      // heatmap time columns (default 60)
	// HeatEvents colours the heatmap by detector events instead of packets
	// (always so when built from events only).
	HeatEvents bool
	Filter     Filter // the same filter the Collector was given
	// NoPackets says the report is built from events only (the capture is
	// gone): the charts that need packets are listed as missing.
	NoPackets bool

	// Segments holds every segment of the connections (a Segments sink run
	// beside the Collector); nil: no connection page carries segments.
	Segments *Segments
	// DetailConns is how many of the worst connections get a page with
	// every segment (0: DefaultDetailConns, -1: none beyond Flows).
	DetailConns int
	// Flows always get a detailed page, and report.html opens on the first.
	Flows []uint64
	// CaptureFile is the capture the frame numbers refer to (the pages
	// offer `wireshark -r CaptureFile -g FRAME`).
	CaptureFile string
	// Pairing compares this capture (A) with another capture of the same
	// connections (report --in A --in B): the pairing section and the
	// #pair=N views.
	Pairing *pairing.Result
}

// ParseCharts checks a comma-separated chart list.
func ParseCharts(s string) ([]string, error) {
	if s == "" || s == "all" {
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		ok := false
		for _, k := range AllCharts {
			if c == k {
				ok = true
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown chart %q (want %s)", c, strings.Join(AllCharts, ","))
		}
		out = append(out, c)
	}
	return out, nil
}

func (o Options) wants(chart string) bool {
	if len(o.Charts) == 0 {
		return true
	}
	for _, c := range o.Charts {
		if c == chart {
			return true
		}
	}
	return false
}

// Report is a built dashboard, ready to be written.
type Report struct {
	Title     string
	Source    string
	Generated time.Time
	Origin    int64 // ns since the epoch of the capture's first packet: time 0 on every chart
	Overview  Overview
	Processes []ProcessRow
	Conns     []conntable.Row
	Sections  []*Section
	Missing   []string // charts not drawn, with the reason
	NoMatch   string   // set when the filters select nothing: says so
	// Detailed lists the connections whose page carries every segment.
	Detailed []uint64
	// Pairs are the connections paired with a second capture (Options.Pairing).
	Pairs     []PairRow
	PairNote  string
	PairOnlyA []uint64
	PairOnlyB []uint64
	tips      map[string][][]any
	data      map[string][]byte // tcpvizData: JSON for the page's views
}

// SetData adds a JSON value to the page's tcpvizData object under key (a view
// reads it in the page as tcpvizData[key]).
// The value must be valid JSON with <, > and & escaped (encoding/json
// output), so that it cannot end the script element it is written in.
func (r *Report) SetData(key string, js []byte) {
	if r.data == nil {
		r.data = map[string][]byte{}
	}
	r.data[key] = js
}

// Overview holds the headline figures.
type Overview struct {
	Packets    uint64
	Bytes      uint64
	Flows      int
	OtherFlows uint64 // connections beyond the tracking limit
	Duration   time.Duration
	Events     int
	// ZeroWindowMS adds up the selected connections' zero-window time;
	// ZeroWindowFlows counts those with any.
	ZeroWindowMS    float64
	ZeroWindowFlows int
	Retrans         int
	RetransRate     float64 // retransmission events per 100 TCP packets
	KernelSamples   bool
	KernelCheck     *events.RetransCheck // retransmitted segments: kernel records against packets
	Headline        string               // the one-line story of the capture
	HeadlineBad     bool                 // the headline names a problem
	// Limits are the verdicts of the worst connections (events.ComparePriority);
	// LimitsCheck compares the inferred limits with the kernel's.
	Limits      []events.Verdict
	LimitsCheck *events.LimitsCheck
	Worst       []conntable.Row // the worst connections with a problem (events.ComparePriority)
	EventCounts []KV
}

// KV is a name and a count.
type KV struct {
	Name  string
	Count int
}

// ProcessRow is one line of the per-process breakdown.
type ProcessRow struct {
	PID     uint32 `json:"pid"`
	Comm    string `json:"comm"`
	Flows   int    `json:"connections"`
	Bytes   uint64 `json:"payload_bytes"`
	Retrans int    `json:"retrans"`
}

// connLabel names a connection in charts ("#3 10.0.0.1:5000 → 10.0.0.2:80").
func connLabel(r conntable.Row) string {
	return safeLabel(fmt.Sprintf("#%d %s → %s", r.Flow, r.Client, r.Server))
}

// Section is one titled group of charts in the report.
type Section struct {
	ID     string
	Title  string
	Note   string
	Charts []*Chart
}

// Build turns what a Collector gathered (plus the pipeline's flow records
// and summary, either may be empty) into a report.
func Build(c *Collector, flows []events.FlowRecord, sum events.Summary, opts Options) (*Report, error) {
	if c == nil {
		return nil, fmt.Errorf("build report: no collector")
	}
	if !opts.Filter.Compiled() {
		if err := opts.Filter.Compile(); err != nil {
			return nil, fmt.Errorf("build report: %w", err)
		}
	}
	if opts.TopFlows <= 0 {
		opts.TopFlows = 4
	}
	if opts.HeatRows <= 0 {
		opts.HeatRows = 30
	}
	if opts.HeatCols <= 0 {
		opts.HeatCols = 60
	}
	r := &Report{Title: opts.Title, Source: opts.Source, Generated: time.Now().UTC(), tips: map[string][][]any{}}
	if r.Title == "" {
		r.Title = "tcpviz report"
	}
	c.finish()
	r.Origin = c.first
	if r.Origin == 0 {
		r.Origin = int64(sum.FirstPacket)
	}
	conns := mergeConns(c, flows, &opts.Filter)
	r.Conns = conns
	r.overview(c, conns, sum, opts)
	r.limits(flows, conns, sum, opts)
	r.processes(conns)

	b := builder{c: c, opts: opts, r: r, conns: conns, flowLimits: map[uint64]*events.FlowLimits{}}
	for i := range flows {
		if !flows[i].Limits.IsZero() {
			b.flowLimits[flows[i].Flow] = &flows[i].Limits
		}
	}
	for _, name := range AllCharts {
		if !opts.wants(name) {
			continue
		}
		switch name {
		case ChartOverview:
			b.overviewSection()
		case ChartTimeline:
			b.timelineSection()
		case ChartCongestion:
			b.congestionSection()
		case ChartTSG:
			b.tsgSection()
		case ChartThroughput:
			b.throughputSection()
		case ChartSummary:
			b.summarySection()
		case ChartHeatmap:
			b.heatmapSection()
		}
	}
	b.connPages()
	b.compareViews()
	return r, nil
}

// mergeConns builds the connections table: one row per connection record
// (connRecords), with the whole-connection filters applied, sorted by bytes,
// largest first.
func mergeConns(c *Collector, flows []events.FlowRecord, f *Filter) []conntable.Row {
	var out []conntable.Row
	for _, cr := range connRecords(c, flows) {
		fr, fd := &cr.rec, cr.fd
		if cr.piped {
			client, _ := conntable.ParseEndpoint(fr.ClientAddr, fr.ClientPort, fr.Client)
			server, _ := conntable.ParseEndpoint(fr.ServerAddr, fr.ServerPort, fr.Server)
			if !f.MatchConn(fr.Flow, client, server) {
				continue
			}
			if !f.Overlaps(int64(fr.First), int64(fr.Last), c.first) {
				continue
			}
		}
		if !f.MatchProcess(fr.PID, fr.Comm) {
			continue
		}
		lo, hi, known := uint32(0), uint32(0), false
		if fd != nil && fd.kernelSamples > 0 {
			lo, hi, known = fd.cwndLo, fd.cwndHi, true
		}
		if !f.MatchCwnd(lo, hi, known) {
			continue
		}
		row := conntable.FromFlow(fr, false)
		if f.NeedsSides() {
			cl, err1 := netip.ParseAddrPort(row.Client)
			sv, err2 := netip.ParseAddrPort(row.Server)
			if err1 != nil || err2 != nil || !f.MatchSides(cl.Port(), sv.Port(), fd != nil && fd.sockets == 2) {
				continue
			}
		}
		out = append(out, row)
	}
	sort.SliceStable(out, func(i, j int) bool {
		bi, bj := out[i].Bytes(), out[j].Bytes()
		if bi != bj {
			return bi > bj
		}
		return out[i].Flow < out[j].Flow
	})
	return out
}

// connRecord is one connection's record with what the collector saw of it.
type connRecord struct {
	rec   events.FlowRecord
	fd    *flowData // nil when the collector did not track it
	piped bool      // rec is the pipeline's (or flows.jsonl's), not made from the collector
}

// connRecords returns the record of every connection the report shows: the
// pipeline's (or flows.jsonl's), with the gaps filled from what the
// collector saw, then a record made by the collector for each connection
// without one (a report from events.jsonl alone).
func connRecords(c *Collector, flows []events.FlowRecord) []connRecord {
	seen := map[uint64]bool{}
	var out []connRecord
	for i := range flows {
		fr := flows[i]
		fd, tracked := c.flows[fr.Flow]
		if tracked && fd == nil {
			continue // the collector filtered it out
		}
		seen[fr.Flow] = true
		if fd != nil {
			fd.fill(&fr)
		}
		out = append(out, connRecord{rec: fr, fd: fd, piped: true})
	}
	for _, id := range c.order {
		fd := c.flows[id]
		if fd == nil || seen[id] {
			continue
		}
		out = append(out, connRecord{rec: fd.record(), fd: fd})
	}
	return out
}

func rttStats(s *buckets) (lo, avg, hi float64) {
	var n uint32
	var sum float64
	for _, a := range s.b {
		if a.n == 0 {
			continue
		}
		if n == 0 || a.min < lo {
			lo = a.min
		}
		if a.max > hi {
			hi = a.max
		}
		n += a.n
		sum += a.sum
	}
	if n > 0 {
		avg = sum / float64(n)
	}
	return
}

func (r *Report) overview(c *Collector, conns []conntable.Row, sum events.Summary, opts Options) {
	o := &r.Overview
	o.Packets, o.Bytes = c.packets, c.bytes
	narrowed := opts.Filter.Narrows()
	if o.Packets == 0 && !narrowed {
		o.Packets = sum.TCPPackets
	}
	o.Flows = len(conns)
	o.OtherFlows = c.otherFlows
	first, last := c.earliest, c.last
	if first == 0 && !narrowed {
		first, last = int64(sum.FirstPacket), int64(sum.LastPacket)
	}
	if last > first {
		o.Duration = time.Duration(last - first)
	}
	counts := c.typeCount
	if len(counts) == 0 && len(sum.Events) > 0 && !narrowed {
		counts = sum.Events
	}
	for k, v := range counts {
		if !events.IsFinding(k) || v == 0 {
			continue
		}
		o.Events += v
		o.EventCounts = append(o.EventCounts, KV{k, v})
	}
	sort.Slice(o.EventCounts, func(i, j int) bool {
		if o.EventCounts[i].Count != o.EventCounts[j].Count {
			return o.EventCounts[i].Count > o.EventCounts[j].Count
		}
		return o.EventCounts[i].Name < o.EventCounts[j].Name
	})
	o.Retrans = counts[events.TypeRetransmission]
	for _, c := range conns {
		if c.ZeroWindowMS > 0 {
			o.ZeroWindowMS += c.ZeroWindowMS
			o.ZeroWindowFlows++
		}
	}
	o.ZeroWindowMS = math.Round(o.ZeroWindowMS*1e3) / 1e3
	if o.Packets > 0 {
		o.RetransRate = 100 * float64(o.Retrans) / float64(o.Packets)
	}
	o.KernelSamples = c.kernelSeen || counts[events.TypeKernelSample] > 0
	if narrowed && len(conns) == 0 && c.packets == 0 && len(c.typeCount) == 0 {
		r.NoMatch = "the filters (" + opts.Filter.String() + ") match no packet, event or connection of this capture"
	}
	if k := sum.KernelRetrans; k != nil && (k.Kernel > 0 || k.Inferred > 0 || k.RTTRecords > 0) && !narrowed {
		o.KernelCheck = k
	}
	o.Headline, o.HeadlineBad = headline(o, conns)
	for _, w := range rankConns(conns) {
		if !w.Problem.Any() || len(o.Worst) == 5 {
			break
		}
		o.Worst = append(o.Worst, w)
	}
}

// limits picks the verdicts of the worst selected connections.
func (r *Report) limits(flows []events.FlowRecord, conns []conntable.Row, sum events.Summary, opts Options) {
	shown := make(map[uint64]bool, len(conns))
	for _, c := range conns {
		shown[c.Flow] = true
	}
	w := events.Worst{N: 3}
	for i := range flows {
		if shown[flows[i].Flow] {
			w.Add(&flows[i])
		}
	}
	r.Overview.Limits = w.List
	if len(flows) == 0 && !opts.Filter.Narrows() {
		r.Overview.Limits = sum.Limits // built from events only: the run's own list
	}
	if k := sum.KernelLimits; k != nil && k.Directions > 0 && !opts.Filter.Narrows() {
		r.Overview.LimitsCheck = k
	}
}

func (r *Report) processes(conns []conntable.Row) {
	type key struct {
		pid  uint32
		comm string
	}
	m := map[key]*ProcessRow{}
	for _, c := range conns {
		if c.PID == 0 && c.Comm == "" {
			continue
		}
		k := key{c.PID, c.Comm}
		p := m[k]
		if p == nil {
			p = &ProcessRow{PID: c.PID, Comm: c.Comm}
			m[k] = p
		}
		p.Flows++
		p.Bytes += c.Bytes()
		p.Retrans += c.Retrans
	}
	for _, p := range m {
		r.Processes = append(r.Processes, *p)
	}
	sort.Slice(r.Processes, func(i, j int) bool {
		if r.Processes[i].Bytes != r.Processes[j].Bytes {
			return r.Processes[i].Bytes > r.Processes[j].Bytes
		}
		return r.Processes[i].PID < r.Processes[j].PID
	})
}

// rankConns returns the connections worst first, by the ranking every
// output uses (events.ComparePriority), ties by connection id.
func rankConns(conns []conntable.Row) []conntable.Row {
	out := slices.Clone(conns)
	slices.SortStableFunc(out, func(a, b conntable.Row) int {
		if c := events.ComparePriority(a.Problem, b.Problem); c != 0 {
			return c
		}
		return cmp.Compare(a.Flow, b.Flow)
	})
	return out
}

// findingsOf is a connection's detector event count.
func findingsOf(r *conntable.Row) int { return events.Findings(r.Events) }

// headline names the capture's main problem in words, most serious first:
// connections that never opened, refused ones, a receiver that closed its
// window, a sender held back by the receiver's window, retransmissions.
func headline(o *Overview, conns []conntable.Row) (string, bool) {
	var never, refused []conntable.Row
	for _, c := range conns {
		switch c.State {
		case "S0":
			never = append(never, c)
		case "REJ":
			refused = append(refused, c)
		}
	}
	// The connection that waited longest on a zero window.
	var zw *conntable.Row
	zwN, zwMS := 0, 0.0
	for i := range conns {
		if ms := conns[i].ZeroWindowMS; ms > 0 {
			zwN++
			zwMS += ms
			if zw == nil || ms > zw.ZeroWindowMS {
				zw = &conns[i]
			}
		}
	}
	count := func(typ string) int {
		for _, kv := range o.EventCounts {
			if kv.Name == typ {
				return kv.Count
			}
		}
		return 0
	}
	switch {
	case len(never) == 1:
		c := never[0]
		return fmt.Sprintf("connection never established: %s over %.1f s, no answer", plural(int(c.Packets()), "SYN"), c.DurationMS/1000), true
	case len(never) > 1:
		return fmt.Sprintf("%d of %d connections never established (SYNs without an answer)", len(never), len(conns)), true
	case len(refused) > 0:
		return fmt.Sprintf("%d of %d connections refused (answered with RST)", len(refused), len(conns)), true
	case zw != nil && zw.ZeroWindowShare >= zeroWindowStory && zwN == 1:
		return fmt.Sprintf("waiting on a zero receive window %.0f %% of the time: #%d for %s of %s",
			zw.ZeroWindowShare*100, zw.Flow, seconds(zw.ZeroWindowMS), seconds(zw.DurationMS)), true
	case zw != nil && zw.ZeroWindowShare >= zeroWindowStory:
		return fmt.Sprintf("waiting on a zero receive window: %d of %d connections, %s in all; #%d %.0f %% of its %s",
			zwN, len(conns), seconds(zwMS), zw.Flow, zw.ZeroWindowShare*100, seconds(zw.DurationMS)), true
	case count(events.TypeWindowFull) >= 10 && count(events.TypeWindowFull) >= count(events.TypeRetransmission):
		return fmt.Sprintf("sender limited by the receiver's window: %s (data filled the advertised window)", plural(count(events.TypeWindowFull), "window-full event")), true
	case o.Retrans > 0:
		return fmt.Sprintf("%s (%.2f%% of packets)", plural(o.Retrans, "retransmission"), o.RetransRate), true
	case o.Events > 0:
		return fmt.Sprintf("%s, no retransmission", plural(o.Events, "detector event")), false
	}
	return fmt.Sprintf("no problem found: %s, %s of payload", plural(len(conns), "connection"), humanBytes(o.Bytes)), false
}

// zeroWindowStory is the share of a connection's time on a zero window
// from which the headline tells it.
const zeroWindowStory = 0.1

// seconds writes milliseconds as the headline says them ("2.5 s", "40 ms").
func seconds(ms float64) string {
	if ms >= 100 {
		return fmt.Sprintf("%.1f s", ms/1000)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// plural writes "1 SYN", "7 SYNs".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
