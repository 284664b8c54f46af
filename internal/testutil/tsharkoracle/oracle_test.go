package tsharkoracle

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

func TestCompare(t *testing.T) {
	rt, ooo, dup := kindBit(events.TypeRetransmission), kindBit(events.TypeOutOfOrder), kindBit(events.TypeDupAck)
	ours := Frames{1: rt, 2: rt | dup, 3: ooo, 5: dup}
	theirs := Frames{1: rt, 2: rt, 4: ooo, 5: dup}
	res := Compare(ours, theirs)
	want := map[string]struct {
		both              int
		oursOnly, tshOnly []uint64
		precision, recall float64
		f1                float64
	}{
		events.TypeRetransmission: {2, nil, nil, 1, 1, 1},
		events.TypeOutOfOrder:     {0, []uint64{3}, []uint64{4}, 0, 0, 0},
		events.TypeDupAck:         {1, []uint64{2}, nil, 0.5, 1, 2.0 / 3},
		events.TypeKeepAlive:      {0, nil, nil, 1, 1, 1},
	}
	for _, r := range res {
		w, ok := want[r.Kind]
		if !ok {
			continue
		}
		if r.Both != w.both || !slices.Equal(r.OursOnly, w.oursOnly) || !slices.Equal(r.TsharkOnly, w.tshOnly) || r.Precision != w.precision || r.Recall != w.recall || r.F1 != w.f1 {
			t.Errorf("%s: got %v ours %v tshark %v", r.Kind, r, r.OursOnly, r.TsharkOnly)
		}
	}
	if got := Describe(rt | dup); got != "retransmission,dup_ack" {
		t.Errorf("Describe: %q", got)
	}
}

// TestRun writes a tiny capture with one retransmission and reads tshark's
// verdict back.
func TestRun(t *testing.T) {
	if !Available() {
		t.Skip("tshark not installed (Debian package tshark)")
	}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	mk := func(frame uint64, dt time.Duration, seq uint32, n uint32) events.Packet {
		return events.Packet{Frame: frame, TS: ts + int64(dt), Src: a, Dst: b, SrcPort: 1000, DstPort: 80,
			Seq: seq, Ack: 1, Flags: events.FlagACK | events.FlagPSH, Window: 500, Len: n}
	}
	pkts := []events.Packet{mk(1, 0, 100, 10), mk(2, time.Millisecond, 110, 10), mk(3, time.Second, 100, 10)}
	var buf bytes.Buffer
	if err := WritePCAP(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fr, err := Run(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fr) != 1 || fr[3] != kindBit(events.TypeRetransmission) {
		t.Errorf("tshark flags %v, want frame 3 retransmission only", fr)
	}
}
