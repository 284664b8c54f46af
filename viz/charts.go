package viz

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
	"github.com/go-echarts/go-echarts/v2/types"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntable"
)

// Chart is one ECharts instance in the report.
type Chart struct {
	ID       string
	Title    string
	Kind     string // line, scatter, bar, heatmap: the main chart type
	Inferred bool   // values inferred from packets, not read from the kernel
	Series   []SeriesInfo
	// Band is the "what limited it" band drawn under the chart, aligned
	// with its time axis.
	Band *Band
	r    interface{ RenderSnippet() render.ChartSnippet }
	rect *charts.RectChart
}

// SeriesInfo describes one series, for tests and the golden structure.
type SeriesInfo struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Points int    `json:"points"`
}

func (ch *Chart) add(s charts.SingleSeries, n int) {
	s.Name = safeLabel(s.Name)
	ch.rect.MultiSeries = append(ch.rect.MultiSeries, s)
	ch.Series = append(ch.Series, SeriesInfo{Name: s.Name, Type: s.Type, Points: n})
}

// Palette: event kinds keep their colour across charts.
var kindColor = map[string]string{
	events.TypeRetransmission: "#d62728", events.TypeOutOfOrder: "#ff7f0e", events.TypeLostSegment: "#8c564b",
	events.TypeDupAck: "#9467bd", events.TypeLossInfer: "#e377c2", events.TypeZeroWindow: "#1f77b4",
	events.TypeZeroWindowProbe: "#17becf", events.TypeWindowFull: "#2ca02c", events.TypeKeepAlive: "#7f7f7f",
	events.TypeHandshakeAnomaly: "#bcbd22", events.TypeTeardownAnomaly: "#393b79",
	events.TypeKernelRetransmit: "#a50f15", events.TypeKernelState: "#31a354", events.TypeKernelReset: "#636363",
	events.TypeReordering: "#fdae6b", LossSuspect: "#f7b6d2", events.TypeSpuriousRetrans: "#ff9896",
}

const chartHeight = "360px"

// timeGrid is the plot area of every chart over time: the same margins on
// all of them, so their time axes line up down the page (the left margin
// holds the timeline's lane names, the right one a second y axis).
var timeGrid = opts.Grid{Left: "160", Right: "90", Top: "86", Bottom: "70"}

var defaultGrid = opts.Grid{Left: "70", Right: "70", Top: "86", Bottom: "70"}

func baseOpts(id, title, sub string, grid opts.Grid) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: id, Width: "100%", Height: chartHeight, PageTitle: "tcpviz"}),
		charts.WithTitleOpts(opts.Title{Title: safeLabel(title), Subtitle: safeLabel(sub), Left: "left",
			TitleStyle: &opts.TextStyle{FontSize: 14}}),
		charts.WithAnimation(false),
		// A plain legend wraps onto more lines instead of paging, so no
		// series is hidden behind a page arrow.
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Type: "plain", Top: "44", Left: "10", Width: "95%"}),
		charts.WithGridOpts(grid),
		charts.WithToolboxOpts(chartToolbox),
	}
}

// chartToolbox is on every chart: save as image, the data as a table, and
// reset zoom.
var chartToolbox = opts.Toolbox{Show: opts.Bool(true), Right: "20", Top: "0", Feature: &opts.ToolBoxFeature{
	SaveAsImage: &opts.ToolBoxFeatureSaveAsImage{Show: opts.Bool(true), Title: "save as image"},
	DataView: &opts.ToolBoxFeatureDataView{Show: opts.Bool(true), Title: "data view",
		Lang: []string{"data view", "close", "refresh"}, BackgroundColor: "#fff"},
	Restore: &opts.ToolBoxFeatureRestore{Show: opts.Bool(true), Title: "reset zoom"},
}}

