package pcapng

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
)

// got is a copy of what the reader returned for one record.
type got struct {
	Type      RecordType
	Offset    int64
	Frame     uint64
	TS        int64
	IfID      uint32
	LinkType  uint16
	Data      []byte
	OrigLen   uint32
	Flags     uint32
	DropCount uint64
	PacketID  uint64
	Comment   string
	PEN       uint32
	Custom    []byte
	Copyable  bool
	Stats     InterfaceStats
}

func snapshot(rec *Record) got {
	g := got{
		Type: rec.Type, Offset: rec.Offset, Frame: rec.Frame, TS: rec.TS, IfID: rec.InterfaceID,
		Data: bytes.Clone(rec.Data), OrigLen: rec.OrigLen, Flags: rec.Flags, DropCount: rec.DropCount,
		PacketID: rec.PacketID, Comment: string(rec.Comment), PEN: rec.PEN, Custom: bytes.Clone(rec.CustomData),
		Copyable: rec.Copyable, Stats: rec.Stats,
	}
	if rec.Interface != nil {
		g.LinkType = rec.Interface.LinkType
	}
	return g
}

// readAll reads every record of b and fails the test on any error but io.EOF.
func readAll(t *testing.T, b []byte) ([]got, *Reader) {
	t.Helper()
	r := NewReader(bytes.NewReader(b), "test.pcapng")
	var out []got
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r
		}
		if err != nil {
			t.Fatalf("record %d: %v", len(out)+1, err)
		}
		out = append(out, snapshot(rec))
	}
}

// sample writes a file with every block kind the writer makes, and returns
// the records a reader must return for it.
func sample(t testing.TB) ([]byte, []got) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{Application: "tcpviz test", OS: "Linux", Comment: "section"})
	if err != nil {
		t.Fatal(err)
	}
	eth, err := w.AddInterface(Interface{LinkType: 1, SnapLen: 128, Name: "eth0", Description: "first"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(Interface{LinkType: 101, SnapLen: 0, Name: "tun0"})
	if err != nil {
		t.Fatal(err)
	}
	pkt := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i)
		}
		return b
	}
	var want []got
	off := func() int64 { return w.Size() }
	add := func(g got, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, g)
	}
	const ts = int64(1_700_000_000_123_456_789)

	g := got{Type: RecordPacket, Offset: off(), Frame: 1, TS: ts, IfID: eth, LinkType: 1, Data: pkt(60, 1), OrigLen: 60}
	add(g, w.WritePacket(eth, ts, pkt(60, 1), 60, PacketOptions{}))

	g = got{Type: RecordPacket, Offset: off(), Frame: 2, TS: ts + 1, IfID: raw, LinkType: 101, Data: pkt(41, 2), OrigLen: 1500,
		Flags: FlagOutbound, DropCount: 7, PacketID: 0xdeadbeefcafe, Comment: "retransmitted?"}
	add(g, w.WritePacket(raw, ts+1, pkt(41, 2), 1500, PacketOptions{Flags: FlagOutbound, DropCount: 7, PacketID: 0xdeadbeefcafe, Comment: "retransmitted?"}))

	// Cut to the snap length of eth0.
	g = got{Type: RecordPacket, Offset: off(), Frame: 3, TS: ts + 2, IfID: eth, LinkType: 1, Data: pkt(128, 3), OrigLen: 9000, Flags: FlagInbound}
	add(g, w.WritePacket(eth, ts+2, pkt(200, 3), 9000, PacketOptions{Flags: FlagInbound}))

	g = got{Type: RecordCustom, Offset: off(), Frame: 4, PEN: 32473, Custom: []byte{1, 2, 3, 4, 5, 0, 0, 0}, Copyable: true}
	add(g, w.WriteCustom(32473, []byte{1, 2, 3, 4, 5}, true))

	g = got{Type: RecordCustom, Offset: off(), Frame: 5, PEN: 32473, Custom: []byte{9, 9, 9, 9}}
	add(g, w.WriteCustom(32473, []byte{9, 9, 9, 9}, false))

	st := InterfaceStats{Received: 10, Dropped: 0, OSDropped: 2, StartTime: ts - 5e9, EndTime: ts + 3}
	g = got{Type: RecordStats, Offset: off(), Frame: 5, TS: ts + 3, IfID: eth, LinkType: 1,
		Stats: InterfaceStats{Received: 10, OSDropped: 2, StartTime: ts - 5e9, EndTime: ts + 3,
			Known: StatsReceived | StatsDropped | StatsOSDropped | StatsStartTime | StatsEndTime}}
	add(g, w.WriteStats(eth, ts+3, st))

	all := InterfaceStats{Received: 1, Dropped: 2, FilterAccepted: 3, OSDropped: 4, Delivered: 5, Known: StatsReceived | StatsDropped | StatsFilterAccepted | StatsOSDropped | StatsDelivered}
	g = got{Type: RecordStats, Offset: off(), Frame: 5, TS: ts + 4, IfID: raw, LinkType: 101, Stats: all}
	add(g, w.WriteStats(raw, ts+4, all))

	g = got{Type: RecordPacket, Offset: off(), Frame: 6, TS: ts + 5, IfID: eth, LinkType: 1, Data: []byte{}, OrigLen: 0}
	add(g, w.WritePacket(eth, ts+5, nil, 0, PacketOptions{}))

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Written() != int64(buf.Len()) {
		t.Fatalf("Written() = %d, stream has %d bytes", w.Written(), buf.Len())
	}
	return buf.Bytes(), want
}

func TestRoundTrip(t *testing.T) {
	b, want := sample(t)
	out, r := readAll(t, b)
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("records differ\n got %+v\nwant %+v", out, want)
	}
	c := r.Counts()
	wantCounts := Counts{Sections: 1, Interfaces: 2, Packets: 4, Custom: 2, Stats: 2}
	if c != wantCounts {
		t.Errorf("counts %+v, want %+v", c, wantCounts)
	}
	ifs := r.Interfaces()
	if len(ifs) != 2 || ifs[0].Name != "eth0" || ifs[0].Description != "first" || ifs[0].SnapLen != 128 ||
		ifs[0].TSResol != 9 || ifs[1].Name != "tun0" || ifs[1].LinkType != 101 {
		t.Errorf("interfaces %+v %+v", ifs[0], ifs[1])
	}
	if r.Offset() != int64(len(b)) {
		t.Errorf("Offset() = %d, want %d", r.Offset(), len(b))
	}
	if r.Format() != FormatPcapNG || r.Compressed() {
		t.Errorf("format %v compressed %v", r.Format(), r.Compressed())
	}
}

func TestNeedMoreErrorText(t *testing.T) {
	b, _ := sample(t)
	r := NewReader(bytes.NewReader(b[:len(b)-3]), "x.pcapng")
	var err error
	for err == nil {
		_, err = r.Next()
	}
	var nm *NeedMoreError
	if !errors.As(err, &nm) || !errors.Is(err, ErrNeedMore) {
		t.Fatalf("got %v, want NeedMoreError", err)
	}
	last := len(b) - 32 // the last EPB has no data: 32 bytes
	want := fmt.Sprintf("x.pcapng: offset %d: truncated block: have 29 of 32 bytes", last)
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
