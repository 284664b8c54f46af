package events_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// The asynchronous writer writes exactly the bytes of the direct one, in
// the same order, although its producer reuses the event and the kernel
// record it points to (as the pipeline does) while earlier ones are still
// queued.
//
// With slots, most events are built in the place Slot hands out (as the
// detectors do), some are copied in, and some are built in a slot and
// then not queued (the place is handed out again, zero); each event must
// read the same after Event as before (the pipeline hands it to its other
// sinks after the writer's), which -race checks too: the batch is not the
// writer goroutine's yet.
func TestAsyncWriterSameBytes(t *testing.T) {
	for _, slots := range []bool{false, true} {
		for _, n := range []int{0, 1, 255, 256, 257, 5000} {
			t.Run(strconv.Itoa(n)+map[bool]string{false: "", true: "/slots"}[slots], func(t *testing.T) {
				asyncSameBytes(t, n, slots)
			})
		}
	}
}

func asyncSameBytes(t *testing.T, n int, slots bool) {
	var direct, async bytes.Buffer
	dw := events.NewWriter(&direct, 4096)
	aw := events.NewAsyncWriter(events.NewWriter(&async, 4096))
	r := rand.New(rand.NewPCG(uint64(n), 7))
	var own events.Event // reused, as the detectors reuse theirs
	var k kblock.Record  // reused, as the pipeline reuses its kernel record
	for i := range n {
		ev := &own
		if slots && r.IntN(8) != 0 {
			ev = aw.Slot()
			if *ev != (events.Event{}) {
				t.Fatalf("event %d: the slot is not zero: %+v", i, *ev)
			}
			if r.IntN(6) == 0 {
				// Built in, then not queued.
				ev.Type, ev.Note, ev.Kernel = "abandoned", "x", &k
				ev = aw.Slot()
				if *ev != (events.Event{}) {
					t.Fatalf("event %d: the slot handed out again is not zero: %+v", i, *ev)
				}
			}
		}
		*ev = events.Event{Type: events.TypeRetransmission, Frame: uint64(i + 1), TS: events.Timestamp(r.Int64N(1 << 62)),
			Flow: r.Uint64N(100), Dir: events.Dir(r.IntN(2)), Src: "10.0.0.1:" + strconv.Itoa(i), Dst: "10.0.0.2:80",
			Severity: events.SevWarn, Seq: r.Uint32(), Len: r.Uint32N(1500), Note: strconv.Itoa(r.IntN(1000)),
			Context: events.Context{BytesInFlight: r.Int64N(1 << 20), SRTTms: r.Float64()}}
		if r.IntN(3) == 0 {
			k = kblock.Record{Kind: kblock.KindProbe, TS: int64(i), Saddr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Sport: uint16(i),
				SndCwnd: r.Uint32(), SRTTus: r.Uint32(), Comm: "c" + strconv.Itoa(i)}
			ev.Type, ev.Kernel = events.TypeKernelSample, &k
		}
		if r.IntN(5) == 0 {
			ev.Confirmed = events.False
		}
		dw.Event(ev)
		before := *ev
		aw.Event(ev)
		if slots && ev.Kernel == nil && *ev != before {
			t.Fatalf("event %d changed in the call: %+v, was %+v", i, *ev, before)
		}
	}
	if err := dw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Flush(); err != nil {
		t.Fatal(err)
	}
	aw.Close() // after Flush: nothing more to do
	if lines := bytes.Count(direct.Bytes(), []byte{'\n'}); lines != n {
		t.Fatalf("direct writer wrote %d lines, want %d", lines, n)
	}
	if !bytes.Equal(direct.Bytes(), async.Bytes()) {
		t.Fatalf("asynchronous output differs from the direct writer's (%d vs %d bytes)", async.Len(), direct.Len())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// A write error reaches Err and Flush.
func TestAsyncWriterError(t *testing.T) {
	aw := events.NewAsyncWriter(events.NewWriter(failWriter{}, 64))
	ev := events.Event{Type: events.TypeDupAck, Src: "a", Dst: "b"}
	for range 1000 {
		aw.Event(&ev)
	}
	if err := aw.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush = %v, want the write error", err)
	}
	if err := aw.Err(); err == nil {
		t.Fatal("Err = nil after a failed write")
	}
}

// Flow records likewise, from a reused record as the pipeline hands them.
func TestAsyncWriterFlows(t *testing.T) {
	var direct, async bytes.Buffer
	dw := events.NewWriter(&direct, 4096)
	aw := events.NewAsyncWriter(events.NewWriter(&async, 4096))
	var r events.FlowRecord
	for i := range 1000 {
		r = events.FlowRecord{Type: "flow", Flow: uint64(i + 1), Client: "10.0.0.1:" + strconv.Itoa(1024+i), Server: "10.0.0.2:80",
			PacketsC2S: uint64(i), BytesS2C: uint64(i * 1000), DurationMS: float64(i) / 7, Events: map[string]int{"dup_ack": i}}
		if i%3 == 0 {
			r.Limits = events.FlowLimits{C2S: events.DirLimits{Source: events.LimitSourcePackets, Dominant: "cwnd", Seconds: events.LimitSeconds{Cwnd: 1}}}
		}
		dw.Flow(&r)
		aw.Flow(&r)
	}
	if err := dw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Flush(); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(direct.Bytes(), []byte{'\n'}) != 1000 || !bytes.Equal(direct.Bytes(), async.Bytes()) {
		t.Fatalf("asynchronous flows differ from the direct writer's (%d vs %d bytes)", async.Len(), direct.Len())
	}
}

// slowWriter pauses in some of its writes, so the producer finds the
// queue full at times and empty at others.
type slowWriter struct {
	bytes.Buffer
	n int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.n++; w.n%4 == 0 {
		time.Sleep(200 * time.Microsecond)
	}
	return w.Buffer.Write(p)
}

// TestAsyncWriterSlowSink writes through a sink that pauses: every event
// arrives once, in order, whether the goroutine waits for a kick or the
// producer waits for room.
func TestAsyncWriterSlowSink(t *testing.T) {
	const n = 10_000
	var direct bytes.Buffer
	slow := &slowWriter{}
	dw := events.NewWriter(&direct, 512)
	aw := events.NewAsyncWriter(events.NewWriter(slow, 512))
	for i := range n {
		ev := events.Event{Type: events.TypeRetransmission, Frame: uint64(i + 1), Severity: events.SevWarn, Seq: uint32(i)}
		dw.Event(&ev)
		aw.Event(&ev)
		if i%2000 == 0 {
			time.Sleep(time.Millisecond) // the goroutine catches up and waits
		}
	}
	if err := dw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(direct.Bytes(), slow.Bytes()) {
		t.Fatalf("async wrote %d bytes, direct %d: not the same", slow.Len(), direct.Len())
	}
}
