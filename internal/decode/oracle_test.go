package decode_test

import (
	"context"
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

// oracleFloor is the per-kind precision and recall below which a rewrapped
// capture fails (the same floor as the detectors' oracle test).
const oracleFloor = 0.97

// rewrapSources are real lab captures: IPv4 with loss (retransmissions,
// duplicate ACKs) and 30 short connections (stream count), and IPv6 with
// loss for the encapsulations that carry IPv6.
// maxRewrap bounds the packets taken from each source, to keep the test
// short: the first 1200 hold handshakes, losses and their retransmissions.
const maxRewrap = 1200

var rewrapSources = []string{"loss-both-nano.pcap", "rst-teardown.pcap", "ipv6-loss-sender.pcap"}

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
	srcs := make(map[string][]rewrap.Packet)
	for _, name := range rewrapSources {
		pk, err := rewrap.ReadIP(filepath.Join("..", "..", "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		srcs[name] = pk[:min(len(pk), maxRewrap)]
	}
	dir := t.TempDir()
	det := func(emit func(*events.Event)) pipeline.Detector {
		return detectors.New(detectors.DefaultConfig(), emit)
	}
	for _, e := range rewrap.All() {
		for _, name := range rewrapSources {
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

// checkAgainstTshark compares one capture: connection count, TCP frame
// count and per-frame flags.
func checkAgainstTshark(t *testing.T, path string, det tsharkoracle.NewDetector) pipeline.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	ours := make(tsharkoracle.Frames)
	st, err := tsharkoracle.RunStats(path, det, tsharkoracle.FrameSink(ours))
	if err != nil {
		t.Fatal(err)
	}
	theirs, streams, tcpFrames, err := tsharkoracle.RunAll(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if tcpFrames == 0 {
		t.Error("tshark found no TCP: the capture is not what the test means it to be")
	}
	if st.Flows != streams || int(st.TCPPackets) != tcpFrames {
		t.Errorf("tcpviz: %d flows, %d TCP packets (skipped %v); tshark: %d streams, %d TCP frames",
			st.Flows, st.TCPPackets, st.Skipped, streams, tcpFrames)
	}
	for _, r := range tsharkoracle.Compare(ours, theirs) {
		if r.Precision < oracleFloor || r.Recall < oracleFloor {
			t.Errorf("%v: ours only %v, tshark only %v", r, head(r.OursOnly), head(r.TsharkOnly))
		} else if len(r.OursOnly)+len(r.TsharkOnly) > 0 {
			t.Logf("%v", r)
		}
	}
	return st
}

func head(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}
