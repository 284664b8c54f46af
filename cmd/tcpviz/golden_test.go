package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/connfilter"
	"github.com/tcpviz/tcpviz/internal/parquetout"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/")

// goldenSamples are the samples TestSharedVocabulary compares flows and
// summary on: the three made with tcpviz capture (kernel records inside) and
// the handshake, teardown and window cases.
var goldenSamples = []string{"kernel-lossy-bulk.pcapng", "kernel-rwnd-limited.pcapng", "kernel-web.pcapng",
	"handshake-syn-retries.pcap", "handshake-refused.pcap", "rst-teardown.pcap", "zero-window.pcapng"}

// allSamples lists every capture in samples/.
func allSamples(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, pat := range []string{"*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "samples", pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			names = append(names, filepath.Base(p))
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no samples in ../../samples")
	}
	return names
}

// The figures of a run that depend on the clock, not on the capture: they
// are replaced by a fixed text before comparing.
var (
	clockJSON    = regexp.MustCompile(`(?m)^(  "(?:started|seconds|packets_per_sec)": ).*?(,?)$`)
	clockFigures = regexp.MustCompile(`, [0-9.]+ s, [0-9]+ packets/s`)
)

// TestGoldenOutputs pins, byte for byte, every output file and every printed
// table of each sample: parse-pcap's session files and what it prints;
// parse-pcap --packets' packet records (SAMPLE.packets.gz); the rows of every
// Parquet table; analyze on parse-pcap's session and quick's analysis of the
// sample as its capture (their session files must be parse-pcap's); and
// flows and summary in every format. The clock-dependent figures of
// summary.json (started, seconds, packets_per_sec) and of parse-pcap's
// figures line are the only ones masked. Each sample's outputs are kept in
// one gzip'd file, testdata/golden/SAMPLE.golden.gz, sections headed
// "-- NAME --". Run with -update after a deliberate change: it lists the
// first changed lines of every output it rewrites.
func TestGoldenOutputs(t *testing.T) {
	for _, name := range allSamples(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			compareGolden(t, filepath.Join("testdata", "golden", name+".golden.gz"), sampleOutputs(t, name))
		})
	}
}

// reportData finds the data of the report's charts: the chart options and
// the tooltips' table, one JSON value a line.
var reportData = regexp.MustCompile(`(?m)^\s*(?:let option_(\w+)|var (tcpvizTips)) = (.*?);?$`)

// TestGoldenReport pins the data of report.html on every sample: each
// chart's options (its series' points included) and the tooltips' table,
// byte for byte, indented so a difference shows the value that changed. The
// page's markup is left to viz's tests. testdata/golden/SAMPLE.report.gz;
// -update rewrites them.
func TestGoldenReport(t *testing.T) {
	for _, name := range allSamples(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "report")
			sample := filepath.Join("..", "..", "samples", name)
			if _, stderr, code := runTool(t, "report", "--in", sample, "--out", dir); code != 0 {
				t.Fatalf("report: exit %d: %s", code, stderr)
			}
			page, err := os.ReadFile(filepath.Join(dir, "report.html"))
			if err != nil {
				t.Fatal(err)
			}
			var got []goldenSection
			for _, m := range reportData.FindAllSubmatch(page, -1) {
				got = append(got, goldenSection{"report.html " + string(m[1]) + string(m[2]), reflow(m[3])})
			}
			if len(got) == 0 {
				t.Fatal("report.html has no chart data")
			}
			compareGolden(t, filepath.Join("testdata", "golden", name+".report.gz"), got)
		})
	}
}

