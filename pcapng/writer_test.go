package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// chunkRecorder keeps every Write call separately.
type chunkRecorder struct{ chunks [][]byte }

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.chunks = append(c.chunks, bytes.Clone(p))
	return len(p), nil
}

// blockSizes walks little-endian blocks and returns their sizes; it fails
// the test if b does not end on a block boundary.
func blockSizes(t *testing.T, b []byte) []int {
	t.Helper()
	var sizes []int
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			t.Fatalf("chunk ends inside a block header at %d of %d", off, len(b))
		}
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 12 || off+n > len(b) || int(binary.LittleEndian.Uint32(b[off+n-4:])) != n {
			t.Fatalf("torn or bad block at %d (length %d) in a chunk of %d bytes", off, n, len(b))
		}
		sizes = append(sizes, n)
		off += n
	}
	return sizes
}

func TestWriterBlockBoundaries(t *testing.T) {
	const bufSize = 256
	rec := &chunkRecorder{}
	w, err := NewWriter(rec, WriterOptions{Application: "tcpviz test", OS: "Linux", Hardware: "x86_64", Comment: "hi", BufferSize: bufSize})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(Interface{LinkType: 1, Name: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{1, 60, 100, 3, 1000, 7, 200, 255, 64}
	for i, n := range sizes {
		if err := w.WritePacket(id, int64(i), make([]byte, n), uint32(n), PacketOptions{PacketID: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			// The 1000-byte packet is bigger than the buffer: it went out
			// alone, right away, after what was buffered before it.
			last := rec.chunks[len(rec.chunks)-1]
			if got := blockSizes(t, last); len(got) != 1 || got[0] < 1000 {
				t.Fatalf("big block written with others: block sizes %v", got)
			}
			if w.Buffered() != 0 {
				t.Fatalf("%d bytes still buffered after the big block", w.Buffered())
			}
		}
	}
	size := w.Size()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, c := range rec.chunks {
		blockSizes(t, c)
		if len(c) > bufSize && len(blockSizes(t, c)) != 1 {
			t.Errorf("a write of %d bytes, over the buffer size, holds several blocks", len(c))
		}
		all = append(all, c...)
	}
	if int64(len(all)) != size || w.Written() != size {
		t.Errorf("Size() before close %d, Written() %d, file %d bytes", size, w.Written(), len(all))
	}
	out, r := readAll(t, all)
	if len(out) != len(sizes) {
		t.Fatalf("read %d packets, wrote %d", len(out), len(sizes))
	}
	for i, g := range out {
		if len(g.Data) != sizes[i] || g.PacketID != uint64(i+1) || g.TS != int64(i) {
			t.Errorf("packet %d: %d bytes, id %d, ts %d", i, len(g.Data), g.PacketID, g.TS)
		}
	}
	want := Section{Application: "tcpviz test", OS: "Linux", Hardware: "x86_64", Comment: "hi"}
	if r.Section() != want {
		t.Errorf("section %+v, want %+v", r.Section(), want)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestWriterErrors(t *testing.T) {
	fw := &failWriter{}
	w, err := NewWriter(fw, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(0, 0, nil, 0, PacketOptions{}); err == nil {
		t.Error("packet on an interface never added: no error")
	}
	id, _ := w.AddInterface(Interface{LinkType: 1})
	if err := w.WriteStats(id+1, 0, InterfaceStats{}); err == nil {
		t.Error("stats for an interface never added: no error")
	}
	err = w.Flush()
	if err == nil || fw.n != 1 {
		t.Fatalf("flush to a failing writer: %v after %d writes", err, fw.n)
	}
	// The error sticks and nothing more is written.
	if err2 := w.WritePacket(id, 0, []byte{1}, 1, PacketOptions{}); err2 != err {
		t.Errorf("write after failure: %v", err2)
	}
	if err2 := w.Close(); err2 == nil || fw.n != 1 {
		t.Errorf("close after failure: %v after %d writes", err2, fw.n)
	}
}
