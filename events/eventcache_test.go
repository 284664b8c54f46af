package events

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// TestEventCacheSameAsMarshal writes events through one writer's cache
// (each kept text is recognised by the address and length of the strings
// it came from, and copied whole into the buffer) and compares each line
// with encoding/json: strings with the same bytes at other addresses, a
// string and a prefix of it at the same address, strings to escape, texts
// longer than the arrays that keep them, endpoints and kinds sharing
// slots, numbers at the bounds of the in-place writes, and buffers with
// every spare room up to past the growth checks, so that every write in
// place meets a full buffer.
func TestEventCacheSameAsMarshal(t *testing.T) {
	long := strings.Repeat("x", 150)
	clone := strings.Clone
	types := []string{TypeDupAck, TypeLossInfer, clone(TypeLossInfer), "dup", TypeDupAck[:3], "a<b", long, long[:60], TypeRTTSample}
	sevs := []Severity{SevInfo, SevWarn, Severity(clone(string(SevWarn))), SevCritical, "", "w\u2028", Severity(long[:110])}
	kinds := []string{"", RetransFast, RetransRTO, clone(RetransRTO), RetransRTO[:2], "k\"q", long[:90]}
	reasons := []string{"", ReasonTripleDupAck, ReasonSACKHole, clone(ReasonSACKHole), ReasonSACKHole[:4], long[:100]}
	ends := []string{"10.0.0.1:1", "10.0.0.2:2", clone("10.0.0.1:1"), "10.0.0.1:10", "", "[fe80::1%<eth0>]:1",
		"[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535", long[:70]}
	nums := []uint64{0, 1, 9, 10, 11, 99, 12345678, 99999999, 1e8, 1e8 + 1, 4294967295, 1 << 40, math.MaxUint64}
	srtts := []float64{0, 0.038875, 12.345678901234567, 1e-7, 0.04, 250, 0.0123456789012345678, math.Copysign(0, -1)}
	r := rand.New(rand.NewPCG(41, 42))
	pick := func(n int) int { return r.IntN(n) }
	var c eventCache
	ts := int64(1_700_000_000_999_999_990)
	rooms := []int{0, 1, 5, 8, 11, 16, 27, 31, 32, 40, 47, 48, 63, 64, 100, 127, 128, 200, 600}
	for i := range 6000 {
		switch pick(4) {
		case 0:
			ts += r.Int64N(3e9)
		case 1:
			ts = r.Int64N(4e9) - 2e9 // around the epoch, both sides
		default:
			ts += r.Int64N(1e6)
		}
		e := &Event{Type: types[pick(len(types))], Frame: nums[pick(len(nums))], TS: Timestamp(ts),
			Flow: uint64(pick(40)), Dir: Dir(pick(2)), Src: ends[pick(len(ends))], Dst: ends[pick(len(ends))],
			Severity: sevs[pick(len(sevs))], Kind: kinds[pick(len(kinds))], Reason: reasons[pick(len(reasons))],
			Seq: uint32(nums[pick(len(nums))]), Len: uint32(nums[pick(6)]), Ack: r.Uint32(),
			Count: int(nums[pick(8)]) - pick(2)*20, RefFrame: nums[pick(len(nums))], Window: int64(nums[pick(10)]) * int64(1-2*pick(2)),
			Context: Context{BytesInFlight: int64(nums[pick(10)]) - int64(pick(2)), SRTTms: srtts[pick(len(srtts))]}}
		if pick(4) == 0 {
			e.Context.SRTTms = r.Float64() * math.Pow10(pick(12)-6)
		}
		w, room, pre := marshalLine(t, e), rooms[i%len(rooms)], pick(50)
		if got := appendInRoom(e, &c, pre, room); !bytes.Equal(got, w) {
			t.Fatalf("event %d, %d bytes of room:\n got %s\nwant %s", i, room, got, w)
		}
	}
}

