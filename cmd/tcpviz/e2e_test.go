package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/conntable"
)

// flowsJSON runs `tcpviz flows --json` with extra arguments and decodes the
// lines.
func flowsJSON(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	stdout, stderr, code := runTool(t, append([]string{"flows", "--in", fixturePath, "--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("flows %v: exit %d: %s", args, code, stderr)
	}
	var rows []map[string]any
	for i, line := range strings.Split(strings.TrimRight(stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", i+1, err, line)
		}
		rows = append(rows, m)
	}
	return rows
}

func endpoint(m map[string]any, side string) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(m[side+"addr"].(string)), uint16(m[side+"port"].(float64)))
}

// fixtureIndex finds the fixture connection of a row by its local endpoint.
func fixtureIndex(t *testing.T, local netip.AddrPort) int {
	t.Helper()
	for i, c := range fixtureConns {
		if c.wantLocal == local {
			return i
		}
	}
	t.Fatalf("row with local endpoint %s is not in the fixture", local)
	return -1
}

func TestFlowsTextTable(t *testing.T) {
	stdout, stderr, code := runTool(t, "flows", "--in", fixturePath)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	t.Log("\n" + stdout)
	wantHeader := []string{"PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KiB", "RX_KiB", "MS", "RETRANS", "RTT_MS", "LIMIT", "ZERO_WIN", "STATE", "END", "HISTORY"}
	if got := strings.Fields(lines[0]); !slices.Equal(got, wantHeader) {
		t.Fatalf("header %q, want %q", got, wantHeader)
	}
	if len(lines)-1 != len(fixtureConns) {
		t.Fatalf("%d rows, want %d:\n%s", len(lines)-1, len(fixtureConns), stdout)
	}
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		// LIMIT is "-" or two words ("~cwnd 73%"): join them.
		if len(f) == len(wantHeader)+1 {
			f = append(f[:11:11], append([]string{f[11] + " " + f[12]}, f[13:]...)...)
		}
		if len(f) != len(wantHeader) {
			t.Fatalf("row %d has %d columns: %q", i, len(f), line)
		}
		if lim := f[11]; lim != "-" && !regexp.MustCompile(`^~?(rwnd|cwnd|sndbuf|app|recovery|handshake) \d+%$`).MatchString(lim) {
			t.Errorf("row %d: LIMIT %q", i, lim)
		}
		// Sorted by start time: fixture order.
		c := fixtureConns[i]
		local := netip.AddrPortFrom(netip.MustParseAddr(f[2]), mustPort(t, f[3]))
		remote := netip.AddrPortFrom(netip.MustParseAddr(f[4]), mustPort(t, f[5]))
		if local != c.wantLocal || remote != c.wantRemote {
			t.Errorf("row %d: %s -> %s, want %s -> %s", i, local, remote, c.wantLocal, c.wantRemote)
		}
		wantPID, wantComm := "-", "-"
		if c.kernelSide != 0 {
			wantPID, wantComm = strconv.Itoa(int(c.pid)), c.comm
		}
		if f[0] != wantPID || f[1] != wantComm {
			t.Errorf("row %d: PID/COMM %s %s, want %s %s", i, f[0], f[1], wantPID, wantComm)
		}
		if f[6] != strconv.Itoa(c.wantTX>>10) || f[7] != strconv.Itoa(c.wantRX>>10) {
			t.Errorf("row %d: TX_KiB/RX_KiB %s/%s, want %d/%d", i, f[6], f[7], c.wantTX>>10, c.wantRX>>10)
		}
		if f[12] != "-" {
			t.Errorf("row %d: ZERO_WIN %s, want - (no zero window in the fixture)", i, f[12])
		}
		if f[13] != c.wantState {
			t.Errorf("row %d: STATE %s, want %s", i, f[13], c.wantState)
		}
		if retrans := f[9] != "0"; retrans != c.retransS2C {
			t.Errorf("row %d: RETRANS %s, want retransmissions: %v", i, f[9], c.retransS2C)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Errorf("colours in output that is not a terminal")
	}
}

func mustPort(t *testing.T, s string) uint16 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		t.Fatalf("port %q: %v", s, err)
	}
	return uint16(n)
}

