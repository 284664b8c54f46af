package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pairing"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// TestSummaryPairsTwoCaptures: summary with two --in prints the pairing
// that the pairing package computes, the same figures in every format, and
// the connection filters apply.
func TestSummaryPairsTwoCaptures(t *testing.T) {
	a, b := "../../samples/cubic-loss-sender.pcapng", "../../samples/cubic-loss-receiver.pcapng"
	var caps [2]*pairing.Capture
	for i, p := range []string{a, b} {
		c, err := pairing.Read(context.Background(), p, pipeline.Config{Flows: conntrack.DefaultConfig()}, 0)
		if err != nil {
			t.Fatal(err)
		}
		caps[i] = c
	}
	want := pairing.Pair(caps[0], caps[1])
	if len(want.Conns) != 1 || want.Conns[0].Dirs[0].DataLost == 0 {
		t.Fatalf("the samples should pair into one lossy connection: %+v", want.Conns)
	}
	w := &want.Conns[0]

	stdout, stderr, code := runTool(t, "summary", "--in", a, "--in", b, "--format", "json")
	if code != exitOK {
		t.Fatalf("json: exit %d: %s", code, stderr)
	}
	var doc struct {
		Note  string               `json:"note"`
		Conns []pairing.ConnResult `json:"connections"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(doc.Conns) != 1 || !strings.Contains(doc.Note, "clock") {
		t.Fatalf("json: %s", stdout)
	}
	g := &doc.Conns[0]
	for d := range 2 {
		gd, wd := &g.Dirs[d], &w.Dirs[d]
		if gd.DataSent != wd.DataSent || gd.DataLost != wd.DataLost || gd.ACKsLost != wd.ACKsLost || gd.Delay != wd.Delay || len(gd.LostFrames) != len(wd.LostFrames) {
			t.Errorf("json %s: %+v, want %+v", wd.Dir, gd, wd)
		}
	}

	stdout, _, code = runTool(t, "summary", "--in", a, "--in", b, "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if code != exitOK || err != nil || len(recs) != 3 || recs[1][7] != strconv.Itoa(w.Dirs[0].DataLost) || recs[2][9] != strconv.Itoa(w.Dirs[1].ACKsLost) {
		t.Errorf("csv: exit %d %v:\n%s", code, err, stdout)
	}

	stdout, _, code = runTool(t, "summary", "--in", a, "--in", b)
	line := "c2s (A → B): data " + strconv.Itoa(w.Dirs[0].DataSent) + " sent, " + strconv.Itoa(w.Dirs[0].DataLost) + " lost"
	if code != exitOK || !strings.Contains(stdout, line) || !strings.Contains(stdout, "nearer the client (from the handshake)") {
		t.Errorf("text: exit %d, want %q:\n%s", code, line, stdout)
	}

	// A port no connection uses leaves nothing to compare.
	stdout, _, code = runTool(t, "summary", "--in", a, "--in", b, "--port", "9", "--format", "json")
	if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil || len(doc.Conns) != 0 {
		t.Errorf("--port 9: exit %d %v, %d connections", code, err, len(doc.Conns))
	}

	// report: A's report with the pairing table holding the same figures.
	dir := filepath.Join(t.TempDir(), "r")
	if _, stderr, code := runTool(t, "report", "--in", a, "--in", b, "--out", dir); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for d := range 2 {
		s := &w.Dirs[d]
		row := regexp.MustCompile(`(?s)<tr data-pair="` + strconv.FormatUint(w.FlowA, 10) + `" data-dir="` + s.Dir + `">(.*?)</tr>`).FindSubmatch(page)
		if row == nil {
			t.Fatalf("report.html has no pairing row for %s", s.Dir)
		}
		for k, v := range map[string]int{"data_sent": s.DataSent, "data_lost": s.DataLost, "acks_sent": s.ACKsSent, "acks_lost": s.ACKsLost} {
			if !strings.Contains(string(row[1]), `data-k="`+k+`" data-v="`+strconv.Itoa(v)+`"`) {
				t.Errorf("report.html %s %s: want %d in\n%s", s.Dir, k, v, row[1])
			}
		}
	}

	_, stderr, code = runTool(t, "summary", "--in", a, "--in", b, "--in", a)
	if code != exitUsage || !strings.Contains(stderr, "twice") {
		t.Errorf("three --in: exit %d, %q", code, stderr)
	}
}
