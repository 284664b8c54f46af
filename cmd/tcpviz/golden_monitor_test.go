package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// monitorElapsed is the wall time in the first line of monitor's summary,
// the one figure of its output not taken from the capture.
var monitorElapsed = regexp.MustCompile(`(?m)^(tcpviz monitor: )[^,]+,`)

// lowThresholds make alerts of every level, RECOVERED included, on most
// samples: a one-second window and thresholds of 2 (CRITICAL at 6).
var lowThresholds = []string{"--window", "1", "--threshold", "2", "--loss-threshold", "2", "--ooo-threshold", "2",
	"--reorder-threshold", "2", "--critical-factor", "3"}

// TestGoldenMonitor pins, byte for byte, what `tcpviz monitor --no-follow`
// prints and writes on every sample: the alert lines with the default
// thresholds and a fixed 60 s window, the alert lines and the JSON alerts
// with low thresholds, the summary on stderr (its elapsed wall time masked)
// and the --events-out file. With --no-follow the window runs on capture
// time alone (no idle clock), so a run is deterministic; an alert's time is
// its packet's. The events file must be parse-pcap's events.jsonl without
// the events of closing the connections still open at the end (the monitor
// leaves them open): it is pinned as its line count and digest, parse-pcap's
// file being pinned by TestGoldenOutputs. testdata/golden/SAMPLE.monitor.gz;
// -update rewrites them.
func TestGoldenMonitor(t *testing.T) {
	for _, name := range allSamples(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			compareGolden(t, filepath.Join("testdata", "golden", name+".monitor.gz"), monitorOutputs(t, name))
		})
	}
}

// monitorOutputs runs monitor --no-follow three ways on one sample.
func monitorOutputs(t *testing.T, name string) []goldenSection {
	t.Helper()
	sample := filepath.Join("..", "..", "samples", name)
	samples, err := filepath.Abs(filepath.Dir(sample))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// Where the worktree is is no output (the JSON alerts' generatorURL).
	paths := strings.NewReplacer(samples, "SAMPLES")
	var out []goldenSection
	run := func(section string, args ...string) {
		t.Helper()
		args = append([]string{"monitor", "--pcap-path", sample, "--no-follow", "-q"}, args...)
		stdout, stderr, code := runTool(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		out = append(out, goldenSection{section + " stdout", paths.Replace(stdout)},
			goldenSection{section + " stderr", monitorElapsed.ReplaceAllString(stderr, "${1}(clock),")})
	}
	events := filepath.Join(tmp, "events.jsonl")
	run("monitor --window 60", "--window", "60")
	run("monitor low thresholds", append(lowThresholds, "--events-out", events)...)
	run("monitor low thresholds --json", append(lowThresholds, "--json", "--host", "golden")...)

	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "session")
	if _, stderr, code := runTool(t, "parse-pcap", "-q", "--in", sample, "--out", dir); code != 0 {
		t.Fatalf("parse-pcap: exit %d: %s", code, stderr)
	}
	parsed, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(parsed), string(b)) {
		t.Errorf("monitor --events-out is not parse-pcap's events.jsonl up to the end of the capture: %s",
			firstDiff(string(parsed[:min(len(parsed), len(b))]), string(b)))
	}
	n := strings.Count(string(b), "\n")
	out = append(out, goldenSection{"monitor --events-out",
		fmt.Sprintf("parse-pcap's events.jsonl up to line %d of %d, sha256 %x\n", n, strings.Count(string(parsed), "\n"), sha256.Sum256(b))})
	return out
}
