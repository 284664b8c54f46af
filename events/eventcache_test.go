package events

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
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
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(e); err != nil {
			t.Fatal(err)
		}
		w := bytes.TrimSuffix(want.Bytes(), []byte{'\n'})
		room := rooms[i%len(rooms)]
		pre := pick(50)
		b := make([]byte, pre, pre+room)
		got := e.appendJSON(b, &c)[pre:]
		if !bytes.Equal(got, w) {
			t.Fatalf("event %d, %d bytes of room:\n got %s\nwant %s", i, room, got, w)
		}
	}
}
