package viz

// Every figure a page holds is recomputed here from the data by other means
// (tshark for packets, the session's JSONL files for events and connections)
// and compared with what Chromium reads out of the page's chart options.

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/session"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// tsharkPacket is one TCP packet as tshark sees it.
type tsharkPacket struct {
	ns   int64  // time, ns since the epoch
	conn string // the two endpoints, sorted: "a|b"
}

func connKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "|" + b
}

// tsharkPackets lists the TCP packets of a capture with tshark.
func tsharkPackets(t *testing.T, path string) []tsharkPacket {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark)")
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=/t",
		"-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
		"-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	var pk []tsharkPacket
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			t.Fatalf("tshark line %q", line)
		}
		src, dst := f[1]+f[2], f[4]+f[5]
		if strings.Contains(src, ":") {
			src, dst = "["+src+"]", "["+dst+"]"
		}
		pk = append(pk, tsharkPacket{ns: epochNS(t, f[0]), conn: connKey(src+":"+f[3], dst+":"+f[6])})
	}
	return pk
}

// epochNS reads tshark's "1764599012.262476007" exactly.
func epochNS(t *testing.T, s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("time %q", s)
	}
	return a*1e9 + b
}

// heatmapPage is what the page holds for the heatmap.
type heatmapPage struct {
	Origin string     `json:"origin"`
	Cols   [][2]int64 `json:"cols"`
	Rows   [][2]any   `json:"rows"`
	Labels []string   `json:"labels"`
	Data   [][3]int   `json:"data"`
	XName  string     `json:"xname"`
}

const heatmapJS = `(() => {
  const c = echarts.getInstanceByDom(document.getElementById("c_heatmap"));
  const o = c.getOption();
  return JSON.stringify({origin: tcpvizClock.origin_ns, cols: tcpvizTips["c_heatmap"], rows: tcpvizTips["c_heatmap_rows"],
    labels: o.yAxis[0].data, data: o.series[0].data, xname: o.xAxis[0].name});
})()`

// reportOf builds and writes the dashboards of a sample and loads
// report.html in b.
func reportOf(t *testing.T, b *browser, sample string, o Options) (*Report, *Input) {
	t.Helper()
	in, err := Load(t.Context(), sample, LoadOptions{Pipeline: pipecfg.Detectors(), Filter: o.Filter})
	if err != nil {
		t.Fatal(err)
	}
	return writeAndLoad(t, b, in, o), in
}

// writeAndLoad builds the dashboards of in, writes them and loads
// report.html in b.
func writeAndLoad(t *testing.T, b *browser, in *Input, o Options) *Report {
	t.Helper()
	r, err := Build(in.Collector, in.Flows, in.Summary, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	b.load(t, filepath.Join(dir, FileReport))
	return r
}

func evalJSON(t *testing.T, b *browser, js string, v any) {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("page data: %v (%.200s)", err, s)
	}
}

// TestHeatmapMatchesTshark counts each connection's packets per column with
// tshark, using the column bounds the page states, and compares every cell
// (empty ones included) with the heatmap's data.
func TestHeatmapMatchesTshark(t *testing.T) {
	b := newBrowser(t)
	for _, name := range []string{"cubic-loss-sender.pcapng", "rst-teardown.pcap", "handshake-syn-retries.pcap", "ipv6-loss-sender.pcap"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "samples", name)
			pk := tsharkPackets(t, path)
			reportOf(t, b, path, Options{})
			var hp heatmapPage
			evalJSON(t, b, heatmapJS, &hp)
			origin, err := strconv.ParseInt(hp.Origin, 10, 64)
			if err != nil || origin != pk[0].ns {
				t.Fatalf("page origin %q, tshark's first packet %d", hp.Origin, pk[0].ns)
			}
			if len(hp.Cols) == 0 || len(hp.Cols) > 60 {
				t.Fatalf("%d columns", len(hp.Cols))
			}
			for i := range hp.Cols {
				if i > 0 && hp.Cols[i][0] != hp.Cols[i-1][1] {
					t.Fatalf("column %d starts at %d, the previous ends at %d", i, hp.Cols[i][0], hp.Cols[i-1][1])
				}
				// The axis names the width every column really has.
				if w := hp.Cols[i][1] - hp.Cols[i][0]; hp.XName != heatAxisName(w) {
					t.Fatalf("column %d is %d ns wide, the axis says %q", i, w, hp.XName)
				}
			}
			last := pk[len(pk)-1].ns - origin
			if hp.Cols[0][0] > 0 || hp.Cols[len(hp.Cols)-1][1] <= last {
				t.Fatalf("columns [%d, %d) do not cover the capture [0, %d]", hp.Cols[0][0], hp.Cols[len(hp.Cols)-1][1], last)
			}
			// Row y (as drawn) → connection endpoints, from its label.
			conn := map[int]string{}
			for y, l := range hp.Labels {
				_, ends, _ := strings.Cut(l, " ")
				a, bb, ok := strings.Cut(ends, " → ")
				if !ok {
					t.Fatalf("row label %q", l)
				}
				conn[y] = connKey(a, bb)
			}
			want := map[[2]int]int{}
			perConn := map[string]int{}
			for _, p := range pk {
				perConn[p.conn]++
				rel := p.ns - origin
				x := sort.Search(len(hp.Cols), func(i int) bool { return hp.Cols[i][1] > rel })
				for y, c := range conn {
					if c == p.conn {
						want[[2]int{x, y}]++
					}
				}
			}
			got := map[[2]int]int{}
			for _, d := range hp.Data {
				got[[2]int{d[0], d[1]}] = d[2]
			}
			cells := 0
			for y := range hp.Labels {
				for x := range hp.Cols {
					k := [2]int{x, y}
					if got[k] != want[k] {
						t.Errorf("row %q column %d [%d, %d) ns: page %d packets, tshark %d", hp.Labels[y], x, hp.Cols[x][0], hp.Cols[x][1], got[k], want[k])
					}
					if want[k] > 0 {
						cells++
					}
				}
			}
			// Rows are the busiest connections, busiest on top.
			for y := 1; y < len(hp.Labels); y++ {
				if perConn[conn[y]] > perConn[conn[y-1]] {
					continue
				}
				if perConn[conn[y]] < perConn[conn[y-1]] {
					t.Errorf("row %d (%d packets) drawn above row %d (%d packets)", y-1, perConn[conn[y-1]], y, perConn[conn[y]])
				}
			}
			t.Logf("%d rows × %d columns, %d non-empty cells, %d packets", len(hp.Labels), len(hp.Cols), cells, len(pk))
		})
	}
}

