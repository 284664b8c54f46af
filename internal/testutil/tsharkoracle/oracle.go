// Package tsharkoracle checks tcpviz's frame-level TCP analysis against
// tshark's, frame by frame and kind by kind. Tests use it on the captures in
// samples/ and on captures that the lab makes during a test run.
package tsharkoracle

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/tcpviz/tcpviz/events"
)

// Kinds are the frame-level flags compared, as tcpviz event types.
var Kinds = []string{
	events.TypeRetransmission, events.TypeOutOfOrder, events.TypeLostSegment, events.TypeDupAck,
	events.TypeZeroWindow, events.TypeZeroWindowProbe, events.TypeWindowFull, events.TypeKeepAlive,
}

// tsharkFields are the tshark fields for Kinds, in the same order.
var tsharkFields = []string{
	"tcp.analysis.retransmission", "tcp.analysis.out_of_order", "tcp.analysis.lost_segment",
	"tcp.analysis.duplicate_ack", "tcp.analysis.zero_window", "tcp.analysis.zero_window_probe",
	"tcp.analysis.window_full", "tcp.analysis.keep_alive",
}

// Frames maps a frame number to the set of kinds flagged on it (a bit per
// index of Kinds).
type Frames map[uint64]uint16

func kindBit(typ string) uint16 {
	for i, k := range Kinds {
		if k == typ {
			return 1 << i
		}
	}
	return 0
}

// Add records an event; types that are not compared are ignored.
func (f Frames) Add(e *events.Event) {
	if b := kindBit(e.Type); b != 0 {
		f[e.Frame] |= b
	}
}

// Available reports whether tshark can be run.
func Available() bool {
	_, err := exec.LookPath("tshark")
	return err == nil
}

// Version returns tshark's version line.
func Version(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "tshark", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("tshark --version: %w", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line, nil
}

// Run runs tshark's TCP analysis on a capture and returns its flags.
func Run(ctx context.Context, path string) (Frames, error) {
	args := []string{"-r", path, "-n", "-o", "tcp.analyze_sequence_numbers:TRUE",
		"-Y", "tcp.analysis.flags", "-T", "fields", "-E", "occurrence=f", "-E", "separator=|", "-e", "frame.number"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.CommandContext(ctx, "tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark -r %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	fr := make(Frames)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "|")
		if len(cols) != 1+len(tsharkFields) {
			return nil, fmt.Errorf("tshark -r %s: unexpected line %q", path, sc.Text())
		}
		n, err := strconv.ParseUint(cols[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("tshark -r %s: frame number %q: %w", path, cols[0], err)
		}
		var bits uint16
		for i, c := range cols[1:] {
			if c != "" {
				bits |= 1 << i
			}
		}
		if bits != 0 {
			fr[n] = bits
		}
	}
	return fr, sc.Err()
}

// KindResult is the agreement on one kind.
type KindResult struct {
	Kind       string
	Both       int
	OursOnly   []uint64 // frames we flag and tshark does not
	TsharkOnly []uint64 // frames tshark flags and we do not
	Precision  float64  // Both / (Both + len(OursOnly)); 1 when we flag nothing
	Recall     float64  // Both / (Both + len(TsharkOnly)); 1 when tshark flags nothing
	// F1 is the harmonic mean of Precision and Recall:
	// 2·Both / (2·Both + len(OursOnly) + len(TsharkOnly)); 1 when neither
	// side flags the kind.
	F1 float64
}

func (r KindResult) String() string {
	return fmt.Sprintf("%-16s both %6d  ours-only %5d  tshark-only %5d  precision %.4f  recall %.4f  F1 %.4f",
		r.Kind, r.Both, len(r.OursOnly), len(r.TsharkOnly), r.Precision, r.Recall, r.F1)
}

// Compare compares our flags with tshark's, kind by kind.
func Compare(ours, tshark Frames) []KindResult {
	frames := make(map[uint64]struct{}, len(ours)+len(tshark))
	for n := range ours {
		frames[n] = struct{}{}
	}
	for n := range tshark {
		frames[n] = struct{}{}
	}
	sorted := make([]uint64, 0, len(frames))
	for n := range frames {
		sorted = append(sorted, n)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	res := make([]KindResult, len(Kinds))
	for i, k := range Kinds {
		r := &res[i]
		r.Kind = k
		bit := uint16(1) << i
		for _, n := range sorted {
			a, b := ours[n]&bit != 0, tshark[n]&bit != 0
			switch {
			case a && b:
				r.Both++
			case a:
				r.OursOnly = append(r.OursOnly, n)
			case b:
				r.TsharkOnly = append(r.TsharkOnly, n)
			}
		}
		r.Precision, r.Recall, r.F1 = 1, 1, 1
		if n := 2*r.Both + len(r.OursOnly) + len(r.TsharkOnly); n > 0 {
			r.F1 = float64(2*r.Both) / float64(n)
		}
		if n := r.Both + len(r.OursOnly); n > 0 {
			r.Precision = float64(r.Both) / float64(n)
		}
		if n := r.Both + len(r.TsharkOnly); n > 0 {
			r.Recall = float64(r.Both) / float64(n)
		}
	}
	return res
}

// Describe renders a frame's flags for messages.
func Describe(bits uint16) string {
	var s []string
	for i, k := range Kinds {
		if bits&(1<<i) != 0 {
			s = append(s, k)
		}
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
