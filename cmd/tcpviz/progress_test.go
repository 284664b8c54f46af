package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	cases := []struct {
		name          string
		done, size    int64
		records       uint64
		elapsed       time.Duration
		want, notWant []string
	}{
		{"known size", 50 << 20, 200 << 20, 500000, 2 * time.Second,
			[]string{"50.0 MiB / 200.0 MiB", " 25%", "25.0 MiB/s", "250.0 k packets/s", "ETA 0:06"}, nil},
		{"unknown size (stdin, gzip)", 3 << 30, 0, 3_000_000, time.Second,
			[]string{"3.0 GiB", "3.0 GiB/s", "3.00 M packets/s"}, []string{"ETA", "%"}},
		{"finished", 100, 100, 10, time.Second, []string{"100 B / 100 B 100%"}, []string{"ETA"}},
		{"no time yet", 10, 100, 1, 0, []string{"10 B / 100 B"}, []string{"/s"}},
		{"long ETA", 1 << 20, 8000 << 20, 1000, time.Second, []string{"ETA 2:13:19"}, nil},
	}
	for _, c := range cases {
		got := progressLine(c.done, c.size, c.records, c.elapsed)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: %q has %q", c.name, got, w)
			}
		}
	}
}

func TestProgressBarRedrawsAndClears(t *testing.T) {
	var b bytes.Buffer
	bar := &progressBar{w: &b, start: time.Now().Add(-time.Second)}
	bar.update(10, 100, 5)
	bar.update(20, 100, 10) // within 200 ms: skipped
	if n := strings.Count(b.String(), "\r"); n != 1 {
		t.Errorf("%d redraws, want 1 (rate limit): %q", n, b.String())
	}
	bar.clear()
	if !strings.HasSuffix(b.String(), "\r\x1b[K") {
		t.Errorf("clear does not erase the line: %q", b.String())
	}
}

func TestNoBarWithoutTerminal(t *testing.T) {
	// Test output is a pipe or file, never a terminal.
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("a file counts as a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if useColor(os.Stdout) {
		t.Error("colour despite NO_COLOR")
	}
	of := &outputFlags{quiet: true}
	if p, _ := of.progress(); p != nil {
		t.Error("progress bar despite --quiet")
	}
}
