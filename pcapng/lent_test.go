package pcapng

import (
	"bytes"
	"encoding/binary"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// TestLentBuffers reads captures many times the size of the reader's
// buffer, every record's bytes different, in lent buffers: kept without
// copying until the end, the records must be those of a plain read (the
// reader never writes into a buffer it has returned record bytes from), and
// so must they when the getter lends a buffer again as soon as the reader
// has left it (the unconsumed bytes go with the reader).
func TestLentBuffers(t *testing.T) {
	var ng bytes.Buffer
	w, err := NewWriter(&ng, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface(Interface{LinkType: 1})
	var frames [][]byte
	for i := range 20_000 {
		data := make([]byte, 40+i%97)
		for j := range data {
			data[j] = byte(i + j)
		}
		binary.BigEndian.PutUint32(data, uint32(i))
		frames = append(frames, data)
		if err := w.WritePacket(id, int64(i), data, uint32(len(data)), PacketOptions{Comment: "c"}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			w.WriteCustom(32473, data[:12], i%100 == 0)
		}
	}
	w.Close()
	pc := classic(binary.LittleEndian, false, 1, frames...)
	for _, tc := range []struct {
		name string
		data []byte
		half bool
	}{
		{"pcapng", ng.Bytes(), false},
		{"pcapng, short reads", ng.Bytes(), true},
		{"pcap", pc, false},
		{"pcap, short reads", pc, true}, // records split between reads: the buffered path and the one that reads
		{"pcap.gz", gz(pc), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := func() io.Reader {
				if tc.half {
					return iotest.HalfReader(bytes.NewReader(tc.data))
				}
				return bytes.NewReader(tc.data)
			}
			want, wantErr := fuzzRead(t, src())
			if len(want) < len(frames) {
				t.Fatalf("plain read: %d records, %v", len(want), wantErr)
			}
			kept, err := readLent(t, src())
			if err != wantErr || !reflect.DeepEqual(kept, want) {
				t.Fatalf("records kept in lent buffers differ from a plain read (%v, %v)", err, wantErr)
			}
			// The getter keeps two buffers and lends the other one.
			r := NewReader(src(), tc.name)
			var bufs [2][]byte
			lends := 0
			r.SetBuffers(func(n int) []byte {
				lends++
				b := &bufs[lends%2]
				if len(*b) < n {
					*b = make([]byte, n)
				}
				return *b
			})
			var got []got
			for {
				rec, err := r.Next()
				if err != nil {
					if err != wantErr {
						t.Fatalf("lent buffers: %v, plain read: %v", err, wantErr)
					}
					break
				}
				got = append(got, snapshot(rec))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatal("lent buffers: records differ from a plain read")
			}
			if lends < 4 {
				t.Fatalf("%d buffers lent: the capture did not outgrow the buffer", lends)
			}
		})
	}
}
