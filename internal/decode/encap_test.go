package decode

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/rewrap"
)

// TestDecodeEncapsulations wraps one TCP segment in every encapsulation
// rewrap knows, in both directions, and checks the segment, the path and
// the tunnel identifier that come out.
func TestDecodeEncapsulations(t *testing.T) {
	want := map[string]struct {
		path4, path6 string
		tunnel       events.Tunnel // up direction
	}{
		"vlan-qinq":        {"eth/vlan:200/vlan:100/ip", "eth/vlan:200/vlan:100/ip6", 0},
		"gre":              {"eth/ip/gre/ip", "eth/ip/gre/ip6", 0},
		"gre-key-seq-csum": {"eth/ip/gre/ip", "eth/ip/gre/ip6", events.MakeTunnel(events.TunnelGRE, 77)},
		"gre-eth":          {"eth/ip/gre/eth/ip", "eth/ip/gre/eth/ip6", events.MakeTunnel(events.TunnelGRE, 5001)},
		"gre-aruba-wlan":   {"eth/ip/gre/wlan/llc/ip", "eth/ip/gre/wlan/llc/ip6", 0},
		"erspan1":          {"eth/ip/gre/erspan1/eth/ip", "eth/ip/gre/erspan1/eth/ip6", 0},
		"erspan2":          {"eth/ip/gre/erspan2/eth/ip", "eth/ip/gre/erspan2/eth/ip6", 0},
		"erspan3":          {"eth/ip/gre/erspan3/eth/ip", "eth/ip/gre/erspan3/eth/ip6", 0},
		"vxlan":            {"eth/ip/udp/vxlan/eth/ip", "eth/ip/udp/vxlan/eth/ip6", events.MakeTunnel(events.TunnelVXLAN, 4242)},
		"vxlan-gpe":        {"eth/ip/udp/vxlan-gpe/ip", "eth/ip/udp/vxlan-gpe/ip6", events.MakeTunnel(events.TunnelVXLANGPE, 4242)},
		"geneve":           {"eth/ip/udp/geneve/eth/ip", "eth/ip/udp/geneve/eth/ip6", events.MakeTunnel(events.TunnelGeneve, 777)},
		"gtpu":             {"eth/ip/udp/gtpu/ip", "eth/ip/udp/gtpu/ip6", events.MakeTunnel(events.TunnelGTPU, 0x1000)},
		"ipip":             {"eth/ip/ip", "eth/ip/ip6", 0},
		"ipip6":            {"eth/ip6/ip", "eth/ip6/ip6", 0},
		"teredo":           {"", "eth/ip/udp/teredo/ip6", 0},
		"ayiya":            {"eth/ip/udp/ayiya/ip", "eth/ip/udp/ayiya/ip6", 0},
		"mpls":             {"eth/mpls:16/ip", "eth/mpls:16/ip6", 0},
		"mpls-pw-eth":      {"eth/mpls:16/eth/ip", "eth/mpls:16/eth/ip6", 0},
		"pppoe":            {"eth/pppoe/ip", "eth/pppoe/ip6", 0},
		"pbb":              {"eth/vlan:30/pbb:123456/ip", "eth/vlan:30/pbb:123456/ip6", 0},
		"llc-snap":         {"eth/llc/ip", "eth/llc/ip6", 0},
		"fddi":             {"fddi/llc/ip", "fddi/llc/ip6", 0},
		"chdlc":            {"chdlc/ip", "chdlc/ip6", 0},
		"ppp":              {"ppp/ip", "ppp/ip6", 0},
		"wlan":             {"wlan/llc/ip", "wlan/llc/ip6", 0},
		"wlan-radiotap":    {"radiotap/wlan/llc/ip", "radiotap/wlan/llc/ip6", 0},
		"nflog":            {"nflog/ip", "nflog/ip6", 0},
		"juniper-ether":    {"juniper/eth/ip", "juniper/eth/ip6", 0},
		"juniper-no-l2":    {"juniper/ip", "juniper/ip6", 0},
		"ipoib":            {"ipoib/ip", "ipoib/ip6", 0},
		"pflog":            {"pflog/ip", "pflog/ip6", 0},
		"enc":              {"enc/ip", "enc/ip6", 0},
		"ppi-wlan":         {"ppi/wlan/llc/ip", "ppi/wlan/llc/ip6", 0},
		"prism-wlan":       {"prism/wlan/llc/ip", "prism/wlan/llc/ip6", 0},
		"avs-wlan":         {"avs/wlan/llc/ip", "avs/wlan/llc/ip6", 0},
		"pktap":            {"pktap/eth/ip", "pktap/eth/ip6", 0},
		"atm-rfc1483":      {"llc/ip", "llc/ip6", 0},
		"pppoe-linktype":   {"pppoe/ip", "pppoe/ip6", 0},
		"raw-ipv4":         {"ip", "", 0},
		"raw-ipv6":         {"", "ip6", 0},
	}
	d := New()
	for _, e := range rewrap.All() {
		w, ok := want[e.Name]
		if !ok {
			t.Errorf("%s: no expectation", e.Name)
			continue
		}
		for _, v6 := range []bool{false, true} {
			path := w.path4
			if v6 {
				path = w.path6
			}
			if path == "" {
				continue
			}
			for _, up := range []bool{true, false} {
				tcp, pay := tcpLayer(100)
				var ip []byte
				if v6 {
					ip = serialize(t, ip6(layers.IPProtocolTCP), tcp, pay)
				} else {
					ip = serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
				}
				frame, err := rewrap.Frame(e, ip, v6, up)
				if err != nil {
					t.Fatal(err)
				}
				var p events.Packet
				ok, why := d.Decode(e.LinkType, frame, uint32(len(frame)), &p)
				if !ok {
					t.Errorf("%s v6=%v: not decoded: %v %v", e.Name, v6, why, d.Detail())
					continue
				}
				wantSrc := netip.MustParseAddr("10.0.0.1")
				if v6 {
					wantSrc = netip.MustParseAddr("2001:db8::1")
				}
				if p.Src != wantSrc || p.SrcPort != 40000 || p.DstPort != 443 || p.Seq != 0xfffffff0 || p.Len != 100 || len(p.Payload) != 100 {
					t.Errorf("%s v6=%v: %v:%d -> %v:%d seq %d len %d payload %d", e.Name, v6, p.Src, p.SrcPort, p.Dst, p.DstPort, p.Seq, p.Len, len(p.Payload))
				}
				if p.Encap != path {
					t.Errorf("%s v6=%v: encap %q, want %q", e.Name, v6, p.Encap, path)
				}
				wantTun := w.tunnel
				if !up && e.Name == "gtpu" {
					wantTun = events.MakeTunnel(events.TunnelGTPU, 0x2000)
				}
				if p.Tunnel != wantTun {
					t.Errorf("%s v6=%v up=%v: tunnel %v, want %v", e.Name, v6, up, p.Tunnel, wantTun)
				}
			}
		}
	}
}