func TestFlowsWideAndTimes(t *testing.T) {
	stdout, stderr, code := runTool(t, "flows", "--in", fixturePath, "-w", "-t", "-T")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	header := strings.Fields(lines[0])
	if !slices.Equal(header[:5], []string{"TIME", "TIME(s)", "PID", "COMM", "IP"}) {
		t.Fatalf("wide header starts %q", header[:5])
	}
	first := fixtureEpoch.Add(time.Millisecond) // the first SYN
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		c := fixtureConns[i]
		start := fixtureEpoch.Add(c.start + time.Millisecond)
		if f[0] != start.Format("15:04:05") {
			t.Errorf("row %d: TIME %s, want %s", i, f[0], start.Format("15:04:05"))
		}
		secs, err := strconv.ParseFloat(f[1], 64)
		if want := start.Sub(first).Seconds(); err != nil || secs != want {
			t.Errorf("row %d: TIME(s) %s, want %.3f", i, f[1], want)
		}
		wantIP := "4"
		if c.client.Addr().Is6() {
			wantIP = "6"
		}
		if f[4] != wantIP {
			t.Errorf("row %d: IP %s, want %s", i, f[4], wantIP)
		}
	}
	// The IPv6 address fits its column: the columns after it still line up.
	hdrRPort := strings.Index(lines[0], "RPORT")
	for _, line := range lines[1:] {
		if strings.Contains(line, "2001:db8::1") && line[hdrRPort-1] != ' ' {
			t.Errorf("IPv6 row overflows its column:\n%s\n%s", lines[0], line)
		}
	}
}

func TestFlowsCSV(t *testing.T) {
	stdout, stderr, code := runTool(t, "flows", "--in", fixturePath, "--csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if !slices.Equal(recs[0], conntable.CSVHeader) {
		t.Fatalf("header %q", recs[0])
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	if len(recs)-1 != len(fixtureConns) {
		t.Fatalf("%d rows, want %d", len(recs)-1, len(fixtureConns))
	}
	for i, r := range recs[1:] {
		c := fixtureConns[i]
		if r[col["tx_bytes"]] != strconv.Itoa(c.wantTX) || r[col["rx_bytes"]] != strconv.Itoa(c.wantRX) {
			t.Errorf("row %d: tx/rx bytes %s/%s, want %d/%d", i, r[col["tx_bytes"]], r[col["rx_bytes"]], c.wantTX, c.wantRX)
		}
		wantPID := ""
		if c.kernelSide != 0 {
			wantPID = strconv.Itoa(int(c.pid))
		}
		if r[col["pid"]] != wantPID || r[col["state"]] != c.wantState {
			t.Errorf("row %d: pid %q state %q, want %q %q", i, r[col["pid"]], r[col["state"]], wantPID, c.wantState)
		}
		if start, err := time.Parse(time.RFC3339Nano, r[col["start"]]); err != nil || !start.Equal(fixtureEpoch.Add(c.start+time.Millisecond)) {
			t.Errorf("row %d: start %q (%v)", i, r[col["start"]], err)
		}
	}
}

func TestFlowsJSONLines(t *testing.T) {
	rows := flowsJSON(t)
	if len(rows) != len(fixtureConns) {
		t.Fatalf("%d rows, want %d", len(rows), len(fixtureConns))
	}
	for _, m := range rows {
		for _, k := range conntable.CSVHeader {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON row lacks %q: %v", k, m)
			}
		}
		i := fixtureIndex(t, endpoint(m, "l"))
		c := fixtureConns[i]
		if c.kernelSide == 0 {
			if m["pid"] != nil || m["comm"] != nil {
				t.Errorf("connection %d: pid/comm %v/%v, want null", i, m["pid"], m["comm"])
			}
		} else if m["pid"] != float64(c.pid) || m["comm"] != c.comm {
			t.Errorf("connection %d: pid/comm %v/%v, want %d/%s", i, m["pid"], m["comm"], c.pid, c.comm)
		}
		if got := m["local_is_server"].(bool); got != (c.kernelSide == 2) {
			t.Errorf("connection %d: local_is_server %v", i, got)
		}
		if int(m["tx_bytes"].(float64)) != c.wantTX || int(m["rx_bytes"].(float64)) != c.wantRX {
			t.Errorf("connection %d: tx/rx %v/%v, want %d/%d", i, m["tx_bytes"], m["rx_bytes"], c.wantTX, c.wantRX)
		}
	}
}

