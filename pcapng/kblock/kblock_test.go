package kblock

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
	}{
		{"probe v4", Record{Kind: KindProbe, TS: 1700000000123456789, Cookie: 42,
			Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"), Sport: 5201, Dport: 40000,
			SndCwnd: 10, Ssthresh: 2147483647, SRTTus: 1234, RTTVarus: 55, SndWnd: 65535, RcvWnd: 1 << 20,
			PacketsOut: 9, RetransOut: 1, LostOut: 1, SackedOut: 3, Delivered: 1000, TotalRetrans: 7,
			SndUna: 1, SndNxt: 2, RcvNxt: 3, MSS: 1448, CAState: 0, PacingRate: 1 << 33}},
		{"retransmit v6", Record{Kind: KindRetransmit, TS: 5, Saddr: netip.MustParseAddr("2001:db8::1"),
			Daddr: netip.MustParseAddr("2001:db8::2"), Sport: 1, Dport: 2, Seq: 0, EndSeq: 2896, TCPFlags: 0x18, Segs: 2}},
		{"retransmit with cause (RTO: no timer pending, CA state loss)", Record{Kind: KindRetransmit, TS: 6,
			Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"), Sport: 1, Dport: 2,
			Seq: 100, EndSeq: 1548, Segs: 1, CAState: 4, HasTimer: true, TimerPending: 0, Retransmits: 1}},
		{"state with comm", Record{Kind: KindState, TS: 9, Saddr: netip.MustParseAddr("127.0.0.1"),
			Daddr: netip.MustParseAddr("127.0.0.1"), Sport: 80, Dport: 81, OldState: 1, NewState: 4, PID: 1234,
			Comm: "<img src=x>", BytesAcked: 1 << 40, BytesRecv: 3, SpanNS: 12345}},
		{"probe with every limit group", Record{Kind: KindProbe, TS: 11, Saddr: netip.MustParseAddr("10.0.0.1"),
			Daddr: netip.MustParseAddr("10.0.0.2"), Sport: 1, Dport: 2, SndCwnd: 10, Has: HasAll,
			BusyUS: 4_000_000, RwndLimitedUS: 2_500_000, SndbufLimitedUS: 0, CwndLimited: true, AppLimited: false,
			RateDelivered: 12, RateIntervalUS: 900, MinRTTus: 150, Unsent: 0, WmemQueued: 65536, Sndbuf: 87040,
			SndWScale: 7, RcvWScale: 0}},
		{"closing state, chronographs only", Record{Kind: KindState, TS: 12, Saddr: netip.MustParseAddr("10.0.0.1"),
			Daddr: netip.MustParseAddr("10.0.0.2"), OldState: 4, NewState: 7, Has: HasChrono, BusyUS: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Append(nil, &tt.rec)
			if len(b)%4 != 0 {
				t.Fatalf("record length %d not a multiple of 4", len(b))
			}
			// pcapng pads custom data; the decoder must ignore the padding.
			b = append(b, 0, 0, 0, 0)
			var got Record
			n, err := Decode(b, &got)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(b)-4 {
				t.Errorf("consumed %d, want %d", n, len(b)-4)
			}
			if !reflect.DeepEqual(got, tt.rec) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.rec)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := Append(nil, &Record{Kind: KindProbe, Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"), SndCwnd: 3})
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name    string
		data    []byte
		wantOff int
	}{
		{"short", good[:5], 0},
		{"version", mut(func(b []byte) []byte { b[0] = 9; return b }), 0},
		{"header length", mut(func(b []byte) []byte { b[2] = 8; return b }), 2},
		{"record length past data", mut(func(b []byte) []byte { b[4] = 0xff; b[5] = 0xff; return b }), 4},
		{"family", mut(func(b []byte) []byte { b[24] = 7; return b }), 24},
		{"field overrun", mut(func(b []byte) []byte { b[HeaderLen+2] = 200; return b }), HeaderLen},
		{"bad int width", mut(func(b []byte) []byte { b[HeaderLen+2] = 3; return b }), HeaderLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			_, err := Decode(tt.data, &r)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want DecodeError", err)
			}
			if de.Offset != tt.wantOff {
				t.Errorf("offset %d, want %d (%v)", de.Offset, tt.wantOff, err)
			}
		})
	}
}

