package viz

import (
	"bufio"
	"encoding/binary"
	"os"
	"strconv"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// pcapSink writes synthetic traffic as a real capture: Ethernet/IPv4/TCP
// frames cut at the snapshot length, and kernel samples as tcpviz custom
// blocks, so the whole path (reader, decoder, flows, detectors) runs on it.
type pcapSink struct {
	w       *pcapng.Writer
	iface   uint32
	snap    int
	buf     []byte
	kbuf    []byte
	err     error
	packets int
}

func (s *pcapSink) Packet(p *events.Packet) {
	if s.err != nil {
		return
	}
	frame := encodeFrame(s.buf[:0], p)
	s.buf = frame
	capLen := min(len(frame), s.snap)
	s.err = s.w.WritePacket(s.iface, p.TS, frame[:capLen], uint32(len(frame)), pcapng.PacketOptions{})
	s.packets++
}

func (s *pcapSink) Event(e *events.Event) {
	if s.err != nil || e.Kernel == nil {
		return // detector events are the reader's job to find again
	}
	k := *e.Kernel
	k.TS = int64(e.TS)
	s.kbuf = kblock.Append(s.kbuf[:0], &k)
	s.err = s.w.WriteCustom(kblock.PEN, s.kbuf, true)
}

// encodeFrame builds an Ethernet/IPv4/TCP frame with a zero-filled payload.
// SYNs carry MSS, window scale 7 and SACK-permitted; SACK blocks are added
// when the packet has them.
func encodeFrame(b []byte, p *events.Packet) []byte {
	var opts []byte
	if p.Flags&events.FlagSYN != 0 {
		opts = append(opts, 2, 4, 0x05, 0xa8, 1, 3, 3, 7, 4, 2, 1, 1)
	}
	if n := int(p.Options.NumSACK); n > 0 {
		opts = append(opts, 1, 1, 5, byte(2+8*n))
		for i := 0; i < n; i++ {
			opts = binary.BigEndian.AppendUint32(opts, p.Options.SACK[i].Left)
			opts = binary.BigEndian.AppendUint32(opts, p.Options.SACK[i].Right)
		}
	}
	for len(opts)%4 != 0 {
		opts = append(opts, 1)
	}
	tcpLen := 20 + len(opts)
	ipLen := 20 + tcpLen + int(p.Len)
	// Ethernet
	b = append(b, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00)
	// IPv4
	ip := len(b)
	b = append(b, 0x45, 0, byte(ipLen>>8), byte(ipLen), 0, 0, 0x40, 0, 64, 6, 0, 0)
	s4, d4 := p.Src.As4(), p.Dst.As4()
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	var sum uint32
	for i := ip; i < ip+20; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[ip+10:], ^uint16(sum))
	// TCP
	b = binary.BigEndian.AppendUint16(b, p.SrcPort)
	b = binary.BigEndian.AppendUint16(b, p.DstPort)
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	b = binary.BigEndian.AppendUint32(b, p.Ack)
	b = append(b, byte(tcpLen/4)<<4|byte(p.Flags>>8&1), byte(p.Flags))
	b = binary.BigEndian.AppendUint16(b, p.Window)
	b = append(b, 0, 0, 0, 0)
	b = append(b, opts...)
	for i := 0; i < int(p.Len); i++ {
		b = append(b, 0)
	}
	return b
}

// TestWriteSyntheticCapture writes a capture for scripts/bench-report.sh:
// TCPVIZ_SYNTH_CAPTURE=path, TCPVIZ_SYNTH_PACKETS=approximate packet count.
func TestWriteSyntheticCapture(t *testing.T) {
	path := os.Getenv("TCPVIZ_SYNTH_CAPTURE")
	if path == "" {
		t.Skip("set TCPVIZ_SYNTH_CAPTURE to write a synthetic capture")
	}
	want := 500_000
	if s := os.Getenv("TCPVIZ_SYNTH_PACKETS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		want = n
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := pcapng.NewWriter(bw, pcapng.WriterOptions{Application: "tcpviz synthetic benchmark capture"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 96, Name: "synth0"})
	if err != nil {
		t.Fatal(err)
	}
	s := &pcapSink{w: w, iface: id, snap: 96}
	const flows = 8
	// About 1.55 packets per data segment (ACK every other segment, SACKs).
	per := want * 100 / 155 / flows
	synthesize(synthConfig{Flows: flows, Packets: per, LossEvery: 700, Kernel: true, Comm: "iperf3", GapNS: 8_000}, s)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d packets", path, s.packets)
}

// TestSyntheticCaptureRoundTrip checks the synthetic frames decode through
// the real reader and pipeline into the report the tests expect.
func TestSyntheticCaptureRoundTrip(t *testing.T) {
	path := t.TempDir() + "/synth.pcapng"
	t.Setenv("TCPVIZ_SYNTH_CAPTURE", path)
	t.Setenv("TCPVIZ_SYNTH_PACKETS", "6000")
	TestWriteSyntheticCapture(t)
	in, err := Load(t.Context(), path, LoadOptions{Pipeline: pipecfg.Detectors()})
	if err != nil {
		t.Fatal(err)
	}
	if in.Summary.TCPPackets < 5000 || in.Summary.KernelRecords == 0 {
		t.Fatalf("summary %+v", in.Summary)
	}
	r, err := Build(in.Collector, in.Flows, in.Summary, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Conns) != 8 || r.Conns[0].Comm != "iperf3" {
		t.Errorf("connections %d, first %+v", len(r.Conns), r.Conns[0])
	}
	st := structureOf(r)
	for k, series := range st {
		if k == "tsg/c_tsg_1/line" {
			for _, s := range series {
				if (s.Name == "data" || s.Name == "ACK" || s.Name == "receive window" || s.Name == "SACK") && s.Points == 0 {
					t.Errorf("%s: series %s empty", k, s.Name)
				}
			}
		}
	}
	if _, ok := st["congestion/c_cong_1/line"]; !ok {
		t.Errorf("no congestion chart: %v", st)
	}
	// The detectors find the synthetic losses again from the bytes.
	if r.Overview.Retrans == 0 {
		t.Errorf("no retransmissions found: %+v", r.Overview.EventCounts)
	}
	if tl := st["timeline/c_timeline/scatter"]; len(tl) == 0 {
		t.Errorf("empty timeline: %v", st)
	}
}

// BenchmarkCollector measures the sink's cost per packet (events included)
// on bulk transfers; b.N counts packets.
func BenchmarkCollector(b *testing.B) {
	c := NewCollector(Limits{}, Filter{})
	rec := &packetCounter{next: c}
	b.ReportAllocs()
	b.ResetTimer()
	for rec.n < b.N {
		synthesize(synthConfig{Flows: 4, Packets: max(b.N/6, 100), LossEvery: 500, Kernel: true, Comm: "x"}, rec)
	}
}

type packetCounter struct {
	next synthSink
	n    int
}

func (p *packetCounter) Packet(pk *events.Packet) { p.n++; p.next.Packet(pk) }
func (p *packetCounter) Event(e *events.Event)    { p.next.Event(e) }
