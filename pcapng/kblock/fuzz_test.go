package kblock_test

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// fuzzSeeds are records of every kind as the capture writes them.
func fuzzSeeds() []*kblock.Record {
	a4, b4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	return []*kblock.Record{
		{Kind: kblock.KindProbe, TS: 1_700_000_000_000_000_000, Cookie: 7, Saddr: a4, Daddr: b4, Sport: 40000, Dport: 5201,
			SndCwnd: 10, Ssthresh: 0x7fffffff, SRTTus: 1200, RTTVarus: 300, SndWnd: 65535, RcvWnd: 131072,
			PacketsOut: 4, Delivered: 100, SndUna: 1, SndNxt: 5793, RcvNxt: 1, MSS: 1448, PacingRate: 1 << 33},
		{Kind: kblock.KindRetransmit, TS: 1, Saddr: a6, Daddr: b6, Sport: 1, Dport: 2, Seq: 0xfffffff0, EndSeq: 0x10,
			TCPFlags: 0x18, Segs: 3, CAState: 4, TotalRetrans: 9},
		{Kind: kblock.KindState, Saddr: a4, Daddr: b4, OldState: 2, NewState: 1, PID: 4242, Comm: "iperf3"},
		{Kind: kblock.KindReset, Saddr: a6, Daddr: b6, ResetDir: 2, Comm: "<img src=x onerror=alert(1)>"},
		{Kind: kblock.KindState, Saddr: a4, Daddr: b4, OldState: 1, NewState: 7, BytesAcked: 1 << 40,
			BytesRecv: 12, SpanNS: 5e9, Comm: "</script><script>"},
	}
}

// FuzzKernelRecord feeds arbitrary custom-block data to the decoder. Decode
// must never panic, must fail only with a *DecodeError that points inside the
// data, and whatever it accepts must survive Append and Decode unchanged.
func FuzzKernelRecord(f *testing.F) {
	for _, r := range fuzzSeeds() {
		b := kblock.Append(nil, r)
		f.Add(b)
		f.Add(b[:len(b)-3]) // cut inside the last field
		f.Add(append(b, 0, 0, 0))
	}
	f.Add([]byte{kblock.Version, 1, 64, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r kblock.Record
		n, err := kblock.Decode(data, &r)
		if err != nil {
			var de *kblock.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if de.Offset < 0 || (len(data) > 0 && de.Offset >= len(data)) {
				t.Fatalf("error offset %d outside %d bytes: %v", de.Offset, len(data), err)
			}
			if n != 0 {
				t.Fatalf("rejected record reports %d bytes consumed", n)
			}
			return
		}
		if n < kblock.HeaderLen || n > len(data) || n > kblock.MaxRecordLen {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		// The encoder keeps at most 255 bytes of comm (the kernel's is 16).
		if len(r.Comm) > 255 {
			r.Comm = r.Comm[:255]
		}
		enc := kblock.Append(nil, &r)
		if len(enc) > kblock.MaxRecordLen || len(enc)%4 != 0 {
			t.Fatalf("re-encoded record of %d bytes", len(enc))
		}
		var back kblock.Record
		m, err := kblock.Decode(enc, &back)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if m != len(enc) {
			t.Fatalf("re-encoded %d bytes, decoded %d", len(enc), m)
		}
		if !reflect.DeepEqual(r, back) {
			t.Fatalf("round trip changed the record:\n got %+v\nwant %+v", back, r)
		}
	})
}
