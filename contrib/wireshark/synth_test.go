package wireshark

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tcpviz/tcpviz/internal/testutil/frames"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// synth builds a capture with kernel records and TCP packets through the
// kblock codec and the pcapng writer.
type synth struct {
	t   *testing.T
	w   *pcapng.Writer
	id  uint32
	now int64
}

type sock struct {
	local, remote netip.AddrPort
}

func (s sock) rev() sock { return sock{s.remote, s.local} }

func (s *synth) tick() int64 {
	s.now += 250_000 // 250 µs between blocks
	return s.now
}

// record writes r (time and 4-tuple filled in from k) as a custom block.
func (s *synth) record(k sock, r kblock.Record) {
	s.t.Helper()
	r.TS = s.tick()
	r.Saddr, r.Sport = k.local.Addr(), k.local.Port()
	r.Daddr, r.Dport = k.remote.Addr(), k.remote.Port()
	if r.Cookie == 0 {
		r.Cookie = 0xc0c0
	}
	s.raw(kblock.Append(nil, &r))
}

// raw writes b as the data of a tcpviz custom block.
func (s *synth) raw(b []byte) {
	s.t.Helper()
	if err := s.w.WriteCustom(kblock.PEN, b, true); err != nil {
		s.t.Fatal(err)
	}
}

// packet writes one TCP segment from src to dst.
func (s *synth) packet(src, dst netip.AddrPort, seq, ack uint32, flags string, payload int) {
	s.t.Helper()
	b, err := frames.TCP(src, dst, seq, ack, flags, 512, payload)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.w.WritePacket(s.id, s.tick(), b, uint32(len(b)), pcapng.PacketOptions{}); err != nil {
		s.t.Fatal(err)
	}
}

// filled returns a record of kind k with every field of kblock.Record set
// to a distinct non-zero value, found by reflection so fields added to
// kblock later are covered without touching this test.
func filled(k kblock.Kind, seed int) kblock.Record {
	r := kblock.Record{Kind: k}
	v := reflect.ValueOf(&r).Elem()
	header := map[string]bool{"Kind": true, "TS": true, "Cookie": true, "Saddr": true, "Daddr": true, "Sport": true, "Dport": true}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if header[f.Name] || !f.IsExported() {
			continue
		}
		n := uint64(seed*100 + i + 1)
		switch f.Type.Kind() {
		case reflect.Uint8:
			v.Field(i).SetUint(n % 251)
		case reflect.Uint16, reflect.Uint32:
			v.Field(i).SetUint(n * 1009)
		case reflect.Uint64:
			v.Field(i).SetUint(1<<40 + n)
		case reflect.String:
			v.Field(i).SetString("comm-" + f.Name)
		case reflect.Bool:
			v.Field(i).SetBool(true)
		}
	}
	if has := v.FieldByName("Has"); has.IsValid() {
		has.SetUint(1<<has.Type().Bits() - 1) // every optional group present
	}
	return r
}

// tlv appends one field to a record and fixes the record length.
func tlv(rec []byte, code uint16, val []byte) []byte {
	rec = binary.LittleEndian.AppendUint16(rec, code)
	rec = binary.LittleEndian.AppendUint16(rec, uint16(len(val)))
	rec = append(rec, val...)
	for len(rec)%4 != 0 {
		rec = append(rec, 0)
	}
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(rec)))
	return rec
}

