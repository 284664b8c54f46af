package decode

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
)

// TestParseOptionsLikeGopacket builds well-formed option lists — the
// shapes Linux sends (NOP, NOP, Timestamps, then NOP, NOP, SACK with one to
// four blocks) and random mixes of every kind — and compares parseOptions
// with what gopacket's TCP decoder makes of the same header.
func TestParseOptionsLikeGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	u32 := func() []byte { return binary.BigEndian.AppendUint32(nil, rng.Uint32()) }
	ts := func() []byte { return append(append([]byte{8, 10}, u32()...), u32()...) }
	sack := func(n int) []byte {
		b := []byte{5, byte(2 + 8*n)}
		for range 2 * n {
			b = append(b, u32()...)
		}
		return b
	}
	var lists [][]byte
	for n := 1; n <= 3; n++ { // three blocks at most beside timestamps: 40 bytes of options
		lists = append(lists, append(append([]byte{1, 1}, ts()...), append([]byte{1, 1}, sack(n)...)...))
	}
	lists = append(lists, append([]byte{1, 1}, ts()...), append(append([]byte{1, 1}, ts()...), 1, 1, 5, 2), append([]byte{1, 1}, sack(4)...))
	for range 2000 {
		var b []byte
		for len(b) < 40 {
			var o []byte
			switch rng.IntN(9) {
			case 0:
				o = []byte{1}
			case 1:
				o = []byte{2, 4, byte(rng.Uint32()), byte(rng.Uint32())}
			case 2:
				o = []byte{3, 3, byte(rng.IntN(20))}
			case 3:
				o = []byte{4, 2}
			case 4:
				o = sack(rng.IntN(5))
			case 5:
				o = ts()
			case 6:
				o = []byte{30, 4, 1, 2} // a kind tcpviz does not read
			case 7:
				o = []byte{1, 1}
				o = append(o, ts()...)
			default:
				o = []byte{0} // end of list
			}
			if len(b)+len(o) > 40 {
				break
			}
			b = append(b, o...)
		}
		lists = append(lists, b)
	}
	for _, opts := range lists {
		hdr := make([]byte, 20, 60)
		hdr = append(hdr, opts...)
		for len(hdr)%4 != 0 {
			hdr = append(hdr, 0)
		}
		hdr[12] = byte(len(hdr)/4) << 4
		var tcp layers.TCP
		if err := tcp.DecodeFromBytes(hdr, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects % x: %v", opts, err)
		}
		var want events.Options
	list:
		for _, o := range tcp.Options {
			d := o.OptionData
			switch o.OptionType {
			case layers.TCPOptionKindEndList:
				break list
			case layers.TCPOptionKindNop:
			case layers.TCPOptionKindMSS:
				want.MSS, want.HasMSS = binary.BigEndian.Uint16(d), true
			case layers.TCPOptionKindWindowScale:
				want.WScale, want.HasWScale = min(d[0], 14), true
			case layers.TCPOptionKindSACKPermitted:
				want.SACKPerm = true
			case layers.TCPOptionKindSACK:
				for ; len(d) >= 8 && want.NumSACK < 4; d = d[8:] {
					want.SACK[want.NumSACK] = events.SACKBlock{Left: binary.BigEndian.Uint32(d), Right: binary.BigEndian.Uint32(d[4:])}
					want.NumSACK++
				}
			case layers.TCPOptionKindTimestamps:
				want.HasTS, want.TSVal, want.TSEcr = true, binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
			default:
				want.HasUnknown = true
			}
		}
		var got events.Options
		if !parseOptions(hdr[20:], &got) {
			t.Fatalf("% x: rejected", opts)
		}
		if got != want {
			t.Fatalf("% x:\n got %+v\nwant %+v", opts, got, want)
		}
	}
}
