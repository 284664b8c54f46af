package pcapng

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
)

// step is what one call to Next gave: the record, its slices copied, and
// the reader's state after it.
type step struct {
	Rec    Record
	Counts Counts
	Off    int64
	Frames uint64
}

// readSteps reads src to its end by the direct paths or, with general, by
// the general path only.
func readSteps(src io.Reader, general bool) ([]step, error) {
	r := NewReader(src, "capture")
	r.general = general
	var out []step
	for {
		rec, err := r.Next()
		if err != nil {
			return out, err
		}
		c := *rec
		c.Data, c.Comment, c.CustomData = bytes.Clone(rec.Data), bytes.Clone(rec.Comment), bytes.Clone(rec.CustomData)
		out = append(out, step{c, r.Counts(), r.Offset(), r.Frames()})
	}
}

// sameSteps fails when the direct paths and the general one disagree on
// data in any record field, in the reader's counts, offset or frames after
// any record, or in the error that ends the input.
func sameSteps(t *testing.T, name string, data []byte) {
	t.Helper()
	for _, half := range []bool{false, true} {
		src := func() io.Reader {
			if half {
				return iotest.HalfReader(bytes.NewReader(data))
			}
			return bytes.NewReader(data)
		}
		direct, derr := readSteps(src(), false)
		general, gerr := readSteps(src(), true)
		if !reflect.DeepEqual(derr, gerr) {
			t.Fatalf("%s (short reads %v): direct paths end with %v, the general one with %v", name, half, derr, gerr)
		}
		if len(direct) != len(general) {
			t.Fatalf("%s (short reads %v): %d records by the direct paths, %d by the general one", name, half, len(direct), len(general))
		}
		for i := range direct {
			if !reflect.DeepEqual(direct[i], general[i]) {
				t.Fatalf("%s (short reads %v), record %d:\ndirect  %+v\ngeneral %+v", name, half, i+1, direct[i], general[i])
			}
		}
	}
}

// TestDirectPathsMatchGeneral reads captures of every kind the direct paths
// take or decline — classic pcap in both byte orders and resolutions,
// pcapng with options, other block types between the packets, several
// interfaces and timestamp resolutions, a timestamp offset, ends cut inside
// a record — and the sample captures, by Next's direct paths and by its
// general path alone: every record and the reader's state after it must be
// the same.
func TestDirectPathsMatchGeneral(t *testing.T) {
	frames := [][]byte{{1, 2, 3}, {}, make([]byte, 70), {9}, bytes.Repeat([]byte{7}, 1514)}
	cases := map[string][]byte{
		"pcap usec little": classic(binary.LittleEndian, false, 1, frames...),
		"pcap nsec big":    classic(binary.BigEndian, true, 101, frames...),
	}
	ng, _ := sample(t)
	cases["pcapng writer"] = ng
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		w := &builder{bo: bo}
		w.shb()
		w.idb(1, 0)
		w.idb(101, 64, w.opt(ifTSResol, []byte{9}), w.opt(ifTSOffset, w.u64(3)), w.end())
		w.idb(1, 0, w.opt(ifTSResol, []byte{0x80 | 20}), w.end())
		w.idb(1, 0, w.opt(ifTSResol, []byte{12}), w.end())
		for i := range 40 {
			data := bytes.Repeat([]byte{byte(i)}, i*3)
			ticks := uint64(1_700_000_000_000_000 + i)
			switch i % 8 {
			case 1: // twelve bytes of options that are not epb_flags alone
				w.epb(uint32(i%4), ticks, data, uint32(len(data)), w.opt(optComment, []byte("abcd")), w.end())
			case 2: // epb_flags without the end of options
				w.epb(uint32(i%4), ticks, data, uint32(len(data)), w.opt(epbFlags, w.u32(FlagOutbound)))
			case 3:
				w.epb(uint32(i%4), ticks, data, uint32(len(data)), w.opt(epbFlags, w.u32(FlagInbound)), w.end())
			case 5:
				w.block(blockCustom, w.u32(32473), data)
			case 6:
				w.block(blockSPB, w.u32(uint32(len(data))), data)
			case 7:
				w.epb(uint32(i%4), 1<<63|ticks, data, 9000) // out of range at some resolutions
			default:
				w.epb(uint32(i%4), ticks, data, uint32(len(data)))
			}
		}
		w.shb()
		w.idb(1, 0)
		w.epb(0, 5, []byte{1, 2, 3, 4, 5}, 5)
		w.epb(1, 5, []byte{1}, 1) // no such interface in this section
		cases["pcapng handmade "+bo.String()] = w.b
	}
	for name, b := range cases {
		sameSteps(t, name, b)
		for _, cut := range []int{1, 17, len(b) / 2, len(b) - 5} {
			sameSteps(t, name+" cut", b[:len(b)-cut])
		}
	}
	files, _ := filepath.Glob("../samples/*.pcap*")
	if len(files) == 0 {
		t.Fatal("no sample captures")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameSteps(t, filepath.Base(f), b)
	}
}

// TestNanosInLine checks the one-product conversion of nanos against the
// general one at every resolution, with and without an offset, at the
// edges of the range it takes and beyond.
func TestNanosInLine(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, resol := range []uint8{0, 1, 3, 6, 9, 10, 12, 19, 0x80, 0x80 | 10, 0x80 | 30, 0x80 | 64, 0x80 | 100} {
		for _, off := range []int64{0, 3, -3} {
			ifc := &Interface{}
			if !ifc.setResol(resol) {
				t.Fatalf("resolution %#x refused", resol)
			}
			ifc.TSOffset = off
			m := ifc.maxTicks
			ticks := []uint64{0, 1, m - 1, m, m + 1, 2 * m, 1 << 62, math.MaxUint64}
			for range 100 {
				ticks = append(ticks, rnd.Uint64()>>rnd.IntN(64))
			}
			for _, tk := range ticks {
				if got, want := ifc.nanos(tk), ifc.nanosSlow(tk); got != want {
					t.Fatalf("resolution %#x, offset %d, %d ticks: %d, want %d", resol, off, tk, got, want)
				}
			}
		}
	}
}
