package viz

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/structure.golden.json")

func TestBucketsStayBoundedAndKeepExtremes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		n     int
		step  int64
	}{
		{"short", 100, 50, 1_000},
		{"long", 100, 100_000, 1_000_000},
		{"very long", 64, 200_000, 10_000_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newBuckets(tc.limit)
			var sum float64
			for i := 0; i < tc.n; i++ {
				v := float64(i % 97)
				if i == tc.n/2 {
					v = 1e6 // one spike must survive downsampling
				}
				sum += v
				s.add(int64(i)*tc.step+5, v)
			}
			if len(s.b) > tc.limit {
				t.Fatalf("%d buckets, limit %d", len(s.b), tc.limit)
			}
			if got := s.total(); got != sum {
				t.Errorf("total %v, want %v", got, sum)
			}
			maxV := 0.0
			for _, p := range s.minMax(0) {
				maxV = math.Max(maxV, p.V)
			}
			if maxV != 1e6 {
				t.Errorf("spike lost: max %v", maxV)
			}
			if s.t0 > 5 || s.t0+int64(len(s.b))*s.width < int64(tc.n-1)*tc.step {
				t.Errorf("buckets [%d, +%d×%d) do not cover the series", s.t0, len(s.b), s.width)
			}
		})
	}
}

func TestThinnedKeepsAnEvenSpread(t *testing.T) {
	for _, n := range []int{5, 100, 1000, 12345} {
		th := newThinned[int](100)
		for i := 0; i < n; i++ {
			th.add(i)
		}
		if th.Seen != uint64(n) {
			t.Fatalf("seen %d, want %d", th.Seen, n)
		}
		if len(th.Items) > 100 || (n >= 100 && len(th.Items) < 50) || (n < 100 && len(th.Items) != n) {
			t.Fatalf("n=%d: kept %d", n, len(th.Items))
		}
		stride := th.Items[1] - th.Items[0]
		for i := 1; i < len(th.Items); i++ {
			if th.Items[i]-th.Items[i-1] != stride {
				t.Fatalf("n=%d: uneven spacing at %d: %v", n, i, th.Items[:i+1])
			}
		}
		if last := th.Items[len(th.Items)-1]; n-last > 2*stride {
			t.Errorf("n=%d: last kept %d, the end of the stream is missing", n, last)
		}
	}
}