// reflow breaks a chart's options (JSON with a few JavaScript functions)
// into lines without changing a byte of them: after every comma of an
// object, and of an array that is an object's value, so a series' points
// get a line each.
func reflow(js []byte) string {
	var b strings.Builder
	var stack []byte
	inString, escaped := false, false
	for _, c := range js {
		b.WriteByte(c)
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			stack = append(stack, c)
		case (c == '}' || c == ']') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		case c == ',' && len(stack) > 0:
			n := len(stack)
			if stack[n-1] == '{' || n == 1 || stack[n-2] == '{' {
				b.WriteString("\n" + strings.Repeat(" ", n))
			}
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// compareGolden compares outputs with a golden file, or rewrites it with
// -update.
func compareGolden(t *testing.T, path string, got []goldenSection) {
	t.Helper()
	want, err := readGolden(path)
	if err != nil && !*updateGolden {
		t.Fatalf("%v (go test -run TestGolden -update writes it)", err)
	}
	diffs := goldenDiffs(want, got)
	if *updateGolden {
		if len(diffs) == 0 {
			return
		}
		for _, d := range diffs {
			t.Logf("rewrote %s", d)
		}
		if err := writeGolden(path, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, d := range diffs {
		t.Errorf("%s: %s", path, d)
	}
}

// goldenSection is one output of a run: a session file or a printed table.
type goldenSection struct {
	name string
	data string
}

// sampleOutputs runs every pinned command on one sample.
func sampleOutputs(t *testing.T, name string) []goldenSection {
	sample := filepath.Join("..", "..", "samples", name)
	samples, err := filepath.Abs(filepath.Dir(sample))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "session")
	// Where the worktree and the test's directory are is no output.
	paths := strings.NewReplacer(dir, "OUT", samples, "SAMPLES")
	var out []goldenSection
	run := func(section string, args ...string) string {
		stdout, stderr, code := runTool(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		out = append(out, goldenSection{section, paths.Replace(stdout)})
		return stderr
	}

	stderr := run("parse-pcap stdout", "parse-pcap", "--in", sample, "--out", dir)
	out = append(out, goldenSection{"parse-pcap stderr", clockFigures.ReplaceAllString(paths.Replace(stderr), ", T s, R packets/s")})
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := paths.Replace(string(b))
		if f.Name() == "summary.json" {
			s = clockJSON.ReplaceAllString(s, `${1}"(clock)"${2}`)
		}
		out = append(out, goldenSection{"parse-pcap " + f.Name(), s})
	}

	out = append(out, packetsAndParquet(t, sample, paths, out)...)
	out = append(out, analyzeOutputs(t, sample, dir, paths, out)...)
	out = append(out, quickOutputs(t, sample, paths, out)...)

	run("flows", "flows", "--in", sample)
	run("flows --csv", "flows", "--in", sample, "--csv")
	run("flows --json", "flows", "--in", sample, "--json")
	run("summary", "summary", "--in", sample)
	run("summary --format csv", "summary", "--in", sample, "--format", "csv")
	run("summary --format json", "summary", "--in", sample, "--format", "json")
	return out
}

// section is the data of the named section of secs.
func section(t *testing.T, secs []goldenSection, name string) string {
	t.Helper()
	for _, s := range secs {
		if s.name == name {
			return s.data
		}
	}
	t.Fatalf("no section %q", name)
	return ""
}

// sameAsParse fails unless the session files in dir are, byte for byte,
// parse-pcap's (events.jsonl filtered by keep first).
func sameAsParse(t *testing.T, who, dir string, paths *strings.Replacer, parsed []goldenSection, keep func(line string) bool) {
	t.Helper()
	for _, f := range []string{"events.jsonl", "flows.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got := paths.Replace(string(b))
		if keep != nil {
			var kept strings.Builder
			for _, line := range strings.SplitAfter(got, "\n") {
				if keep(line) {
					kept.WriteString(line)
				}
			}
			got = kept.String()
		}
		if want := section(t, parsed, "parse-pcap "+f); got != want {
			t.Errorf("%s %s differs from parse-pcap's: %s", who, f, firstDiff(want, got))
		}
	}
}

// packetTypeLine marks parse-pcap --packets' packet records.
const packetTypeLine = `{"type":"packet",`

// packetsAndParquet runs parse-pcap --packets --parquet: its events.jsonl is
// the plain run's with the packet records added (checked), so only those are
// kept, in their own golden file (SAMPLE.packets.gz) to keep the large
// pinned text apart; and each Parquet file's rows, one JSON object a line
// (the packets table as its row count and a digest of those lines). The
// files' bytes hold the capture's absolute path, so rows are compared, not
// bytes.
func packetsAndParquet(t *testing.T, sample string, paths *strings.Replacer, parsed []goldenSection) []goldenSection {
	t.Helper()
	tmp := t.TempDir()
	dir, pq := filepath.Join(tmp, "packets"), filepath.Join(tmp, "parquet")
	if _, stderr, code := runTool(t, "parse-pcap", "-q", "--in", sample, "--out", dir, "--packets",
		"--parquet", pq, "--parquet-packets", "--host", "golden"); code != 0 {
		t.Fatalf("parse-pcap --packets --parquet: exit %d: %s", code, stderr)
	}
	notPacket := func(line string) bool { return !strings.HasPrefix(line, packetTypeLine) }
	sameAsParse(t, "parse-pcap --packets", dir, paths, parsed, notPacket)
	b, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var pk strings.Builder
	for _, line := range strings.SplitAfter(paths.Replace(string(b)), "\n") {
		if !notPacket(line) {
			pk.WriteString(line)
		}
	}
	compareGolden(t, filepath.Join("testdata", "golden", filepath.Base(sample)+".packets.gz"),
		[]goldenSection{{"parse-pcap --packets events.jsonl packet records", pk.String()}})

	var out []goldenSection
	err = filepath.WalkDir(pq, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(pq, path)
		rel = stemHash.ReplaceAllString(filepath.ToSlash(rel), "-HASH-")
		var rows []any
		switch {
		case strings.HasPrefix(rel, "table=events/"):
			rows = anyRows(readRows[parquetout.EventRow](t, path))
		case strings.HasPrefix(rel, "table=flows/"):
			rows = anyRows(readRows[parquetout.FlowRow](t, path))
		case strings.HasPrefix(rel, "table=kernel/"):
			rows = anyRows(readRows[parquetout.KernelRow](t, path))
		case strings.HasPrefix(rel, "table=packets/"):
			rows = anyRows(readRows[parquetout.PacketRow](t, path))
		default:
			t.Fatalf("unexpected Parquet file %s", rel)
		}
		var b strings.Builder
		for _, r := range rows {
			j, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(j)
			b.WriteByte('\n')
		}
		text := paths.Replace(b.String())
		if strings.HasPrefix(rel, "table=packets/") {
			text = fmt.Sprintf("%d rows, sha256 of their JSON lines %x\n", len(rows), sha256.Sum256([]byte(text)))
		}
		out = append(out, goldenSection{"parquet " + rel, text})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("parse-pcap --parquet wrote no file")
	}
	return out
}

// stemHash is the hash of the capture's absolute path in Parquet file names.
var stemHash = regexp.MustCompile(`-[0-9a-f]{8}-`)

func anyRows[T any](rows []T) []any {
	out := make([]any, len(rows))
	for i := range rows {
		out[i] = rows[i]
	}
	return out
}

// analyzeOutputs runs analyze on the session parse-pcap wrote (dir, taken as
// a session under its parent): its events.jsonl and flows.jsonl must be
// parse-pcap's, byte for byte; its table, figures, summary.json and the
// files it writes are pinned.
func analyzeOutputs(t *testing.T, sample, session string, paths *strings.Replacer, parsed []goldenSection) []goldenSection {
	t.Helper()
	base := filepath.Join(t.TempDir(), "base")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	id := "session_20260102_030405"
	if err := os.Symlink(session, filepath.Join(base, id)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(session), "again")
	again := strings.NewReplacer(dir, "AGAIN", session, "OUT")
	stdout, stderr, code := runTool(t, "analyze", id, "--base", base, "--out", dir)
	if code != 0 {
		t.Fatalf("analyze: exit %d: %s", code, stderr)
	}
	sameAsParse(t, "analyze", dir, paths, parsed, nil)
	sum, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	return []goldenSection{
		{"analyze stdout", paths.Replace(again.Replace(stdout))},
		{"analyze stderr", clockFigures.ReplaceAllString(paths.Replace(again.Replace(stderr)), ", T s, R packets/s")},
		{"analyze files", fileList(t, dir)},
		{"analyze summary.json", clockJSON.ReplaceAllString(paths.Replace(again.Replace(string(sum))), `${1}"(clock)"${2}`)},
	}
}

// quickOutputs runs what quick does once its capture is written on the
// sample, as if a 10 s capture on lo had written it: its events.jsonl and
// flows.jsonl must be parse-pcap's; the headline and files are pinned.
func quickOutputs(t *testing.T, sample string, paths *strings.Replacer, parsed []goldenSection) []goldenSection {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "quick")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := (*detectorFlags)(nil).pipelineConfig()
	if err != nil {
		t.Fatal(err)
	}
	report, err := newSessionReport(connfilter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	capSum := capture.Summary{Interface: "lo", Start: start, End: start.Add(10 * time.Second)}
	var stdout bytes.Buffer
	abs, err := filepath.Abs(sample)
	if err != nil {
		t.Fatal(err)
	}
	if err := quickAnalyze(t.Context(), abs, dir, cfg, report, capSum, &outputFlags{quiet: true}, &stdout); err != nil {
		t.Fatalf("quick: %v", err)
	}
	sameAsParse(t, "quick", dir, paths, parsed, nil)
	q := strings.NewReplacer(dir, "QUICK")
	return []goldenSection{
		{"quick stdout", paths.Replace(q.Replace(stdout.String()))},
		{"quick files", fileList(t, dir)},
	}
}

// fileList names the files in dir, one a line.
func fileList(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		b.WriteString(e.Name() + "\n")
	}
	return b.String()
}

const goldenHead = "-- %s --\n"

func writeGolden(path string, secs []goldenSection) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // no name, no time: the same outputs give the same bytes
	for _, s := range secs {
		fmt.Fprintf(zw, goldenHead, s.name)
		io.WriteString(zw, s.data)
		if !strings.HasSuffix(s.data, "\n") {
			io.WriteString(zw, "\n-- (no newline at end) --\n")
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func readGolden(path string) ([]goldenSection, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var secs []goldenSection
	for _, line := range strings.SplitAfter(string(b), "\n") {
		var name string
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --\n") {
			name = strings.TrimSuffix(strings.TrimPrefix(line, "-- "), " --\n")
		}
		switch {
		case name == "(no newline at end)" && len(secs) > 0:
			last := &secs[len(secs)-1]
			last.data = strings.TrimSuffix(last.data, "\n")
		case name != "":
			secs = append(secs, goldenSection{name: name})
		case len(secs) > 0:
			secs[len(secs)-1].data += line
		default:
			return nil, fmt.Errorf("%s: text before the first section", path)
		}
	}
	return secs, nil
}

// goldenDiffs names every output that differs, with its first differing
// lines.
func goldenDiffs(want, got []goldenSection) []string {
	w := map[string]string{}
	for _, s := range want {
		w[s.name] = s.data
	}
	var diffs []string
	seen := map[string]bool{}
	for _, s := range got {
		seen[s.name] = true
		old, ok := w[s.name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: new output", s.name))
		case old != s.data:
			diffs = append(diffs, fmt.Sprintf("%s: %s", s.name, firstDiff(old, s.data)))
		}
	}
	for _, s := range want {
		if !seen[s.name] {
			diffs = append(diffs, fmt.Sprintf("%s: no longer written", s.name))
		}
	}
	return diffs
}

// firstDiff shows the first differing line of two texts with the lines
// around it.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	line := func(ls []string, i int) string {
		if i < len(ls) {
			return ls[i]
		}
		return "(end)"
	}
	for i := 0; i < len(w) || i < len(g); i++ {
		if line(w, i) == line(g, i) {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "line %d:", i+1)
		if i > 0 {
			fmt.Fprintf(&b, "\n      %s", line(w, i-1))
		}
		for j := i; j < i+3 && (j < len(w) || j < len(g)); j++ {
			if line(w, j) == line(g, j) && j > i {
				fmt.Fprintf(&b, "\n      %s", line(w, j))
				continue
			}
			fmt.Fprintf(&b, "\n want %s\n  got %s", line(w, j), line(g, j))
		}
		return b.String()
	}
	return "(same lines, different bytes)"
}

// TestSharedVocabulary checks that flows and summary, which show the same
// connections, give the same field the same name and the same value.
func TestSharedVocabulary(t *testing.T) {
	for _, name := range goldenSamples {
		sample := filepath.Join("..", "..", "samples", name)
		flows := flowsJSON(t, "--in", sample)
		stdout, stderr, code := runTool(t, "summary", "--in", sample, "--format", "json")
		if code != 0 {
			t.Fatalf("summary: exit %d: %s", code, stderr)
		}
		var sum struct {
			Conns []map[string]any `json:"connections_list"`
		}
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatal(err)
		}
		byFlow := map[float64]map[string]any{}
		for _, c := range sum.Conns {
			byFlow[c["flow"].(float64)] = c
		}
		if len(byFlow) != len(flows) {
			t.Errorf("%s: flows lists %d connections, summary %d", name, len(flows), len(byFlow))
		}
		for _, f := range flows {
			s := byFlow[f["flow"].(float64)]
			if s == nil {
				t.Errorf("%s: connection %v missing from summary", name, f["flow"])
				continue
			}
			for _, k := range []string{"ms", "retrans", "retrans_bytes", "state", "state_text", "zero_window_ms", "zero_window_share"} {
				if f[k] != s[k] {
					t.Errorf("%s connection %v: %s is %v in flows, %v in summary", name, f["flow"], k, f[k], s[k])
				}
			}
		}
	}
}