// timeChart is a chart over time: the x axis counts seconds from the
// capture's first packet and is pinned to the selected range, the same on
// every chart of the report.
func (b *builder) timeChart(id, title, sub, yName string) *Chart {
	l := charts.NewLine()
	lo, hi := b.span()
	o := append(baseOpts(id, title, sub, timeGrid),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "s", Min: lo, Max: hi,
			AxisLabel: &opts.AxisLabel{Formatter: opts.FuncOpts(`function (v) { return tcpvizSec(v); }`)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: yName, Scale: opts.Bool(true),
			AxisLabel: &opts.AxisLabel{Formatter: opts.FuncOpts(`function (v) { return tcpvizNum(v); }`)}}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis",
			AxisPointer: &opts.AxisPointer{Type: "cross"},
			Formatter:   opts.FuncOpts(`function (ps) { return tcpvizAxisTip(ps); }`)}),
		charts.WithDataZoomOpts(opts.DataZoom{Type: "inside", XAxisIndex: 0, FilterMode: "filter"},
			opts.DataZoom{Type: "slider", XAxisIndex: 0, FilterMode: "filter"}),
	)
	l.SetGlobalOptions(o...)
	return &Chart{ID: id, Title: title, Kind: types.ChartLine, r: l, rect: &l.RectChart}
}

// span is the x range of every time axis: the first and last record the
// report shows, in seconds from the first packet of the capture.
func (b *builder) span() (lo, hi float64) {
	lo, hi = relSec(b.c.selFirst(), b.c.first), relSec(b.c.last, b.c.first)
	if hi <= lo {
		hi = lo + 0.001 // one packet: a millisecond-wide axis, not a default of days
	}
	return lo, hi
}

// x places a capture time on the time axes.
func (b *builder) x(ts int64) float64 { return relSec(ts, b.c.first) }

func lineSeries(name, color string, pts points, step bool) charts.SingleSeries {
	s := charts.SingleSeries{Name: name, Type: types.ChartLine, Data: pts, ShowSymbol: opts.Bool(false),
		Symbol: "none", LineStyle: &opts.LineStyle{Width: 1.5, Color: color}, ItemStyle: &opts.ItemStyle{Color: color}}
	if step {
		s.Step = "end"
	}
	if len(pts) > 2000 {
		s.Large = opts.Bool(true)
	}
	return s
}

func scatterSeries(name, color string, data interface{}, size int, symbol string) charts.SingleSeries {
	return charts.SingleSeries{Name: name, Type: types.ChartScatter, Data: data, SymbolSize: size,
		Symbol: symbol, ItemStyle: &opts.ItemStyle{Color: color}, Large: opts.Bool(true), LargeThreshold: 2000}
}

type builder struct {
	c        *Collector
	opts     Options
	r        *Report
	conns    []conntable.Row
	selected map[uint64]bool // flows in conns
	// flowLimits are the limits of each connection that has them.
	flowLimits map[uint64]*events.FlowLimits
}

func (b *builder) section(id, title, note string) *Section {
	s := &Section{ID: id, Title: title, Note: note}
	b.r.Sections = append(b.r.Sections, s)
	return s
}

func (b *builder) missing(chart, why string) {
	b.r.Missing = append(b.r.Missing, chart+": "+why)
}

// topDetailed returns the connections the per-connection charts are for:
// the worst first (events.ComparePriority: stalls, findings, time held
// back), then the largest. Connections
// that never carried data, and small ones without events (a control
// connection, a refused SYN), get no chart: it would be empty.
func (b *builder) topDetailed() []conntable.Row {
	var cand []conntable.Row
	for _, row := range b.conns {
		fd := b.c.flows[row.Flow]
		if fd == nil || fd.detail == nil || row.Bytes() == 0 {
			continue
		}
		if row.Packets() < minChartPackets && findingsOf(&row) == 0 {
			continue
		}
		cand = append(cand, row)
	}
	sort.SliceStable(cand, func(i, j int) bool {
		if c := events.ComparePriority(cand[i].Problem, cand[j].Problem); c != 0 {
			return c < 0
		}
		return cand[i].Bytes() > cand[j].Bytes()
	})
	cand = onePerFlow(cand) // the charts of a connection with several rows cover them all
	return cand[:min(len(cand), b.opts.TopFlows)]
}

// minChartPackets is the size below which a connection without events gets
// no per-connection chart.
const minChartPackets = 20

// dataDir is the direction that carried more payload: the one whose
// sequence graph is worth drawing.
func dataDir(fd *flowData) events.Dir {
	if fd.bytes[1] > fd.bytes[0] {
		return events.DirS2C
	}
	return events.DirC2S
}

func markerPoints(ms []marker, origin int64) points {
	out := make(points, len(ms))
	for i, m := range ms {
		out[i] = point{relSec(m.TS, origin), m.Seq}
	}
	return out
}

