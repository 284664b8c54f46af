package viz

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

var updateScreenshot = flag.Bool("screenshot", false, "write docs/report.png from the browser test")

// browser is a headless Chromium with no network, recording console errors
// and dialogs (an alert() means injected script ran).
type browser struct {
	ctx     context.Context
	mu      sync.Mutex
	errors  []string
	dialogs []string
}

func chromiumPath(t testing.TB) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("needs Chromium: install the Debian package chromium (or set CHROMIUM)")
	return ""
}

// chromium is the one headless Chromium the package's tests share, started
// by the first test that needs it: a start took seconds on a quiet machine
// and tens of seconds on a busy one, and there are sixteen such tests. Each
// test has a tab of its own (its own page, console and dialogs).
var chromium struct {
	once sync.Once
	ctx  context.Context // the browser's first tab; tabs are made from it
	stop func()
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.stop != nil {
		chromium.stop()
	}
	if chromium.dir != "" {
		os.RemoveAll(chromium.dir)
	}
	os.Exit(code)
}

func startChromium(exe string) {
	dir, err := os.MkdirTemp("", "tcpviz-chromium-")
	if err != nil {
		chromium.err = err
		return
	}
	chromium.dir = dir
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// No network: every host resolves to nothing and any proxy use fails.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.ProxyServer("127.0.0.1:9"),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	chromium.stop = func() { cancelC(); cancelA() }
	// The first action starts the browser, which lives as long as the
	// context of that action: a time limit goes around it, not in it.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute): // 2 shared cores can be very busy
		chromium.stop()
		err = fmt.Errorf("no browser after 5 minutes: %w", <-done)
	}
	if err != nil {
		chromium.err = err
		return
	}
	chromium.ctx = ctx
}

// newBrowser opens a tab in the shared Chromium for t, closed when t ends.
func newBrowser(t testing.TB) *browser {
	exe := chromiumPath(t)
	chromium.once.Do(func() { startChromium(exe) })
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	ctx, cancelC := chromedp.NewContext(chromium.ctx)
	ctx, cancelT := context.WithTimeout(ctx, 5*time.Minute) // 2 shared cores can be very busy
	t.Cleanup(func() { cancelT(); cancelC() })
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a chromium tab: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
				b.mu.Unlock()
			}
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

func (b *browser) problems() (errs, dialogs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...), append([]string(nil), b.dialogs...)
}

// chartsReady is true once every chart container holds a canvas and ECharts
// has finished its first render.
const chartsReadyJS = `(() => {
  const els = document.querySelectorAll("[_echarts_instance_]");
  if (els.length === 0) return -1;
  for (const el of els) {
    if (!el.querySelector("canvas")) return 0;
  }
  return els.length;
})()`

