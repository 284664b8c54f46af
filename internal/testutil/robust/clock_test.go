package robust

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng"
)

// clockCapture writes two conversations; at takes a segment's index (0..27:
// the IPv4 conversation, then the second one) and gives its timestamp.
func clockCapture(t *testing.T, at func(i int) int64) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := pcapng.NewWriter(&out, pcapng.WriterOptions{Application: "tcpviz robust"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 262144})
	if err != nil {
		t.Fatal(err)
	}
	segs := append(Conversation(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:5201")),
		Conversation(netip.MustParseAddrPort("10.0.0.3:40001"), netip.MustParseAddrPort("10.0.0.2:5201"))...)
	for i, sg := range segs {
		f, err := Frame(sg)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(id, at(i), f, uint32(len(f)), pcapng.PacketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Timestamps that go back (a clock step during a capture, captures merged
// out of order): no negative RTT or duration anywhere, first times never
// after last ones, the same capture duration in every output, and a warning.
func TestClockStepBack(t *testing.T) {
	bin := tcpvizBinary(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	ms := int64(time.Millisecond)
	tests := []struct {
		name string
		at   func(i int) int64
	}{
		{"clock steps back an hour after the SYN", func(i int) int64 {
			if i == 0 {
				return t0
			}
			return t0 - int64(time.Hour) + int64(i)*ms
		}},
		{"second capture 30 days earlier", func(i int) int64 {
			if i < 14 {
				return t0 + int64(i)*ms
			}
			return t0 - 30*24*int64(time.Hour) + int64(i)*ms
		}},
		{"handshake ACK stamped before the SYN", func(i int) int64 {
			if i == 2 {
				return t0 - 5*int64(time.Second)
			}
			return t0 + int64(i)*ms
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := scratchDir(t)
			in := filepath.Join(dir, "steps.pcapng")
			if err := os.WriteFile(in, clockCapture(t, tc.at), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			if b, err := exec.Command(bin, "parse-pcap", "--in", in, "--out", out).CombinedOutput(); err != nil {
				t.Fatalf("parse-pcap: %v: %s", err, b)
			}
			var sum struct {
				First    events.Timestamp `json:"first_packet"`
				Last     events.Timestamp `json:"last_packet"`
				Warnings []string         `json:"warnings"`
			}
			readJSON(t, filepath.Join(out, "summary.json"), &sum)
			if sum.First > sum.Last || sum.First == 0 {
				t.Errorf("summary.json: first_packet %d, last_packet %d", sum.First, sum.Last)
			}
			if !strings.Contains(strings.Join(sum.Warnings, "\n"), "clock step") {
				t.Errorf("no warning about time going back: %q", sum.Warnings)
			}
			for _, line := range jsonLines(t, filepath.Join(out, "flows.jsonl")) {
				var fl struct {
					First, Last events.Timestamp
					DurationMS  float64 `json:"duration_ms"`
					RTT         float64 `json:"handshake_rtt_ms"`
				}
				if err := json.Unmarshal(line, &fl); err != nil {
					t.Fatal(err)
				}
				if fl.First > fl.Last || fl.DurationMS < 0 || fl.RTT < 0 || fl.First < sum.First || fl.Last > sum.Last {
					t.Errorf("flows.jsonl: %s", line)
				}
			}
			for _, line := range jsonLines(t, filepath.Join(out, "events.jsonl")) {
				var ev struct {
					Type string  `json:"type"`
					RTT  float64 `json:"rtt_ms"`
				}
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.RTT < 0 {
					t.Errorf("events.jsonl: %s", line)
				}
			}
			b, err := exec.Command(bin, "summary", "--in", in, "--format", "json").Output()
			if err != nil {
				t.Fatalf("summary: %v", err)
			}
			var rep struct {
				DurationMS float64          `json:"duration_ms"`
				Conns      []map[string]any `json:"connections_list"`
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if want := float64(sum.Last-sum.First) / 1e6; rep.DurationMS != want {
				t.Errorf("summary: duration %v ms, parse-pcap's span %v ms", rep.DurationMS, want)
			}
			for _, c := range rep.Conns {
				for k, v := range c {
					if f, ok := v.(float64); ok && f < 0 {
						t.Errorf("summary: connection %v: %s = %v", c["flow"], k, f)
					}
				}
			}
			b, err = exec.Command(bin, "flows", "--in", in, "--json").Output()
			if err != nil {
				t.Fatalf("flows: %v", err)
			}
			for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
				var row map[string]any
				if err := json.Unmarshal(line, &row); err != nil {
					t.Fatalf("flows --json: %v: %s", err, line)
				}
				for k, v := range row {
					if f, ok := v.(float64); ok && f < 0 {
						t.Errorf("flows: %s = %v in %s", k, f, line)
					}
				}
			}
		})
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func jsonLines(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
