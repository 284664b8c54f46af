// Package robust holds tcpviz's cross-cutting robustness tests: hostile and
// broken capture files through the whole parse pipeline, interrupted runs
// and their output files, capture crashes, full disks, and privilege checks.
// The non-test code here only builds the synthetic captures those tests (and
// the fuzz seed corpora) start from.
package robust

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// Segment describes one TCP segment of a synthetic capture.
type Segment struct {
	Src, Dst         netip.AddrPort
	Seq, Ack         uint32
	SYN, ACK, FIN    bool
	RST, PSH         bool
	Window           uint16
	Payload          []byte
	Options          []layers.TCPOption
	ExtensionHeaders int // IPv6 only: destination-options headers before TCP
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

// Frame serializes s as an Ethernet frame with correct lengths and checksums.
func Frame(s Segment) ([]byte, error) {
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.Src.Port()), DstPort: layers.TCPPort(s.Dst.Port()),
		Seq: s.Seq, Ack: s.Ack, SYN: s.SYN, ACK: s.ACK, FIN: s.FIN, RST: s.RST, PSH: s.PSH,
		Window: s.Window, Options: s.Options}
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB}
	var ls []gopacket.SerializableLayer
	if s.Src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			return nil, err
		}
		ls = []gopacket.SerializableLayer{eth, ip}
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			return nil, err
		}
		ls = []gopacket.SerializableLayer{eth, ip}
		if s.ExtensionHeaders > 0 {
			ip.NextHeader = layers.IPProtocolIPv6Destination
			ls = append(ls, gopacket.Payload(DestOptsChain(s.ExtensionHeaders, byte(layers.IPProtocolTCP))))
		}
	}
	ls = append(ls, tcp, gopacket.Payload(s.Payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, fmt.Errorf("serialize segment: %w", err)
	}
	return bytes.Clone(buf.Bytes()), nil
}

// DestOptsChain is n IPv6 destination-options headers of 8 bytes each (one
// PadN option), the last naming next as the following protocol.
func DestOptsChain(n int, next byte) []byte {
	b := make([]byte, 0, 8*n)
	for i := 0; i < n; i++ {
		nh := byte(layers.IPProtocolIPv6Destination)
		if i == n-1 {
			nh = next
		}
		b = append(b, nh, 0, 1, 4, 0, 0, 0, 0)
	}
	return b
}

// Conversation is a short IPv4 transfer with a handshake, data, a lost and
// retransmitted segment, duplicate ACKs, a zero window and a FIN exchange.
func Conversation(client, server netip.AddrPort) []Segment {
	c, s := uint32(1000), uint32(5000)
	data := bytes.Repeat([]byte("x"), 100)
	mss := []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}}}
	sack := []layers.TCPOption{{OptionType: layers.TCPOptionKindSACK, OptionLength: 10,
		OptionData: []byte{0, 0, 0x04, 0x4d, 0, 0, 0x04, 0xb1}}} // 1101..1201
	up := func(seq, ack uint32, pay []byte) Segment {
		return Segment{Src: client, Dst: server, Seq: seq, Ack: ack, ACK: true, Window: 500, Payload: pay}
	}
	down := func(ack uint32, win uint16, opts []layers.TCPOption) Segment {
		return Segment{Src: server, Dst: client, Seq: s + 1, Ack: ack, ACK: true, Window: win, Options: opts}
	}
	return []Segment{
		{Src: client, Dst: server, Seq: c, SYN: true, Window: 64240, Options: mss},
		{Src: server, Dst: client, Seq: s, Ack: c + 1, SYN: true, ACK: true, Window: 65160, Options: mss},
		up(c+1, s+1, nil),
		up(c+1, s+1, data), // 1001..1101, "lost" before the server
		up(c+101, s+1, data),
		down(c+1, 500, sack),
		down(c+1, 500, sack),
		down(c+1, 500, sack),
		up(c+1, s+1, data),  // retransmission
		down(c+201, 0, nil), // zero window
		down(c+201, 500, nil),
		{Src: client, Dst: server, Seq: c + 201, Ack: s + 1, ACK: true, FIN: true, Window: 500},
		{Src: server, Dst: client, Seq: s + 1, Ack: c + 202, ACK: true, FIN: true, Window: 500},
		up(c+202, s+2, nil),
	}
}

// Hostile strings a capture may carry in a kernel record's comm.
var Hostile = []string{`<img src=x onerror=alert(1)>`, `</script><script>alert(2)</script>`, `"'><svg onload=alert(3)>`}

// Synthetic writes a small but complete tcpviz capture: an IPv4 and an IPv6
// conversation on one Ethernet interface, kernel records (probe,
// retransmit, state changes whose comm is hostile markup) and an interface
// statistics block.
func Synthetic() ([]byte, error) {
	var out bytes.Buffer
	w, err := pcapng.NewWriter(&out, pcapng.WriterOptions{Application: "tcpviz robust"})
	if err != nil {
		return nil, err
	}
	id, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 262144, Name: "veth0"})
	if err != nil {
		return nil, err
	}
	c4 := netip.MustParseAddrPort("10.0.0.1:40000")
	s4 := netip.MustParseAddrPort("10.0.0.2:5201")
	c6 := netip.MustParseAddrPort("[fd00::1]:40001")
	s6 := netip.MustParseAddrPort("[fd00::2]:5201")
	ts := int64(1_700_000_000_000_000_000)
	segs := Conversation(c4, s4)
	segs6 := Conversation(c6, s6)
	segs6[3].ExtensionHeaders = 3
	for i, sg := range append(segs, segs6...) {
		f, err := Frame(sg)
		if err != nil {
			return nil, err
		}
		ts += 1_000_000
		if err := w.WritePacket(id, ts, f, uint32(len(f)), pcapng.PacketOptions{}); err != nil {
			return nil, err
		}
		if i == 5 || i == 8 || i == 12 {
			kinds := map[int]*kblock.Record{
				5:  {Kind: kblock.KindProbe, SndCwnd: 10, SRTTus: 1000, Comm: Hostile[0], PID: 1},
				8:  {Kind: kblock.KindRetransmit, Seq: 1001, EndSeq: 1101, Segs: 1, Comm: Hostile[1]},
				12: {Kind: kblock.KindState, OldState: 1, NewState: 4, Comm: Hostile[2], PID: 2},
			}
			r := kinds[i]
			r.TS, r.Saddr, r.Daddr, r.Sport, r.Dport = ts, c4.Addr(), s4.Addr(), c4.Port(), s4.Port()
			if err := w.WriteCustom(kblock.PEN, kblock.Append(nil, r), false); err != nil {
				return nil, err
			}
		}
	}
	if err := w.WriteStats(id, ts, pcapng.InterfaceStats{Received: 28, Delivered: 28}); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