func TestUnknownFieldSkipped(t *testing.T) {
	b := Append(nil, &Record{Kind: KindProbe, Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"), SndCwnd: 3})
	b = appendTLV(b, 999, []byte{1, 2, 3, 4, 5})
	b = appendTLV(b, FieldSsthresh, []byte{7, 0, 0, 0})
	b[4], b[5] = byte(len(b)), byte(len(b)>>8)
	var r Record
	if _, err := Decode(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.SndCwnd != 3 || r.Ssthresh != 7 {
		t.Errorf("got cwnd %d ssthresh %d, want 3 and 7", r.SndCwnd, r.Ssthresh)
	}
}

// A group the kernel lacks stays absent through the codec and JSON; a zero
// value that was read stays present.
func TestLimitsAbsentIsNotZero(t *testing.T) {
	base := Record{Kind: KindProbe, Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2")}
	with := base
	with.Has = HasChrono | HasCwndLimited
	for _, tt := range []struct {
		name    string
		rec     Record
		has     uint16
		jsonHas []string
		jsonNot []string
	}{
		{"absent", base, 0, nil, []string{"busy_us", "cwnd_limited", "unsent_bytes"}},
		{"zero but present", with, HasChrono | HasCwndLimited, []string{`"busy_us":0`, `"rwnd_limited_us":0`, `"cwnd_limited":false`}, []string{"unsent_bytes", "min_rtt_us"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got Record
			if _, err := Decode(Append(nil, &tt.rec), &got); err != nil {
				t.Fatal(err)
			}
			if got.Has != tt.has {
				t.Errorf("Has = %#x, want %#x", got.Has, tt.has)
			}
			j, err := json.Marshal(&got)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.jsonHas {
				if !strings.Contains(string(j), s) {
					t.Errorf("JSON %s lacks %s", j, s)
				}
			}
			for _, s := range tt.jsonNot {
				if strings.Contains(string(j), s) {
					t.Errorf("JSON %s has %s", j, s)
				}
			}
			var back Record
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatal(err)
			}
			if back.Has != got.Has || back.BusyUS != got.BusyUS || back.CwndLimited != got.CwndLimited {
				t.Errorf("JSON round trip %+v, want %+v", back, got)
			}
		})
	}
}

func TestRetransCause(t *testing.T) {
	tests := []struct {
		rec  Record
		want string
	}{
		{Record{Kind: KindRetransmit, CAState: 4, HasTimer: true}, CauseLoss},
		{Record{Kind: KindRetransmit, CAState: 3, HasTimer: true, TimerPending: TimerRetrans}, CauseRecovery},
		{Record{Kind: KindRetransmit, CAState: 3, HasTimer: true, TimerPending: TimerLossProbe}, CauseRecovery},
		{Record{Kind: KindRetransmit, CAState: 0, HasTimer: true, TimerPending: TimerLossProbe}, CauseLossProbe},
		{Record{Kind: KindRetransmit, CAState: 1, HasTimer: true, TimerPending: TimerRetrans}, CauseOther},
		{Record{Kind: KindRetransmit, CAState: 4}, ""}, // an older writer: no timer field
		{Record{Kind: KindProbe, CAState: 4, HasTimer: true}, ""},
	}
	for _, tc := range tests {
		if got := RetransCause(&tc.rec); got != tc.want {
			t.Errorf("%+v: cause %q, want %q", tc.rec, got, tc.want)
		}
	}
}

func TestIsPEN(t *testing.T) {
	for _, c := range []struct {
		pen  uint32
		want bool
	}{{PEN, true}, {DocumentationPEN, true}, {10949, false}, {0, false}} {
		if got := IsPEN(c.pen); got != c.want {
			t.Errorf("IsPEN(%d) = %v, want %v", c.pen, got, c.want)
		}
	}
}

// Any of the widths 1, 2, 4 and 8 carries an integer field; the error for
// another names the field and its width.
func TestIntegerWidths(t *testing.T) {
	base := Append(nil, &Record{Kind: KindProbe, Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2")})
	tests := []struct {
		field uint16
		value []byte
		want  func(r *Record) uint64
		err   string
	}{
		{FieldSndCwnd, []byte{7}, func(r *Record) uint64 { return uint64(r.SndCwnd) }, ""},
		{FieldSndCwnd, []byte{1, 2}, func(r *Record) uint64 { return uint64(r.SndCwnd) }, ""},
		{FieldPacingRate, []byte{1, 2, 3, 4}, func(r *Record) uint64 { return r.PacingRate }, ""},
		{FieldBusyUS, []byte{1, 2, 3, 4, 5, 6, 7, 8}, func(r *Record) uint64 { return r.BusyUS }, ""},
		{FieldCAState, []byte{3, 0, 0, 0}, func(r *Record) uint64 { return uint64(r.CAState) }, ""},
		{FieldSsthresh, []byte{1, 2, 3}, nil, "field 2: integer field of 3 bytes"},
		{FieldMinRTTus, []byte{1, 2, 3, 4, 5}, nil, "field 87: integer field of 5 bytes"},
		{FieldRetransmits, nil, nil, "field 101: integer field of 0 bytes"},
	}
	for _, tt := range tests {
		b := appendTLV(append([]byte(nil), base...), tt.field, tt.value)
		b[4], b[5] = byte(len(b)), byte(len(b)>>8)
		var r Record
		_, err := Decode(b, &r)
		if tt.err != "" {
			// The field starts where the record without it ended.
			if want := fmt.Sprintf("kernel record: offset %d: %s", len(base), tt.err); err == nil || err.Error() != want {
				t.Errorf("field %d of %d bytes: err %v, want %q", tt.field, len(tt.value), err, want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("field %d of %d bytes: %v", tt.field, len(tt.value), err)
		}
		var want uint64
		for i := len(tt.value) - 1; i >= 0; i-- {
			want = want<<8 | uint64(tt.value[i])
		}
		if got := tt.want(&r); got != want {
			t.Errorf("field %d of %d bytes: %d, want %d", tt.field, len(tt.value), got, want)
		}
	}
}

// TestFieldTabSameAsSet decodes a record of one integer field, for every
// field code up to past the known ones, of every width, with values whose
// truncation to each width differs, and compares it with the record set
// builds: fieldTab must store what set stores, where set stores it, with
// the same Has and HasTimer.
func TestFieldTabSameAsSet(t *testing.T) {
	base := Record{Kind: KindProbe, TS: 5, Cookie: 6, Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"), Sport: 7, Dport: 8}
	head := Append(nil, &base)
	values := []uint64{0, 1, 0xfe, 0x1ff, 0x10000, 0xfedcba98, 0x1_0000_0001, 0xfedcba98_76543210}
	for code := range uint16(2 * len(fieldTab)) {
		if code == FieldComm {
			continue
		}
		for _, width := range []int{1, 2, 4, 8} {
			for _, v := range values {
				val := binary.LittleEndian.AppendUint64(nil, v)[:width]
				b := appendTLV(append([]byte(nil), head...), code, val)
				binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
				var got Record
				if _, err := Decode(b, &got); err != nil {
					t.Fatalf("field %d of %d bytes: %v", code, width, err)
				}
				want := base
				var w uint64
				for i := width - 1; i >= 0; i-- {
					w = w<<8 | uint64(val[i])
				}
				want.set(code, w)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("field %d of %d bytes, value %#x:\n got %+v\nwant %+v", code, width, w, got, want)
				}
			}
		}
	}
}

// A record decoded over the previous one keeps its comm when the name is
// the same, and takes the new one, or none, otherwise.
func TestCommAcrossRecords(t *testing.T) {
	rec := func(comm string) []byte {
		return Append(nil, &Record{Kind: KindProbe, Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"), PID: 9, Comm: comm})
	}
	var r Record
	for _, comm := range []string{"iperf3", "iperf3", "nginx", "", "nginx", "curl", "curl", "sshd", "a", "abcdefgh"} {
		if _, err := Decode(rec(comm), &r); err != nil {
			t.Fatal(err)
		}
		if r.Comm != comm {
			t.Errorf("comm %q, want %q", r.Comm, comm)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := Append(nil, &Record{Kind: KindProbe, TS: 1, Cookie: 10045, Saddr: netip.MustParseAddr("10.232.0.1"),
		Daddr: netip.MustParseAddr("10.232.0.2"), Sport: 52470, Dport: 5201, SndCwnd: 10, Ssthresh: 2147483647,
		SRTTus: 150, RTTVarus: 50000, SndWnd: 65160, RcvWnd: 64512, PacketsOut: 1, Delivered: 1, SndUna: 306566827,
		SndNxt: 306566864, RcvNxt: 194458078, MSS: 1448, PacingRate: 275877921, PID: 23923, Comm: "iperf3",
		Has: HasAll, MinRTTus: 150, AppLimited: true, WmemQueued: 869, Sndbuf: 69120, SndWScale: 10, RcvWScale: 10})
	var r Record
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, &r); err != nil {
			b.Fatal(err)
		}
	}
}