// load opens a page and waits until its charts are drawn; it returns the
// number of charts and the time from navigation to drawn charts.
func (b *browser) load(t testing.TB, path string) (int, time.Duration) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Do(b.ctx, chromedp.Navigate("file://"+abs)); err != nil {
		t.Fatalf("navigate %s: %v", path, err)
	}
	for {
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](chartsReadyJS))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if n != 0 {
			// Let ECharts paint the frame it scheduled.
			if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))`, chromedp.EvalAwaitPromise)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return n, time.Since(start)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s: charts not drawn after 30 s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// blank reports whether an image is (nearly) one colour.
func distinctColours(img image.Image, limit int) int {
	seen := map[uint32]bool{}
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y += 2 {
		for x := bnd.Min.X; x < bnd.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[(r>>8)<<16|(g>>8)<<8|bl>>8] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// checkCharts screenshots every chart container shown and fails on a blank
// one (the report's charts are hidden while a connection page is open).
func (b *browser) checkCharts(t *testing.T, page string) {
	t.Helper()
	ids, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("[_echarts_instance_]")).filter(e => e.offsetParent !== null).map(e => e.id)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		shot, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("%s: screenshot of chart %s: %v", page, id, err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("%s: chart %s: %v", page, id, err)
		}
		if n := distinctColours(img, 16); n < 8 {
			t.Errorf("%s: chart %s looks blank (%d colours)", page, id, n)
		}
	}
}

func writeSynthReport(t testing.TB, dir string, cfg synthConfig, o Options) ([]string, *Report) {
	t.Helper()
	c := NewCollector(Limits{}, o.Filter)
	out := synthesize(cfg, c)
	r, err := Build(c, out.Flows, out.Summary, o)
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files, r
}

func TestPagesRenderInChromium(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	files, r := writeSynthReport(t, dir, synthConfig{Flows: 6, Packets: 4000, LossEvery: 400, Kernel: true, Comm: "iperf3"},
		Options{Title: "tcpviz report: synthetic bulk transfers", Source: "synthetic capture"})
	want := 0
	for _, s := range r.Sections {
		want += len(s.Charts)
	}
	for _, f := range files {
		n, took := b.load(t, f)
		t.Logf("%s: %d charts in %v", filepath.Base(f), n, took)
		if filepath.Base(f) == FileReport && n != want {
			t.Errorf("report.html: %d charts drawn, built %d", n, want)
		}
		b.checkCharts(t, filepath.Base(f))
	}
	errs, dialogs := b.problems()
	if len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
	if len(dialogs) > 0 {
		t.Errorf("dialogs opened: %q", dialogs)
	}
	if *updateScreenshot {
		// The README's quick start: parse-pcap --report on this sample.
		shots := t.TempDir()
		in, err := Load(t.Context(), filepath.Join("..", "samples", "kernel-lossy-bulk.pcapng"), LoadOptions{Pipeline: pipecfg.Detectors()})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Build(in.Collector, in.Flows, in.Summary, Options{Title: "tcpviz report: kernel-lossy-bulk.pcapng", Source: "samples/kernel-lossy-bulk.pcapng"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.WriteFiles(shots); err != nil {
			t.Fatal(err)
		}
		b.screenshot(t, filepath.Join(shots, FileReport), "../docs/report.png")
	}
}

// screenshot writes a PNG of the top of report.html, halved, for the docs.
func (b *browser) screenshot(t *testing.T, report, out string) {
	if _, took := b.load(t, report); took <= 0 {
		t.Fatal("report not loaded")
	}
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	small := halve(img, 3200)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, small); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, buf.Len())
}

// halve scales an image to half size (box filter), keeping at most maxH
// source rows.
func halve(img image.Image, maxH int) image.Image {
	bnd := img.Bounds()
	h := bnd.Dy()
	if h > maxH {
		h = maxH
	}
	out := image.NewRGBA(image.Rect(0, 0, bnd.Dx()/2, h/2))
	for y := 0; y < h/2; y++ {
		for x := 0; x < bnd.Dx()/2; x++ {
			var rs, gs, bs uint32
			for dy := 0; dy < 2; dy++ {
				for dx := 0; dx < 2; dx++ {
					r, g, b, _ := img.At(bnd.Min.X+2*x+dx, bnd.Min.Y+2*y+dy).RGBA()
					rs, gs, bs = rs+r, gs+g, bs+b
				}
			}
			o := out.PixOffset(x, y)
			out.Pix[o], out.Pix[o+1], out.Pix[o+2], out.Pix[o+3] = uint8(rs>>10), uint8(gs>>10), uint8(bs>>10), 255
		}
	}
	return out
}

func TestHostileCommDoesNotExecute(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	const comm = `<img src=x onerror=alert(1)>`
	const reason = `<img src=y onerror=alert(6)>`
	c := NewCollector(Limits{}, Filter{})
	// The first retransmission marker carries a hostile reason: the tooltip
	// formatter shows it.
	c.Event(&events.Event{Type: events.TypeRetransmission, Flow: 1, TS: 1_700_000_000_000_000_000, Reason: reason,
		Src: "10.0.0.1:40000", Dst: "10.0.1.1:5201", Severity: events.SevWarn})
	out := synthesize(synthConfig{Flows: 2, Packets: 800, LossEvery: 200, Kernel: true, Comm: comm}, c)
	r, err := Build(c, out.Flows, out.Summary, Options{Title: `</title><script>alert(2)</script>`, Source: `"><svg onload=alert(3)>`})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	if len(r.Processes) == 0 || r.Processes[0].Comm != comm {
		t.Fatalf("processes = %+v, want the hostile comm kept as text", r.Processes)
	}
	for _, name := range []string{FileReport, FileSummary, FileTimeline} {
		b.load(t, filepath.Join(dir, name))
		injected, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("img, svg:not([_echarts_instance_] svg), body script:not([nonce])").length`))
		if err != nil {
			t.Fatal(err)
		}
		if injected != 0 {
			t.Errorf("%s: %d injected elements", name, injected)
		}
		if name == FileTimeline {
			continue
		}
		text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, comm) {
			t.Errorf("%s: the comm is not shown as text", name)
		}
	}
	// Show the tooltip of the hostile marker (timeline.html is loaded).
	tip, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => {
	  const c = echarts.getInstanceByDom(document.getElementById("c_timeline"));
	  const names = c.getOption().series.map(s => s.name);
	  const i = names.findIndex(n => n.startsWith("retransmission"));
	  c.dispatchAction({type: "showTip", seriesIndex: i, dataIndex: 0});
	  return document.body.innerText; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tip, reason) {
		t.Errorf("tooltip does not show the reason as text")
	}
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
	if err != nil || n != 0 {
		t.Errorf("tooltip injected %d img elements (%v)", n, err)
	}
	time.Sleep(200 * time.Millisecond)
	errs, dialogs := b.problems()
	if len(dialogs) > 0 {
		t.Errorf("script from the capture ran: dialogs %q", dialogs)
	}
	if len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// TestRenderFile loads the page named by TCPVIZ_RENDER (used by
// scripts/bench-report.sh) and reports the time to drawn charts; with
// TCPVIZ_SHOT it also writes a screenshot there.
func TestRenderFile(t *testing.T) {
	path := os.Getenv("TCPVIZ_RENDER")
	if path == "" {
		t.Skip("set TCPVIZ_RENDER to a report.html to time its rendering")
	}
	b := newBrowser(t)
	b.load(t, path) // warm-up: Chromium's first page pays for process start-up
	// Main-thread CPU time as well as wall time: on a busy machine the wall
	// clock mostly measures the wait for a core.
	if _, err := chromedp.Call(b.ctx, performance.Enable, performance.EnableParams{TimeDomain: performance.EnableTimeDomainThreadTicks}); err != nil {
		t.Fatal(err)
	}
	before := cpuMetrics(t, b)
	n, took := b.load(t, path)
	after := cpuMetrics(t, b)
	nav, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => {
	  const n = performance.getEntriesByType("navigation")[0];
	  return "parsed (domInteractive) " + n.domInteractive.toFixed(0) + " ms, load event " + n.loadEventEnd.toFixed(0) + " ms"; })()`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("render %s: %.2f MB, %d charts drawn in %.0f ms wall (%s); main thread CPU %.0f ms (script %.0f ms)\n", filepath.Base(path),
		float64(st.Size())/(1<<20), n, float64(took.Microseconds())/1000, nav,
		1000*(after["TaskDuration"]-before["TaskDuration"]), 1000*(after["ScriptDuration"]-before["ScriptDuration"]))
	b.checkCharts(t, filepath.Base(path))
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
	if os.Getenv("TCPVIZ_RENDER_FLOW") != "" {
		renderConnPage(t, b, path)
	}
	if out := os.Getenv("TCPVIZ_SHOT"); out != "" {
		b.screenshot(t, path, out)
	}
}

