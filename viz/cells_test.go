package viz

// The report's table cells and the kernel-check card, recomputed from the
// capture by tshark, from events.jsonl and from the kernel's own counters
// (samples/kernel-counters.tsv), and compared with what Chromium reads out
// of the page.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// tsharkConn is a connection as recomputed from tshark's packets.
type tsharkConn struct {
	first, last int64             // ns
	bytes       map[string]uint64 // payload bytes by sending endpoint
	zeroNS      int64             // zero-window time, docs/figures.md's definition
	zero        map[string]bool   // endpoints whose window is closed now
	zeroFrom    int64
}

// tsharkConns reads every TCP packet of a capture with tshark and sums, per
// connection (keyed by its two endpoints), the payload each endpoint sent,
// the first and last packet and the zero-window time. Keys that tshark
// splits into several streams (a reused tuple) are dropped.
func tsharkConns(t *testing.T, path string) map[string]*tsharkConn {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark)")
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=/t",
		"-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
		"-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "tcp.stream", "-e", "tcp.len",
		"-e", "tcp.window_size_value", "-e", "tcp.flags.syn", "-e", "tcp.flags.fin", "-e", "tcp.flags.reset").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	conns := map[string]*tsharkConn{}
	stream := map[string]string{}
	ambiguous := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 13 {
			t.Fatalf("tshark line %q", line)
		}
		src, dst := f[1]+f[2], f[4]+f[5]
		if strings.Contains(src, ":") {
			src, dst = "["+src+"]", "["+dst+"]"
		}
		src, dst = src+":"+f[3], dst+":"+f[6]
		key := connKey(src, dst)
		if s, ok := stream[key]; ok && s != f[7] {
			ambiguous[key] = true
		}
		stream[key] = f[7]
		ns := epochNS(t, f[0])
		n, _ := strconv.ParseUint(f[8], 10, 64)
		win, _ := strconv.Atoi(f[9])
		syn, fin, rst := f[10] == "1", f[11] == "1", f[12] == "1"
		c := conns[key]
		if c == nil {
			c = &tsharkConn{first: ns, bytes: map[string]uint64{}, zero: map[string]bool{}}
			conns[key] = c
		}
		c.first, c.last = min(c.first, ns), ns
		c.bytes[src] += n
		// Zero window: from an advertisement of 0 (not SYN, FIN or RST) to
		// the same side's next open window (not RST); both sides joined.
		closed := func() bool {
			for _, z := range c.zero {
				if z {
					return true
				}
			}
			return false
		}
		switch {
		case syn || rst:
		case win == 0 && !fin && !c.zero[src]:
			if !closed() {
				c.zeroFrom = ns
			}
			c.zero[src] = true
		case win != 0 && c.zero[src]:
			c.zero[src] = false
			if !closed() {
				c.zeroNS += ns - c.zeroFrom
			}
		}
	}
	for key, c := range conns {
		for _, z := range c.zero {
			if z {
				c.zeroNS += c.last - c.zeroFrom
				break
			}
		}
		if ambiguous[key] {
			delete(conns, key)
		}
	}
	return conns
}

