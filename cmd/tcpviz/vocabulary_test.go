package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// snake is a JSON key or CSV column name: lower case words joined by "_".
var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// onePlural finds "1 connections" and the like: the number one followed by
// a plural count noun (units such as "1 ms" or "1 KiB" are not nouns).
var onePlural = regexp.MustCompile(`(?:^|[^0-9.,/])1 (connections|packets|events|detector events|retransmissions|segments|SYNs|files|records|kernel records|directions|samples|rows|columns|frames|flows|sessions|bytes|advertisements|probes|episodes|warnings|errors|window-full events|zero-window advertisements|connections refused)\b`)

// zeroOrManySingular finds "3 connection" and the like.
var zeroOrManySingular = regexp.MustCompile(`(?:^|[^0-9.,/])(?:0|[2-9]|[1-9][0-9]+) (connection|packet|detector event|retransmission|segment|file|record|direction|sample|frame|session|advertisement)(?:[ ,.;:)]|$)`)

// dataMaps are JSON objects whose keys are data (skip reasons, tunnel
// names), not field names.
var dataMaps = map[string]bool{"skipped": true}

// jsonKeys calls bad for every key of v (recursively) that is not snake_case.
func jsonKeys(v any, path string, bad func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snake.MatchString(k) {
				bad(path + "." + k)
			}
			if !dataMaps[k] {
				jsonKeys(e, path+"."+k, bad)
			}
		}
	case []any:
		for _, e := range x {
			jsonKeys(e, path+"[]", bad)
		}
	}
}

// TestOutputVocabulary audits every output pinned by the golden files (every
// sample through parse-pcap, flows and summary in text, CSV and JSON): JSON
// keys and CSV columns are snake_case, text says "1 connection" and "2
// connections", never "1 connections".
func TestOutputVocabulary(t *testing.T) {
	samples := allSamples(t)
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	for _, name := range samples {
		secs, err := readGolden(filepath.Join("testdata", "golden", name+".golden.gz"))
		if err != nil {
			t.Fatal(err)
		}
		if len(secs) == 0 {
			t.Fatalf("%s: no outputs in the golden file", name)
		}
		for _, s := range secs {
			where := name + ": " + s.name
			switch {
			case strings.HasSuffix(s.name, ".json") || strings.HasSuffix(s.name, ".jsonl") || strings.HasSuffix(s.name, "--json") || strings.HasSuffix(s.name, "json"):
				dec := json.NewDecoder(strings.NewReader(s.data))
				for dec.More() {
					var v any
					if err := dec.Decode(&v); err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					jsonKeys(v, "", func(k string) { t.Errorf("%s: JSON key %s is not snake_case", where, k) })
				}
			case strings.HasSuffix(s.name, "csv"):
				head, _, _ := strings.Cut(s.data, "\n")
				for _, col := range strings.Split(head, ",") {
					if !snake.MatchString(col) {
						t.Errorf("%s: CSV column %q is not snake_case", where, col)
					}
				}
			default:
				for _, line := range strings.Split(s.data, "\n") {
					if m := onePlural.FindString(line); m != "" {
						t.Errorf("%s: %q: one with a plural (%q)", where, line, m)
					}
					if m := zeroOrManySingular.FindString(line); m != "" {
						t.Errorf("%s: %q: a count with a singular (%q)", where, line, m)
					}
				}
			}
		}
	}
}

// TestVocabularyAuditCanFail feeds the audit's patterns what they must
// catch, so a pattern that matches nothing cannot pass unnoticed.
func TestVocabularyAuditCanFail(t *testing.T) {
	for _, s := range []string{"flows:    1 connections, 2 KiB", "1 packets", "parsed: 1 detector events"} {
		if !onePlural.MatchString(s) {
			t.Errorf("onePlural misses %q", s)
		}
	}
	for _, s := range []string{"1 ms", "1 KiB", "1 connection", "11 connections", "0.1 s", "2.1 packets"} {
		if onePlural.MatchString(s) {
			t.Errorf("onePlural flags %q", s)
		}
	}
	for _, s := range []string{"3 connection", "0 packet,", "12 retransmission"} {
		if !zeroOrManySingular.MatchString(s) {
			t.Errorf("zeroOrManySingular misses %q", s)
		}
	}
	for _, s := range []string{"1 connection", "3 connections", "1 packet"} {
		if zeroOrManySingular.MatchString(s) {
			t.Errorf("zeroOrManySingular flags %q", s)
		}
	}
	for k, want := range map[string]bool{"zero_window_ms": true, "rtt_p50_ms": true, "zeroWindow": false, "Flow": false, "tx-kib": false} {
		if snake.MatchString(k) != want {
			t.Errorf("snake %q: %v", k, !want)
		}
	}
}
