package viz

// The connection pages (report.html#flow=N) in headless Chromium, checked
// against tshark: what opens them, the segments a zoomed view draws, the
// marks and the frame numbers.

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// connReportOf builds a sample's report with the connection pages and loads
// report.html (the overview) in b.
func connReportOf(t *testing.T, b *browser, sample string, o Options) (*Report, string) {
	t.Helper()
	segs := NewSegments(SegmentLimits{}, o.Filter, o.Flows)
	in, err := Load(t.Context(), sample, LoadOptions{Pipeline: pipecfg.Detectors(), Filter: o.Filter, Segments: segs})
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

// tsharkFrame is one frame as tshark decodes it.
type tsharkFrame struct {
	frame            uint64
	ns               int64
	stream           int64 // -1: not TCP
	seq, len, ack    int64
	sack, dsack      bool
	dsackL, dsackR   int64
	retrans, kernelB bool
}

// tsharkFrames lists every frame of a capture (kernel records included).
func tsharkFrames(t *testing.T, path string) map[uint64]tsharkFrame {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark)")
	}
	out, err := exec.Command("tshark", "-r", path, "-n", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f",
		"-e", "frame.number", "-e", "frame.time_epoch", "-e", "tcp.stream", "-e", "tcp.seq", "-e", "tcp.len", "-e", "tcp.ack",
		"-e", "tcp.options.sack.count", "-e", "tcp.options.sack.dsack_le", "-e", "tcp.options.sack.dsack_re",
		"-e", "tcp.analysis.retransmission", "-e", "frame.cb_pen").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	num := func(s string) int64 {
		if s == "" {
			return -1
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("tshark value %q", s)
		}
		return v
	}
	fr := map[uint64]tsharkFrame{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 11 {
			t.Fatalf("tshark line %q", line)
		}
		x := tsharkFrame{frame: uint64(num(f[0])), stream: num(f[2]), seq: num(f[3]), len: num(f[4]), ack: num(f[5]),
			sack: num(f[6]) > 0, dsack: f[7] != "", dsackL: num(f[7]), dsackR: num(f[8]), retrans: f[9] != "", kernelB: f[10] != ""}
		if f[1] != "" {
			x.ns = epochNS(t, f[1])
		}
		fr[x.frame] = x
	}
	return fr
}

// tsgPage is what the open connection page's time-sequence chart holds:
// per series, the frame and time (ns from the origin) of each item, and
// for segments the sequence number and how many segments an item stands for.
type tsgPage struct {
	Origin string               `json:"origin"`
	Flow   uint64               `json:"flow"`
	Stream int64                `json:"stream"`
	Frames []uint64             `json:"frames"`
	View   [2]float64           `json:"view"`
	Detail bool                 `json:"detail"`
	Series map[string][][]any   `json:"series"`
	Zooms  map[string][]float64 `json:"zooms"`
}

const tsgPageJS = `(() => {
  const s = tcpvizConn.state(), d = tcpvizConn.data(s.flow), out = {};
  const ch = echarts.getInstanceByDom(document.getElementById("cv_tsg"));
  for (const se of ch.getOption().series) { out[se.name] = se.data; }
  const zooms = {};
  for (const c of tcpvizConn.charts()) {
    const dz = c.getOption().dataZoom[0];
    zooms[c.getDom().id] = [dz.startValue, dz.endValue];
  }
  return JSON.stringify({origin: tcpvizClock.origin_ns, flow: s.flow, stream: d.stream, frames: Array.from(d.f),
    view: s.view, detail: s.detail, series: out, zooms: zooms});
})()`

func readTSG(t *testing.T, b *browser) tsgPage {
	t.Helper()
	var p tsgPage
	evalJSON(t, b, tsgPageJS, &p)
	return p
}

