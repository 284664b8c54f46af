package tsharkoracle

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// RunAll runs tshark once on a capture and returns its flags (as Run), the
// number of TCP connections (distinct tcp.stream values) and the number of
// frames it decodes as TCP and gives a stream.
func RunAll(ctx context.Context, path string) (fr Frames, streams, tcpFrames int, err error) {
	args := []string{"-r", path, "-n", "-o", "tcp.analyze_sequence_numbers:TRUE",
		"-Y", "tcp", "-T", "fields", "-E", "occurrence=f", "-E", "separator=|", "-e", "frame.number", "-e", "tcp.stream"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.CommandContext(ctx, "tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("tshark -r %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	fr = make(Frames)
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "|")
		if len(cols) != 2+len(tsharkFields) {
			return nil, 0, 0, fmt.Errorf("tshark -r %s: unexpected line %q", path, sc.Text())
		}
		n, err := strconv.ParseUint(cols[0], 10, 64)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("tshark -r %s: frame number %q: %w", path, cols[0], err)
		}
		if cols[1] == "" {
			// tshark saw TCP but too little of its header to give the frame
			// a stream (a snapshot cut inside the ports or sequence
			// numbers): not a segment to compare.
			continue
		}
		tcpFrames++
		seen[cols[1]] = true
		var bits uint16
		for i, c := range cols[2:] {
			if c != "" {
				bits |= 1 << i
			}
		}
		if bits != 0 {
			fr[n] = bits
		}
	}
	return fr, len(seen), tcpFrames, sc.Err()
}

// Streams returns the number of TCP connections tshark finds in a capture
// (distinct tcp.stream values) and the number of frames it decodes as TCP.
func Streams(ctx context.Context, path string) (streams, tcpFrames int, err error) {
	cmd := exec.CommandContext(ctx, "tshark", "-r", path, "-n", "-Y", "tcp", "-T", "fields", "-e", "tcp.stream")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("tshark -r %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			seen[s] = true
			tcpFrames++
		}
	}
	return len(seen), tcpFrames, sc.Err()
}

// RunStats runs a capture through tcpviz's pipeline like RunPipeline and
// returns the pipeline's counters (flows, TCP packets, skipped frames).
func RunStats(path string, det NewDetector, sinks ...pipeline.Sink) (pipeline.Stats, error) {
	res, err := driver.Run(context.Background(), driver.Source{Path: path,
		Pipeline: pipeline.Config{Flows: conntrack.DefaultConfig(), NewDetector: det}}, sinks...)
	if err != nil {
		return pipeline.Stats{}, err
	}
	return res.Stats, nil
}

// FrameSink collects the compared flags of the events it receives.
func FrameSink(fr Frames) pipeline.Sink { return frameSink(fr) }

// CheckAll compares tcpviz with tshark on one capture: the same number of
// connections, the same frames decoded as TCP, and per-frame flags with an
// F1 score (and so precision or recall) of at least floor per kind. It returns tcpviz's
// counters; sinks also receive the run's packets and events.
func CheckAll(t testing.TB, path string, det NewDetector, floor float64, sinks ...pipeline.Sink) pipeline.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ours := make(Frames)
	st, err := RunStats(path, det, append(sinks, FrameSink(ours))...)
	if err != nil {
		t.Fatal(err)
	}
	theirs, streams, tcpFrames, err := RunAll(ctx, path)
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
	for _, r := range Compare(ours, theirs) {
		if r.F1 < floor {
			t.Errorf("%v: ours only %v, tshark only %v", r, first10(r.OursOnly), first10(r.TsharkOnly))
		} else if len(r.OursOnly)+len(r.TsharkOnly) > 0 {
			t.Logf("%v", r)
		}
	}
	return st
}

func first10(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}