func TestFlowsFilters(t *testing.T) {
	// Which fixture connections each filter must select, by index.
	cases := []struct {
		args []string
		want []int
	}{
		{nil, []int{0, 1, 2, 3}},
		{[]string{"-p", "181"}, []int{0}},
		{[]string{"-p", "181,99"}, []int{0, 3}},
		{[]string{"-p", "4242"}, nil},
		{[]string{"-L", "8080"}, []int{3}}, // the server is local there
		{[]string{"-L", "40000,40001"}, []int{0, 1}},
		{[]string{"-D", "443"}, []int{1}},
		{[]string{"-D", "22", "-L", "50000"}, []int{2}},
		{[]string{"-p", "181", "-D", "443"}, nil},
		{[]string{"--localport", "5555"}, nil}, // 5555 is the remote side of connection 3
		{[]string{"--remoteport", "5555"}, []int{3}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var got []int
			for _, m := range flowsJSON(t, c.args...) {
				got = append(got, fixtureIndex(t, endpoint(m, "l")))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("selected %v, want %v", got, c.want)
			}
		})
	}
}

func TestFlowsSort(t *testing.T) {
	total := func(c fixtureConn) int { return c.wantTX + c.wantRX }
	order := func(less func(a, b fixtureConn) int) []int {
		idx := []int{0, 1, 2, 3}
		slices.SortStableFunc(idx, func(a, b int) int { return less(fixtureConns[a], fixtureConns[b]) })
		return idx
	}
	cases := []struct {
		key  string
		want []int
	}{
		{"start", []int{0, 1, 2, 3}},
		{"bytes", order(func(a, b fixtureConn) int { return total(b) - total(a) })},
	}
	for _, c := range cases {
		var got []int
		for _, m := range flowsJSON(t, "--sort", c.key) {
			got = append(got, fixtureIndex(t, endpoint(m, "l")))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("--sort %s: %v, want %v", c.key, got, c.want)
		}
	}
	// retrans: the one connection with a retransmission comes first.
	rows := flowsJSON(t, "--sort", "retrans")
	if i := fixtureIndex(t, endpoint(rows[0], "l")); !fixtureConns[i].retransS2C {
		t.Errorf("--sort retrans: first row is connection %d", i)
	}
	// duration: non-increasing ms.
	rows = flowsJSON(t, "--sort", "duration")
	for i := 1; i < len(rows); i++ {
		if rows[i]["ms"].(float64) > rows[i-1]["ms"].(float64) {
			t.Errorf("--sort duration: row %d (%v ms) after row %d (%v ms)", i, rows[i]["ms"], i-1, rows[i-1]["ms"])
		}
	}
}

func TestFlowsStdinAndOutputFile(t *testing.T) {
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, _, _ := runTool(t, "flows", "--in", fixturePath, "--csv")
	fromStdin, stderr, code := runToolWith(t, toolRun{stdin: data}, "flows", "--in", "-", "--csv")
	if code != exitOK || fromStdin != fromFile {
		t.Fatalf("stdin: exit %d (%s), output differs from the file's:\n%s\n---\n%s", code, stderr, fromStdin, fromFile)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "flows.csv")
	stdout, _, code := runTool(t, "flows", "--in", fixturePath, "--csv", "-o", out)
	b, _ := os.ReadFile(out)
	if code != exitOK || stdout != "" || string(b) != fromFile {
		t.Errorf("-o: exit %d, stdout %q, file %q", code, stdout, b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("-o left %d files in its directory", len(ents))
	}
	// flows writes no session.
	work := t.TempDir()
	runToolWith(t, toolRun{dir: work}, "flows", "--in", fixturePath)
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("flows created %v in its working directory", ents)
	}
}

