package pcapng

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// benchFile builds n packets of snaplen-96 TCP frames (the shape of a real
// capture with tcpviz defaults), with a custom block every 100 packets when
// custom is set.
func benchFile(b *testing.B, n int, custom bool) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{Application: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	id, _ := w.AddInterface(Interface{LinkType: 1, SnapLen: 96, Name: "eth0"})
	pkt := tcpPacket(1, 1448)
	kdata := make([]byte, 120)
	for i := 0; i < n; i++ {
		if err := w.WritePacket(id, int64(1_700_000_000e9+i*1000), pkt, uint32(len(pkt)), PacketOptions{Flags: FlagInbound}); err != nil {
			b.Fatal(err)
		}
		if custom && i%100 == 0 {
			w.WriteCustom(32473, kdata, false)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchRead(b *testing.B, data []byte, records int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	br := bytes.NewReader(data)
	for i := 0; i < b.N; i++ {
		br.Reset(data)
		r := NewReader(br, "bench")
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != records {
			b.Fatalf("read %d records, want %d", n, records)
		}
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReaderPcapNG reads EPBs with options from memory.
func BenchmarkReaderPcapNG(b *testing.B) {
	const n = 100_000
	benchRead(b, benchFile(b, n, false), n)
}

// BenchmarkReaderPcapNGCustom mixes in kernel custom blocks.
func BenchmarkReaderPcapNGCustom(b *testing.B) {
	const n = 100_000
	benchRead(b, benchFile(b, n, true), n+n/100)
}

// BenchmarkReaderPcap reads classic pcap from memory.
func BenchmarkReaderPcap(b *testing.B) {
	const n = 100_000
	pkt := tcpPacket(1, 1448)[:96]
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = pkt
	}
	benchRead(b, classic(binary.LittleEndian, false, 1, recs...), n)
}

// BenchmarkReaderGzip reads a gzip'd pcapng.
func BenchmarkReaderGzip(b *testing.B) {
	const n = 100_000
	benchRead(b, gz(benchFile(b, n, false)), n)
}

// BenchmarkWriter writes EPBs to a discarding writer.
func BenchmarkWriter(b *testing.B) {
	pkt := tcpPacket(1, 1448)
	w, err := NewWriter(io.Discard, WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	id, _ := w.AddInterface(Interface{LinkType: 1, SnapLen: 96})
	b.SetBytes(96 + 40)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := w.WritePacket(id, int64(i), pkt, uint32(len(pkt)), PacketOptions{Flags: FlagOutbound}); err != nil {
			b.Fatal(err)
		}
	}
	w.Flush()
}
