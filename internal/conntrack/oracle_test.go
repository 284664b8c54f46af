package conntrack_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/rewrap"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// TestRealCaptureShapesMatchTshark makes, from real lab captures, the two
// shapes of real-world captures that split or mislabel connections: every
// SYN/ACK captured before its SYN, and a capture that starts in the middle
// of a transfer. tshark must find the same connections and flag the same
// frames.
func TestRealCaptureShapesMatchTshark(t *testing.T) {
	if !tsharkoracle.Available() {
		t.Skip("tshark not installed (Debian package tshark): the oracle test needs it")
	}
	read := func(name string) []rewrap.Packet {
		pk, err := rewrap.ReadIP(filepath.Join("..", "..", "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		return pk
	}
	isSYN := func(p rewrap.Packet, ack bool) bool {
		ihl := int(p.IP[0]&0x0f) * 4
		f := p.IP[ihl+13]
		return !p.V6 && p.IP[9] == 6 && f&0x02 != 0 && (f&0x10 != 0) == ack
	}
	// 30 short connections: swap each SYN with the SYN/ACK after it,
	// keeping the timestamps in order.
	reordered := read("rst-teardown.pcap")
	swapped := 0
	for i := 0; i+1 < len(reordered); i++ {
		if isSYN(reordered[i], false) && isSYN(reordered[i+1], true) {
			a, b := reordered[i], reordered[i+1]
			reordered[i], reordered[i+1] = b, a
			reordered[i].TS, reordered[i+1].TS = a.TS, b.TS
			swapped++
			i++
		}
	}
	if swapped != 30 {
		t.Fatalf("%d handshakes reordered, want 30", swapped)
	}
	// A transfer with loss, captured from its 400th packet on.
	midStream := read("loss-both-nano.pcap")[400:]

	det := func(emit func(*events.Event)) pipeline.Detector {
		return detectors.New(detectors.DefaultConfig(), emit)
	}
	raw := rewrap.All()[len(rewrap.All())-2] // raw IPv4 link type
	if raw.Name != "raw-ipv4" {
		t.Fatalf("encapsulation %s", raw.Name)
	}
	for name, pkts := range map[string][]rewrap.Packet{"synack-first": reordered, "mid-stream": midStream} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name+".pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rewrap.Write(f, pkts, raw); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			st := tsharkoracle.CheckAll(t, path, det, 0.99)
			t.Logf("%d flows, %d TCP packets", st.Flows, st.TCPPackets)
		})
	}
}