func (b *builder) overviewSection() {
	s := b.section(ChartOverview, "Overview", "")
	ch := b.timeChart("c_overview_rate", "Traffic", "all selected connections", "packets/s")
	fromZero(ch)
	ch.rect.ExtendYAxis(opts.YAxis{Type: "value", Name: "Mbit/s", Position: "right", Min: 0})
	pr := b.ratePoints(b.c.pktRate, 1)
	br := b.ratePoints(b.c.bitRate, 8/1e6)
	if len(pr) == 0 {
		b.missing(ChartOverview, "no packets (built from events only): traffic chart omitted")
		return
	}
	ch.add(lineSeries("packets/s", "#5470c6", pr, false), len(pr))
	bs := lineSeries("payload Mbit/s", "#91cc75", br, false)
	bs.YAxisIndex = 1
	ch.add(bs, len(br))
	s.Charts = append(s.Charts, ch)
}

func (b *builder) timelineSection() {
	s := b.section(ChartTimeline, "Timeline", "Detector events over time, one lane per type; hover for frame, connection, reason and context.")
	var names []string
	for k := range b.c.timeline {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) == 0 {
		b.missing(ChartTimeline, "no detector events")
		return
	}
	lanes := make([]string, len(names))
	for i, n := range names {
		lanes[i] = safeLabel(n)
	}
	ch := b.timeChart("c_timeline", "Events by type", "", "")
	ch.Kind = types.ChartScatter
	ch.rect.SetGlobalOptions(
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: lanes}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item",
			Formatter: opts.FuncOpts(`function (p) { return tcpvizTip(p); }`)}),
	)
	var tips [][]any
	lo, hi := b.span()
	for lane, name := range names {
		tl := b.c.timeline[name]
		data := make(rows, 0, len(tl.Items))
		for _, m := range tl.Items {
			if !b.flowSelected(m.Flow) {
				continue
			}
			// A kernel record just before the first or after the last packet
			// is drawn at the edge of the axis; its tooltip has the exact time.
			data = append(data, []float64{min(max(b.x(m.TS), lo), hi), float64(lane), float64(len(tips))})
			tips = append(tips, []any{name, m.Frame, m.Flow, m.Dir.String(), string(m.Sev), b.c.strs.str(m.Detail),
				m.Seq, m.Len, m.RTTms, m.Ctx.BytesInFlight, m.Ctx.SRTTms, m.Ctx.KernelCwnd, m.Ctx.KernelSRTTus,
				strconv.FormatFloat(b.x(m.TS), 'f', 6, 64)})
		}
		color := kindColor[name]
		if color == "" {
			color = "#666666"
		}
		label := name
		if tl.Seen > uint64(len(tl.Items)) {
			label = fmt.Sprintf("%s (%d of %d shown)", name, len(tl.Items), tl.Seen)
		}
		ch.add(scatterSeries(label, color, data, 7, "circle"), len(data))
	}
	b.r.tips["c_timeline"] = tips
	s.Charts = append(s.Charts, ch)

	rate := b.timeChart("c_timeline_rate", "Event rate", "detector events per second", "events/s")
	fromZero(rate)
	er := b.ratePoints(b.c.evRate, 1)
	rate.add(lineSeries("events/s", "#d62728", er, false), len(er))
	s.Charts = append(s.Charts, rate)
}

// dirText says which side's data a per-connection chart shows.
func dirText(d events.Dir) string {
	if d == events.DirS2C {
		return "data sent by the server (s2c)"
	}
	return "data sent by the client (c2s)"
}

// fromZero makes a rate chart's y axis start at zero: scaled to its data, a
// steady rate would look like wild swings.
func fromZero(ch *Chart) {
	ch.rect.YAxisList[0].Scale = nil
	ch.rect.YAxisList[0].Min = 0
}

// ratePoints turns a bucket series into a per-second rate over the whole
// capture, in columns of about a second (finer for short captures, never
// more than 500) so bursts read as rates, not as spikes of single buckets.
// Each column is a whole number of buckets: no column is left empty by
// re-binning.
func (b *builder) ratePoints(s *buckets, mul float64) points {
	from, to := b.c.first, b.c.last
	if len(s.b) == 0 || to < from {
		return nil
	}
	n := int((to - from) / 1e9)
	n = min(max(n, 100), 500, b.c.lim.Points)
	g := newColumns(from, to, n, s.width)
	sums := g.sums(s)
	sec := float64(g.width) / 1e9
	out := make(points, g.n)
	for k, v := range sums {
		out[k] = point{b.x(min(max(g.mid(k), from), to)), v * mul / sec}
	}
	return out
}