func TestFlowsQuietAndVerbose(t *testing.T) {
	_, stderr, code := runTool(t, "flows", "--in", fixturePath, "-q")
	if code != exitOK || stderr != "" {
		t.Errorf("--quiet: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runTool(t, "flows", "--in", fixturePath, "--verbose")
	if code != exitOK || !strings.Contains(stderr, "level=DEBUG") || !strings.Contains(stderr, "kernel_records=2") {
		t.Errorf("--verbose: exit %d, stderr %q", code, stderr)
	}
}

// parseSession runs parse-pcap on the fixture into a new session under base.
func parseSession(t *testing.T, base string) string {
	t.Helper()
	stdout, stderr, code := runToolWith(t, toolRun{dir: base}, "parse-pcap", "--in", fixturePath, "-q")
	if code != exitOK {
		t.Fatalf("parse-pcap: exit %d: %s", code, stderr)
	}
	dir := filepath.Dir(strings.Split(stdout, "\n")[0])
	return filepath.Join(base, dir)
}

func TestSessionsListShowClean(t *testing.T) {
	work := t.TempDir()
	base := filepath.Join(work, "out")
	complete := parseSession(t, work)
	// An empty and an incomplete session, old enough to clean, and a fresh
	// incomplete one that may still be written to.
	old := time.Now().Add(-time.Hour)
	empty := filepath.Join(base, "session_20200101_000000")
	incomplete := filepath.Join(base, "session_20200101_000001")
	fresh := filepath.Join(base, "session_20200101_000002")
	for _, d := range []string{empty, incomplete, fresh} {
		os.MkdirAll(d, 0o750)
	}
	os.WriteFile(filepath.Join(incomplete, "capture.pcapng"), []byte("partial"), 0o640)
	os.WriteFile(filepath.Join(fresh, "capture.pcapng"), []byte("growing"), 0o640)
	for _, p := range []string{empty, incomplete, filepath.Join(incomplete, "capture.pcapng")} {
		os.Chtimes(p, old, old)
	}

	stdout, stderr, code := runTool(t, "sessions", "list", "--base", base)
	if code != exitOK {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if !slices.Equal(strings.Fields(lines[0]), []string{"ID", "TIME", "STATUS", "CAPTURE", "PACKETS", "FLOWS", "EVENTS", "ALERTS", "REPORT"}) {
		t.Fatalf("list header %q", lines[0])
	}
	if len(lines) != 5 {
		t.Fatalf("list: %d lines, want a header and 4 sessions:\n%s", len(lines), stdout)
	}
	var summary struct {
		Packets int `json:"packets"`
		Flows   int `json:"flows"`
	}
	b, _ := os.ReadFile(filepath.Join(complete, "summary.json"))
	if err := json.Unmarshal(b, &summary); err != nil {
		t.Fatal(err)
	}
	last := strings.Fields(lines[4]) // sessions sort by time: the parse is newest
	if last[0] != filepath.Base(complete) || last[3] != "ok" || last[6] != strconv.Itoa(summary.Packets) || last[7] != strconv.Itoa(summary.Flows) {
		t.Errorf("complete session line %q; want packets %d flows %d", lines[4], summary.Packets, summary.Flows)
	}
	if f := strings.Fields(lines[1]); f[0] != filepath.Base(empty) || f[3] != "empty" {
		t.Errorf("empty session line %q", lines[1])
	}

	stdout, _, code = runTool(t, "sessions", "list", "--base", base, "--json")
	var n int
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("list --json line %q: %v", line, err)
		}
		n++
	}
	if code != exitOK || n != 4 {
		t.Errorf("list --json: exit %d, %d lines", code, n)
	}

	stdout, _, code = runTool(t, "sessions", "show", "latest", "--base", base)
	if code != exitOK || !strings.Contains(stdout, "session:") || !strings.Contains(stdout, filepath.Base(complete)) ||
		!strings.Contains(stdout, fmt.Sprintf("flows:      %d", summary.Flows)) {
		t.Errorf("show latest: exit %d:\n%s", code, stdout)
	}

	// Dry run and a "no" answer remove nothing.
	stdout, _, code = runTool(t, "sessions", "clean", "--base", base, "--dry-run")
	want := []string{empty, incomplete}
	if got := strings.Fields(stdout); code != exitOK || !slices.Equal(got, want) {
		t.Errorf("clean --dry-run: exit %d, listed %q, want %q", code, got, want)
	}
	runToolWith(t, toolRun{stdin: []byte("n\n")}, "sessions", "clean", "--base", base)
	for _, d := range []string{empty, incomplete, fresh, complete} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s gone before a confirmed clean", d)
		}
	}
	stdout, stderr, code = runToolWith(t, toolRun{stdin: []byte("y\n")}, "sessions", "clean", "--base", base)
	if code != exitOK || !slices.Equal(strings.Fields(stdout), want) {
		t.Errorf("clean: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for d, keep := range map[string]bool{empty: false, incomplete: false, fresh: true, complete: true} {
		if _, err := os.Stat(d); (err == nil) != keep {
			t.Errorf("after clean: %s exists=%v, want %v", d, err == nil, keep)
		}
	}
	if !strings.Contains(stderr, "keeping "+fresh) {
		t.Errorf("clean does not say it keeps the busy session: %q", stderr)
	}
}

