package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var scriptSrc = regexp.MustCompile(`(?i)<script[^>]*\ssrc\s*=`)

func TestReportFromSessionAndCapture(t *testing.T) {
	work := t.TempDir()
	session := parseSession(t, work)
	for _, tc := range []struct {
		name string
		args []string
		dir  string
	}{
		{"session", []string{"report", "--in", session}, session},
		{"capture", []string{"report", "--in", fixturePath, "--out", filepath.Join(work, "r2"), "--charts", "overview,summary"}, filepath.Join(work, "r2")},
		{"events.jsonl", []string{"report", "--in", filepath.Join(session, "events.jsonl"), "--out", filepath.Join(work, "r3")}, filepath.Join(work, "r3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runTool(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			paths := strings.Fields(stdout)
			want := []string{"timeline.html", "summary.html", "report.html"}
			if len(paths) != len(want) {
				t.Fatalf("printed %q", stdout)
			}
			for i, p := range paths {
				if filepath.Base(p) != want[i] || filepath.Dir(p) != tc.dir {
					t.Errorf("path %d: %s, want %s in %s", i, p, want[i], tc.dir)
				}
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if scriptSrc.Match(b) {
					t.Errorf("%s loads a script", p)
				}
			}
			b, _ := os.ReadFile(filepath.Join(tc.dir, "report.html"))
			// Every fixture connection is a row of the connections table.
			for _, c := range fixtureConns {
				if !strings.Contains(string(b), c.client.String()) {
					t.Errorf("report.html lacks connection %s", c.client)
				}
			}
		})
	}
}

func TestReportWhenTheCaptureIsGone(t *testing.T) {
	work := t.TempDir()
	capture := filepath.Join(work, "gone.pcapng")
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(capture, data, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runToolWith(t, toolRun{dir: work}, "parse-pcap", "--in", capture, "-q")
	if code != exitOK {
		t.Fatalf("parse-pcap: exit %d: %s", code, stderr)
	}
	session := filepath.Join(work, filepath.Dir(strings.Split(stdout, "\n")[0]))
	os.Remove(capture)
	_, stderr, code = runTool(t, "report", "--in", session)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"gone.pcapng is gone", "not drawn: tsg", "not drawn: throughput"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(session, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Not drawn:") {
		t.Error("the page does not list the missing charts")
	}
}

func TestSummaryCommandFormats(t *testing.T) {
	stdout, stderr, code := runTool(t, "summary", "--in", fixturePath, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Connections int              `json:"connections"`
		Packets     uint64           `json:"packets"`
		List        []map[string]any `json:"connections_list"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if doc.Connections != len(fixtureConns) || len(doc.List) != len(fixtureConns) || doc.Packets == 0 {
		t.Errorf("json: %d connections (%d rows), %d packets; fixture has %d", doc.Connections, len(doc.List), doc.Packets, len(fixtureConns))
	}
	stdout, _, code = runTool(t, "summary", "--in", fixturePath, "--format", "csv", "--port", strconv.Itoa(int(fixtureConns[0].server.Port())))
	if code != exitOK {
		t.Fatalf("csv: exit %d", code)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range fixtureConns {
		if c.server.Port() == fixtureConns[0].server.Port() || c.client.Port() == fixtureConns[0].server.Port() {
			n++
		}
	}
	if len(recs) != n+1 || recs[0][0] != "flow" {
		t.Errorf("csv with --port: %d rows, want %d + header:\n%s", len(recs), n, stdout)
	}
	stdout, _, code = runTool(t, "summary", "--in", fixturePath)
	if code != exitOK || !strings.Contains(stdout, "connections") || !strings.Contains(stdout, fixtureConns[0].client.String()) {
		t.Errorf("text: exit %d:\n%s", code, stdout)
	}
}

func TestReportUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"report"},
		{"report", "--in", fixturePath, "--charts", "pie"},
		{"report", "--in", fixturePath, "--saddr", "not-an-address"},
		{"report", "--in", fixturePath, "--since", "yesterday"},
		{"summary", "--in", fixturePath, "--format", "xml"},
	} {
		_, stderr, code := runTool(t, args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want exit %d with a message", args, code, stderr, exitUsage)
		}
	}
	_, stderr, code := runTool(t, "report", "--in", filepath.Join(t.TempDir(), "missing.pcapng"))
	if code != exitFailure || !strings.Contains(stderr, "missing.pcapng") {
		t.Errorf("missing input: exit %d, stderr %q", code, stderr)
	}
}