// flowSelected reports whether a connection survived the report's filters
// (events of connections the collector never saw are kept).
func (b *builder) flowSelected(id uint64) bool {
	if id == 0 {
		return !b.opts.Filter.NeedsProcess() && !b.opts.Filter.NeedsCwnd() && !b.opts.Filter.NeedsSides() && len(b.opts.Filter.Flows) == 0
	}
	if b.selected == nil {
		b.selected = make(map[uint64]bool, len(b.conns))
		for _, r := range b.conns {
			b.selected[r.Flow] = true
		}
	}
	return b.selected[id]
}

func (b *builder) congestionSection() {
	s := b.section(ChartCongestion, "Congestion", "")
	top := b.topDetailed()
	if len(top) == 0 {
		b.missing(ChartCongestion, "no connection with time series")
		return
	}
	anyInferred := false
	for _, row := range top {
		fd := b.c.flows[row.Flow]
		d := fd.detail
		dir := dataDir(fd)
		retr := markerPoints(d.dir[dir].retrans.Items, b.c.first)
		id := fmt.Sprintf("c_cong_%d", row.Flow)
		var ch *Chart
		if len(d.cwnd.b) > 0 || len(d.srtt.b) > 0 {
			ch = b.timeChart(id, "Kernel cwnd and srtt "+connLabel(row), "from kernel samples (tcp_probe)", "cwnd (segments)")
			fromZero(ch)
			ch.rect.ExtendYAxis(opts.YAxis{Type: "value", Name: "srtt (ms)", Position: "right", Min: 0})
			cw := points(d.cwnd.minMax(b.c.first))
			sr := points(breakGaps(d.srtt.minMax(b.c.first)))
			ch.add(lineSeries("kernel cwnd", "#5470c6", cw, true), len(cw))
			ss := lineSeries("kernel srtt ms", "#fac858", sr, false)
			ss.YAxisIndex = 1
			ch.add(ss, len(sr))
			// Retransmissions sit on the x axis: their time is what matters.
			for i := range retr {
				retr[i].V = 0
			}
		} else {
			anyInferred = true
			ch = b.timeChart(id, "Inferred bytes in flight and RTT "+connLabel(row),
				"INFERRED from packets, not kernel state (no kernel samples in this capture)", "bytes in flight (inferred)")
			ch.Inferred = true
			fromZero(ch)
			ch.rect.YAxisList[0].AxisLabel = &opts.AxisLabel{Formatter: opts.FuncOpts(`function (v) { return tcpvizIEC(v); }`)}
			ch.rect.ExtendYAxis(opts.YAxis{Type: "value", Name: "RTT ms (inferred)", Position: "right", Min: 0})
			fl := points(d.dir[dir].flight.minMax(b.c.first))
			rt := points(d.rtt.minMax(b.c.first))
			ch.add(lineSeries("bytes in flight (inferred)", "#5470c6", fl, false), len(fl))
			rs := scatterSeries("RTT sample ms (inferred)", "#fac858", rt, 3, "circle")
			rs.YAxisIndex = 1
			ch.add(rs, len(rt))
			for i := range retr {
				retr[i].V = 0
			}
		}
		ch.add(scatterSeries("retransmission", kindColor[events.TypeRetransmission], retr, 8, "triangle"), len(retr))
		ch.Band = b.limitBand(row, fd, dir)
		s.Charts = append(s.Charts, ch)
	}
	if anyInferred {
		s.Note = "Charts marked INFERRED show values computed from the packets (highest sequence sent minus highest ACK seen; RTT from the detectors' samples), not the kernel's cwnd/srtt."
	} else {
		s.Note = "Congestion window and smoothed RTT as the kernel reported them; retransmissions marked on the time axis."
	}
}

// limitColor: each limit keeps its colour on every page.
var limitColor = map[string]string{events.LimitRwnd: "#1f77b4", events.LimitCwnd: "#d62728", events.LimitSndbuf: "#9467bd",
	events.LimitApp: "#7f7f7f", events.LimitRecovery: "#ff7f0e", events.LimitHandshake: "#bcbd22"}

