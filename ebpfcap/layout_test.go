//go:build linux

package ebpfcap

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// The hand-written decoders must agree with the C layout that bpf2go saw.
func TestLayoutMatchesGenerated(t *testing.T) {
	var k captureKrec
	var p capturePktHdr
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof krec", unsafe.Sizeof(k), KernelRecordLen},
		{"sizeof pkt_hdr", unsafe.Sizeof(p), PacketHeaderLen},
		{"krec.kind", unsafe.Offsetof(k.Kind), 16},
		{"krec.sport", unsafe.Offsetof(k.Sport), 24},
		{"krec.pid", unsafe.Offsetof(k.Pid), 28},
		{"krec.saddr", unsafe.Offsetof(k.Saddr), 32},
		{"krec.snd_cwnd", unsafe.Offsetof(k.SndCwnd), 64},
		{"krec.mss", unsafe.Offsetof(k.Mss), 124},
		{"krec.segs", unsafe.Offsetof(k.Segs), 136},
		{"krec.pacing_rate", unsafe.Offsetof(k.PacingRate), 144},
		{"krec.span_ns", unsafe.Offsetof(k.SpanNs), 168},
		{"krec.comm", unsafe.Offsetof(k.Comm), 176},
		{"krec.busy_us", unsafe.Offsetof(k.BusyUs), 192},
		{"krec.rate_delivered", unsafe.Offsetof(k.RateDelivered), 216},
		{"krec.sndbuf", unsafe.Offsetof(k.Sndbuf), 236},
		{"krec.has", unsafe.Offsetof(k.Has), 240},
		{"krec.app_limited", unsafe.Offsetof(k.AppLimited), 245},
		{"krec.timer_pending", unsafe.Offsetof(k.TimerPending), 248},
		{"krec.retransmits", unsafe.Offsetof(k.Retransmits), 249},
		{"krec.timer_read", unsafe.Offsetof(k.TimerRead), 250},
		{"pkt_hdr.len", unsafe.Offsetof(p.Len), 20},
		{"pkt_hdr.caplen", unsafe.Offsetof(p.Caplen), 24},
		{"pkt_hdr.gso_size", unsafe.Offsetof(p.GsoSize), 28},
		{"pkt_hdr.gso_segs", unsafe.Offsetof(p.GsoSegs), 32},
		{"pkt_hdr.dir", unsafe.Offsetof(p.Dir), 34},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, decoder assumes %d", c.name, c.got, c.want)
		}
	}
}

func TestParseKernel(t *testing.T) {
	raw := make([]byte, KernelRecordLen)
	le := binary.LittleEndian
	le.PutUint64(raw[0:], 12345)
	le.PutUint64(raw[8:], 99)
	raw[16] = byte(kblock.KindRetransmit)
	raw[17] = 4
	le.PutUint16(raw[24:], 5001)
	le.PutUint16(raw[26:], 40000)
	copy(raw[32:48], netip.MustParseAddr("::ffff:10.0.0.1").AsSlice())
	copy(raw[48:64], netip.MustParseAddr("::ffff:10.0.0.2").AsSlice())
	le.PutUint32(raw[64:], 10)
	le.PutUint32(raw[128:], 1000)
	le.PutUint32(raw[132:], 2448)
	le.PutUint32(raw[136:], 2)
	copy(raw[176:], "iperf3\x00junk")

	var r kblock.Record
	ts, err := ParseKernel(raw, &r)
	if err != nil {
		t.Fatal(err)
	}
	want := kblock.Record{Kind: kblock.KindRetransmit, Cookie: 99, Sport: 5001, Dport: 40000,
		Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"),
		SndCwnd: 10, Seq: 1000, EndSeq: 2448, Segs: 2, Comm: "iperf3"}
	if ts != 12345 || r != want {
		t.Errorf("got ts %d %+v\nwant ts 12345 %+v", ts, r, want)
	}

	raw[16] = 77
	if _, err := ParseKernel(raw, &r); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := ParseKernel(raw[:100], &r); err == nil {
		t.Error("short record accepted")
	}
}

func TestParsePacket(t *testing.T) {
	tests := []struct {
		name    string
		caplen  uint32
		extra   int
		wantErr bool
	}{
		{"exact", 4, 4, false},
		{"padding after data", 4, 8, false},
		{"caplen past the end", 9, 8, true},
	}
	for _, tc := range tests {
		raw := make([]byte, PacketHeaderLen+tc.extra)
		binary.LittleEndian.PutUint32(raw[20:], 1500)
		binary.LittleEndian.PutUint32(raw[24:], tc.caplen)
		raw[34] = DirOutbound
		var p Packet
		err := ParsePacket(raw, &p)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && (len(p.Data) != int(tc.caplen) || p.Len != 1500 || p.Dir != DirOutbound) {
			t.Errorf("%s: got %+v", tc.name, p)
		}
	}
}

func TestParseKernelLimits(t *testing.T) {
	raw := make([]byte, KernelRecordLen)
	le := binary.LittleEndian
	raw[16] = byte(kblock.KindProbe)
	copy(raw[32:48], netip.MustParseAddr("::ffff:10.0.0.1").AsSlice())
	copy(raw[48:64], netip.MustParseAddr("::ffff:10.0.0.2").AsSlice())
	le.PutUint64(raw[192:], 4000000)
	le.PutUint64(raw[200:], 1000000)
	le.PutUint64(raw[208:], 0)
	le.PutUint32(raw[224:], 250)  // min_rtt, but its bit is not set
	le.PutUint32(raw[228:], 4096) // unsent
	raw[242], raw[243] = 7, 9
	raw[244] = 1
	le.PutUint16(raw[240:], kblock.HasChrono|kblock.HasUnsent|kblock.HasWScale|kblock.HasCwndLimited)
	var r kblock.Record
	if _, err := ParseKernel(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.BusyUS != 4000000 || r.RwndLimitedUS != 1000000 || r.Unsent != 4096 || r.SndWScale != 7 || r.RcvWScale != 9 || !r.CwndLimited {
		t.Errorf("limits decoded as %+v", r)
	}
	if r.MinRTTus != 0 || r.Has&kblock.HasMinRTT != 0 {
		t.Errorf("min_rtt without its bit: %d (has %#x)", r.MinRTTus, r.Has)
	}
}

func TestParseConfigHZ(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"CONFIG_HZ_250=y\nCONFIG_HZ=250\n", 250},
		{"# CONFIG_HZ is not set\n", 0},
		{"CONFIG_HZ=x\n", 0},
	} {
		if got := parseConfigHZ(strings.NewReader(c.in)); got != c.want {
			t.Errorf("parseConfigHZ(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
