package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/pcapng"
)

func TestSecondsFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"600", 600 * time.Second, false},
		{"1.5", 1500 * time.Millisecond, false},
		{"10m", 10 * time.Minute, false},
		{"250ms", 250 * time.Millisecond, false},
		{"ten", 0, true},
	}
	for _, tc := range tests {
		var d time.Duration
		err := seconds{&d}.Set(tc.in)
		if (err != nil) != tc.wantErr || d != tc.want {
			t.Errorf("Set(%q) = %v, %v; want %v (error %v)", tc.in, d, err, tc.want, tc.wantErr)
		}
	}
}

func TestCaptureUsageErrors(t *testing.T) {
	tests := [][]string{
		{"-i", "lo"},                           // no -w
		{"-w", "x.pcapng"},                     // no -i
		{"-i", "lo", "-w", "x", "--port", "0"}, // port out of range
		{"-i", "lo", "-w", "x", "--host", "not-an-address"},
		{"-i", "lo", "-w", "x", "--rotate-size", "-1"},
		{"-i", "lo", "-w", "x", "--rotate-size", "0"},
		{"-i", "lo", "-w", "x", "--rotate-seconds", "0"},
		{"-i", "lo", "-w", "x", "--rotate-size", "1", "--rotate-files", "-3"},
		{"-i", "lo", "-w", "x", "--rotate-size", "1", "--rotate-files", "0"},
		{"-i", "lo", "-w", "x", "--rotate-files", "3"}, // without rotation
		{"-i", "lo", "-w", "x", "--duration", "0"},
		{"-i", "lo", "-w", "x", "--count", "0"},
		{"-i", "lo", "-w", "x", "--snaplen", "63"},
		{"-i", "lo", "-w", "x", "--snaplen", "1025"},
		{"-i", "lo", "-w", "x", "--comm", "a-22-character-name-xx"},
		{"-i", "lo", "-w", "x", "--pid", "1", "--comm", "sshd"},
		{"-i", "lo", "-w", "x", "--sample-interval", "0"},
		{"-i", "lo", "-w", "x", "extra"},
	}
	for _, args := range tests {
		err := runCapture(args)
		if _, ok := err.(usageError); !ok {
			t.Errorf("capture %v: err = %v, want a usage error", args, err)
		}
	}
	// Through the binary: exit 2, the reason on stderr, nothing created
	// (usage is checked before capabilities, output files or BPF).
	dir := t.TempDir()
	for _, args := range tests[4:] {
		_, stderr, code := runToolWith(t, toolRun{dir: dir}, append([]string{"capture"}, args...)...)
		if code != 2 || stderr == "" {
			t.Errorf("tcpviz capture %v: exit %d, stderr %q; want 2 and a reason", args, code, stderr)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("usage errors left files behind: %v", ents)
	}
}

// The command end to end on lo: flags reach capture.Config and a readable
// file with an interface and a statistics block comes out.
func TestCaptureCommandOnLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads eBPF programs")
	}
	out := filepath.Join(t.TempDir(), "lo.pcapng")
	if err := runCapture([]string{"-i", "lo", "-w", out, "--duration", "0.3", "--port", "9", "-q"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := pcapng.NewReader(f, out)
	stats := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == pcapng.RecordStats {
			stats++
		}
	}
	if ifs := r.Interfaces(); len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].SnapLen != 128 || stats != 1 {
		t.Errorf("interfaces %+v, %d statistics blocks; want lo with snaplen 128 and one ISB", ifs, stats)
	}
	// Never overwritten: a second run refuses.
	if err := runCapture([]string{"-i", "lo", "-w", out, "--duration", "0.1", "-q"}); err == nil {
		t.Error("a second capture overwrote the file")
	}
}