// TestDecodeEncapsulationsCut: a frame cut by the snapshot inside the inner
// TCP payload still decodes, with the length from the inner IP header.
func TestDecodeEncapsulationsCut(t *testing.T) {
	d := New()
	for _, e := range rewrap.All() {
		if e.V6Only {
			continue
		}
		tcp, pay := tcpLayer(1000)
		ip := serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
		frame, err := rewrap.Frame(e, ip, false, true)
		if err != nil {
			t.Fatal(err)
		}
		cut := frame[:len(frame)-900]
		var p events.Packet
		if e.Name == "nflog" {
			// The packet is an attribute whose length covers it whole; like
			// Wireshark, a cut attribute is not decoded.
			if ok, why := d.Decode(e.LinkType, cut, uint32(len(frame)), &p); ok || why != SkipTruncated {
				t.Errorf("%s: ok %v %v, want truncated", e.Name, ok, why)
			}
			continue
		}
		if ok, why := d.Decode(e.LinkType, cut, uint32(len(frame)), &p); !ok || p.Len != 1000 || len(p.Payload) != 100 || p.WireLen != uint32(len(frame)) {
			t.Errorf("%s: ok %v %v, len %d payload %d wire %d", e.Name, ok, why, p.Len, len(p.Payload), p.WireLen)
		}
	}
}

func TestDecodeUnsupportedEncapsulation(t *testing.T) {
	tcp, pay := tcpLayer(0)
	inner := serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
	eth := &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}
	tests := []struct {
		name   string
		frame  []byte
		why    SkipReason
		detail string
	}{
		{"gre unknown protocol", serialize(t, eth, ip4(layers.IPProtocolGRE), &layers.GRE{Protocol: 0x88b5}, rewrap.Raw(inner)), SkipUnsupported, "gre-proto-0x88b5"},
		{"geneve unknown protocol", serialize(t, eth, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50000, DstPort: 6081},
			&layers.Geneve{Protocol: 0x88b5, VNI: 1}, rewrap.Raw(inner)), SkipUnsupported, "geneve-proto-0x88b5"},
		{"gpe nsh", serialize(t, eth, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50000, DstPort: 4790},
			rewrap.Raw{0x0c, 0, 0, 4, 0, 0, 1, 0}, rewrap.Raw(inner)), SkipUnsupported, "vxlan-gpe-next-0x0004"},
		{"gtp echo", serialize(t, eth, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 2152, DstPort: 2152},
			&layers.GTPv1U{Version: 1, ProtocolType: 1, MessageType: 1, TEID: 0}), SkipNotIP, ""},
		{"udp elsewhere", serialize(t, eth, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50000, DstPort: 53}, rewrap.Raw(inner)), SkipNotTCP, ""},
		{"wlan protected", serialize(t, &layers.Dot11{Type: layers.Dot11TypeData, Flags: layers.Dot11FlagsToDS | layers.Dot11FlagsWEP,
			Address1: mac1, Address2: mac2, Address3: mac1}, rewrap.Raw(inner)), SkipUnsupported, "wlan-protected-0x0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New()
			link := uint16(LinkEthernet)
			if tt.name == "wlan protected" {
				link = Link80211
			}
			var p events.Packet
			ok, why := d.Decode(link, tt.frame, uint32(len(tt.frame)), &p)
			got := ""
			if why == SkipUnsupported {
				got = d.Detail().String()
			}
			if ok || why != tt.why || got != tt.detail {
				t.Errorf("got ok=%v %v %q, want %v %q", ok, why, got, tt.why, tt.detail)
			}
		})
	}
}

