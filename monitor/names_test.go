package monitor

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestNaturalOrder(t *testing.T) {
	in := []string{"cap.pcap10", "cap.pcap", "cap.pcap2", "cap.pcap1", "cap.pcap9",
		"ring_00010_20261123093010.pcapng", "ring_00009_20261123093059.pcapng", "ring_00100_20261123090000.pcapng"}
	want := []string{"cap.pcap", "cap.pcap1", "cap.pcap2", "cap.pcap9", "cap.pcap10",
		"ring_00009_20261123093059.pcapng", "ring_00010_20261123093010.pcapng", "ring_00100_20261123090000.pcapng"}
	got := slices.Clone(in)
	sortNatural(got)
	if !slices.Equal(got, want) {
		t.Errorf("natural order:\n got %q\nwant %q", got, want)
	}
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"a9", "a10", true},
		{"a10", "a9", false},
		{"a", "a0", true},
		{"a01", "a1", true}, // same number: plain order decides, consistently
		{"a1", "a01", false},
		{"x", "x", false},
	} {
		if got := naturalLess(c.a, c.b); got != c.less {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}

func TestSeriesNames(t *testing.T) {
	dir := "/cap"
	cases := []struct {
		name    string
		s       *series
		matches map[string]int // name -> sequence number (-1: matches, no number)
		rejects []string
	}{
		{"tcpviz/dumpcap ring from the -w name", baseSeries(filepath.Join(dir, "rolling.pcapng")),
			map[string]int{"rolling_00001_20261123093000.pcapng": 1, "rolling_00123_20261123093000.pcapng": 123,
				"rolling.pcapng": 0, "rolling.pcapng7": 7},
			[]string{"rolling-current.pcapng", "rolling_00001_20261123093000.pcap", "other_00001_20261123093000.pcapng",
				"rolling_1_20261123093000.pcapng", ".rolling_00001_20261123093000.pcapng.tmp"}},
		{"ring of a named ring file", seriesFor(filepath.Join(dir, "ring_00004_20261123093000.pcap")),
			map[string]int{"ring_00005_20261123100000.pcap": 5, "ring_00004_20261123093000.pcap": 4},
			[]string{"ring_00005_20261123100000.pcapng", "ring.pcap"}},
		{"tcpdump -C", seriesFor(filepath.Join(dir, "dump")),
			map[string]int{"dump": 0, "dump1": 1, "dump12": 12},
			[]string{"dump.1", "dumps", "xdump1"}},
		{"glob", globSeries(dir, "ring_*.pcapng"),
			map[string]int{"ring_00002_20261123093000.pcapng": 2, "ring_x.pcapng": -1},
			[]string{"ring_00002_20261123093000.pcap"}},
		{"directory", dirSeries(dir),
			map[string]int{"a.pcap": -1, "b.pcapng": -1, "c.pcap3": -1, "d.cap.gz": -1, "r_00007_20261123093000.pcapng": 7},
			[]string{".a.pcap", "notes.txt", "a.pcap.tmp"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for n, seq := range c.matches {
				if !c.s.match(n) {
					t.Errorf("%s does not match %q", c.s.desc, n)
					continue
				}
				got, ok := c.s.seq(n)
				if seq < 0 && ok {
					t.Errorf("%q: sequence %d, want none", n, got)
				}
				if seq >= 0 && (!ok || got != seq) {
					t.Errorf("%q: sequence %d (%v), want %d", n, got, ok, seq)
				}
			}
			for _, n := range c.rejects {
				if c.s.match(n) {
					t.Errorf("%s matches %q", c.s.desc, n)
				}
			}
		})
	}
}