// TestKernelJSONSameAsMarshal writes events with kernel records through one
// writer's cache and without it, and compares each line with
// encoding/json: sockets that differ in one field of their 4-tuple or
// cookie only (and share the cache's slot), zoned and unzoned addresses,
// commands with the same bytes at other addresses, a prefix at the same
// address, text to escape and texts longer than the arrays that keep them,
// numbers at the bounds of each width written in place, every kind and
// send-limit group, and buffers with every spare room up to past the
// growth checks.
func TestKernelJSONSameAsMarshal(t *testing.T) {
	long := strings.Repeat("y", 90)
	comms := []string{"", "iperf3", strings.Clone("iperf3"), "iperf", "ipe<f>", "a\"b\\c\u2028", long, long[:50], "\xff"}
	addrs := []netip.Addr{{}, netip.MustParseAddr("10.232.0.1"), netip.MustParseAddr("10.232.0.2"),
		netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), netip.MustParseAddr("::ffff:255.255.255.255"),
		netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::1%eth1"), netip.MustParseAddr("fe80::1")}
	nums := []uint64{0, 1, 9, 10, 99, 100, 12345678, 99999999, 1e8, 1e8 + 1, 999999999, 4294967295, 1e15, 1e16 - 1, 1e16, 1 << 60, math.MaxUint64}
	r := rand.New(rand.NewPCG(43, 44))
	pick := func(n int) int { return r.IntN(n) }
	num := func() uint64 { return nums[pick(len(nums))] }
	u32 := func() uint32 { return uint32(num()) }
	u8 := func() uint8 { return uint8(num()) }
	var c eventCache
	rooms := []int{0, 1, 5, 8, 20, 31, 32, 33, 47, 48, 49, 63, 64, 100, 127, 128, 129, 200, 600, 2000}
	for i := range 20000 {
		k := &kblock.Record{Kind: kblock.Kind(pick(6)), Cookie: uint64(pick(3)) << (pick(2) * 40), Saddr: addrs[pick(len(addrs))],
			Daddr: addrs[pick(len(addrs))], Sport: uint16(pick(3)) * 8, Dport: uint16(pick(2)) * 65535}
		if pick(2) == 0 {
			k.SndCwnd, k.Ssthresh, k.SRTTus, k.RTTVarus, k.SndWnd, k.RcvWnd = u32(), u32(), u32(), u32(), u32(), u32()
			k.PacketsOut, k.RetransOut, k.LostOut, k.SackedOut, k.Delivered, k.TotalRetrans = u32(), u32(), u32(), u32(), u32(), u32()
			k.SndUna, k.SndNxt, k.RcvNxt, k.MSS, k.CAState, k.PacingRate = u32(), u32(), u32(), u32(), u8(), num()
		}
		if pick(2) == 0 {
			k.Seq, k.EndSeq, k.TCPFlags, k.Segs, k.OldState, k.NewState = u32(), u32(), u8(), u32(), u8(), u8()
		}
		if pick(3) > 0 {
			k.PID, k.Comm = uint32(pick(3))*4e9/2, comms[pick(len(comms))]
		}
		if pick(3) == 0 {
			k.BytesAcked, k.BytesRecv, k.SpanNS, k.ResetDir = num(), num(), num(), u8()
		}
		if pick(2) == 0 {
			k.Has = uint16(pick(512))
			k.BusyUS, k.RwndLimitedUS, k.SndbufLimitedUS, k.CwndLimited, k.AppLimited = num(), num(), num(), pick(2) == 0, pick(2) == 0
			k.RateDelivered, k.RateIntervalUS, k.MinRTTus, k.Unsent, k.WmemQueued, k.Sndbuf = u32(), u32(), u32(), u32(), u32(), u32()
			k.SndWScale, k.RcvWScale = u8(), u8()
		}
		if pick(2) == 0 {
			k.HasTimer, k.TimerPending, k.Retransmits = true, u8(), u8()
		}
		e := &Event{Type: TypeKernelSample, Frame: num(), TS: Timestamp(r.Int64()), Flow: uint64(pick(3)), Src: "10.232.0.1:1",
			Dst: "10.232.0.2:2", Severity: SevInfo, Kernel: k}
		w, room, pre := marshalLine(t, e), rooms[i%len(rooms)], pick(50)
		if got := appendInRoom(e, &c, pre, room); !bytes.Equal(got, w) {
			t.Fatalf("event %d, %d bytes of room, through the cache:\n got %s\nwant %s", i, room, got, w)
		}
		if got := appendInRoom(e, nil, pre, room); !bytes.Equal(got, w) {
			t.Fatalf("event %d, %d bytes of room:\n got %s\nwant %s", i, room, got, w)
		}
	}
}

// marshalLine is e as encoding/json writes it, without the newline.
func marshalLine(t *testing.T, e *Event) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(e); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// appendInRoom is what appendJSON adds after pre bytes of a buffer with
// room bytes to spare: the room decides which of its paths run.
func appendInRoom(e *Event, c *eventCache, pre, room int) []byte {
	b := make([]byte, pre, pre+room)
	return e.appendJSON(b, c)[pre:]
}
