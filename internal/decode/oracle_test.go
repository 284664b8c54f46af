package decode_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/rewrap"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// oracleFloor is the per-kind F1 score below which a rewrapped capture
// fails. Re-wrapping must not change a single flag, and on these captures it
// does not (every kind agrees at 100 %); the floor leaves room for tshark
// versions that judge an ambiguous frame differently.
const oracleFloor = 0.99

// maxRewrap bounds the packets taken from each transfer, to keep the test
// short: the first 600 hold the handshake, losses and their
// retransmissions.
const maxRewrap = 600

// rewrapSources reads the real lab captures the encapsulations are applied
// to: an IPv4 transfer with loss (retransmissions, duplicate ACKs) followed
// by 30 short connections (the stream count), and an IPv6 transfer with loss.
func rewrapSources(t *testing.T) map[string][]rewrap.Packet {
	read := func(name string) []rewrap.Packet {
		pk, err := rewrap.ReadIP(filepath.Join("..", "..", "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		return pk
	}
	v4 := read("loss-both-nano.pcap")[:maxRewrap]
	more := read("rst-teardown.pcap")
	shift := v4[len(v4)-1].TS + int64(time.Second) - more[0].TS
	for _, p := range more {
		p.TS += shift
		v4 = append(v4, p)
	}
	return map[string][]rewrap.Packet{"ipv4": v4, "ipv6": read("ipv6-loss-sender.pcap")[:maxRewrap]}
}

// TestRewrappedCapturesMatchTshark wraps every frame of real captures in
// every encapsulation and checks that tcpviz finds the same connections as
// tshark, decodes the same frames as TCP, and flags the same frames.
func TestRewrappedCapturesMatchTshark(t *testing.T) {
	if !tsharkoracle.Available() {
		t.Skip("tshark not installed (Debian package tshark): the oracle test needs it")
	}
	if v, err := tsharkoracle.Version(t.Context()); err == nil {
		t.Log(v)
	}
	srcs := rewrapSources(t)
	dir := t.TempDir()
	det := func(emit func(*events.Event)) pipeline.Detector {
		return detectors.New(detectors.DefaultConfig(), emit)
	}
	for _, e := range rewrap.All() {
		for _, name := range []string{"ipv4", "ipv6"} {
			pkts := srcs[name]
			v6 := pkts[0].V6
			if (v6 && e.V4Only) || (!v6 && e.V6Only) {
				continue
			}
			t.Run(e.Name+"/"+name, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(dir, e.Name+"-"+name)
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := rewrap.Write(f, pkts, e); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				checkAgainstTshark(t, path, det)
			})
		}
	}
}

// TestFragmentedCapturesMatchTshark splits every large packet of real
// captures into IP fragments, in order and last fragment first, and
// compares with tshark (which reassembles by default and puts the segment on
// the frame that completed it, as tcpviz does).
func TestFragmentedCapturesMatchTshark(t *testing.T) {
	if !tsharkoracle.Available() {
		t.Skip("tshark not installed (Debian package tshark): the oracle test needs it")
	}
	dir := t.TempDir()
	det := func(emit func(*events.Event)) pipeline.Detector {
		return detectors.New(detectors.DefaultConfig(), emit)
	}
	for _, name := range []string{"loss-both-nano.pcap", "ipv6-loss-sender.pcap"} {
		pkts, err := rewrap.ReadIP(filepath.Join("..", "..", "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		pkts = pkts[:min(len(pkts), maxRewrap)]
		for _, reverse := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/reverse=%v", name, reverse), func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(dir, fmt.Sprintf("frag-%v-%s", reverse, name))
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := rewrap.WriteFragmented(f, pkts, 600, reverse); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				st := checkAgainstTshark(t, path, det)
				if st.Fragments.Reassembled == 0 || st.Fragments.Expired+st.Fragments.Evicted+st.Fragments.Overlaps > 0 {
					t.Errorf("fragments: %+v", st.Fragments)
				}
				t.Logf("%d TCP packets, %d datagrams reassembled, at most %d bytes held", st.TCPPackets, st.Fragments.Reassembled, st.Fragments.MaxHeld)
			})
		}
	}
}

func checkAgainstTshark(t *testing.T, path string, det tsharkoracle.NewDetector) pipeline.Stats {
	t.Helper()
	return tsharkoracle.CheckAll(t, path, det, oracleFloor)
}