// Band is a strip of coloured spans under a chart over time.
type Band struct {
	Label string
	Spans []BandSpan
}

// BandSpan is one span: where it sits on the time axis, in percent of the
// plot area's width.
type BandSpan struct {
	Left, Width float64
	Color       string
	Name, Title string
}

// limitBand is what limited the data direction of a connection, under its
// congestion chart (nil when the limits were not analysed).
func (b *builder) limitBand(row conntable.Row, fd *flowData, dir events.Dir) *Band {
	src, spans := b.limitSpans(row, dir, fd.first, fd.last)
	if len(spans) == 0 {
		return nil
	}
	lo, hi := b.span()
	band := &Band{Label: "limited by (" + src + ")"}
	for _, s := range spans {
		x0, x1 := min(max(b.x(s.from), lo), hi), min(max(b.x(s.to), lo), hi)
		name := events.LimitNames[s.limit]
		band.Spans = append(band.Spans, BandSpan{Left: 100 * (x0 - lo) / (hi - lo), Width: 100 * (x1 - x0) / (hi - lo),
			Color: limitColor[name], Name: name,
			Title: fmt.Sprintf("%s from %.6f s to %.6f s (%s)", name, x0, x1, src)})
	}
	return band
}

func (b *builder) tsgSection() {
	s := b.section(ChartTSG, "Time-sequence graphs", "Sequence number (relative, bytes) against time for the direction that carried the data: segments sent, the ACK line, the receive-window line (ACK + advertised window), retransmissions, out-of-order segments and SACK blocks.")
	if b.opts.NoPackets {
		b.missing(ChartTSG, "needs the packets (the capture is not available)")
		return
	}
	top := b.topDetailed()
	if len(top) == 0 {
		b.missing(ChartTSG, "no connection with time series")
		return
	}
	for _, row := range top {
		fd := b.c.flows[row.Flow]
		dir := dataDir(fd)
		ds := &fd.detail.dir[dir]
		ch := b.timeChart(fmt.Sprintf("c_tsg_%d", row.Flow), "Time-sequence "+connLabel(row), dirText(dir)+" - the wheel zooms time and sequence", "relative sequence")
		ch.rect.YAxisList[0].AxisLabel = &opts.AxisLabel{Formatter: opts.FuncOpts(`function (v) { return tcpvizIEC(v); }`)}
		// The wheel zooms both axes around the cursor, like tcptrace's zoom box.
		ch.rect.SetGlobalOptions(charts.WithDataZoomOpts(opts.DataZoom{Type: "inside", YAxisIndex: 0, FilterMode: "empty"}))
		seq := points(ds.seq.minMax(b.c.first))
		ack := points(ds.ack.maxes(b.c.first))
		win := points(ds.win.maxes(b.c.first))
		// Lines first so the segments are drawn over them.
		ch.add(lineSeries("ACK", "#3ba272", ack, true), len(ack))
		ch.add(lineSeries("receive window", "#fac858", win, true), len(win))
		ch.add(scatterSeries("data", "#5470c6", seq, 3, "rect"), len(seq))
		rt := markerPoints(ds.retrans.Items, b.c.first)
		ch.add(scatterSeries("retransmission", kindColor[events.TypeRetransmission], rt, 7, "diamond"), len(rt))
		oo := markerPoints(ds.ooo.Items, b.c.first)
		ch.add(scatterSeries("out-of-order", kindColor[events.TypeOutOfOrder], oo, 7, "triangle"), len(oo))
		if len(ds.sack.Items) > 0 {
			sk := make(rows, 0, 3*len(ds.sack.Items))
			for _, m := range ds.sack.Items {
				t := b.x(m.TS)
				sk = append(sk, []float64{t, m.Left}, []float64{t, m.Right}, nil)
			}
			ls := lineSeries("SACK", "#9a60b4", nil, false)
			ls.Data = sk
			ls.LineStyle.Width = 3
			ls.ConnectNulls = opts.Bool(false)
			ch.add(ls, len(ds.sack.Items))
		}
		s.Charts = append(s.Charts, ch)
	}
}

