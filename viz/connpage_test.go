package viz

// The connection pages (report.html#flow=N) in headless Chromium, checked
// against tshark: what opens them, the segments a zoomed view draws, the
// marks and the frame numbers.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// connReportOf builds a sample's report with the connection pages and loads
// report.html (the overview) in b.
func connReportOf(t *testing.T, b *browser, sample string, o Options) (*Report, string) {
	t.Helper()
	segs := NewSegments(SegmentLimits{}, o.Filter, o.Flows)
	in, err := Load(t.Context(), sample, LoadOptions{Pipeline: detectorPipeline(), Filter: o.Filter, Segments: segs})
	if err != nil {
		t.Fatal(err)
	}
	o.Segments, o.CaptureFile = segs, sample
	r, err := Build(in.Collector, in.Flows, in.Summary, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, FileReport)
	b.load(t, page)
	return r, page
}

// waitView waits until the connection view of flow is drawn: every panel
// holds a canvas.
func waitView(t *testing.T, b *browser, flow uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	js := fmt.Sprintf(`(() => { const s = window.tcpvizConn && tcpvizConn.state();
	  if (!s || s.flow !== %d) return 0;
	  const els = document.querySelectorAll("#view [_echarts_instance_]");
	  for (const e of els) { if (!e.querySelector("canvas")) return 0; }
	  return els.length; })()`, flow)
	for {
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page of connection %d did not open", flow)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConnPageOpensFromTable(t *testing.T) {
	b := newBrowser(t)
	r, _ := connReportOf(t, b, filepath.Join("..", "samples", "cubic-loss-sender.pcapng"), Options{})
	if len(r.Detailed) == 0 {
		t.Fatal("no connection detailed")
	}
	flow := r.Detailed[0]
	// A click on the row (not its link) of the connections table.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(
		`(() => { document.querySelector('#connections tr[data-flow="%d"] td:nth-child(4)').click(); return true; })()`, flow))); err != nil {
		t.Fatal(err)
	}
	waitView(t, b, flow)
	hash, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.hash`))
	if err != nil || hash != fmt.Sprintf("#flow=%d", flow) {
		t.Fatalf("location.hash = %q (%v)", hash, err)
	}
	ids, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#view [_echarts_instance_]")).map(e => e.id)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "cv_tsg,cv_cong,cv_rtt,cv_tput,cv_events"; strings.Join(ids, ",") != want {
		t.Errorf("panels %v, want %s", ids, want)
	}
	b.checkCharts(t, "connection page")
	// The report's own sections are hidden while the view is open.
	shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll("main > section:not(#view)")).filter(s => s.offsetHeight > 0).length`))
	if err != nil || shown != 0 {
		t.Errorf("%d report sections still shown (%v)", shown, err)
	}
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
}