// TestHeatColumnsExact checks the column arithmetic against brute force on
// random streams: every item lands in the column that holds its time, and a
// steady stream leaves no column empty.
func TestHeatColumnsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		span := int64(1e6) << rng.IntN(30) // 1 ms to ~12 days
		n := 1 + rng.IntN(3000)
		steady := trial%2 == 0
		var times []int64
		for i := 0; i < n; i++ {
			if steady {
				times = append(times, span*int64(i)/int64(n))
			} else {
				times = append(times, rng.Int64N(span))
			}
		}
		first, last := times[0], times[0]
		for _, ts := range times {
			first, last = min(first, ts), max(last, ts)
		}
		var ta []*tally
		for k := 0; k < 3; k++ {
			tl := newTally(heatBins)
			for i, ts := range times {
				if i%3 == k || k == 0 {
					tl.add(ts)
				}
			}
			ta = append(ta, tl)
		}
		want := 10 + rng.IntN(100)
		g := newColumns(first, last, want, widths(ta)...)
		if g.n > want || g.start(0) > first || g.start(g.n-1)+g.width <= last {
			t.Fatalf("trial %d: %d columns of %d ns from %d for [%d, %d], want at most %d", trial, g.n, g.width, g.t0, first, last, want)
		}
		if g.n < want/2 && g.width > initialBucketWidth && g.width > ta[0].width {
			t.Errorf("trial %d: only %d columns for %d wanted", trial, g.n, want)
		}
		for k, tl := range ta {
			got := g.counts(tl)
			exp := make([]uint64, g.n)
			for i, ts := range times {
				if i%3 == k || k == 0 {
					exp[(ts-g.t0)/g.width]++
				}
			}
			for c := range exp {
				if got[c] != exp[c] {
					t.Fatalf("trial %d tally %d column %d: %d, want %d", trial, k, c, got[c], exp[c])
				}
				if steady && k == 0 && n > 4*g.n && exp[c] == 0 {
					t.Errorf("trial %d: steady stream has an empty column %d", trial, c)
				}
			}
		}
	}
}

