package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/")

// goldenSamples are the real captures the CLI outputs are pinned on: the
// three made with tcpviz capture (kernel records inside) and the handshake,
// teardown and window cases.
var goldenSamples = []string{"kernel-lossy-bulk.pcapng", "kernel-rwnd-limited.pcapng", "kernel-web.pcapng",
	"handshake-syn-retries.pcap", "handshake-refused.pcap", "rst-teardown.pcap", "zero-window.pcapng"}

// TestGoldenOutputs pins what flows and summary print for each sample, in
// every format. Run with -update after a deliberate change and read the diff.
func TestGoldenOutputs(t *testing.T) {
	for _, name := range goldenSamples {
		sample := filepath.Join("..", "..", "samples", name)
		for _, run := range []struct {
			suffix string
			args   []string
		}{
			{"flows.txt", []string{"flows", "--in", sample}},
			{"flows.csv", []string{"flows", "--in", sample, "--csv"}},
			{"flows.jsonl", []string{"flows", "--in", sample, "--json"}},
			{"summary.txt", []string{"summary", "--in", sample}},
			{"summary.csv", []string{"summary", "--in", sample, "--format", "csv"}},
			{"summary.json", []string{"summary", "--in", sample, "--format", "json"}},
		} {
			stdout, stderr, code := runTool(t, run.args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", run.args, code, stderr)
			}
			path := filepath.Join("testdata", "golden", strings.TrimSuffix(name, filepath.Ext(name))+"."+run.suffix)
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run TestGoldenOutputs -update writes it)", err)
			}
			if stdout != string(want) {
				t.Errorf("%s: output differs from %s:\n%s", strings.Join(run.args, " "), path, firstDiff(string(want), stdout))
			}
		}
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n want %s\n  got %s", i+1, a, b)
		}
	}
	return ""
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
			for _, k := range []string{"ms", "retrans", "retrans_bytes", "state", "state_text"} {
				if f[k] != s[k] {
					t.Errorf("%s connection %v: %s is %v in flows, %v in summary", name, f["flow"], k, f[k], s[k])
				}
			}
		}
	}
}
