package pcapng

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"unsafe"
)

// FuzzReader feeds arbitrary bytes to the reader. It must not panic, must
// fail only with the documented error types, must return the same
// records whether the input arrives at once or in two parts, and the same
// by Next's direct paths as by its general path.
func FuzzReader(f *testing.F) {
	ng, _ := sample(f)
	f.Add(ng)
	f.Add(gz(ng))
	f.Add(classic(le, true, 1, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, wholeErr := fuzzRead(t, bytes.NewReader(data))
		lent, lentErr := readLent(t, bytes.NewReader(data))
		if !reflect.DeepEqual(lent, whole) || !reflect.DeepEqual(lentErr, wholeErr) {
			t.Fatalf("in lent buffers %d records and %v, in its own %d and %v", len(lent), lentErr, len(whole), wholeErr)
		}
		sameSteps(t, "input", data)
		if len(data) > 0 && data[0] == 0x1f {
			return // gzip input cannot be resumed
		}
		src := &growing{data: data, avail: len(data) / 2}
		r := NewReader(src, "fuzz")
		var parts []got
		for {
			rec, err := r.Next()
			if err == nil {
				parts = append(parts, snapshot(rec))
				continue
			}
			if src.avail < len(data) && (err == io.EOF || errors.Is(err, ErrNeedMore)) {
				src.avail = len(data)
				continue
			}
			if !reflect.DeepEqual(err, wholeErr) {
				t.Fatalf("in two parts: %v, at once: %v", err, wholeErr)
			}
			break
		}
		if !reflect.DeepEqual(parts, whole) {
			t.Fatalf("in two parts %d records, at once %d", len(parts), len(whole))
		}
		if src.pos != len(data) && wholeErr == io.EOF {
			t.Fatalf("read %d of %d bytes", src.pos, len(data))
		}
	})
}

// fuzzRead reads everything and checks the invariants of each record.
func fuzzRead(t *testing.T, src io.Reader) ([]got, error) {
	r := NewReader(src, "fuzz")
	var out []got
	var frame uint64
	off := int64(-1)
	for {
		rec, err := r.Next()
		if err != nil {
			var fe *FormatError
			var nm *NeedMoreError
			if err != io.EOF && !errors.As(err, &fe) && !errors.As(err, &nm) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return out, err
		}
		if rec.Frame < frame || (rec.Type != RecordStats && rec.Frame == frame) {
			t.Fatalf("frame %d after %d", rec.Frame, frame)
		}
		if rec.Offset <= off || rec.Offset >= r.Offset() {
			t.Fatalf("record at %d after one at %d, reader at %d", rec.Offset, off, r.Offset())
		}
		if len(rec.Data) > MaxBlockLen {
			t.Fatalf("record of %d bytes", len(rec.Data))
		}
		frame, off = rec.Frame, rec.Offset
		out = append(out, snapshot(rec))
	}
}

// readLent reads everything with buffers lent by SetBuffers, each exactly as
// large as asked, and keeps the records as returned, without copying their
// bytes, until the end: it fails if a record's slices point outside the
// buffer lent last, and the copies it returns show any byte the reader
// wrote into a buffer after returning records from it.
func readLent(t *testing.T, src io.Reader) ([]got, error) {
	r := NewReader(src, "fuzz")
	var last []byte
	r.SetBuffers(func(n int) []byte {
		last = make([]byte, n)
		return last
	})
	inLast := func(b []byte) bool {
		if len(b) == 0 {
			return true
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(last)))
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(last))
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if err != nil {
			var out []got // nil when empty, as fuzzRead's
			for i := range recs {
				out = append(out, snapshot(&recs[i]))
			}
			return out, err
		}
		if !inLast(rec.Data) || !inLast(rec.CustomData) || !inLast(rec.Comment) {
			t.Fatalf("record %d points outside the buffer lent last", len(recs)+1)
		}
		recs = append(recs, *rec)
	}
}