func (b *builder) throughputSection() {
	s := b.section(ChartThroughput, "Throughput", "Payload bits per second in the data direction: goodput (new data) and retransmitted bytes, and the reverse direction.")
	if b.opts.NoPackets {
		b.missing(ChartThroughput, "needs the packets (the capture is not available)")
		return
	}
	top := b.topDetailed()
	if len(top) == 0 {
		b.missing(ChartThroughput, "no connection with time series")
		return
	}
	for _, row := range top {
		fd := b.c.flows[row.Flow]
		dir := dataDir(fd)
		ds, rev := &fd.detail.dir[dir], &fd.detail.dir[dir^1]
		// Columns of at least 5 ms: finer rates are mostly noise of ACK
		// clocking.
		n := int((fd.last - fd.first) / 5e6)
		n = min(max(n, 2), b.c.lim.Points/4, 500)
		g := newColumns(fd.first, fd.last, n, ds.tput.width, ds.retr.width, rev.tput.width)
		sent, retr, back := g.sums(ds.tput), g.sums(ds.retr), g.sums(rev.tput)
		sec := float64(g.width) / 1e9
		var good, bad, other points
		for i := 0; i < g.n; i++ {
			t := b.x(min(max(g.mid(i), b.c.selFirst()), b.c.last))
			gd := math.Max(sent[i]-retr[i], 0)
			good = append(good, point{t, gd * 8 / sec / 1e6})
			bad = append(bad, point{t, retr[i] * 8 / sec / 1e6})
			other = append(other, point{t, back[i] * 8 / sec / 1e6})
		}
		ch := b.timeChart(fmt.Sprintf("c_tput_%d", row.Flow), "Throughput "+connLabel(row), dirText(dir), "Mbit/s")
		fromZero(ch)
		gs := lineSeries("goodput Mbit/s", "#3ba272", good, false)
		gs.AreaStyle = &opts.AreaStyle{Opacity: opts.Float(0.25)}
		ch.add(gs, len(good))
		bs := lineSeries("retransmitted Mbit/s", "#d62728", bad, false)
		bs.AreaStyle = &opts.AreaStyle{Opacity: opts.Float(0.5)}
		ch.add(bs, len(bad))
		ch.add(lineSeries("reverse direction Mbit/s", "#9a9a9a", other, false), len(other))
		s.Charts = append(s.Charts, ch)
	}
}

func (b *builder) summarySection() {
	s := b.section(ChartSummary, "Per-connection summary", "Detector events by type for the connections with the most events; the table below lists every selected connection (click a header to sort).")
	type fc struct {
		row   conntable.Row
		total int
	}
	var list []fc
	kinds := map[string]bool{}
	for _, r := range b.conns {
		t := 0
		for k, v := range r.Events {
			if !events.IsFinding(k) {
				continue
			}
			t += v
			kinds[k] = true
		}
		if t > 0 {
			list = append(list, fc{r, t})
		}
	}
	if len(list) == 0 {
		b.missing(ChartSummary, "no connection has detector events (the table is still shown)")
		return
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].total > list[j].total })
	if len(list) > 20 {
		list = list[:20]
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 32 {
		names = names[:32]
	}
	labels := make([]string, len(list))
	for i, f := range list {
		labels[i] = safeLabel(fmt.Sprintf("#%d", f.row.Flow))
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(baseOpts("c_summary", "Events per connection", "top connections by event count", defaultGrid),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: "connection"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "events"}))...)
	bar.SetXAxis(labels) // Validate copies this into the x axis
	ch := &Chart{ID: "c_summary", Title: "Events per connection", Kind: types.ChartBar, r: bar, rect: &bar.RectChart}
	for _, k := range names {
		vals := make([]int, len(list))
		for i, f := range list {
			vals[i] = f.row.Events[k]
		}
		color := kindColor[k]
		ch.add(charts.SingleSeries{Name: k, Type: types.ChartBar, Stack: "events", Data: vals,
			ItemStyle: &opts.ItemStyle{Color: color}}, len(vals))
	}
	s.Charts = append(s.Charts, ch)
}