// header returns the 64-byte header of a record of kind k without fields.
func header(k kblock.Kind, ts int64, s sock) []byte {
	r := kblock.Record{Kind: k, TS: ts, Saddr: s.local.Addr(), Sport: s.local.Port(), Daddr: s.remote.Addr(), Dport: s.remote.Port()}
	b := kblock.Append(nil, &r)[:kblock.HeaderLen:kblock.HeaderLen]
	binary.LittleEndian.PutUint32(b[4:], kblock.HeaderLen)
	return b
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// synthCapture writes the synthetic capture and returns its path:
//   - an IPv4 connection whose sender has probe, retransmit, state and reset
//     records between its packets, with congestion-state changes;
//   - the same connection's other end (as on loopback, where both sockets
//     are on the host) with records of its own;
//   - an IPv6 connection with a record of every kind (and an unknown kind)
//     in which every kblock field is set;
//   - integers of every accepted width, unknown field codes (the ranges other
//     fields will take), a command name with control bytes and invalid
//     UTF-8, a time before 1970, and malformed records kblock refuses.
func synthCapture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapng.NewWriter(f, pcapng.WriterOptions{Application: "tcpviz wireshark test"})
	if err != nil {
		t.Fatal(err)
	}
	s := &synth{t: t, w: w, now: 1_700_000_000_000_000_000}
	if s.id, err = w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 256, Name: "eth0"}); err != nil {
		t.Fatal(err)
	}

	a := sock{netip.MustParseAddrPort("10.0.0.1:5201"), netip.MustParseAddrPort("10.0.0.2:40000")}
	c, sv := a.local, a.remote
	const inf = 2147483647
	s.record(sock{netip.AddrPortFrom(c.Addr(), 0), sv}, kblock.Record{Kind: kblock.KindState, OldState: 7, NewState: 2, PID: 77, Comm: "iperf3"})
	s.packet(c, sv, 1000, 0, "S", 0)
	s.packet(sv, c, 5000, 1001, "SA", 0)
	s.record(a, kblock.Record{Kind: kblock.KindState, OldState: 2, NewState: 1, PID: 77, Comm: "iperf3"})
	s.packet(c, sv, 1001, 5001, "A", 0)
	seq := uint32(1001)
	data := func(n int) {
		for range n {
			s.packet(c, sv, seq, 5001, "PA", 1000)
			seq += 1000
			s.packet(sv, c, 5001, seq, "A", 0)
		}
	}
	data(2)
	s.record(a, kblock.Record{Kind: kblock.KindProbe, SndCwnd: 10, Ssthresh: inf, SRTTus: 1500, RTTVarus: 750, MSS: 1000, PacketsOut: 2, PacingRate: 1 << 33})
	data(3)
	s.record(a, kblock.Record{Kind: kblock.KindProbe, SndCwnd: 20, Ssthresh: inf, SRTTus: 2500, MSS: 1000, CAState: 1, SackedOut: 1})
	data(1)
	s.record(a, kblock.Record{Kind: kblock.KindRetransmit, SndCwnd: 14, Ssthresh: 14, SRTTus: 2600, CAState: 3, LostOut: 1,
		Seq: seq - 1000, EndSeq: seq, TCPFlags: 0x18, Segs: 1, TotalRetrans: 1})
	s.packet(c, sv, seq-1000, 5001, "PA", 1000)
	s.packet(sv, c, 5001, seq, "A", 0)
	// The other end's socket: the receiver's records.
	s.record(a.rev(), kblock.Record{Kind: kblock.KindProbe, SndCwnd: 10, Ssthresh: inf, SRTTus: 900, RcvNxt: seq})
	data(2)
	s.record(a, kblock.Record{Kind: kblock.KindProbe, SndCwnd: 7, Ssthresh: 7, SRTTus: 30000, CAState: 4, LostOut: 3, RetransOut: 1})
	data(2)
	s.record(a, kblock.Record{Kind: kblock.KindProbe, SndCwnd: 8, Ssthresh: 7, SRTTus: 29000})
	data(1)
	s.record(a, kblock.Record{Kind: kblock.KindReset, ResetDir: 1, PID: 77, Comm: "iperf3"})
	s.packet(c, sv, seq, 5001, "RA", 0)
	s.record(a, kblock.Record{Kind: kblock.KindState, OldState: 1, NewState: 7, PID: 77, Comm: "iperf3", BytesAcked: 12000, BytesRecv: 1, SpanNS: 3_000_000})

	// IPv6: every field, every kind, and a kind this plugin does not know.
	b := sock{netip.MustParseAddrPort("[fd00::1]:443"), netip.MustParseAddrPort("[fd00:0:0:1::2]:50123")}
	s.packet(b.remote, b.local, 77, 0, "S", 0)
	for i, k := range []kblock.Kind{kblock.KindProbe, kblock.KindRetransmit, kblock.KindState, kblock.KindReset, 9} {
		r := filled(k, i)
		r.Cookie = 0xfedcba9876543210
		s.record(b, r)
		s.packet(b.local, b.remote, uint32(1000*i), 78, "A", 100)
		s.packet(b.remote, b.local, 78, uint32(1000*i+100), "A", 0)
	}

	// Integers of 1, 2 and 8 bytes where the writer uses others, and unknown
	// codes (empty, odd-sized, integer-sized), far from the codes in use.
	odd := header(kblock.KindProbe, s.tick(), b)
	odd = tlv(odd, kblock.FieldSndCwnd, []byte{42})
	odd = tlv(odd, kblock.FieldSsthresh, []byte{0x34, 0x12})
	odd = tlv(odd, kblock.FieldSRTTus, le64(12345))
	odd = tlv(odd, kblock.FieldPacingRate, le32(99999))
	odd = tlv(odd, kblock.FieldCAState, le32(2))
	odd = tlv(odd, 4242, le32(8080))
	odd = tlv(odd, 4243, le64(1<<50))
	odd = tlv(odd, 4244, []byte{1, 2, 3})
	odd = tlv(odd, 4245, nil)
	odd = tlv(odd, 65535, []byte("future"))
	s.raw(odd)
	s.packet(b.local, b.remote, 5000, 78, "A", 10)

	// A command name that must not garble a display, and a time before 1970.
	s.record(a, kblock.Record{Kind: kblock.KindState, OldState: 1, NewState: 4, Comm: "\x1b[31mevil\tname\n\xff\xfe", PID: 1})
	old := header(kblock.KindState, -1_500_000_000, a) // 1969-12-31T23:59:58.5Z
	old = tlv(old, kblock.FieldOldState, []byte{1})
	old = tlv(old, kblock.FieldNewState, []byte{4})
	s.raw(old)

	// Malformed records: kblock refuses each of them.
	ver := header(kblock.KindProbe, s.tick(), a)
	ver[0] = 2
	s.raw(ver)
	fam := header(kblock.KindProbe, s.tick(), a)
	fam[24] = 5
	s.raw(fam)
	past := tlv(header(kblock.KindProbe, s.tick(), a), kblock.FieldSndCwnd, le32(99))
	binary.LittleEndian.PutUint16(past[kblock.HeaderLen+2:], 40) // value runs past the record
	s.raw(past)
	width := tlv(header(kblock.KindProbe, s.tick(), a), kblock.FieldSndCwnd, []byte{1, 2, 3})
	s.raw(width)
	s.raw([]byte{1, 1, 64, 0})
	s.packet(c, sv, seq, 5001, "A", 0)

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
