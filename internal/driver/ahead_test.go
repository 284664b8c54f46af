package driver

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/pcapng"
)

// frameBytes is the content of frame i of file f in testCapture: every
// frame different, a few larger than a slab.
func frameBytes(f, i int) []byte {
	n := 30 + (i*7)%150
	if i%5000 == 4999 {
		n = slabLen + 1000 + i
	}
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(f*31 + i + j)
	}
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

func testCapture(t *testing.T, f, frames int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapng.NewWriter(&buf, pcapng.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface(pcapng.Interface{LinkType: 1})
	for i := range frames {
		b := frameBytes(f, i)
		if err := w.WritePacket(id, int64(i), b, uint32(len(b)), pcapng.PacketOptions{}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if err := w.WriteCustom(32473, b[:16], false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadAheadKeepsBytes runs two readers at once, sharing their free
// batches as the driver's files do, while the consumer holds several
// batches before handing them back: when a batch goes back, every record
// in it must still hold its own bytes, so no slab was lent to a reader
// again while a batch pointed into it. The first file is shorter: its last
// batches are held while the other reader goes on taking slabs from the
// stock they share.
func TestReadAheadKeepsBytes(t *testing.T) {
	const files, hold = 2, 6
	frames := [files]int{5_000, 20_000}
	st := newStock(files)
	outs := make([]*queue, files)
	for f := range files {
		outs[f] = newAheadQueue()
		r := pcapng.NewReader(bytes.NewReader(testCapture(t, f, frames[f])), fmt.Sprint("file", f))
		go readAhead(context.Background(), r, decode.New(), outs[f], st)
	}
	next := make([]int, files) // the next frame expected from each file
	check := func(f int, a *ahead) {
		for _, it := range a.items {
			if it.other > 0 {
				if want := frameBytes(f, next[f]-1)[:16]; !bytes.Equal(a.others[it.other-1].CustomData, want) {
					t.Fatalf("file %d: the custom block after frame %d changed", f, next[f]-1)
				}
				continue
			}
			if want := frameBytes(f, next[f]); !bytes.Equal(it.data, want) {
				t.Fatalf("file %d, frame %d: %d bytes, not its own", f, next[f], len(it.data))
			}
			next[f]++
		}
	}
	var held [files][]*ahead
	for open := files; open > 0; {
		open = 0
		for f := range files {
			a, ok := outs[f].get()
			if !ok {
				continue
			}
			open++
			held[f] = append(held[f], a)
			if len(held[f]) == hold {
				check(f, held[f][0])
				giveBack(st, held[f][0]) // as the driver does
				held[f] = held[f][1:]
			}
		}
	}
	for f := range files {
		for _, a := range held[f] {
			check(f, a)
		}
		if next[f] != frames[f] {
			t.Errorf("file %d: %d frames, want %d", f, next[f], frames[f])
		}
	}
}

// TestReadAheadBatchBytes reads full-size frames: a batch ends once its
// records hold batchBytes, long before batchLen records, so a queue holds
// about aheadQueue*batchBytes whatever the snapshot length; small frames
// still fill batchLen records.
func TestReadAheadBatchBytes(t *testing.T) {
	for _, tc := range []struct {
		size, frames int
		wantLen      int // records in every batch but the last
	}{
		{1514, 2_000, batchBytes/1514 + 1},
		{60, 2_000, batchLen},
	} {
		var buf bytes.Buffer
		w, err := pcapng.NewWriter(&buf, pcapng.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := w.AddInterface(pcapng.Interface{LinkType: 1})
		b := make([]byte, tc.size)
		for i := range tc.frames {
			if err := w.WritePacket(id, int64(i), b, uint32(len(b)), pcapng.PacketOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		out, st := newAheadQueue(), newStock(1)
		go readAhead(context.Background(), pcapng.NewReader(&buf, "full"), decode.New(), out, st)
		n := 0
		for a, ok := out.get(); ok; a, ok = out.get() {
			n += len(a.items)
			if a.end == nil && len(a.items) != tc.wantLen {
				t.Errorf("%d-byte frames: a batch of %d records, want %d", tc.size, len(a.items), tc.wantLen)
			}
			giveBack(st, a)
		}
		if n != tc.frames {
			t.Errorf("%d-byte frames: %d records, want %d", tc.size, n, tc.frames)
		}
	}
}

// TestQueueOrderAndWakeups hands batches through a queue with either side
// pausing at random, so the reader waits for room in every state the
// pipeline can be in: every batch arrives once, in order, and neither side
// waits forever (the test would hang).
func TestQueueOrderAndWakeups(t *testing.T) {
	const n = 20_000
	for _, pause := range []string{"reader", "pipeline", "both"} {
		t.Run(pause, func(t *testing.T) {
			q := newAheadQueue()
			r := rand.New(rand.NewPCG(1, 2))
			delays := make([]bool, 2*n)
			for i := range delays {
				delays[i] = r.IntN(50) == 0
			}
			go func() {
				defer close(q.c)
				for i := range n {
					if pause != "pipeline" && delays[i] {
						time.Sleep(50 * time.Microsecond)
					}
					if !q.put(context.Background(), &ahead{offset: int64(i)}) {
						t.Error("put: context done")
						return
					}
				}
			}()
			for i := 0; ; i++ {
				a, ok := q.get()
				if !ok {
					if i != n {
						t.Fatalf("%d batches, want %d", i, n)
					}
					break
				}
				if a.offset != int64(i) {
					t.Fatalf("batch %d came as %d", a.offset, i)
				}
				if pause != "reader" && delays[n+i] {
					time.Sleep(50 * time.Microsecond)
				}
			}
		})
	}
}