// framesOf lists the frames of a series' items with times in [lo, hi] ns
// (items standing for one segment each).
func framesOf(items [][]any, lo, hi int64) []uint64 {
	var out []uint64
	for _, it := range items {
		if len(it) < 4 {
			continue
		}
		ns := int64(it[3].(float64))
		if len(it) > 5 && it[5].(float64) != 1 {
			continue // a bucket
		}
		if ns >= lo && ns <= hi {
			out = append(out, uint64(it[2].(float64)))
		}
	}
	return out
}

func sortedFrames(m map[uint64]bool) []uint64 {
	var out []uint64
	for f := range m {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// TestConnPageAgainstTshark opens a lossy transfer's page and checks it
// against tshark: the stream number, a 2 ms zoom that draws every frame of
// the connection one by one, SACK and D-SACK blocks, the retransmission
// marks and the frame numbers in tooltips.
func TestConnPageAgainstTshark(t *testing.T) {
	b := newBrowser(t)
	path := filepath.Join("..", "samples", "cubic-loss-sender.pcapng")
	tf := tsharkFrames(t, path)
	r, page := connReportOf(t, b, path, Options{})
	flow := r.Detailed[0]
	if err := chromedp.Do(b.ctx, chromedp.Navigate("file://"+mustAbs(t, page)+fmt.Sprintf("#flow=%d", flow))); err != nil {
		t.Fatal(err)
	}
	waitView(t, b, flow)
	p := readTSG(t, b)
	origin, _ := strconv.ParseInt(p.Origin, 10, 64)

	// Every packet of the connection is on the page, and tshark puts each in
	// the stream the page names.
	inStream := map[uint64]bool{}
	for f, x := range tf {
		if x.stream == p.Stream {
			inStream[f] = true
		}
	}
	for _, f := range p.Frames {
		if !inStream[f] {
			t.Fatalf("frame %d of connection %d: tshark's tcp.stream is %d, the page says tcp.stream == %d", f, flow, tf[f].stream, p.Stream)
		}
	}
	if len(p.Frames) != len(inStream) {
		t.Fatalf("page holds %d frames of connection %d, tshark %d in tcp.stream == %d", len(p.Frames), flow, len(inStream), p.Stream)
	}

	// SACK blocks and the D-SACK: on the ACKs tshark decodes them on.
	wantSACK, wantD := map[uint64]bool{}, map[uint64]bool{}
	for f := range inStream {
		if tf[f].sack {
			wantSACK[f] = true
		}
		if tf[f].dsack {
			wantD[f] = true
		}
	}
	all := int64(1) << 62
	gotSACK := map[uint64]bool{}
	for _, f := range append(framesOf(p.Series["SACK"], 0, all), framesOf(p.Series["D-SACK"], 0, all)...) {
		gotSACK[f] = true
	}
	if !slices.Equal(sortedFrames(gotSACK), sortedFrames(wantSACK)) || len(wantSACK) == 0 {
		t.Errorf("SACK blocks on frames %v, tshark %v", sortedFrames(gotSACK), sortedFrames(wantSACK))
	}
	gotD := map[uint64]bool{}
	for _, f := range framesOf(p.Series["D-SACK"], 0, all) {
		gotD[f] = true
	}
	if !slices.Equal(sortedFrames(gotD), sortedFrames(wantD)) || len(wantD) == 0 {
		t.Errorf("D-SACK on frames %v, tshark %v", sortedFrames(gotD), sortedFrames(wantD))
	}

	checkMarks(t, p, tf, wantD, "fast retransmission", "tail-loss probe", "spurious retransmission")

	// Zoom the linked axis (a dataZoom on the time-sequence chart, as the
	// wheel does) to 2 ms in the busiest part, bounds half-way between
	// packets.
	var times []int64
	for f := range inStream {
		times = append(times, tf[f].ns-origin)
	}
	slices.Sort(times)
	best, at := 0, 1
	for i := 1; i < len(times); i++ {
		k := sort.Search(len(times), func(j int) bool { return times[j] > times[i]+2_000_000 })
		if k < len(times) && k-i > best {
			best, at = k-i, i
		}
	}
	lo := (times[at-1] + times[at]) / 2
	k := sort.Search(len(times), func(i int) bool { return times[i] > lo+2_000_000 })
	hi := (times[k-1] + times[k]) / 2
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
	  echarts.getInstanceByDom(document.getElementById("cv_tsg")).dispatchAction({type: "dataZoom", startValue: %d / 1e9, endValue: %d / 1e9});
	  return true; })()`, lo, hi))); err != nil {
		t.Fatal(err)
	}
	p = readTSG(t, b)
	if !p.Detail {
		t.Fatalf("zoomed to %d ns the page still draws buckets", hi-lo)
	}
	for id, z := range p.Zooms {
		if math.Abs(z[0]*1e9-float64(lo)) > 1000 || math.Abs(z[1]*1e9-float64(hi)) > 1000 {
			t.Errorf("panel %s shows [%v, %v] s, not the zoomed window [%d, %d] ns", id, z[0], z[1], lo, hi)
		}
	}
	want := map[uint64]bool{}
	for f := range inStream {
		if ns := tf[f].ns - origin; ns >= lo && ns <= hi {
			want[f] = true
		}
	}
	got := map[uint64]bool{}
	n := 0
	for _, name := range []string{"segments", "ACK"} {
		for _, f := range framesOf(p.Series[name], lo, hi) {
			got[f] = true
			n++
		}
	}
	if n != len(want) || !slices.Equal(sortedFrames(got), sortedFrames(want)) {
		t.Errorf("2 ms window [%d, %d] ns: %d items drawn (frames %v), tshark %d frames (%v)", lo, hi, n, sortedFrames(got), len(want), sortedFrames(want))
	}
	t.Logf("2 ms window: %d frames drawn one by one, as tshark counts", n)

	// Tooltips: the frame a segment's tooltip names is that segment in
	// tshark (same time and sequence number).
	segs := p.Series["segments"]
	checked := 0
	for i, it := range segs {
		ns := int64(it[3].(float64))
		if ns < lo || ns > hi || checked >= 5 {
			continue
		}
		checked++
		tip, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		  const ch = echarts.getInstanceByDom(document.getElementById("cv_tsg"));
		  ch.dispatchAction({type: "showTip", seriesIndex: 0, dataIndex: %d});
		  const el = document.querySelector("#cv_tsg > div:last-child");
		  return el ? el.innerText : ""; })()`, i)))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`frame: (\d+)`).FindStringSubmatch(tip)
		if m == nil {
			t.Fatalf("tooltip of segment %d has no frame: %q", i, tip)
		}
		f, _ := strconv.ParseUint(m[1], 10, 64)
		x := tf[f]
		if x.ns-origin != ns || x.seq != int64(it[1].(float64)) || x.stream != p.Stream {
			t.Errorf("tooltip names frame %d; tshark's frame %d is at %d ns seq %d stream %d, the segment at %d ns seq %v", f, f, x.ns-origin, x.seq, x.stream, ns, it[1])
		}
	}
	if checked == 0 {
		t.Fatal("no segment in the zoomed window")
	}
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkMarks: each kind is marked at least once, on segments tshark calls
// retransmissions; a spurious one is a segment a D-SACK reports received
// twice.
func checkMarks(t *testing.T, p tsgPage, tf map[uint64]tsharkFrame, dsacks map[uint64]bool, kinds ...string) {
	t.Helper()
	for _, kind := range kinds {
		fs := framesOf(p.Series[kind], 0, 1<<62)
		if len(fs) == 0 {
			t.Errorf("no %s marked", kind)
		}
		for _, f := range fs {
			x := tf[f]
			if !x.retrans {
				t.Errorf("%s marked on frame %d, which tshark does not call a retransmission", kind, f)
			}
			if kind != "spurious retransmission" {
				continue
			}
			covered := false
			for d := range dsacks {
				if x.seq >= tf[d].dsackL && x.seq+x.len <= tf[d].dsackR {
					covered = true
				}
			}
			if !covered {
				t.Errorf("spurious retransmission marked on frame %d (seq %d, len %d): no D-SACK covers it", f, x.seq, x.len)
			}
		}
		t.Logf("%s: %d marked, on frames tshark calls retransmissions", kind, len(fs))
	}
}

