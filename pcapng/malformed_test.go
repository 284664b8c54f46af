package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// start returns a little-endian builder holding an SHB and one Ethernet IDB.
func start() *builder {
	w := &builder{bo: binary.LittleEndian}
	w.shb()
	w.idb(1, 0)
	return w
}

func TestMalformed(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name string
		file func() ([]byte, int64) // the file and the offset the error must name
		msg  string
	}{
		{"not a capture", func() ([]byte, int64) { return []byte("hello world"), 0 },
			"not a pcap or pcapng file: magic 68 65 6c 6c"},
		{"block length over the limit", func() ([]byte, int64) {
			w := start()
			at := w.epb(0, 1, []byte{1}, 1)
			le.PutUint32(w.b[at+4:], 0xffffffff)
			return w.b, at
		}, "block length 4294967295 exceeds limit"},
		{"block length below 12", func() ([]byte, int64) {
			w := start()
			at := w.epb(0, 1, []byte{1}, 1)
			le.PutUint32(w.b[at+4:], 8)
			return w.b, at
		}, "block length 8 is below 12"},
		{"block length not a multiple of 4", func() ([]byte, int64) {
			w := start()
			at := w.epb(0, 1, []byte{1}, 1)
			le.PutUint32(w.b[at+4:], 30)
			return w.b, at
		}, "block length 30 is not a multiple of 4"},
		{"trailer mismatch", func() ([]byte, int64) {
			w := start()
			at := w.epb(0, 1, []byte{1}, 1)
			le.PutUint32(w.b[len(w.b)-4:], 40)
			return w.b, at
		}, "block length 36 at the start, 40 at the end"},
		{"bad byte-order magic", func() ([]byte, int64) {
			w := start()
			at := w.shb()
			copy(w.b[at+8:], []byte{1, 2, 3, 4})
			return w.b, at
		}, "section header: bad byte-order magic 01 02 03 04"},
		{"unsupported version", func() ([]byte, int64) {
			w := &builder{bo: binary.LittleEndian}
			at := w.shb()
			le.PutUint16(w.b[at+12:], 2)
			return w.b, at
		}, "section header: unsupported pcapng version 2.0"},
		{"option runs past the block", func() ([]byte, int64) {
			w := &builder{bo: binary.LittleEndian}
			w.shb()
			at := w.idb(1, 0, w.opt(ifName, []byte("eth0")))
			le.PutUint16(w.b[at+8+8+2:], 200)
			return w.b, at
		}, "option 2 of 200 bytes runs past the block"},
		{"captured length exceeds the block", func() ([]byte, int64) {
			w := start()
			at := w.epb(0, 1, []byte{1, 2, 3, 4}, 4)
			le.PutUint32(w.b[at+20:], 5)
			return w.b, at
		}, "enhanced packet block: captured length 5 exceeds the block (4 bytes of data)"},
		{"interface not defined", func() ([]byte, int64) {
			w := &builder{bo: binary.LittleEndian}
			w.shb()
			at := w.epb(0, 1, []byte{1}, 1)
			return w.b, at
		}, "interface 0 not defined (section 0 has 0)"},
		{"stats for an undefined interface", func() ([]byte, int64) {
			w := start()
			at := w.block(blockISB, w.u32(3), w.u32(0), w.u32(0))
			return w.b, at
		}, "interface 3 not defined (section 0 has 1)"},
		{"custom block without PEN", func() ([]byte, int64) {
			w := start()
			at := w.block(blockCustom)
			return w.b, at
		}, "custom block of 12 bytes has no room for its PEN"},
		{"epb too short", func() ([]byte, int64) {
			w := start()
			at := w.block(blockEPB, w.u32(0))
			return w.b, at
		}, "enhanced packet block of 16 bytes is too short"},
		{"epb_flags of the wrong size", func() ([]byte, int64) {
			w := start()
			at := w.epb(0, 1, []byte{1}, 1, w.opt(epbFlags, []byte{1, 2}), w.end())
			return w.b, at
		}, "epb_flags of 2 bytes"},
		{"if_tsresol too fine", func() ([]byte, int64) {
			w := &builder{bo: binary.LittleEndian}
			w.shb()
			at := w.idb(1, 0, w.opt(ifTSResol, []byte{20}), w.end())
			return w.b, at
		}, "if_tsresol 10^-20 is finer than supported"},
		{"name record runs past the block", func() ([]byte, int64) {
			w := start()
			at := w.block(blockNRB, w.u16(1), w.u16(100), []byte{10, 0, 0, 1})
			return w.b, at
		}, "name resolution block: record of 100 bytes at +8 runs past the block"},
		{"second section with a bad magic", func() ([]byte, int64) {
			w := start()
			w.epb(0, 1, []byte{1}, 1)
			at := w.shb()
			copy(w.b[at+8:], []byte{0, 0, 0, 0})
			return w.b, at
		}, "section header: bad byte-order magic 00 00 00 00"},
		{"pcap record over the limit", func() ([]byte, int64) {
			b := classic(binary.LittleEndian, false, 1, []byte{1})
			le.PutUint32(b[24+8:], 0x7fffffff)
			return b, 24
		}, "pcap record: captured length 2147483647 exceeds limit"},
		{"pcap version", func() ([]byte, int64) {
			b := classic(binary.BigEndian, false, 1, []byte{1})
			binary.BigEndian.PutUint16(b[4:], 3)
			return b, 0
		}, "pcap: unsupported version 3.4"},
		{"gzip of garbage", func() ([]byte, int64) { return gz([]byte("not a capture")), 0 },
			"not a pcap or pcapng file: magic 6e 6f 74 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, at := tt.file()
			r := NewReader(bytes.NewReader(b), "x.pcapng")
			err := drain(r)
			want := &FormatError{File: "x.pcapng", Offset: at, Msg: tt.msg}
			if !reflect.DeepEqual(err, want) {
				t.Fatalf("got  %v\nwant %v", err, want)
			}
			// The error is final.
			if _, again := r.Next(); again != err {
				t.Errorf("second Next: %v", again)
			}
		})
	}
}

