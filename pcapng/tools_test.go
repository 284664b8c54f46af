package pcapng

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestConvertedByTools reads files that tcpdump (classic pcap, µs and ns)
// and editcap (pcapng as Wireshark writes it) made from ours, plain and
// gzip'd. editcap cannot write custom blocks into classic pcap at all (it
// stops with an error), so tcpdump, which skips them, makes the pcap files.
func TestConvertedByTools(t *testing.T) {
	src := kernelFile(t)
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := readAll(t, orig)
	var packets []got
	copyable := 0
	for _, g := range ours {
		switch {
		case g.Type == RecordPacket:
			packets = append(packets, g)
		case g.Type == RecordCustom && g.Copyable:
			copyable++
		}
	}
	tests := []struct {
		name    string
		cmd     []string // output file appended
		format2 Format
		tsUnit  int64
		custom  int // custom blocks the tool keeps
	}{
		{"tcpdump pcap", []string{"tcpdump", "-r", src, "-w"}, FormatPcap, 1000, 0},
		{"tcpdump nanosecond pcap", []string{"tcpdump", "--time-stamp-precision=nano", "-r", src, "-w"}, FormatPcap, 1, 0},
		{"editcap pcapng", []string{"editcap", "-F", "pcapng", src}, FormatPcapNG, 1, copyable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := exec.LookPath(tt.cmd[0]); err != nil {
				t.Skipf("needs %s (Debian packages tcpdump, tshark)", tt.cmd[0])
			}
			out := filepath.Join(t.TempDir(), "out")
			if msg, err := exec.Command(tt.cmd[0], append(tt.cmd[1:], out)...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tt.cmd[0], err, msg)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, input := range [][]byte{b, gz(b)} {
				theirs, r := readAll(t, input)
				if r.Format() != tt.format2 {
					t.Errorf("format %v, want %v", r.Format(), tt.format2)
				}
				var got []got
				custom := 0
				for _, g := range theirs {
					switch g.Type {
					case RecordPacket:
						got = append(got, g)
					case RecordCustom:
						custom++
					}
				}
				if custom != tt.custom {
					t.Errorf("%d custom blocks, want %d", custom, tt.custom)
				}
				if len(got) != len(packets) {
					t.Fatalf("%d packets, want %d", len(got), len(packets))
				}
				for i := range got {
					w := packets[i]
					if !bytes.Equal(got[i].Data, w.Data) || got[i].OrigLen != w.OrigLen || got[i].TS != w.TS/tt.tsUnit*tt.tsUnit ||
						got[i].LinkType != w.LinkType {
						t.Fatalf("packet %d: %d bytes of %d at %d, want %d bytes of %d at %d",
							i, len(got[i].Data), got[i].OrigLen, got[i].TS, len(w.Data), w.OrigLen, w.TS)
					}
				}
			}
		})
	}
}
