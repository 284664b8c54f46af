package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

// TestLargeBlocks reads packets larger than the reader's buffer, whole and
// fed in pieces.
func TestLargeBlocks(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface(Interface{LinkType: 1})
	sizes := []int{3 << 20, 10, preferredBuf + 1, MaxBlockLen - 64}
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := w.WritePacket(id, int64(i), data, uint32(n), PacketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WritePacket(id, 0, make([]byte, MaxBlockLen), MaxBlockLen, PacketOptions{}); err == nil {
		t.Error("writer accepted a packet over the block size limit")
	}
	w.Close()
	b := buf.Bytes()

	// In lent buffers the records stay valid after the next call to Next.
	lent, err := readLent(t, bytes.NewReader(b))
	if err != io.EOF || len(lent) != len(sizes) {
		t.Fatalf("in lent buffers: %d records, %v", len(lent), err)
	}
	for i, g := range lent {
		if len(g.Data) != sizes[i] || g.Data[0] != byte(i+1) || g.Data[len(g.Data)-1] != byte(i+1) {
			t.Fatalf("in lent buffers, packet %d: %d bytes, want %d", i, len(g.Data), sizes[i])
		}
	}

	src := &growing{data: b}
	r := NewReader(src, "big")
	i := 0
	for src.avail < len(b) || i < len(sizes) {
		rec, err := r.Next()
		if errors.Is(err, ErrNeedMore) || (err != nil && src.avail < len(b)) {
			src.avail = min(src.avail+1<<20+3, len(b))
			continue
		}
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if len(rec.Data) != sizes[i] || rec.Data[0] != byte(i+1) || rec.Data[len(rec.Data)-1] != byte(i+1) {
			t.Fatalf("packet %d: %d bytes, want %d", i, len(rec.Data), sizes[i])
		}
		i++
	}
	if src.pos != len(b) {
		t.Errorf("read %d bytes of %d", src.pos, len(b))
	}
}

// TestLengthFieldDoesNotAllocate gives blocks that claim 16 MiB but carry a
// few bytes: the reader must not allocate for the claim.
func TestLengthFieldDoesNotAllocate(t *testing.T) {
	w := start()
	at := w.epb(0, 1, make([]byte, 100), 100)
	binary.LittleEndian.PutUint32(w.b[at+4:], MaxBlockLen)
	pc := classic(binary.LittleEndian, false, 1, make([]byte, 100))
	binary.LittleEndian.PutUint32(pc[24+8:], MaxBlockLen-pcapRecordLen)
	for name, b := range map[string][]byte{"pcapng": w.b, "pcap": pc} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := drain(NewReader(bytes.NewReader(b), name))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrNeedMore) {
			t.Errorf("%s: got %v, want a truncated block", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
			t.Errorf("%s: reading %d bytes allocated %d", name, len(b), n)
		}
	}
}

// TestReadDoesNotAllocate checks the hot path: once the buffer has grown,
// reading a packet allocates nothing.
func TestReadDoesNotAllocate(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface(Interface{LinkType: 1, SnapLen: 96})
	pkt := tcpPacket(1, 1000)
	for i := range 8000 {
		w.WritePacket(id, int64(i), pkt, uint32(len(pkt)), PacketOptions{Flags: FlagInbound, PacketID: uint64(i + 1)})
		if i%50 == 0 {
			w.WriteCustom(32473, make([]byte, 100), true)
		}
	}
	w.Close()
	r := NewReader(bytes.NewReader(buf.Bytes()), "allocs")
	for range 5000 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(2000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per record", allocs)
	}
}