// TestTruncated checks the errors for input that ends early.
func TestTruncated(t *testing.T) {
	w := start()
	at := w.epb(0, 1, []byte{1, 2, 3, 4, 5}, 5)
	tests := []struct {
		name string
		b    []byte
		want NeedMoreError
	}{
		{"empty", nil, NeedMoreError{File: "t", Offset: 0, Have: 0, Need: 4}},
		{"part of the magic", w.b[:2], NeedMoreError{File: "t", Offset: 0, Have: 2, Need: 4}},
		{"section header without its length", w.b[:10], NeedMoreError{File: "t", Offset: 0, Have: 10, Need: 12}},
		{"section header body", w.b[:20], NeedMoreError{File: "t", Offset: 0, Have: 20, Need: 28}},
		{"packet header", w.b[:at+5], NeedMoreError{File: "t", Offset: at, Have: 5, Need: 8}},
		{"packet body", w.b[:len(w.b)-1], NeedMoreError{File: "t", Offset: at, Have: len(w.b) - 1 - int(at), Need: len(w.b) - int(at)}},
		{"pcap header", classic(binary.LittleEndian, false, 1)[:23], NeedMoreError{File: "t", Offset: 0, Have: 23, Need: 24}},
		{"pcap record", classic(binary.LittleEndian, false, 1, []byte{1, 2})[:24+17], NeedMoreError{File: "t", Offset: 24, Have: 17, Need: 18}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := drain(NewReader(bytes.NewReader(tt.b), "t"))
			var nm *NeedMoreError
			if !errors.As(err, &nm) || *nm != tt.want {
				t.Fatalf("got %v, want %v", err, &tt.want)
			}
		})
	}
}