func (b *builder) heatmapSection() {
	byEvents := b.opts.HeatEvents || b.opts.NoPackets
	s := b.section(ChartHeatmap, "Heatmap", "Packets per connection and time column (rows: the busiest connections). Each cell counts the packets whose time falls in its column; hover for the column's exact bounds.")
	if byEvents {
		s.Note = "Detector events per connection and time column (rows: the connections with the most)."
	}
	var rowsList []conntable.Row
	for _, r := range b.conns {
		if fd := b.c.flows[r.Flow]; fd != nil {
			rowsList = append(rowsList, r)
		}
	}
	rowsList = onePerFlow(rowsList) // a row per connection, whatever its lines in flows.jsonl
	if len(rowsList) == 0 || b.c.last < b.c.first {
		b.missing(ChartHeatmap, "no connections over time")
		return
	}
	src := func(r conntable.Row) *tally {
		if byEvents {
			return b.c.flows[r.Flow].heatEvts
		}
		return b.c.flows[r.Flow].heatPkts
	}
	sort.SliceStable(rowsList, func(i, j int) bool { return src(rowsList[i]).total() > src(rowsList[j]).total() })
	if len(rowsList) > b.opts.HeatRows {
		rowsList = rowsList[:b.opts.HeatRows]
	}
	ts := make([]*tally, len(rowsList))
	for i, r := range rowsList {
		ts[i] = src(r)
	}
	g := newColumns(b.c.rel(b.c.selFirst()), b.c.rel(b.c.last), b.opts.HeatCols, widths(ts)...)
	// A column is a whole number of the collector's bins, so no bin is
	// split between two columns: the page gets at most HeatCols columns,
	// each of the width the axis names.
	s.Note += fmt.Sprintf(" %d columns of %s each (at most %d: a column holds a whole number of %s bins, so none is split or guessed).",
		g.n, durText(g.width), b.opts.HeatCols, durText(g.cell))
	var data rows
	var maxV float64
	ylabels := make([]string, len(rowsList))
	var rowTips [][]any
	for y, r := range rowsList {
		yy := len(rowsList) - 1 - y // the busiest row on top
		ylabels[yy] = connLabel(r)
		for x, v := range g.counts(ts[y]) {
			if v == 0 {
				continue
			}
			maxV = math.Max(maxV, float64(v))
			data = append(data, []float64{float64(x), float64(yy), float64(v)})
		}
		rowTips = append(rowTips, []any{yy, r.Flow})
	}
	xlabels := make([]string, g.n)
	cols := make([][]any, g.n)
	for i := range xlabels {
		xlabels[i] = relSeconds(g.start(i))
		cols[i] = []any{g.start(i), g.start(i) + g.width}
	}
	b.r.tips["c_heatmap"] = cols
	b.r.tips["c_heatmap_rows"] = rowTips
	hm := charts.NewHeatMap()
	title := "Packets per connection over time"
	unit := "packets"
	if byEvents {
		title, unit = "Detector events per connection over time", "events"
	}
	hm.SetGlobalOptions(append(baseOpts("c_heatmap", title, fmt.Sprintf("columns of %s", durText(g.width)), opts.Grid{Left: "330", Right: "40", Top: "48", Bottom: "90"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item",
			Formatter: opts.FuncOpts(`function (p) { return tcpvizHeatTip(p); }`)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: heatAxisName(g.width), Data: xlabels, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: ylabels, AxisLabel: &opts.AxisLabel{FontSize: 10}}),
		charts.WithVisualMapOpts(opts.VisualMap{Type: "continuous", Calculable: opts.Bool(true), Min: 0,
			Max: float32(math.Max(maxV, 1)), Orient: "horizontal", Left: "center", Bottom: "0",
			InRange: &opts.VisualMapInRange{Color: []string{"#f7fbff", "#6baed6", "#08306b"}}}))...)
	h := 140 + 18*len(rowsList)
	hm.Initialization.Height = fmt.Sprintf("%dpx", max(h, 260))
	ch := &Chart{ID: "c_heatmap", Title: "Heatmap", Kind: types.ChartHeatMap, r: hm, rect: &hm.RectChart}
	ch.add(charts.SingleSeries{Name: unit, Type: types.ChartHeatMap, Data: data}, len(data))
	s.Charts = append(s.Charts, ch)
}

// heatAxisName names the heatmap's time axis with its real column width.
func heatAxisName(width int64) string { return "s (column start; each column " + durText(width) + ")" }

func widths(ts []*tally) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.width
	}
	return out
}

// relSeconds writes a time relative to the first packet (ns) as seconds.
func relSeconds(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64)
}

// durText writes a column width readably (51.2 ms, 1.6384 s).
func durText(ns int64) string {
	switch {
	case ns < 1e6:
		return strconv.FormatFloat(float64(ns)/1e3, 'f', -1, 64) + " us"
	case ns < 1e9:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', -1, 64) + " ms"
	}
	return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64) + " s"
}