// TestDecodeTunnelPorts: tunnel ports are settings.
func TestDecodeTunnelPorts(t *testing.T) {
	tcp, pay := tcpLayer(10)
	frame := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4},
		ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 50000, DstPort: 8472}, &layers.VXLAN{ValidIDFlag: true, VNI: 1},
		&layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay)
	var p events.Packet
	if ok, why := New().Decode(LinkEthernet, frame, uint32(len(frame)), &p); ok || why != SkipNotTCP {
		t.Errorf("default ports: ok %v %v, want not_tcp", ok, why)
	}
	cfg := DefaultConfig()
	cfg.VXLANPorts = append(cfg.VXLANPorts, 8472) // Linux's historical VXLAN port
	if ok, why := NewWithConfig(cfg).Decode(LinkEthernet, frame, uint32(len(frame)), &p); !ok || p.Encap != "eth/ip/udp/vxlan/eth/ip" {
		t.Errorf("port 8472 configured: ok %v %v encap %q", ok, why, p.Encap)
	}
}

// BenchmarkDecodeEncapsulations decodes a 100-byte segment in each
// encapsulation (IPv4 inside).
func BenchmarkDecodeEncapsulations(b *testing.B) {
	t := &testing.T{}
	for _, e := range rewrap.All() {
		if e.V6Only {
			continue
		}
		tcp, pay := tcpLayer(100)
		frame, err := rewrap.Frame(e, serialize(t, ip4(layers.IPProtocolTCP), tcp, pay), false, true)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e.Name, func(b *testing.B) {
			d := New()
			var p events.Packet
			b.ReportAllocs()
			for b.Loop() {
				if ok, why := d.Decode(e.LinkType, frame, uint32(len(frame)), &p); !ok {
					b.Fatal(why)
				}
			}
		})
	}
}

// TestInnerLinkType: PPI and PKTAP name the link type of the frame they
// wrap; it starts where a capture of that link type starts (firstLayer).
func TestInnerLinkType(t *testing.T) {
	tcp, pay := tcpLayer(10)
	ipTCP := serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
	ppi := func(dlt uint32) []byte {
		h := make([]byte, 8)
		binary.LittleEndian.PutUint16(h[2:], 8)
		binary.LittleEndian.PutUint32(h[4:], dlt)
		return append(h, ipTCP...)
	}
	pktap := func(dlt uint32) []byte {
		h := make([]byte, 12)
		binary.LittleEndian.PutUint32(h, 12)
		binary.LittleEndian.PutUint32(h[4:], 1)
		binary.LittleEndian.PutUint32(h[8:], dlt)
		return append(h, ipTCP...)
	}
	for _, tc := range []struct {
		name     string
		linkType uint16
		frame    []byte
		want     SkipReason
		path     string
	}{
		{"ppi raw", LinkPPI, ppi(LinkRaw), SkipNone, "ppi/ip"},
		{"ppi ipv4", LinkPPI, ppi(LinkIPv4), SkipNone, "ppi/ip"},
		{"ppi in ppi", LinkPPI, ppi(LinkPPI), SkipNotIP, ""},
		{"ppi unknown", LinkPPI, ppi(4000), SkipNotIP, ""},
		{"ppi huge", LinkPPI, ppi(1 << 20), SkipNotIP, ""},
		{"pktap raw", LinkPktap, pktap(LinkRaw), SkipNone, "pktap/ip"},
		{"pktap pktap", LinkPktap, pktap(LinkPktap), SkipNotIP, ""},
	} {
		var p events.Packet
		ok, why := New().Decode(tc.linkType, tc.frame, uint32(len(tc.frame)), &p)
		if why != tc.want || ok != (tc.want == SkipNone) {
			t.Errorf("%s: ok %v, %v; want %v", tc.name, ok, why, tc.want)
			continue
		}
		if ok && p.Encap != tc.path {
			t.Errorf("%s: path %q, want %q", tc.name, p.Encap, tc.path)
		}
	}
}
