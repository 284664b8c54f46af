package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// moreLater is an input that a test extends while it is being read.
type moreLater struct{ b []byte }

func (g *moreLater) Read(p []byte) (int, error) {
	if len(g.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.b)
	g.b = g.b[n:]
	return n, nil
}

func TestResync(t *testing.T) {
	frame := bytes.Repeat([]byte{0xab}, 60)
	tests := []struct {
		name string
		// damage returns the bytes to read and where the damaged block is.
		damage      func(w *builder) int64
		wantFrames  int   // frames read in total, resynchronising at each error
		wantSkipped int64 // bytes skipped
	}{
		{
			name: "length too long, valid blocks after",
			damage: func(w *builder) int64 {
				at := w.epb(0, 2, frame, 60)
				w.bo.PutUint32(w.b[at+4:], 1<<20)
				w.epb(0, 3, frame, 60)
				w.epb(0, 4, frame, 60)
				return at
			},
			wantFrames: 3, wantSkipped: 92,
		},
		{
			name: "length not a multiple of 4",
			damage: func(w *builder) int64 {
				at := w.epb(0, 2, frame, 60)
				w.bo.PutUint32(w.b[at+4:], 97)
				w.epb(0, 3, frame, 60)
				return at
			},
			wantFrames: 2, wantSkipped: 92,
		},
		{
			name: "body bad after the block was read",
			damage: func(w *builder) int64 {
				at := w.epb(0, 2, frame, 60)
				w.bo.PutUint32(w.b[at+20:], 1000) // captured length past the block
				w.epb(0, 3, frame, 60)
				return at
			},
			wantFrames: 2, wantSkipped: 0,
		},
	}
	for _, tc := range tests {
		for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
			t.Run(tc.name, func(t *testing.T) {
				w := &builder{bo: bo}
				w.shb()
				w.idb(1, 0)
				w.epb(0, 1, frame, 60)
				at := tc.damage(w)
				r := NewReader(bytes.NewReader(w.b), "f")
				frames, resyncs := 0, 0
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					var fe *FormatError
					var nm *NeedMoreError
					if errors.As(err, &nm) && resyncs == 0 {
						// A length the input never fills: the caller
						// decides it is damaged.
					} else if err != nil && !errors.As(err, &fe) {
						t.Fatalf("Next: %v", err)
					}
					if err != nil {
						from, skipped, rerr := r.Resync()
						if rerr != nil {
							t.Fatalf("Resync after %v: %v", err, rerr)
						}
						if from != at || skipped != tc.wantSkipped {
							t.Errorf("Resync: from %d, skipped %d; want %d and %d", from, skipped, at, tc.wantSkipped)
						}
						resyncs++
						continue
					}
					frames++
				}
				if frames != tc.wantFrames || resyncs != 1 {
					t.Errorf("%d frames, %d resyncs; want %d and 1", frames, resyncs, tc.wantFrames)
				}
			})
		}
	}
}

// With no complete block after the damage yet, Resync waits; once one
// arrives it goes on there. A chance match whose span is not complete
// does not hold it back when a complete block follows.
func TestResyncWaits(t *testing.T) {
	frame := bytes.Repeat([]byte{0xab}, 60)
	w := &builder{bo: binary.LittleEndian}
	w.shb()
	w.idb(1, 0)
	at := w.epb(0, 1, frame, 60)
	w.bo.PutUint32(w.b[at+4:], 1<<20)
	// Inside the damaged bytes: what looks like an EPB header of 4 KiB.
	copy(w.b[at+28:], append(w.u32(blockEPB), w.u32(4096)...))
	src := &moreLater{b: bytes.Clone(w.b)}
	r := NewReader(src, "f")
	if _, err := r.Next(); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("Next: %v, want need more", err)
	}
	if _, _, err := r.Resync(); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("Resync with no valid block yet: %v, want need more", err)
	}
	next := len(w.b)
	w.epb(0, 2, frame, 60)
	src.b = append(src.b, w.b[next:]...)
	from, skipped, err := r.Resync()
	if err != nil || from != at || skipped != int64(next)-at {
		t.Fatalf("Resync: %d, %d, %v; want %d, %d, nil", from, skipped, err, at, int64(next)-at)
	}
	rec, err := r.Next()
	if err != nil || rec.Type != RecordPacket || rec.Offset != int64(next) {
		t.Fatalf("after Resync: %+v, %v", rec, err)
	}
}

func TestResyncClassicPcap(t *testing.T) {
	r := NewReader(bytes.NewReader(classic(binary.LittleEndian, false, 1)), "f")
	if _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
	if _, _, err := r.Resync(); err == nil || errors.Is(err, ErrNeedMore) {
		t.Fatalf("Resync on classic pcap: %v, want an error", err)
	}
}

// A timestamp that does not fit in int64 nanoseconds is TSOutOfRange, not
// a wrapped-around date (2^64 - 1 seconds at if_tsresol 10^0 read as 2131).
func TestTimestampOutOfRange(t *testing.T) {
	frame := bytes.Repeat([]byte{0xab}, 60)
	for _, tc := range []struct {
		resol byte
		ticks uint64
		want  int64
	}{
		{0, ^uint64(0), TSOutOfRange},                 // seconds
		{0, 1 << 34, TSOutOfRange},                    // 545 years of seconds
		{0, 1_700_000_000, 1_700_000_000_000_000_000}, // 2023, fine
		{0x80, ^uint64(0), TSOutOfRange},              // 2^-0: one tick per second
		{0x80 | 10, 1 << 60, TSOutOfRange},
		{9, ^uint64(0), TSOutOfRange}, // ns: 2^64-1 is past int64 too
	} {
		w := &builder{bo: binary.LittleEndian}
		w.shb()
		w.idb(1, 0, w.opt(9, []byte{tc.resol}))
		w.epb(0, tc.ticks, frame, 60)
		r := NewReader(bytes.NewReader(w.b), "f")
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if rec.TS != tc.want {
			t.Errorf("resolution %#x, ticks %d: TS %d, want %d", tc.resol, tc.ticks, rec.TS, tc.want)
		}
	}
}