func TestUnwrapperCrossesFourGiB(t *testing.T) {
	var u unwrapper
	var got []float64
	for _, v := range []uint32{0, 1 << 30, 3 << 30, 0xffff0000, 0x00010000, 0x00020000, 0xfffff000} {
		got = append(got, u.extend(v))
	}
	want := []float64{0, 1 << 30, 3 << 30, 0xffff0000, 1<<32 + 0x10000, 1<<32 + 0x20000, 0xfffff000}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestFilter(t *testing.T) {
	c := netip.MustParseAddrPort("10.0.0.7:40000")
	s := netip.MustParseAddrPort("192.168.1.5:443")
	for _, tc := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty", Filter{}, true},
		{"saddr exact", Filter{SAddrs: []string{"10.0.0.7"}}, true},
		{"saddr other", Filter{SAddrs: []string{"10.0.0.8"}}, false},
		{"saddr cidr", Filter{SAddrs: []string{"10.0.0.0/24"}}, true},
		{"daddr cidr miss", Filter{DAddrs: []string{"10.0.0.0/8"}}, false},
		{"daddr glob", Filter{DAddrs: []string{"192.168.*"}}, true},
		{"daddr glob miss", Filter{DAddrs: []string{"192.169.*"}}, false},
		{"sport", Filter{SPorts: []uint16{40000}}, true},
		{"dport miss", Filter{DPorts: []uint16{80}}, false},
		{"port either", Filter{Ports: []uint16{443}}, true},
		{"port none", Filter{Ports: []uint16{22}}, false},
		{"flow", Filter{Flows: []uint64{3, 9}}, true},
		{"flow miss", Filter{Flows: []uint64{4}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f.Compile(); err != nil {
				t.Fatal(err)
			}
			if got := tc.f.MatchConn(9, c, s); got != tc.want {
				t.Errorf("MatchConn = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		f         Filter
		pid       uint32
		comm      string
		wantProc  bool
		lo, hi    uint32
		known     bool
		wantCwnd  bool
		errSubstr string
	}{
		{f: Filter{PIDs: []uint32{7}}, pid: 7, wantProc: true, wantCwnd: true},
		{f: Filter{PIDs: []uint32{7}}, pid: 8, wantProc: false, wantCwnd: true},
		{f: Filter{Comm: "curl*"}, comm: "curl-7", wantProc: true, wantCwnd: true},
		{f: Filter{Comm: "curl"}, comm: "", wantProc: false, wantCwnd: true},
		{f: Filter{CwndMin: 20}, lo: 10, hi: 30, known: true, wantProc: true, wantCwnd: true},
		{f: Filter{CwndMin: 40}, lo: 10, hi: 30, known: true, wantProc: true, wantCwnd: false},
		{f: Filter{CwndMax: 5}, lo: 10, hi: 30, known: true, wantProc: true, wantCwnd: false},
		{f: Filter{CwndMax: 50}, known: false, wantProc: true, wantCwnd: false},
		{f: Filter{CwndMin: 9, CwndMax: 3}, errSubstr: "cwnd-min"},
		{f: Filter{SAddrs: []string{"not an address"}}, errSubstr: "--saddr"},
	} {
		err := tc.f.Compile()
		if tc.errSubstr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
				t.Errorf("%+v: error %v, want one naming %s", tc.f, err, tc.errSubstr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.f.MatchProcess(tc.pid, tc.comm); got != tc.wantProc {
			t.Errorf("%+v: MatchProcess(%d,%q) = %v", tc.f, tc.pid, tc.comm, got)
		}
		if got := tc.f.MatchCwnd(tc.lo, tc.hi, tc.known); got != tc.wantCwnd {
			t.Errorf("%+v: MatchCwnd = %v", tc.f, got)
		}
	}
}

func TestTimeBounds(t *testing.T) {
	first := int64(1_700_000_000_000_000_000)
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "10s", want: first + 10e9},
		{in: "2023-11-14T22:13:30Z", want: 1700000010e9},
		{in: "1700000005.5", want: 1700000005.5e9},
		{in: "yesterday", bad: true},
	} {
		b, err := ParseTimeBound(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := b.At(first); got != tc.want {
			t.Errorf("%q: %d, want %d", tc.in, got, tc.want)
		}
	}
}

func buildSynth(t *testing.T, cfg synthConfig, o Options) *Report {
	t.Helper()
	c := NewCollector(Limits{}, o.Filter)
	out := synthesize(cfg, c)
	r, err := Build(c, out.Flows, out.Summary, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func structureOf(r *Report) map[string][]SeriesInfo {
	m := map[string][]SeriesInfo{}
	for _, s := range r.Sections {
		for _, ch := range s.Charts {
			m[s.ID+"/"+ch.ID+"/"+ch.Kind] = ch.Series
		}
	}
	return m
}

// TestChartStructureGolden pins the chart options' structure (chart ids,
// series names, types and point counts) for a fixed synthetic capture.
func TestChartStructureGolden(t *testing.T) {
	r := buildSynth(t, synthConfig{Flows: 3, Packets: 3000, LossEvery: 500, Kernel: true, Comm: "iperf3"}, Options{})
	got := structureOf(r)
	path := filepath.Join("testdata", "structure.golden.json")
	if *updateGolden {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var want map[string][]SeriesInfo
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("chart %s missing", k)
			continue
		}
		if len(g) != len(w) {
			t.Errorf("%s: %d series, want %d: %v", k, len(g), len(w), g)
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s series %d: %+v, want %+v", k, i, g[i], w[i])
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected chart %s", k)
		}
	}
}

func TestInferredCongestionIsLabelled(t *testing.T) {
	for _, kernel := range []bool{false, true} {
		r := buildSynth(t, synthConfig{Flows: 1, Packets: 500, LossEvery: 100, Kernel: kernel}, Options{Charts: []string{ChartCongestion}})
		if len(r.Sections) != 1 || len(r.Sections[0].Charts) != 1 {
			t.Fatalf("kernel=%v: sections %+v", kernel, r.Sections)
		}
		ch := r.Sections[0].Charts[0]
		if ch.Inferred == kernel {
			t.Errorf("kernel=%v: Inferred=%v", kernel, ch.Inferred)
		}
		for _, s := range ch.Series {
			isInferred := strings.Contains(s.Name, "inferred")
			isKernel := strings.Contains(s.Name, "kernel")
			if (kernel && isInferred) || (!kernel && isKernel) {
				t.Errorf("kernel=%v: series %q", kernel, s.Name)
			}
		}
		var buf bytes.Buffer
		if err := r.RenderReport(&buf); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "INFERRED from packets"); got == kernel {
			t.Errorf("kernel=%v: page says inferred: %v", kernel, got)
		}
	}
}

func TestFilterSelectsConnections(t *testing.T) {
	cfg := synthConfig{Flows: 4, Packets: 300, LossEvery: 100, Kernel: true, Comm: "iperf3"}
	for _, tc := range []struct {
		name  string
		f     Filter
		flows []uint64
	}{
		{"all", Filter{}, []uint64{1, 2, 3, 4}},
		{"sport", Filter{SPorts: []uint16{40002}}, []uint64{3}},
		{"saddr", Filter{SAddrs: []string{"10.0.0.2"}}, []uint64{2}},
		{"flow", Filter{Flows: []uint64{1, 4}}, []uint64{1, 4}},
		{"comm", Filter{Comm: "iperf*"}, []uint64{1, 2, 3, 4}},
		{"comm miss", Filter{Comm: "curl"}, nil},
		{"cwnd", Filter{CwndMin: 5, CwndMax: 200}, []uint64{1, 2, 3, 4}},
		{"cwnd miss", Filter{CwndMin: 1000}, nil},
		{"until the first packet", Filter{Until: TimeBound{Set: true, Rel: true}}, []uint64{1}},
		{"since the end", Filter{Since: TimeBound{Set: true, Rel: true, Off: time.Hour}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f.Compile(); err != nil {
				t.Fatal(err)
			}
			r := buildSynth(t, cfg, Options{Filter: tc.f})
			var got []uint64
			for _, c := range r.Conns {
				got = append(got, c.Flow)
			}
			if len(got) != len(tc.flows) {
				t.Fatalf("flows %v, want %v", got, tc.flows)
			}
			seen := map[uint64]bool{}
			for _, id := range got {
				seen[id] = true
			}
			for _, id := range tc.flows {
				if !seen[id] {
					t.Errorf("flows %v, want %v", got, tc.flows)
				}
			}
		})
	}
}

func TestPagesAreSelfContainedAndEscaped(t *testing.T) {
	dir := t.TempDir()
	const comm = `<img src=x onerror=alert(1)>`
	c := NewCollector(Limits{}, Filter{})
	out := synthesize(synthConfig{Flows: 2, Packets: 500, LossEvery: 100, Kernel: true, Comm: comm}, c)
	// A hostile event type and reason too: they reach chart options and tooltips.
	c.Event(&events.Event{Type: `</script><script>alert(4)</script>`, Flow: 1, TS: events.Timestamp(out.Flows[0].First + 1000),
		Reason: `__f__(alert(5)),"x":"`, Src: "10.0.0.1:40000", Dst: "10.0.1.1:5201"})
	r, err := Build(c, out.Flows, out.Summary, Options{Title: "<b>title</b>"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("files %v", files)
	}
	scriptSrc := regexp.MustCompile(`(?i)<script[^>]*\ssrc\s*=`)
	link := regexp.MustCompile(`(?i)<link[^>]*href\s*=\s*"?https?:`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		if scriptSrc.MatchString(page) || link.MatchString(page) {
			t.Errorf("%s loads something from outside", f)
		}
		for _, bad := range []string{comm, "<script>alert(4)", `(alert(5)),"x":"`, "<b>title</b>"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s contains %q unescaped", f, bad)
			}
		}
		if !strings.Contains(page, "echarts") || !strings.Contains(page, "Content-Security-Policy") {
			t.Errorf("%s: ECharts not inlined or no CSP", f)
		}
		if filepath.Base(f) != FileTimeline && !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s: the comm is not shown escaped", f)
		}
		if matches, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(matches) > 0 {
			t.Errorf("temporary files left: %v", matches)
		}
	}
}

func TestSafeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"retransmission":            "retransmission",
		"#3 10.0.0.1:80 → [::1]:22": "#3 10.0.0.1:80 → [::1]:22",
		`</script>`:                 "?/script?",
		`a__f__b`:                   "a_?f?_b",
		`x"y'z\`:                    "x?y?z?",
	} {
		if got := safeLabel(in); got != want {
			t.Errorf("safeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSummaryFormats(t *testing.T) {
	r := buildSynth(t, synthConfig{Flows: 3, Packets: 400, LossEvery: 100, Kernel: true, Comm: "=cmd|x"}, Options{Charts: []string{ChartOverview}})
	var text, js, cs bytes.Buffer
	for _, f := range []struct {
		fmt string
		buf *bytes.Buffer
	}{{FormatText, &text}, {FormatJSON, &js}, {FormatCSV, &cs}} {
		if err := r.WriteSummary(f.buf, f.fmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.WriteSummary(&text, "xml"); err == nil {
		t.Error("xml accepted")
	}
	var doc struct {
		Packets     uint64           `json:"packets"`
		Connections int              `json:"connections"`
		Retrans     int              `json:"retransmissions"`
		List        []map[string]any `json:"connections_list"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Connections != 3 || len(doc.List) != 3 || doc.Packets != r.Overview.Packets || doc.Retrans != r.Overview.Retrans || doc.Retrans == 0 {
		t.Errorf("json summary %+v, overview %+v", doc, r.Overview)
	}
	recs, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][0] != "flow" || recs[1][2] != "'=cmd|x" {
		t.Errorf("csv %q", recs)
	}
	for _, want := range []string{"retransmissions", "=cmd|x", "10.0.0.1:40000", "dup_ack"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
}

// eventRecorder keeps copies of what the pipeline would write.
type eventRecorder struct {
	packets []events.PacketRecord
	events  []events.Event
}

func (r *eventRecorder) Packet(p *events.Packet) { r.packets = append(r.packets, p.Record(0)) }
func (r *eventRecorder) Event(e *events.Event)   { r.events = append(r.events, *e) }

func writeSession(t *testing.T, dir string, withPackets bool, input string) synthOut {
	t.Helper()
	rec := &eventRecorder{}
	out := synthesize(synthConfig{Flows: 2, Packets: 600, LossEvery: 150, Kernel: true, Comm: "iperf3"}, rec)
	var ev, fl bytes.Buffer
	enc := json.NewEncoder(&ev)
	if withPackets {
		for _, p := range rec.packets {
			_ = enc.Encode(p)
		}
	}
	for _, e := range rec.events {
		_ = enc.Encode(e)
	}
	fenc := json.NewEncoder(&fl)
	for _, f := range out.Flows {
		_ = fenc.Encode(f)
	}
	out.Summary.Input = input
	sb, _ := json.Marshal(out.Summary)
	for name, b := range map[string][]byte{sessionEvents: ev.Bytes(), sessionFlows: fl.Bytes(), sessionSummary: sb} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestLoadSessionWithoutCapture(t *testing.T) {
	dir := t.TempDir()
	writeSession(t, dir, false, filepath.Join(dir, "gone.pcapng"))
	in, err := Load(t.Context(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !in.NoPackets || len(in.Notes) == 0 || !strings.Contains(in.Notes[0], "gone.pcapng is gone") {
		t.Fatalf("NoPackets=%v notes=%q", in.NoPackets, in.Notes)
	}
	r, err := Build(in.Collector, in.Flows, in.Summary, Options{NoPackets: true})
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.Join(r.Missing, "\n")
	for _, c := range []string{ChartTSG, ChartThroughput, ChartOverview} {
		if !strings.Contains(missing, c+":") {
			t.Errorf("missing list %q does not name %s", missing, c)
		}
	}
	st := structureOf(r)
	if _, ok := st["timeline/c_timeline/scatter"]; !ok {
		t.Errorf("no timeline from events: %v", st)
	}
	if len(r.Conns) != 2 || r.Conns[0].Comm != "iperf3" {
		t.Errorf("connections %+v", r.Conns)
	}
}

func TestLoadEventsWithPacketRecords(t *testing.T) {
	dir := t.TempDir()
	writeSession(t, dir, true, "-")
	in, err := Load(t.Context(), filepath.Join(dir, sessionEvents), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.NoPackets {
		t.Fatal("packet records not used")
	}
	r, err := Build(in.Collector, in.Flows, in.Summary, Options{Charts: []string{ChartTSG}})
	if err != nil {
		t.Fatal(err)
	}
	st := structureOf(r)
	tsg := st["tsg/c_tsg_1/line"]
	names := map[string]int{}
	for _, s := range tsg {
		names[s.Name] = s.Points
	}
	for _, n := range []string{"data", "ACK", "receive window", "retransmission", "SACK"} {
		if names[n] == 0 {
			t.Errorf("tsg series %q empty or missing: %v", n, tsg)
		}
	}
}

func TestLoadReportsBadLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(p, []byte("{\"type\":\"dup_ack\"}\n{broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(t.Context(), p, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "events.jsonl: offset 19") {
		t.Fatalf("error %v, want the file and offset 19", err)
	}
}

func TestCollectorMemoryIsBounded(t *testing.T) {
	c := NewCollector(Limits{Points: 200, EventsPerType: 50, DetailFlows: 2, Flows: 5}, Filter{})
	synthesize(synthConfig{Flows: 8, Packets: 5000, LossEvery: 50}, c)
	if len(c.order) != 5 || c.otherFlows != 3 {
		t.Errorf("tracked %d flows, other %d", len(c.order), c.otherFlows)
	}
	detailed := 0
	for _, id := range c.order {
		f := c.flows[id]
		if f.detail == nil {
			continue
		}
		detailed++
		for _, d := range f.detail.dir {
			for _, s := range []*buckets{d.seq, d.ack, d.win, d.tput} {
				if len(s.b) > 200 {
					t.Errorf("flow %d: %d buckets", id, len(s.b))
				}
			}
		}
	}
	if detailed > 2 {
		t.Errorf("%d flows with detail, limit 2", detailed)
	}
	for k, tl := range c.timeline {
		if len(tl.Items) > 50 {
			t.Errorf("%s: %d markers", k, len(tl.Items))
		}
	}
}

func TestSummaryBarsAreLabelledByConnection(t *testing.T) {
	r := buildSynth(t, synthConfig{Flows: 3, Packets: 400, LossEvery: 100}, Options{Charts: []string{ChartSummary}})
	if len(r.Sections) != 1 || len(r.Sections[0].Charts) != 1 {
		t.Fatalf("sections %+v", r.Sections)
	}
	opt := r.Sections[0].Charts[0].r.RenderSnippet().Option
	var o struct {
		XAxis []struct {
			Data []string `json:"data"`
		} `json:"xAxis"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimSpace(opt), ";")), &o); err != nil {
		t.Fatalf("%v: %s", err, opt)
	}
	if len(o.XAxis) == 0 || len(o.XAxis[0].Data) != 3 || o.XAxis[0].Data[0] != "#1" {
		t.Errorf("x axis %+v", o.XAxis)
	}
}

func TestHostileTimestampsDoNotPanic(t *testing.T) {
	c := NewCollector(Limits{Points: 50}, Filter{})
	for _, ts := range []int64{-9e18, 1, 9e18, 0, math.MaxInt64, math.MinInt64, 5} {
		c.Event(&events.Event{Type: events.TypeRetransmission, Flow: 1, TS: events.Timestamp(ts), Src: "10.0.0.1:1", Dst: "10.0.0.2:2", Len: 10})
		c.Event(&events.Event{Type: events.TypeKernelSample, Flow: 1, TS: events.Timestamp(ts), Src: "10.0.0.1:1", Dst: "10.0.0.2:2",
			Context: events.Context{KernelCwnd: 10, KernelSRTTus: 100}})
		c.Packet(&events.Packet{Flow: 2, TS: ts, Src: netip.MustParseAddr("10.0.0.3"), Dst: netip.MustParseAddr("10.0.0.4"),
			SrcPort: 3, DstPort: 4, Len: 100, Flags: events.FlagACK, WindowScaled: 1000, RelSeq: uint32(ts), RelAck: uint32(ts >> 7)})
	}
	r, err := Build(c, nil, events.Summary{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.RenderReport(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*buckets{c.pktRate, c.evRate} {
		if len(s.b) > 50 {
			t.Errorf("%d buckets", len(s.b))
		}
	}
}

func TestHeatmapIntensity(t *testing.T) {
	cfg := synthConfig{Flows: 3, Packets: 400, LossEvery: 100}
	var totals []float64
	for _, byEvents := range []bool{false, true} {
		r := buildSynth(t, cfg, Options{Charts: []string{ChartHeatmap}, HeatEvents: byEvents})
		ch := r.Sections[0].Charts[0]
		want := "packets"
		if byEvents {
			want = "events"
		}
		if len(ch.Series) != 1 || ch.Series[0].Name != want {
			t.Fatalf("byEvents=%v: series %+v", byEvents, ch.Series)
		}
		var sum float64
		for _, row := range ch.rect.MultiSeries[0].Data.(rows) {
			sum += row[2]
		}
		totals = append(totals, sum)
	}
	var pkts uint64
	events := 0
	for _, c := range buildSynth(t, cfg, Options{Charts: []string{ChartOverview}}).Conns {
		pkts += c.Packets()
		for _, n := range c.Events {
			events += n
		}
	}
	if totals[0] != float64(pkts) {
		t.Errorf("packet heatmap sums to %v, connections have %d packets", totals[0], pkts)
	}
	// rtt samples are events too, but the timeline and heatmap skip them.
	if totals[1] == 0 || totals[1] > float64(events) {
		t.Errorf("event heatmap sums to %v, connections have %d events", totals[1], events)
	}
}