// TestConnPageMarksRTO: a retransmission after a retransmission timeout is
// marked as one. No sample has one any more (Linux's timeouts are at least
// 200 ms; what the BBR sample's 19 ms "timeout" was is RACK's reorder
// timer, a fast retransmission), so the connection is written here: the
// last two segments of a burst go unanswered and the first of them is sent
// again 300 ms later, with no duplicate ACK or SACK before it. The report is built as
// `report --flow 1` builds it, so it must open on that page by itself.
func TestConnPageMarksRTO(t *testing.T) {
	b := newBrowser(t)
	path := filepath.Join(t.TempDir(), "rto.pcap")
	writeRTOCapture(t, path)
	tf := tsharkFrames(t, path)
	const flow = 1
	r, _ := connReportOf(t, b, path, Options{Flows: []uint64{flow}, DetailConns: -1})
	if !slices.Equal(r.Detailed, []uint64{flow}) {
		t.Fatalf("detailed %v, want only the --flow %d", r.Detailed, flow)
	}
	waitView(t, b, flow)
	checkMarks(t, readTSG(t, b), tf, nil, "RTO retransmission")
}

// writeRTOCapture writes one connection: a handshake, six data segments of
// which the receiver acknowledges four, the fifth and sixth sent again after
// 300 ms of silence, their ACKs, and a close.
func writeRTOCapture(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := capgen.NewWriter(f)
	cli, srv := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	const mss, rtt = 1000, int64(10 * time.Millisecond)
	ts := capgen.Start
	seg := func(fromClient bool, seq, ack uint32, flags uint8, n int) {
		s := capgen.Segment{TS: ts, Src: cli, Dst: srv, SrcPort: 40000, DstPort: 80, Seq: seq, Ack: ack,
			Flags: flags, Window: 65535, Len: n, SYNOptions: flags&capgen.SYN != 0}
		if !fromClient {
			s.Src, s.Dst, s.SrcPort, s.DstPort = srv, cli, 80, 40000
		}
		if err := w.Write(&s); err != nil {
			t.Fatal(err)
		}
	}
	const c0, s0 = 1000, 5000 // initial sequence numbers
	seg(true, c0, 0, capgen.SYN, 0)
	ts += rtt
	seg(false, s0, c0+1, capgen.SYN|capgen.ACK, 0)
	ts += 100_000
	seg(true, c0+1, s0+1, capgen.ACK, 0)
	for i := range 6 {
		ts += 100_000
		seg(true, c0+1+uint32(i*mss), s0+1, capgen.ACK|capgen.PSH, mss)
	}
	ts += rtt
	seg(false, s0+1, c0+1+4*mss, capgen.ACK, 0) // the fifth and sixth are lost
	// 300 ms of silence, then the fifth again: a timeout (a loss probe
	// would have sent the last segment, the sixth), and the sixth after it
	// as the ACK comes back, still in the timeout's recovery.
	ts += 300 * int64(time.Millisecond)
	seg(true, c0+1+4*mss, s0+1, capgen.ACK|capgen.PSH, mss)
	ts += rtt
	seg(false, s0+1, c0+1+5*mss, capgen.ACK, 0)
	ts += 50_000
	seg(true, c0+1+5*mss, s0+1, capgen.ACK|capgen.PSH, mss)
	ts += rtt
	seg(false, s0+1, c0+1+6*mss, capgen.ACK, 0)
	ts += 100_000
	seg(true, c0+1+6*mss, s0+1, capgen.FIN|capgen.ACK, 0)
	ts += rtt
	seg(false, s0+1, c0+2+6*mss, capgen.FIN|capgen.ACK, 0)
	ts += 100_000
	seg(true, c0+2+6*mss, s0+2, capgen.ACK, 0)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// tee feeds two sinks.
type tee [2]synthSink

func (t tee) Packet(p *events.Packet) { t[0].Packet(p); t[1].Packet(p) }
func (t tee) Event(e *events.Event)   { t[0].Event(e); t[1].Event(e) }

// TestConnPageHostileStrings: a hostile process name and capture path
// reach the connection page as text, never as markup or script.
func TestConnPageHostileStrings(t *testing.T) {
	b := newBrowser(t)
	const comm = `<img src=x onerror=alert(7)>`
	const file = `/tmp/x'; alert(8); '<svg onload=alert(9)>.pcap`
	c := NewCollector(Limits{}, Filter{})
	segs := NewSegments(SegmentLimits{}, Filter{}, nil)
	out := synthesize(synthConfig{Flows: 2, Packets: 800, LossEvery: 200, Kernel: true, Comm: comm}, tee{c, segs})
	r, err := Build(c, out.Flows, out.Summary, Options{Segments: segs, CaptureFile: file})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	if len(r.Detailed) == 0 {
		t.Fatal("no connection detailed")
	}
	b.load(t, filepath.Join(dir, FileReport))
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { tcpvizViews.go(%d); return true; })()`, r.Detailed[0]))); err != nil {
		t.Fatal(err)
	}
	waitView(t, b, r.Detailed[0])
	// The wireshark command in the header names the file, shell-quoted.
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("view").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, comm) {
		t.Errorf("the comm is not shown as text on the connection page")
	}
	if !strings.Contains(text, `'/tmp/x'\''; alert(8); '\''<svg onload=alert(9)>.pcap'`) {
		t.Errorf("the capture path is not shown shell-quoted: %q", text)
	}
	injected, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("img, svg:not([_echarts_instance_] svg), body script:not([nonce])").length`))
	if err != nil || injected != 0 {
		t.Errorf("%d injected elements (%v)", injected, err)
	}
	time.Sleep(200 * time.Millisecond)
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
}

// TestConnPageKernelFrames: the kernel's records on the congestion and RTT
// panels name their own frames (Wireshark numbers the custom blocks), and
// the RTT samples name the ACK that gave them, in the connection's stream.
func TestConnPageKernelFrames(t *testing.T) {
	b := newBrowser(t)
	path := filepath.Join("..", "samples", "kernel-lossy-bulk.pcapng")
	tf := tsharkFrames(t, path)
	r, _ := connReportOf(t, b, path, Options{})
	flow := r.Detailed[0]
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { tcpvizViews.go(%d); return true; })()`, flow))); err != nil {
		t.Fatal(err)
	}
	waitView(t, b, flow)
	var got struct {
		Stream int64              `json:"stream"`
		Cwnd   [][]any            `json:"cwnd"`
		RTT    [][]any            `json:"rtt"`
		Tips   map[string]string  `json:"tips"`
		Frames map[string]float64 `json:"frames"`
	}
	evalJSON(t, b, `(() => {
	  const cong = echarts.getInstanceByDom(document.getElementById("cv_cong"));
	  const rtt = echarts.getInstanceByDom(document.getElementById("cv_rtt"));
	  const cw = cong.getOption().series.find(s => s.name === "kernel cwnd").data;
	  const rs = rtt.getOption().series.find(s => s.name === "RTT sample").data;
	  const tip = (ch, name, i) => {
	    const si = ch.getOption().series.findIndex(s => s.name === name);
	    ch.dispatchAction({type: "showTip", seriesIndex: si, dataIndex: i});
	    const el = ch.getDom().querySelector("div:last-child");
	    return el ? el.innerText : "";
	  };
	  const i = Math.floor(cw.length / 2), j = Math.floor(rs.length / 2);
	  return JSON.stringify({stream: tcpvizConn.data(tcpvizConn.state().flow).stream, cwnd: cw, rtt: rs,
	    tips: {cwnd: tip(cong, "kernel cwnd", i), rtt: tip(rtt, "RTT sample", j)}, frames: {cwnd: cw[i][2], rtt: rs[j][2]}});
	})()`, &got)
	if len(got.Cwnd) == 0 || len(got.RTT) == 0 {
		t.Fatalf("%d kernel cwnd points, %d RTT samples", len(got.Cwnd), len(got.RTT))
	}
	for _, it := range got.Cwnd {
		if f := uint64(it[2].(float64)); !tf[f].kernelB {
			t.Errorf("kernel cwnd point names frame %d, which is not a tcpviz custom block in tshark", f)
		}
	}
	for _, it := range got.RTT {
		if f := uint64(it[2].(float64)); tf[f].stream != got.Stream {
			t.Errorf("RTT sample names frame %d, in tshark's stream %d, not %d", f, tf[f].stream, got.Stream)
		}
	}
	for k, tip := range got.Tips {
		if want := fmt.Sprintf("frame: %d", int64(got.Frames[k])); !strings.Contains(tip, want) {
			t.Errorf("%s tooltip %q does not say %q", k, tip, want)
		}
	}
	t.Logf("%d kernel cwnd points on custom-block frames, %d RTT samples on the stream's frames", len(got.Cwnd), len(got.RTT))
}