func TestAnalyzeMakesANewSession(t *testing.T) {
	work := t.TempDir()
	base := filepath.Join(work, "out")
	src := parseSession(t, work)
	before, _ := os.ReadFile(filepath.Join(src, "events.jsonl"))

	stdout, stderr, code := runTool(t, "analyze", "--base", base, "-D", "443", "--json")
	if code != exitOK {
		t.Fatalf("analyze: exit %d: %s", code, stderr)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("analyze --json line %q: %v", line, err)
		}
		rows = append(rows, m)
	}
	if len(rows) != 1 || rows[0]["rport"] != float64(443) {
		t.Errorf("analyze -D 443: rows %v", rows)
	}
	ents, _ := os.ReadDir(base)
	if len(ents) != 2 {
		t.Fatalf("%d sessions after analyze, want 2", len(ents))
	}
	var dst string
	for _, e := range ents {
		if filepath.Join(base, e.Name()) != src {
			dst = filepath.Join(base, e.Name())
		}
	}
	for _, f := range []string{"events.jsonl", "flows.jsonl", "summary.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("new session lacks %s", f)
		}
	}
	after, _ := os.ReadFile(filepath.Join(src, "events.jsonl"))
	if string(after) != string(before) {
		t.Errorf("analyze changed the source session")
	}
	newEvents, _ := os.ReadFile(filepath.Join(dst, "events.jsonl"))
	if string(newEvents) != string(before) {
		t.Errorf("the same capture and thresholds gave different events")
	}
	if !strings.Contains(stderr, dst) {
		t.Errorf("stderr does not name the new session %s: %q", dst, stderr)
	}
	// --out never writes over an earlier run.
	_, stderr, code = runTool(t, "analyze", "--base", base, "--out", dst, "-q")
	if code != exitFailure || !strings.Contains(stderr, "not empty") {
		t.Errorf("analyze --out EXISTING: exit %d, %q", code, stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dst, "events.jsonl")); string(again) != string(newEvents) {
		t.Errorf("a refused --out changed the session")
	}
}

func TestFlowsTruncatedCaptureAndSessionInput(t *testing.T) {
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcapng")
	os.WriteFile(cut, data[:len(data)-30], 0o644) // inside the last block
	stdout, stderr, code := runTool(t, "flows", "--in", cut, "--json")
	if code != exitOK {
		t.Fatalf("truncated capture: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "truncated") || !strings.Contains(stderr, cut) {
		t.Errorf("no warning naming the file and the cut: %q", stderr)
	}
	if n := strings.Count(stdout, "\n"); n != len(fixtureConns) {
		t.Errorf("%d rows from the truncated capture, want %d", n, len(fixtureConns))
	}

	// A session directory reads the capture its summary names.
	work := t.TempDir()
	dir := parseSession(t, work)
	fromSession, stderr, code := runTool(t, "flows", "--in", dir, "--csv")
	fromFile, _, _ := runTool(t, "flows", "--in", fixturePath, "--csv")
	if code != exitOK || fromSession != fromFile {
		t.Errorf("flows --in SESSION: exit %d (%s), differs from the capture's table", code, stderr)
	}
}
