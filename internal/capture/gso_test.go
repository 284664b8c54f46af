package capture

import (
	"encoding/binary"
	"testing"
)

// tcp4 builds an Ethernet/IPv4/TCP header (20-byte IP, 32-byte TCP) with
// some payload bytes after it.
func tcp4(seq uint32, flags byte, payload int, ipLen int) []byte {
	b := make([]byte, 14+20+32+payload)
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	binary.BigEndian.PutUint16(ip[4:], 0x1000)
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5001)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12] = 8 << 4
	tcp[13] = flags
	return b
}

func TestSplitGSO(t *testing.T) {
	const hdrs = 14 + 20 + 32
	tests := []struct {
		name       string
		payload    int // total payload of the GSO packet
		size       uint32
		segs       uint16
		flags      byte
		wantLens   []uint32
		wantFlags  []byte
		wantSplits bool
	}{
		{"even", 3000, 1000, 3, 0x18 | tcpCWR, []uint32{hdrs + 1000, hdrs + 1000, hdrs + 1000},
			[]byte{0x10 | tcpCWR, 0x10, 0x18}, true},
		{"short last with FIN", 2500, 1000, 3, 0x19, []uint32{hdrs + 1000, hdrs + 1000, hdrs + 500},
			[]byte{0x10, 0x10, 0x19}, true},
		{"not GSO", 1000, 1000, 1, 0x10, nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const seq = 0xfffffc00 // wraps inside the packet
			pkt := tcp4(seq, tc.flags, 62, 20+32+tc.payload)
			data := pkt[:128]
			g := segmenter{l2len: 14}
			var lens []uint32
			var flags []byte
			split, err := g.split(data, uint32(hdrs+tc.payload), tc.segs, tc.size, func(seg []byte, origLen uint32, i int) error {
				lens = append(lens, origLen)
				flags = append(flags, seg[14+20+13])
				ip := seg[14:]
				if got := binary.BigEndian.Uint16(ip[2:]); uint32(got) != origLen-14 {
					t.Errorf("segment %d: IP total length %d, want %d", i, got, origLen-14)
				}
				if got := binary.BigEndian.Uint16(ip[4:]); got != 0x1000+uint16(i) {
					t.Errorf("segment %d: IP id %#x", i, got)
				}
				if got, want := binary.BigEndian.Uint32(ip[24:]), uint32(seq)+uint32(i)*tc.size; got != want {
					t.Errorf("segment %d: seq %#x, want %#x", i, got, want)
				}
				if sum := checksum(ip[:20]); sum != 0xffff && sum != 0 {
					t.Errorf("segment %d: IP header checksum does not verify (%#x)", i, sum)
				}
				wantCap := hdrs
				if i == 0 {
					wantCap = 128
				}
				if len(seg) != wantCap {
					t.Errorf("segment %d: %d bytes captured, want %d", i, len(seg), wantCap)
				}
				return nil
			})
			if err != nil || split != tc.wantSplits {
				t.Fatalf("split = %v, %v", split, err)
			}
			if len(lens) != len(tc.wantLens) {
				t.Fatalf("lengths %v, want %v", lens, tc.wantLens)
			}
			for i := range lens {
				if lens[i] != tc.wantLens[i] || flags[i] != tc.wantFlags[i] {
					t.Errorf("segment %d: len %d flags %#x, want %d %#x", i, lens[i], flags[i], tc.wantLens[i], tc.wantFlags[i])
				}
			}
		})
	}
}

func checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

func TestSplitGSORefusesTruncatedHeaders(t *testing.T) {
	pkt := tcp4(1, 0x10, 0, 20+32+3000)
	g := segmenter{l2len: 14}
	split, err := g.split(pkt[:40], 14+20+32+3000, 3, 1000, func([]byte, uint32, int) error {
		t.Error("emit called")
		return nil
	})
	if split || err != nil {
		t.Errorf("split = %v, %v; want false", split, err)
	}
}

func TestSplitGSOIPv6(t *testing.T) {
	const hdrs = 14 + 40 + 20
	b := make([]byte, 128)
	b[12], b[13] = 0x86, 0xdd
	ip := b[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(20+2000))
	ip[6], ip[7] = 6, 64
	tcp := ip[40:]
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	tcp[12] = 5 << 4
	tcp[13] = 0x18
	g := segmenter{l2len: 14}
	var got [][3]uint32 // payload length field, seq, flags
	split, err := g.split(b, hdrs+2000, 2, 1200, func(seg []byte, origLen uint32, i int) error {
		ip := seg[14:]
		got = append(got, [3]uint32{uint32(binary.BigEndian.Uint16(ip[4:])), binary.BigEndian.Uint32(ip[44:]), uint32(ip[53])})
		if origLen != uint32(hdrs)+[]uint32{1200, 800}[i] {
			t.Errorf("segment %d: original length %d", i, origLen)
		}
		return nil
	})
	if err != nil || !split {
		t.Fatalf("split = %v, %v", split, err)
	}
	want := [][3]uint32{{20 + 1200, 1000, 0x10}, {20 + 800, 2200, 0x18}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("segments (payload length, seq, flags) %v, want %v", got, want)
	}
}
