package viz

// The compare views (#pair=N, #compare=1,4) in headless Chromium: the
// figures they show are the pairing engine's and the collector's.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pairing"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// waitCharts waits until the view holds n drawn charts.
func waitCharts(t *testing.T, b *browser, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	js := `(() => { const els = document.querySelectorAll("#view [_echarts_instance_]");
	  for (const e of els) { if (!e.querySelector("canvas")) return 0; }
	  return els.length; })()`
	for {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the view shows %d charts, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// TestPairingViewInChromium builds the report of a sender-side sample
// paired with its receiver-side twin, as report --in A --in B does, and
// checks that the report's pairing table and the #pair=N view show the
// engine's figures: sent and lost counts, delays, every lost segment on
// the time-sequence graph with its frame, every delay sample.
func TestPairingViewInChromium(t *testing.T) {
	b := newBrowser(t)
	a, bpath := filepath.Join("..", "samples", "cubic-loss-sender.pcapng"), filepath.Join("..", "samples", "cubic-loss-receiver.pcapng")
	rec := pairing.NewRecorder(a, 0)
	segs := NewSegments(SegmentLimits{}, Filter{}, nil)
	in, err := Load(t.Context(), a, LoadOptions{Pipeline: pipecfg.Detectors(), Segments: segs, Sinks: []pipeline.Sink{rec}})
	if err != nil {
		t.Fatal(err)
	}
	capB, err := pairing.Read(t.Context(), bpath, pipeline.Config{Flows: conntrack.DefaultConfig()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	res := pairing.Pair(rec.Capture(), capB)
	if len(res.Conns) != 1 || res.Conns[0].Dirs[0].DataLost == 0 {
		t.Fatalf("the samples should pair into one lossy connection: %+v", res.Conns)
	}
	writeAndLoad(t, b, in, Options{Pairing: res, CaptureFile: a, Segments: segs})
	c := &res.Conns[0]
	cell := func(scope, dir, k string) string {
		return eval[string](t, b, fmt.Sprintf(`(() => { const e = document.querySelector('%s tr[data-dir="%s"] td[data-k="%s"]'); return e ? e.textContent : "none"; })()`, scope, dir, k))
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	check := func(scope string) {
		t.Helper()
		for d := range c.Dirs {
			s := &c.Dirs[d]
			for k, want := range map[string]string{"data_sent": strconv.Itoa(s.DataSent), "data_lost": strconv.Itoa(s.DataLost),
				"acks_sent": strconv.Itoa(s.ACKsSent), "acks_lost": strconv.Itoa(s.ACKsLost),
				"min_ms": num(s.Delay.MinMS), "p50_ms": num(s.Delay.P50MS), "p95_ms": num(s.Delay.P95MS), "max_ms": num(s.Delay.MaxMS)} {
				if got := cell(scope, s.Dir, k); got != want {
					t.Errorf("%s %s %s: page shows %q, engine %s", scope, s.Dir, k, got, want)
				}
			}
		}
	}
	check("#pairs")

	// The connection's view, from the link in the pairing table.
	eval[bool](t, b, fmt.Sprintf(`(() => { document.querySelector('#pairs a[href="#pair=%d"]').click(); return true; })()`, c.FlowA))
	waitCharts(t, b, 2)
	check("#pair-figures")
	up := &c.Dirs[0] // the data went c2s
	type series struct {
		ID   string      `json:"id"`
		Data [][]float64 `json:"data"`
	}
	seriesOf := func(id string) []series {
		js := eval[string](t, b, fmt.Sprintf(`JSON.stringify(echarts.getInstanceByDom(document.getElementById(%q)).getOption().series.map(s => ({id: s.id, data: s.data})))`, id))
		var out []series
		if err := json.Unmarshal([]byte(js), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tsg := seriesOf("pair_tsg")
	var lostFrames []uint64
	for _, s := range tsg {
		if s.ID == "lost:A" {
			for _, it := range s.Data {
				lostFrames = append(lostFrames, uint64(it[5]))
			}
		}
	}
	if !slices.Equal(lostFrames, up.LostFrames) {
		t.Errorf("lost segments on the time-sequence graph, frames in A %v; engine %v", lostFrames, up.LostFrames)
	}
	for d, s := range seriesOf("pair_delay") {
		if d >= 2 {
			break // lost ACKs
		}
		st := &c.Dirs[d]
		var ms []float64
		for _, it := range s.Data {
			ms = append(ms, it[1])
		}
		sort.Float64s(ms)
		if len(ms) != st.Delay.Samples || ms[0] != st.Delay.MinMS || ms[len(ms)-1] != st.Delay.MaxMS || ms[int(0.5*float64(len(ms)-1))] != st.Delay.P50MS {
			t.Errorf("%s: %d delay points on the chart (min/median/max %v/%v/%v), engine %d (%v/%v/%v)", st.Dir, len(ms),
				ms[0], ms[int(0.5*float64(len(ms)-1))], ms[len(ms)-1], st.Delay.Samples, st.Delay.MinMS, st.Delay.P50MS, st.Delay.MaxMS)
		}
	}
	if note := eval[string](t, b, `document.getElementById("pair-note").textContent`); note != pairing.DelayNote {
		t.Errorf("the view's note %q, want the engine's %q", note, pairing.DelayNote)
	}
	b.checkCharts(t, "pairing view")

	// The connection's own page carries the delay panel on its linked axis.
	eval[string](t, b, fmt.Sprintf(`location.hash = "flow=%d"`, c.FlowA))
	waitView(t, b, c.FlowA)
	owd := seriesOf("cv_owd")
	n := map[string]int{}
	for _, s := range owd {
		n[s.ID] = len(s.Data)
	}
	if n["owd:c2s"] != c.Dirs[0].Delay.Samples || n["owd:s2c"] != c.Dirs[1].Delay.Samples || n["lost:c2s"] != up.DataLost {
		t.Errorf("connection page's delay panel: %v; engine: %d and %d delays, %d lost", n, c.Dirs[0].Delay.Samples, c.Dirs[1].Delay.Samples, up.DataLost)
	}
	b.checkCharts(t, "connection page")
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
}

// TestCompareOverlayInChromium ticks two connections in the table, opens
// the overlay and checks that it draws exactly their series, as the
// collector kept them, on the time since each one's start.
func TestCompareOverlayInChromium(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	// Connections that start at different times: the overlay aligns them.
	files, r := writeSynthReport(t, dir, synthConfig{Flows: 5, Packets: 3000, LossEvery: 300}, Options{Title: "compare"})
	var ov map[string]struct {
		Label string       `json:"label"`
		Seq   [][2]float64 `json:"seq"`
	}
	if err := json.Unmarshal(r.data["overlay"], &ov); err != nil {
		t.Fatal(err)
	}
	if len(ov) < 3 {
		t.Fatalf("%d connections in the overlay data, want at least 3", len(ov))
	}
	var report string
	for _, f := range files {
		if filepath.Base(f) == FileReport {
			report = f
		}
	}
	b.load(t, report)
	pick := []string{"2", "4"}
	for _, f := range pick {
		eval[bool](t, b, fmt.Sprintf(`(() => { document.querySelector('#connections tr[data-flow="%s"] input.compare-pick').click(); return true; })()`, f))
	}
	if h := eval[string](t, b, `location.hash`); h != "" {
		t.Fatalf("ticking a connection navigated to %q", h)
	}
	eval[bool](t, b, `(() => { document.getElementById("compare-go").click(); return true; })()`)
	waitCharts(t, b, 1)
	if h := eval[string](t, b, `location.hash`); h != "#compare=2,4" {
		t.Errorf("location.hash %q, want #compare=2,4", h)
	}
	js := eval[string](t, b, `JSON.stringify(echarts.getInstanceByDom(document.getElementById("cmp_seq")).getOption().series.map(s => ({name: s.name, data: s.data})))`)
	var got []struct {
		Name string      `json:"name"`
		Data [][]float64 `json:"data"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pick) {
		t.Fatalf("%d series drawn, want %d", len(got), len(pick))
	}
	for i, f := range pick {
		want := ov[f]
		if got[i].Name != want.Label || len(got[i].Data) != len(want.Seq) {
			t.Errorf("series %d: %q with %d points, want %q with %d", i, got[i].Name, len(got[i].Data), want.Label, len(want.Seq))
			continue
		}
		for j, p := range want.Seq {
			if got[i].Data[j][0] != p[0] || got[i].Data[j][1] != p[1] {
				t.Errorf("series %d point %d: %v, want %v", i, j, got[i].Data[j], p)
				break
			}
		}
		if got[i].Data[0][0] < 0 || got[i].Data[0][0] > 0.01 {
			t.Errorf("series %d starts at %v s: not at its connection's start", i, got[i].Data[0][0])
		}
	}
	b.checkCharts(t, "compare view")
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
}
