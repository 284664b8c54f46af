package pcapng

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// growing is an io.Reader over a file that is still being written: it
// returns io.EOF at the bytes written so far, and counts what it hands out.
type growing struct {
	data  []byte
	avail int // bytes "written" so far
	pos   int // bytes handed to the reader
}

func (g *growing) Read(p []byte) (int, error) {
	if g.pos >= g.avail {
		return 0, io.EOF
	}
	n := copy(p, g.data[g.pos:g.avail])
	g.pos += n
	return n, nil
}

// boundaries returns the start offset of every unit of a little-endian file
// (the pcap file header and records, or pcapng blocks), and the end.
func boundaries(t *testing.T, b []byte) []int {
	t.Helper()
	var offs []int
	if binary.LittleEndian.Uint32(b) == 0x0A0D0D0A {
		for off := 0; off < len(b); off += int(binary.LittleEndian.Uint32(b[off+4:])) {
			offs = append(offs, off)
		}
	} else {
		offs = append(offs, 0)
		for off := 24; off < len(b); off += 16 + int(binary.LittleEndian.Uint32(b[off+8:])) {
			offs = append(offs, off)
		}
	}
	return append(offs, len(b))
}

// TestResume appends a file in chunks of every size and checks that the
// reader returns each record exactly once, reports the exact offset of the
// partial block each time it runs out, and never reads a byte twice.
func TestResume(t *testing.T) {
	ng, _ := sample(t)
	pc := classic(binary.LittleEndian, false, 1, []byte{1, 2, 3}, []byte{}, make([]byte, 70), []byte{9})
	for _, file := range []struct {
		name string
		b    []byte
	}{{"pcapng", ng}, {"pcap", pc}} {
		t.Run(file.name, func(t *testing.T) {
			want, _ := readAll(t, file.b)
			bounds := boundaries(t, file.b)
			for chunk := 1; chunk <= len(file.b); chunk++ {
				src := &growing{data: file.b}
				r := NewReader(src, "live.pcapng")
				var out []got
				for {
					// Read everything available, then check where it stopped.
					var err error
					for {
						var rec *Record
						rec, err = r.Next()
						if err != nil {
							break
						}
						out = append(out, snapshot(rec))
					}
					if src.avail == len(file.b) && err == io.EOF {
						break
					}
					if err == io.EOF {
						// A clean end is only allowed at a block boundary.
						if src.avail == 0 || !slices.Contains(bounds, src.avail) {
							t.Fatalf("chunk %d, %d bytes written: EOF inside a block", chunk, src.avail)
						}
						src.avail = min(src.avail+chunk, len(file.b))
						continue
					}
					var nm *NeedMoreError
					if !errors.As(err, &nm) {
						t.Fatalf("chunk %d, %d bytes written: got %v, want NeedMoreError", chunk, src.avail, err)
					}
					// The partial block starts at the last boundary at or
					// before the bytes written (the header is one at offset 0).
					start := 0
					for _, o := range bounds {
						if o <= src.avail && o < len(file.b) {
							start = o
						}
					}
					if nm.Offset != int64(start) || nm.Have != src.avail-start {
						t.Fatalf("chunk %d, %d bytes written: need more at %d with %d bytes, want %d with %d",
							chunk, src.avail, nm.Offset, nm.Have, start, src.avail-start)
					}
					if r.Offset() != int64(start) {
						t.Fatalf("chunk %d: Offset() = %d, want %d", chunk, r.Offset(), start)
					}
					src.avail = min(src.avail+chunk, len(file.b))
				}
				if !reflect.DeepEqual(out, want) {
					t.Fatalf("chunk %d: records differ\n got %+v\nwant %+v", chunk, out, want)
				}
				if src.pos != len(file.b) {
					t.Fatalf("chunk %d: read %d bytes of a %d-byte file", chunk, src.pos, len(file.b))
				}
			}
		})
	}
}

// TestResumeFile follows a real file that another writer appends to.
func TestResumeFile(t *testing.T) {
	b, want := sample(t)
	path := filepath.Join(t.TempDir(), "live.pcapng")
	wf, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	rf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	r := NewReader(rf, path)
	var out []got
	for written := 0; ; {
		rec, err := r.Next()
		switch {
		case err == nil:
			out = append(out, snapshot(rec))
			continue
		case errors.Is(err, ErrNeedMore) && written < len(b):
			n := min(37, len(b)-written)
			if _, err := wf.Write(b[written : written+n]); err != nil {
				t.Fatal(err)
			}
			written += n
			continue
		case err == io.EOF && written == len(b):
		default:
			t.Fatalf("after %d bytes: %v", written, err)
		}
		break
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("records differ\n got %+v\nwant %+v", out, want)
	}
}
