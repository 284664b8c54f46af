package detectors

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// serialize encodes p with gopacket: IPv4 or IPv6 and TCP with options.
func serialize(t testing.TB, p *events.Packet) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: layers.TCPPort(p.SrcPort), DstPort: layers.TCPPort(p.DstPort), Seq: p.Seq, Ack: p.Ack,
		Window: p.Window, SYN: p.Flags&S != 0, ACK: p.Flags&A != 0, FIN: p.Flags&F != 0, RST: p.Flags&R != 0, PSH: p.Flags&P != 0}
	o := &p.Options
	if o.HasWScale {
		tcp.Options = append(tcp.Options, layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{o.WScale}})
	}
	if o.HasTS {
		d := binary.BigEndian.AppendUint32(nil, o.TSVal)
		tcp.Options = append(tcp.Options, layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: binary.BigEndian.AppendUint32(d, o.TSEcr)})
	}
	if o.NumSACK > 0 {
		var d []byte
		for _, b := range o.SACK[:o.NumSACK] {
			d = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(d, b.Left), b.Right)
		}
		tcp.Options = append(tcp.Options, layers.TCPOption{OptionType: layers.TCPOptionKindSACK, OptionLength: uint8(2 + len(d)), OptionData: d})
	}
	var ip gopacket.NetworkLayer
	if p.Src.Is4() {
		ip = &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP(p.Src.AsSlice()), DstIP: net.IP(p.Dst.AsSlice())}
	} else {
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.IP(p.Src.AsSlice()), DstIP: net.IP(p.Dst.AsSlice())}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(make([]byte, p.Len))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeCapture writes pkts as a classic pcap with Ethernet or Linux cooked
// v2 (tcpdump -i any) headers.
func writeCapture(t testing.TB, path string, pkts []events.Packet, sll2 bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lt := uint32(1) // Ethernet
	if sll2 {
		lt = 276
	}
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], lt)
	out := hdr
	for i := range pkts {
		p := &pkts[i]
		ipb := serialize(t, p)
		proto := uint16(0x0800)
		if p.Src.Is6() {
			proto = 0x86DD
		}
		var hdr []byte
		if sll2 {
			hdr = binary.BigEndian.AppendUint16(nil, proto)
			hdr = append(hdr, 0, 0, 0, 0, 0, 2, 0, 1, byte(p.Dir)*4, 6, 2, 0, 0, 0, 0, 1, 0, 0)
		} else {
			hdr = []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
			hdr = binary.BigEndian.AppendUint16(hdr, proto)
		}
		data := append(hdr, ipb...)
		out = binary.LittleEndian.AppendUint32(out, uint32(p.TS/1e9))
		out = binary.LittleEndian.AppendUint32(out, uint32(p.TS%1e9))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
		out = append(out, data...)
	}
	if _, err := f.Write(out); err != nil {
		t.Fatal(err)
	}
}

// TestThroughPipeline runs every crafted rule case through gopacket
// serialization, the pcap reader, decode and the connection table, on
// Ethernet and on SLL2 (tcpdump -i any) framing. The flags must equal the
// engine's on the builder's packets, and tshark's.
func TestThroughPipeline(t *testing.T) {
	var all []events.Packet
	want := make(tsharkoracle.Frames)
	notTshark := map[uint64]bool{} // frames of cases where tcpviz deviates on purpose
	for i, tc := range ruleCases {
		pkts := tc.pkts()
		var adv int64
		if tc.advance != 0 {
			adv = pkts[len(pkts)-1].TS + int64(tc.advance)
		}
		evs, _ := runEngine(DefaultConfig(), pkts, adv)
		base := uint64(len(all))
		for _, e := range evs {
			e.Frame += base
			want.Add(&e)
		}
		for _, p := range pkts {
			p.Frame += base
			if tc.noTshark != "" {
				notTshark[p.Frame] = true
			}
			p.TS += int64(i) * int64(time.Hour)
			if p.Dir == events.DirC2S {
				p.SrcPort = uint16(10000 + i)
			} else {
				p.DstPort = uint16(10000 + i)
			}
			all = append(all, p)
		}
	}
	det := func(emit func(*events.Event)) pipeline.Detector { return New(DefaultConfig(), emit) }
	for _, framing := range []struct {
		name string
		sll2 bool
	}{{"ethernet", false}, {"sll2", true}} {
		t.Run(framing.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), framing.name+".pcap")
			writeCapture(t, path, all, framing.sll2)
			ours, err := tsharkoracle.Ours(path, det)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 20 {
				t.Fatalf("only %d flagged frames expected: the cases lost their findings", len(want))
			}
			for _, p := range all {
				if a, b := ours[p.Frame], want[p.Frame]; a != b {
					t.Errorf("frame %d: through the pipeline %s, engine alone %s", p.Frame, tsharkoracle.Describe(a), tsharkoracle.Describe(b))
				}
			}
			if !tsharkoracle.Available() {
				t.Skip("tshark not installed (Debian package tshark)")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			theirs, err := tsharkoracle.Run(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			for n := range notTshark {
				delete(ours, n)
				delete(theirs, n)
			}
			for _, r := range tsharkoracle.Compare(ours, theirs) {
				if len(r.OursOnly)+len(r.TsharkOnly) > 0 {
					t.Errorf("%v (ours only %v, tshark only %v)", r, r.OursOnly, r.TsharkOnly)
				}
			}
		})
	}
}
