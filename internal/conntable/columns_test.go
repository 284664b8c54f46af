package conntable

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestViewsResolve(t *testing.T) {
	all := Options{Wide: true, Seconds: true, Clock: true}
	for name, v := range map[string]*View{"flows": &FlowsView, "summary": &SummaryView} {
		if cols, err := v.textColumns(&all); err != nil || len(cols) != len(v.Text) {
			t.Errorf("%s: text columns %d of %d, %v", name, len(cols), len(v.Text), err)
		}
		if cols, err := v.fields(); err != nil || len(cols) != len(v.Fields) {
			t.Errorf("%s: fields %d of %d, %v", name, len(cols), len(v.Fields), err)
		}
	}
	for _, v := range []View{{Text: []string{"nope"}}, {Text: []string{"tx_bytes"}}} { // unknown; no text form
		if _, err := v.textColumns(&all); err == nil {
			t.Errorf("text %v accepted", v.Text)
		}
	}
	for _, v := range []View{{Fields: []string{"nope"}}, {Fields: []string{"zero_window"}}} { // unknown; text only
		if _, err := v.fields(); err == nil {
			t.Errorf("fields %v accepted", v.Fields)
		}
	}
}

// TestSummaryView checks the summary's view: its own columns, and the
// columns it shares with flows written the same way.
func TestSummaryView(t *testing.T) {
	rows := sampleRows()
	var text, flows, cs, js bytes.Buffer
	if err := Write(&text, rows, Options{View: &SummaryView, Header: true}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&flows, rows, Options{Header: true}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&cs, rows, Options{View: &SummaryView, Header: true, Format: FormatCSV}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&js, rows, Options{View: &SummaryView, Format: FormatJSON}); err != nil {
		t.Fatal(err)
	}
	tl, fl := strings.Split(text.String(), "\n"), strings.Split(flows.String(), "\n")
	if got := strings.Fields(tl[0]); !slices.Equal(got, []string{"FLOW", "PID", "COMM", "CLIENT", "SERVER", "C2S_KiB",
		"S2C_KiB", "MS", "RETRANS", "RTT_MS", "STATE", "END", "LIMIT", "ZERO_WIN"}) {
		t.Errorf("summary header %q", got)
	}
	// Row 4 is the server's socket: flows swaps the sides, summary does not.
	for i, want := range []string{"1 181 curl 10.0.0.1:40000 10.0.0.2:80 2 48 100.00 2 1.500 SF normal-close rwnd 61% 40%/40.0ms",
		"4 99 nginx 10.0.0.3:5555 10.0.0.2:8080 0 6 50.00 0 - SF normal-close - -"} {
		row := map[int]int{0: 1, 1: 4}[i]
		if got := strings.Join(strings.Fields(tl[row]), " "); got != want {
			t.Errorf("summary row %d:\n got %s\nwant %s", row, got, want)
		}
	}
	// The figures both views show are the same cells: MS, RETRANS, RTT_MS.
	for i := 1; i <= len(rows); i++ {
		s, f := strings.Fields(tl[i]), strings.Fields(fl[i])
		if s[7] != f[8] || s[8] != f[9] || s[9] != f[10] {
			t.Errorf("row %d: summary %q, flows %q", i, s[7:10], f[8:11])
		}
	}
	recs, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], SummaryView.Fields) || len(recs) != len(rows)+1 {
		t.Fatalf("csv header %q, %d lines", recs[0], len(recs))
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != len(SummaryView.Fields) {
			t.Errorf("json line %d: %d fields, want %d", i, len(m), len(SummaryView.Fields))
		}
		for j, k := range SummaryView.Fields {
			var cell string
			switch v := m[k].(type) {
			case nil:
			case string:
				cell = v
			case float64:
				if b, _ := json.Marshal(v); string(b) != recs[i+1][j] {
					t.Errorf("row %d %s: json %s, csv %s", i, k, b, recs[i+1][j])
				}
				continue
			default:
				continue // events: a map in JSON, a list in CSV
			}
			if cell != recs[i+1][j] {
				t.Errorf("row %d %s: json %q, csv %q", i, k, cell, recs[i+1][j])
			}
		}
	}
	if got := recs[1][slices.Index(SummaryView.Fields, "limit")]; got != "rwnd" {
		t.Errorf("csv limit %q, want rwnd", got)
	}
}