// jsonlRetrans reads events.jsonl: retransmission events per connection,
// and the relative sequence numbers of the inferred retransmissions and of
// the kernel's retransmit records.
func jsonlRetrans(t *testing.T, path string) (per map[uint64]int, inferred, kernel map[string]int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	per, inferred, kernel = map[uint64]int{}, map[string]int{}, map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Type string `json:"type"`
			Flow uint64 `json:"flow"`
			Dir  string `json:"dir"`
			Seq  uint32 `json:"seq"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%d/%s/%d", e.Flow, e.Dir, e.Seq)
		switch e.Type {
		case "retransmission":
			per[e.Flow]++
			inferred[k]++
		case "kernel_retransmit":
			kernel[k]++
		}
	}
	return per, inferred, kernel
}

// kernelRetransSegs reads the kernel's TcpRetransSegs for a sample from
// samples/kernel-counters.tsv (nstat in the sender's namespace).
func kernelRetransSegs(t *testing.T, sample string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "samples", "kernel-counters.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	col := -1
	for i, h := range strings.Split(lines[0], "\t") {
		if h == "TcpRetransSegs" {
			col = i
		}
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if f[0] == sample && col >= 0 {
			n, err := strconv.Atoi(f[col])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s not in kernel-counters.tsv", sample)
	return 0
}

const cellsJS = `(() => {
  const t = document.getElementById("connections");
  const heads = [...t.querySelectorAll("thead th")].map(th => th.textContent.trim());
  const rows = [...t.querySelectorAll("tbody tr[data-flow]")].map(tr => {
    const o = {};
    [...tr.children].forEach((td, i) => { o[heads[i]] = td.hasAttribute("data-v") ? td.getAttribute("data-v") : td.textContent; });
    return o;
  });
  const wh = [...document.querySelectorAll("#worst thead th")].map(th => th.textContent.trim());
  const worst = [...document.querySelectorAll("#worst tbody tr[data-flow]")].map(tr => {
    const o = {};
    [...tr.children].forEach((td, i) => { o[wh[i]] = td.hasAttribute("data-v") ? td.getAttribute("data-v") : td.textContent; });
    return o;
  });
  const kc = document.getElementById("kernel-check");
  const zw = document.querySelector("#zero-window .v");
  return JSON.stringify({rows: rows, worst: worst, zeroWindow: zw ? zw.getAttribute("data-v") : "", story: document.getElementById("story").textContent,
    kernel: kc ? kc.querySelector(".v").textContent : "", kernelText: kc ? kc.querySelector(".k").textContent : ""});
})()`

// TestTableCellsMatchData recomputes every connection row's bytes each
// way, duration and zero-window time with tshark and its retransmissions
// from events.jsonl, the worst table's cells the same way, the zero-window
// headline from tshark, and the kernel-check card from the kernel's own
// counter and events.jsonl, and compares them with the page.
func TestTableCellsMatchData(t *testing.T) {
	b := newBrowser(t)
	for _, name := range []string{"kernel-lossy-bulk.pcapng", "zero-window.pcapng", "rst-teardown.pcap", "kernel-web.pcapng"} {
		t.Run(name, func(t *testing.T) {
			path, _ := filepath.Abs(filepath.Join("..", "samples", name))
			tc := tsharkConns(t, path)
			dir := t.TempDir()
			if _, err := sessionfiles.Run(t.Context(), sessionfiles.Options{Input: path, OutDir: dir, Pipeline: pipecfg.Detectors()}); err != nil {
				t.Fatal(err)
			}
			perRetrans, inferred, kernel := jsonlRetrans(t, filepath.Join(dir, sessionEvents))
			in, err := Load(t.Context(), dir, LoadOptions{Pipeline: pipecfg.Detectors()})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Build(in.Collector, in.Flows, in.Summary, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			b.load(t, filepath.Join(dir, FileReport))
			var pg struct {
				Rows       []map[string]string `json:"rows"`
				Worst      []map[string]string `json:"worst"`
				Story      string              `json:"story"`
				Kernel     string              `json:"kernel"`
				KernelText string              `json:"kernelText"`
				ZeroWindow string              `json:"zeroWindow"`
			}
			evalJSON(t, b, cellsJS, &pg)
			if len(pg.Rows) == 0 {
				t.Fatal("no connection rows on the page")
			}
			num := func(s string) float64 {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("cell %q: %v", s, err)
				}
				return v
			}
			checked, maxShare, zeroNS := 0, 0.0, int64(0)
			byFlow := map[string]*tsharkConn{}
			for _, row := range pg.Rows {
				c := tc[connKey(row["client"], row["server"])]
				if c == nil {
					continue // a reused tuple: tshark's streams and ours are not one to one
				}
				byFlow[row["flow"]] = c
				checked++
				flow := row["flow"]
				if got, want := num(row["bytes c→s"]), float64(c.bytes[row["client"]]); got != want {
					t.Errorf("#%s bytes c→s %v, tshark %v", flow, got, want)
				}
				if got, want := num(row["bytes s→c"]), float64(c.bytes[row["server"]]); got != want {
					t.Errorf("#%s bytes s→c %v, tshark %v", flow, got, want)
				}
				if got, want := num(row["duration ms"]), float64(c.last-c.first)/1e6; math.Abs(got-want) > 1e-6 {
					t.Errorf("#%s duration %v ms, tshark %v", flow, got, want)
				}
				if got, want := num(row["zero window"]), float64(c.zeroNS/1e3)/1e3; math.Abs(got-want) > 1e-6 {
					t.Errorf("#%s zero window %v ms, tshark %v", flow, got, want)
				}
				id, _ := strconv.ParseUint(flow, 10, 64)
				if got := num(row["retrans"]); got != float64(perRetrans[id]) {
					t.Errorf("#%s retransmissions %v, events.jsonl %d", flow, got, perRetrans[id])
				}
				zeroNS += c.zeroNS
				if c.last > c.first {
					maxShare = max(maxShare, float64(c.zeroNS)/float64(c.last-c.first))
				}
			}
			if checked < len(pg.Rows)/2 {
				t.Fatalf("only %d of %d rows matched a tshark connection", checked, len(pg.Rows))
			}
			for _, w := range pg.Worst {
				flow := strings.TrimPrefix(w["flow"], "#")
				id, _ := strconv.ParseUint(flow, 10, 64)
				if got := num(w["retrans"]); got != float64(perRetrans[id]) {
					t.Errorf("worst #%s: retransmissions %v, events.jsonl %d", flow, got, perRetrans[id])
				}
				if c := byFlow[flow]; c != nil {
					var sum uint64
					for _, v := range c.bytes {
						sum += v
					}
					if got := num(w["bytes"]); got != float64(sum) {
						t.Errorf("worst #%s: %v bytes, tshark %d", flow, got, sum)
					}
				}
			}
			// The zero-window card: all connections' time, from tshark.
			switch {
			case zeroNS == 0 && pg.ZeroWindow != "":
				t.Errorf("zero-window card %s ms, tshark finds none", pg.ZeroWindow)
			case zeroNS > 0 && checked == len(pg.Rows) && math.Abs(num(pg.ZeroWindow)-float64(zeroNS)/1e6) > 1e-3*float64(len(pg.Rows)):
				t.Errorf("zero-window card %s ms, tshark %v ms", pg.ZeroWindow, float64(zeroNS)/1e6)
			}
			if maxShare >= zeroWindowStory {
				want := fmt.Sprintf("waiting on a zero receive window %.0f %%", maxShare*100)
				if !strings.Contains(pg.Story, want) {
					t.Errorf("headline %q, want it to say %q (tshark)", pg.Story, want)
				}
			} else if strings.Contains(pg.Story, "zero receive window") {
				t.Errorf("headline %q: tshark's longest zero window is %.1f %% of its connection", pg.Story, maxShare*100)
			}

			// The kernel-check card: "seen / kernel" and "matched / inferred".
			if len(kernel) == 0 {
				if pg.Kernel != "" {
					t.Errorf("kernel-check card %q on a capture without kernel retransmit records", pg.Kernel)
				}
				return
			}
			wantKernel := kernelRetransSegs(t, name)
			nk := 0
			for _, n := range kernel {
				nk += n
			}
			if nk != wantKernel {
				t.Errorf("events.jsonl has %d kernel retransmit records, the kernel's TcpRetransSegs %d", nk, wantKernel)
			}
			ni, matched, seen := 0, 0, 0
			for k, n := range inferred {
				ni += n
				matched += min(n, kernel[k])
			}
			for k, n := range kernel {
				seen += min(n, inferred[k])
			}
			want := fmt.Sprintf("%d / %d", seen, wantKernel)
			if pg.Kernel != want {
				t.Errorf("kernel-check card %q, want %q (TcpRetransSegs; records matched by sequence in events.jsonl)", pg.Kernel, want)
			}
			if !strings.Contains(pg.KernelText, fmt.Sprintf("%d / %d inferred", matched, ni)) {
				t.Errorf("kernel-check card %q, want %d / %d inferred (events.jsonl)", pg.KernelText, matched, ni)
			}
			t.Logf("%d rows checked, longest zero window %.1f %%; kernel card %s, %d / %d inferred confirmed", checked, maxShare*100, pg.Kernel, matched, ni)
		})
	}
}