// renderConnPage times the connection page of the first detailed
// connection: from the click to every panel drawn, then a zoom to 2 ms.
func renderConnPage(t *testing.T, b *browser, path string) {
	flow, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`Number(Object.keys(tcpvizData.conns || {})[0] || 0)`))
	if err != nil || flow == 0 {
		t.Fatalf("no detailed connection in %s (%v)", path, err)
	}
	if _, err := chromedp.Call(b.ctx, performance.Enable, performance.EnableParams{TimeDomain: performance.EnableTimeDomainThreadTicks}); err != nil {
		t.Fatal(err)
	}
	before := cpuMetrics(t, b)
	start := time.Now()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { tcpvizViews.go(%d); return true; })()`, flow))); err != nil {
		t.Fatal(err)
	}
	waitView(t, b, uint64(flow))
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	after := cpuMetrics(t, b)
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`tcpvizConn.data(tcpvizConn.state().flow).n`))
	if err != nil {
		t.Fatal(err)
	}
	zs := time.Now()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { const s = tcpvizConn.state(); const m = (s.view[0] + s.view[1]) / 2e9;
	  tcpvizConn.zoom(m, m + 0.002); return tcpvizConn.state().detail; })()`)); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("render %s#flow=%d: %d packets, 5 panels drawn in %.0f ms wall; main thread CPU %.0f ms (script %.0f ms); zoom to 2 ms %.0f ms\n",
		filepath.Base(path), flow, n, float64(took.Microseconds())/1000,
		1000*(after["TaskDuration"]-before["TaskDuration"]), 1000*(after["ScriptDuration"]-before["ScriptDuration"]),
		float64(time.Since(zs).Microseconds())/1000)
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
}

func cpuMetrics(t *testing.T, b *browser) map[string]float64 {
	t.Helper()
	res, err := chromedp.Call(b.ctx, performance.GetMetrics, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for _, x := range res.Metrics {
		m[x.Name] = x.Value
	}
	return m
}