// jsonlFindings counts, from a session's events.jsonl, the detector events
// (every type except the kernel's records, RTT samples and packets) in all
// and per connection.
func jsonlFindings(t *testing.T, path string) (int, map[uint64]int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	total, per := 0, map[uint64]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Type string `json:"type"`
			Flow uint64 `json:"flow"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Type, "kernel_") || e.Type == "rtt_sample" || e.Type == "packet" {
			continue
		}
		total++
		per[e.Flow]++
	}
	return total, per
}

func linesOf(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

const totalsJS = `(() => {
  const cards = {};
  document.querySelectorAll("#headline .card").forEach(c => { cards[c.querySelector(".k").textContent] = c.querySelector(".v").textContent; });
  const per = {};
  const el = document.getElementById("c_summary");
  if (el) {
    const o = echarts.getInstanceByDom(el).getOption();
    o.series.forEach(s => s.data.forEach((v, i) => { const k = o.xAxis[0].data[i]; per[k] = (per[k] || 0) + v; }));
  }
  return JSON.stringify({cards: cards, per: per, rows: document.querySelectorAll("#connections tbody tr[data-flow]").length});
})()`

// TestTotalsMatchJSONL checks that the event total is one figure: the
// session files, the session list, the dashboard's card and bars and the
// summary's JSON all equal a count made directly from events.jsonl.
func TestTotalsMatchJSONL(t *testing.T) {
	b := newBrowser(t)
	for _, name := range []string{"kernel-lossy-bulk.pcapng", "kernel-web.pcapng", "rst-teardown.pcap", "zero-window.pcapng"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path, _ := filepath.Abs(filepath.Join("..", "samples", name))
			res, err := sessionfiles.Run(t.Context(), sessionfiles.Options{Input: path, OutDir: dir, Pipeline: pipecfg.Detectors()})
			if err != nil {
				t.Fatal(err)
			}
			total, per := jsonlFindings(t, filepath.Join(dir, sessionEvents))
			if got := events.Findings(res.Summary.Events); got != total {
				t.Errorf("summary.json: %d detector events, events.jsonl %d", got, total)
			}
			info, err := session.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if info.Events != total {
				t.Errorf("sessions list: %d events, events.jsonl %d", info.Events, total)
			}
			in, err := Load(t.Context(), dir, LoadOptions{Pipeline: pipecfg.Detectors()})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Build(in.Collector, in.Flows, in.Summary, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var js bytes.Buffer
			if err := r.WriteSummary(&js, FormatJSON); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				EventsTotal int `json:"events_total"`
				Conns       []struct {
					Flow   uint64         `json:"flow"`
					Events map[string]int `json:"events"`
				} `json:"connections_list"`
			}
			if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.EventsTotal != total {
				t.Errorf("summary --format json: events_total %d, events.jsonl %d", doc.EventsTotal, total)
			}
			for _, c := range doc.Conns {
				n := 0
				for _, v := range c.Events {
					n += v
				}
				if n != per[c.Flow] {
					t.Errorf("summary --format json: connection %d has %d events, events.jsonl %d", c.Flow, n, per[c.Flow])
				}
			}
			if _, err := r.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			b.load(t, filepath.Join(dir, FileReport))
			var pg struct {
				Cards map[string]string `json:"cards"`
				Per   map[string]int    `json:"per"`
				Rows  int               `json:"rows"`
			}
			evalJSON(t, b, totalsJS, &pg)
			if got := pg.Cards["detector events"]; got != strconv.Itoa(total) {
				t.Errorf("page card: %q detector events, events.jsonl %d", got, total)
			}
			for label, n := range pg.Per {
				id, _ := strconv.ParseUint(strings.TrimPrefix(label, "#"), 10, 64)
				if n != per[id] {
					t.Errorf("page bars: connection %s has %d events, events.jsonl %d", label, n, per[id])
				}
			}
			withEvents := 0
			for id, n := range per {
				if id != 0 && n > 0 {
					withEvents++
				}
			}
			if len(pg.Per) != min(withEvents, 20) {
				t.Errorf("page bars: %d connections, events.jsonl has %d with events", len(pg.Per), withEvents)
			}
			if want := linesOf(t, filepath.Join(dir, sessionFlows)); pg.Rows != want {
				t.Errorf("page table: %d connections, flows.jsonl %d", pg.Rows, want)
			}
			t.Logf("%d detector events over %d connections", total, len(per))
		})
	}
}

const axesJS = `(() => {
  const out = [];
  document.querySelectorAll("[_echarts_instance_]").forEach(el => {
    const o = echarts.getInstanceByDom(el).getOption();
    const xs = [];
    o.series.forEach(s => (s.data || []).forEach(d => { if (Array.isArray(d) && typeof d[0] === "number") xs.push(d[0]); }));
    out.push({id: el.id, type: o.xAxis[0].type, min: o.xAxis[0].min, max: o.xAxis[0].max, labels: o.xAxis[0].data || null,
      lo: xs.length ? Math.min(...xs) : null, hi: xs.length ? Math.max(...xs) : null});
  });
  return JSON.stringify(out);
})()`

// TestTimeAxesPinned checks that every chart over time counts seconds from
// the first packet and spans exactly the capture's first to last packet as
// tshark reports them, and that no data point lies outside that range.
func TestTimeAxesPinned(t *testing.T) {
	b := newBrowser(t)
	for _, name := range []string{"kernel-lossy-bulk.pcapng", "handshake-refused.pcap", "rst-teardown.pcap"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "samples", name)
			pk := tsharkPackets(t, path)
			reportOf(t, b, path, Options{})
			var axes []struct {
				ID     string   `json:"id"`
				Type   string   `json:"type"`
				Min    *float64 `json:"min"`
				Max    *float64 `json:"max"`
				Labels []string `json:"labels"`
				Lo, Hi *float64
			}
			evalJSON(t, b, axesJS, &axes)
			first, last := pk[0].ns, pk[0].ns
			for _, p := range pk {
				first, last = min(first, p.ns), max(last, p.ns)
			}
			wantMax := float64(last-pk[0].ns) / 1e9
			timeCharts := 0
			for _, a := range axes {
				switch {
				case a.ID == "c_summary":
					continue // connections on x
				case a.ID == "c_heatmap":
					if len(a.Labels) == 0 || a.Labels[0] != "0" {
						t.Errorf("heatmap columns start at %v, want 0 s (the first packet)", a.Labels)
					}
					continue
				}
				timeCharts++
				if a.Type != "value" || a.Min == nil || a.Max == nil {
					t.Errorf("%s: x axis %s from %v to %v, want seconds pinned to the capture", a.ID, a.Type, a.Min, a.Max)
					continue
				}
				if *a.Min != float64(first-pk[0].ns)/1e9 || math.Abs(*a.Max-wantMax) > 1e-9 && !(wantMax == 0 && *a.Max == 0.001) {
					t.Errorf("%s: x axis [%v, %v] s, tshark's packets span [0, %v] s", a.ID, *a.Min, *a.Max, wantMax)
				}
				if a.Lo != nil && (*a.Lo < *a.Min-1e-9 || *a.Hi > *a.Max+1e-9) {
					t.Errorf("%s: data at [%v, %v] s outside the axis [%v, %v]", a.ID, *a.Lo, *a.Hi, *a.Min, *a.Max)
				}
			}
			if timeCharts == 0 {
				t.Fatal("no chart over time")
			}
			t.Logf("%d charts over time, all on [0, %.6f] s", timeCharts, wantMax)
		})
	}
}

// TestTimeFilterAppliesToEveryFigure narrows a report with --since/--until
// and checks the cards, the heatmap and the table against tshark's packets
// in that range; a range with nothing in it must say so.
func TestTimeFilterAppliesToEveryFigure(t *testing.T) {
	b := newBrowser(t)
	path := filepath.Join("..", "samples", "rst-teardown.pcap")
	pk := tsharkPackets(t, path)
	since, until := 5*time.Millisecond, 15*time.Millisecond // of a 27 ms capture
	f := Filter{Since: TimeBound{Set: true, Rel: true, Off: since}, Until: TimeBound{Set: true, Rel: true, Off: until}}
	if err := f.Compile(); err != nil {
		t.Fatal(err)
	}
	r, _ := reportOf(t, b, path, Options{Filter: f})
	want, conns := 0, map[string]bool{}
	for _, p := range pk {
		if rel := p.ns - pk[0].ns; rel >= int64(since) && rel <= int64(until) {
			want++
			conns[p.conn] = true
		}
	}
	if want == 0 || want == len(pk) {
		t.Fatalf("%d of %d packets in the range: pick another", want, len(pk))
	}
	var pg struct {
		Cards map[string]string `json:"cards"`
		Rows  int               `json:"rows"`
	}
	evalJSON(t, b, totalsJS, &pg)
	if pg.Cards["TCP packets"] != strconv.Itoa(want) {
		t.Errorf("card: %q TCP packets in [%v, %v], tshark %d", pg.Cards["TCP packets"], since, until, want)
	}
	if pg.Rows != len(conns) || r.Overview.Flows != len(conns) {
		t.Errorf("table: %d connections (overview %d) in [%v, %v], tshark %d", pg.Rows, r.Overview.Flows, since, until, len(conns))
	}
	for _, m := range r.Missing {
		if strings.HasPrefix(m, ChartHeatmap) {
			t.Fatalf("not drawn: %s", m)
		}
	}
	var hp heatmapPage
	evalJSON(t, b, heatmapJS, &hp)
	cells := 0
	for _, d := range hp.Data {
		cells += d[2]
	}
	if cells != want {
		t.Errorf("heatmap: %d packets in its cells, tshark %d in the range", cells, want)
	}

	// Past the end of the capture: nothing, and the page says so.
	none := Filter{Since: TimeBound{Set: true, Rel: true, Off: time.Hour}}
	if err := none.Compile(); err != nil {
		t.Fatal(err)
	}
	r, _ = reportOf(t, b, path, Options{Filter: none})
	if r.Overview.Packets != 0 || r.Overview.Events != 0 || len(r.Conns) != 0 {
		t.Errorf("filter past the end: %d packets, %d events, %d connections", r.Overview.Packets, r.Overview.Events, len(r.Conns))
	}
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.getElementById("nomatch") || {}).innerText || ""`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "--since 1h0m0s") || !strings.Contains(text, "match no packet") {
		t.Errorf("page does not say the filter matches nothing: %q", text)
	}
}
