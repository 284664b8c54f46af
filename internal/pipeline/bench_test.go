package pipeline

import (
	"bytes"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/pcapng"
)

// bulkCapture writes n frames of a bulk transfer (data one way, an ACK every
// second segment) as pcapng with a 96-byte snapshot, like a real sender-side
// capture.
func bulkCapture(tb testing.TB, n int) []byte {
	tb.Helper()
	var out bytes.Buffer
	w, err := pcapng.NewWriter(&out, pcapng.WriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 96})
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	a, b := net.IP{10, 1, 0, 1}, net.IP{10, 1, 0, 2}
	build := func(data bool, seq, ack uint32) []byte {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: a, DstIP: b}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 5201, Seq: seq, Ack: ack, ACK: true, Window: 2000,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindNop, OptionLength: 1}, {OptionType: layers.TCPOptionKindNop, OptionLength: 1},
				{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}}}
		pay := 1448
		if !data {
			ip.SrcIP, ip.DstIP = b, a
			tcp.SrcPort, tcp.DstPort = 5201, 40000
			pay = 0
		}
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, ip, tcp, gopacket.Payload(make([]byte, pay)))
		return buf.Bytes()
	}
	ts := int64(1_700_000_000_000_000_000)
	seq := uint32(1)
	for i := 0; i < n; i++ {
		ts += 8000
		var f []byte
		if i%3 == 2 {
			f = build(false, 1, seq)
		} else {
			f = build(true, seq, 1)
			seq += 1448
		}
		if err := w.WritePacket(id, ts, f[:min(96, len(f))], uint32(len(f)), pcapng.PacketOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	w.Close()
	return out.Bytes()
}

type countSink struct{ packets, events int }

func (c *countSink) Packet(*events.Packet) { c.packets++ }
func (c *countSink) Event(*events.Event)   { c.events++ }

// BenchmarkReadDecodeNormalize is the spine's hot path: pcapng reader,
// decoder and flow table, no detectors. Target: ≥ 2 million packets/s.
func BenchmarkReadDecodeNormalize(b *testing.B) {
	const n = 200_000
	data := bulkCapture(b, n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := New(Config{Flows: conntrack.DefaultConfig()})
		s := &countSink{}
		p.AddSink(s)
		feed.Bytes(b, data, "bench", p)
		p.Finish()
		if s.packets != n {
			b.Fatalf("%d packets, want %d", s.packets, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