// clickPoint clicks, with the mouse, data item i of series si of a chart.
func clickPoint(t *testing.T, b *browser, chartID string, si, i int) {
	t.Helper()
	var xy [2]float64
	evalJSON(t, b, fmt.Sprintf(`(() => {
	  const dom = document.getElementById(%q), ch = echarts.getInstanceByDom(dom);
	  dom.scrollIntoView({block: "center"});
	  const d = ch.getOption().series[%d].data[%d], r = dom.getBoundingClientRect();
	  const px = ch.convertToPixel({seriesIndex: %d}, [d[0], d[1]]);
	  return JSON.stringify([r.left + px[0], r.top + px[1]]); })()`, chartID, si, i, si), &xy)
	if err := chromedp.Do(b.ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatal(err)
	}
}

// TestConnPageClicks: a click on a heatmap row opens that connection's
// page; a click on a retransmission mark gives the command that opens its
// frame in Wireshark.
func TestConnPageClicks(t *testing.T) {
	b := newBrowser(t)
	path := filepath.Join("..", "samples", "cubic-loss-sender.pcapng")
	r, _ := connReportOf(t, b, path, Options{})
	flow := r.Detailed[0]
	clickPoint(t, b, "c_heatmap", 0, 0)
	waitView(t, b, flow)
	var mark struct {
		Index int     `json:"i"`
		Frame float64 `json:"frame"`
	}
	// Zoomed in around the first fast retransmission, so no other mark
	// shares its pixels.
	evalJSON(t, b, `(() => {
	  const ch = echarts.getInstanceByDom(document.getElementById("cv_tsg"));
	  const i = ch.getOption().series.findIndex(s => s.name === "fast retransmission");
	  const d = ch.getOption().series[i].data[0];
	  tcpvizConn.zoom(d[0] - 0.0005, d[0] + 0.0005);
	  return JSON.stringify({i: i, frame: d[2]}); })()`, &mark)
	clickPoint(t, b, "cv_tsg", mark.Index, 0)
	deadline := time.Now().Add(10 * time.Second)
	want := fmt.Sprintf("wireshark -r '%s' -g %d", path, int64(mark.Frame))
	for {
		text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("cv-status").innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a click on the mark of frame %d the page says %q, want %q", int64(mark.Frame), text, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if errs, dialogs := b.problems(); len(errs)+len(dialogs) > 0 {
		t.Errorf("console errors %q, dialogs %q", errs, dialogs)
	}
}
