// Package rewrap makes captures of tunnels and odd link types from real
// captures: every IP packet of an input capture is wrapped, with gopacket
// serialization, in an encapsulation (GRE, ERSPAN, VXLAN, Geneve, GTP-U,
// IP-in-IP, Teredo, AYIYA, MPLS, PPPoE, PBB, LLC/SNAP, FDDI, 802.11, NFLOG,
// ...) and written as a classic pcap file with the matching link type. The
// frames keep their order, timestamps and snapshot cut, so tshark and tcpviz
// can be compared frame by frame on the result. Test support only.
package rewrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/pcapng"
)

// Encap wraps one IP packet.
type Encap struct {
	Name     string
	LinkType uint16
	// V6Only marks encapsulations that carry only IPv6 (Teredo).
	V6Only bool
	// V4Only marks encapsulations that carry only IPv4 here.
	V4Only bool
	// Wrap returns the frame's layers outside the IP packet, outermost
	// first. up is true for packets of the capture's first sender
	// (tunnels whose identifier differs per direction use it).
	Wrap func(ip []byte, v6, up bool) []gopacket.SerializableLayer
}

var (
	macA   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	macB   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
	vtepA  = net.IP{192, 0, 2, 1}
	vtepB  = net.IP{192, 0, 2, 2}
	vtepA6 = net.ParseIP("2001:db8:ffff::1")
	vtepB6 = net.ParseIP("2001:db8:ffff::2")
)

// Raw is a layer given as bytes.
type Raw []byte

func (r Raw) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	buf, err := b.PrependBytes(len(r))
	if err != nil {
		return err
	}
	copy(buf, r)
	return nil
}

func (Raw) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func ethType(v6 bool) layers.EthernetType {
	if v6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

func ipProto(v6 bool) layers.IPProtocol {
	if v6 {
		return layers.IPProtocolIPv6
	}
	return layers.IPProtocolIPv4
}

func ends(up bool) (net.HardwareAddr, net.HardwareAddr, net.IP, net.IP) {
	if up {
		return macA, macB, vtepA, vtepB
	}
	return macB, macA, vtepB, vtepA
}

// outer is Ethernet and IPv4 between the two tunnel ends.
func outer(up bool, proto layers.IPProtocol) []gopacket.SerializableLayer {
	sm, dm, s, d := ends(up)
	return []gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: s, DstIP: d, Flags: layers.IPv4DontFragment},
	}
}

func outer6(up bool, proto layers.IPProtocol) []gopacket.SerializableLayer {
	sm, dm := macA, macB
	s, d := vtepA6, vtepB6
	if !up {
		sm, dm, s, d = macB, macA, vtepB6, vtepA6
	}
	return []gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeIPv6},
		&layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: s, DstIP: d},
	}
}

func udp(up bool, port uint16) []gopacket.SerializableLayer {
	src := uint16(49152 + 17)
	if !up {
		src = 49152 + 71
	}
	ls := outer(up, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(src), DstPort: layers.UDPPort(port)}
	if err := u.SetNetworkLayerForChecksum(ls[1].(*layers.IPv4)); err != nil {
		panic(err)
	}
	return append(ls, u)
}

func innerEth(up bool, v6 bool) *layers.Ethernet {
	sm, dm, _, _ := ends(up)
	sm = append(net.HardwareAddr{}, sm...)
	dm = append(net.HardwareAddr{}, dm...)
	sm[0], dm[0] = 0x06, 0x06 // a different pair from the outer one
	return &layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: ethType(v6)}
}

func with(ls []gopacket.SerializableLayer, more ...gopacket.SerializableLayer) []gopacket.SerializableLayer {
	return append(append([]gopacket.SerializableLayer{}, ls...), more...)
}

// dot11Data is an 802.11 data frame header from a station to the AP,
// followed by LLC/SNAP.
func dot11Data(up, v6 bool) []gopacket.SerializableLayer {
	sm, dm, _, _ := ends(up)
	flags := layers.Dot11FlagsToDS
	a1, a2 := dm, sm
	if !up {
		flags = layers.Dot11FlagsFromDS
	}
	return []gopacket.SerializableLayer{
		&layers.Dot11{Type: layers.Dot11TypeDataQOSData, Flags: flags, Address1: a1, Address2: a2, Address3: dm, SequenceNumber: 1},
		Raw{0x00, 0x00}, // QoS control
		&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
		&layers.SNAP{OrganizationalCode: []byte{0, 0, 0}, Type: ethType(v6)},
	}
}

// All returns every encapsulation.
func All() []Encap {
	return []Encap{
		{Name: "vlan-qinq", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			sm, dm, _, _ := ends(up)
			return []gopacket.SerializableLayer{
				&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeQinQ},
				&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 100, Type: ethType(v6)},
			}
		}},
		{Name: "gre", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(outer(up, layers.IPProtocolGRE), &layers.GRE{Protocol: ethType(v6)})
		}},
		{Name: "gre-key-seq-csum", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(outer(up, layers.IPProtocolGRE), &layers.GRE{ChecksumPresent: true, KeyPresent: true, SeqPresent: true,
				Key: 77, Seq: 1, Protocol: ethType(v6)})
		}},
		{Name: "gre-eth", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(outer(up, layers.IPProtocolGRE), &layers.GRE{KeyPresent: true, Key: 5001, Protocol: layers.EthernetTypeTransparentEthernetBridging},
				innerEth(up, v6))
		}},
		{Name: "gre-aruba-wlan", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(with(outer(up, layers.IPProtocolGRE), &layers.GRE{Protocol: 0x8200}), dot11Data(up, v6)...)
		}},
		{Name: "erspan1", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(outer(up, layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeERSPAN}, innerEth(up, v6))
		}},
		{Name: "erspan2", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(outer(up, layers.IPProtocolGRE), &layers.GRE{SeqPresent: true, Seq: 9, Protocol: layers.EthernetTypeERSPAN},
				&layers.ERSPANII{Version: layers.ERSPANIIVersion, SessionID: 12, Index: 3}, innerEth(up, v6))
		}},
		{Name: "erspan3", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// Version 2, VLAN 0, session 12; timestamp; SGT, P, FT 0 (Ethernet), HW id, D, Gra, O=1, then an 8-byte subheader.
			h := Raw{0x20, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}
			return with(outer(up, layers.IPProtocolGRE), &layers.GRE{SeqPresent: true, Seq: 9, Protocol: 0x22eb}, h, innerEth(up, v6))
		}},
		{Name: "vxlan", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(udp(up, 4789), &layers.VXLAN{ValidIDFlag: true, VNI: 4242}, innerEth(up, v6))
		}},
		{Name: "vxlan-gpe", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			next := byte(1)
			if v6 {
				next = 2
			}
			return with(udp(up, 4790), Raw{0x0c, 0, 0, next, 0, 0x10, 0x92, 0})
		}},
		{Name: "geneve", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with(udp(up, 6081), &layers.Geneve{Protocol: layers.EthernetTypeTransparentEthernetBridging, VNI: 777,
				Options: []*layers.GeneveOption{{Class: 0x0102, Type: 0x80, Data: []byte{1, 2, 3, 4}}}}, innerEth(up, v6))
		}},
		{Name: "gtpu", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			teid := uint32(0x1000)
			if !up {
				teid = 0x2000 // each end receives on its own TEID
			}
			return with(udp(up, 2152), &layers.GTPv1U{Version: 1, ProtocolType: 1, MessageType: 255, TEID: teid,
				GTPExtensionHeaders: []layers.GTPExtensionHeader{{Type: 0x85, Content: []byte{0x10, 0x09}}}})
		}},
		{Name: "ipip", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return outer(up, ipProto(v6)) // 4in4 and 6in4
		}},
		{Name: "ipip6", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return outer6(up, ipProto(v6)) // 4in6 and 6in6
		}},
		{Name: "teredo", LinkType: 1, V6Only: true, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			ls := udp(up, 3544)
			if !up { // origin indication on the server's packets
				return with(ls, Raw{0, 0, 0xc3, 0x8a, 0x3f, 0xfd, 0xfd, 0xfe})
			}
			return ls
		}},
		{Name: "ayiya", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// IDLen 4 (16 bytes), IDType 1; SigLen 5 (20 bytes), HshMeth 2; AutMeth 2, OpCode 1; next header.
			nh := byte(4)
			if v6 {
				nh = 41
			}
			h := make(Raw, 8+16+20)
			copy(h, []byte{0x41, 0x52, 0x21, nh, 0x5f, 0x5e, 0x10, 0x00})
			return with(udp(up, 5072), h)
		}},
		{Name: "mpls", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			sm, dm, _, _ := ends(up)
			return []gopacket.SerializableLayer{
				&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeMPLSUnicast},
				&layers.MPLS{Label: 16, TTL: 64}, &layers.MPLS{Label: 1000, StackBottom: true, TTL: 64},
			}
		}},
		{Name: "mpls-pw-eth", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			sm, dm, _, _ := ends(up)
			return []gopacket.SerializableLayer{
				&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeMPLSUnicast},
				&layers.MPLS{Label: 16, TTL: 64}, &layers.MPLS{Label: 2000, StackBottom: true, TTL: 64},
				Raw{0, 0, 0, 0}, // pseudowire control word
				// Addresses whose OUIs are not registered, so that Wireshark's
				// manufacturer-based guess also sees the control word.
				&layers.Ethernet{SrcMAC: net.HardwareAddr{0x02, 0, 0xde, 0xad, 0xbe, 1}, DstMAC: net.HardwareAddr{0x02, 0, 0xde, 0xad, 0xbe, 2}, EthernetType: ethType(v6)},
			}
		}},
		{Name: "pppoe", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			sm, dm, _, _ := ends(up)
			pt := layers.PPPTypeIPv4
			if v6 {
				pt = layers.PPPTypeIPv6
			}
			return []gopacket.SerializableLayer{
				&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypePPPoESession},
				&layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: 0x1234},
				&layers.PPP{PPPType: pt, HasPPTPHeader: false},
			}
		}},
		{Name: "pbb", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			sm, dm, _, _ := ends(up)
			e := innerEth(up, v6)
			itag := Raw{0, 0x01, 0xe2, 0x40} // I-SID 123456
			itag = append(itag, e.DstMAC...)
			itag = append(itag, e.SrcMAC...)
			itag = binary.BigEndian.AppendUint16(itag, uint16(ethType(v6)))
			return []gopacket.SerializableLayer{
				&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeQinQ},
				&layers.Dot1Q{VLANIdentifier: 30, Type: 0x88e7},
				itag,
			}
		}},
		{Name: "llc-snap", LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			sm, dm, _, _ := ends(up)
			return []gopacket.SerializableLayer{
				&layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeLLC, Length: uint16(len(ip) + 8)},
				&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
				&layers.SNAP{OrganizationalCode: []byte{0, 0, 0}, Type: ethType(v6)},
			}
		}},
		{Name: "fddi", LinkType: 10, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			sm, dm, _, _ := ends(up)
			h := Raw{0x50}
			h = append(append(h, dm...), sm...)
			return []gopacket.SerializableLayer{h,
				&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
				&layers.SNAP{OrganizationalCode: []byte{0, 0, 0}, Type: ethType(v6)},
			}
		}},
		{Name: "chdlc", LinkType: 104, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			h := Raw{0x0f, 0x00, 0, 0}
			binary.BigEndian.PutUint16(h[2:], uint16(ethType(v6)))
			return []gopacket.SerializableLayer{h}
		}},
		{Name: "ppp", LinkType: 9, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			pt := layers.PPPTypeIPv4
			if v6 {
				pt = layers.PPPTypeIPv6
			}
			return []gopacket.SerializableLayer{Raw{0xff, 0x03}, &layers.PPP{PPPType: pt}}
		}},
		{Name: "wlan", LinkType: 105, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return dot11Data(up, v6)
		}},
		{Name: "wlan-radiotap", LinkType: 127, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// Version 0, length 12, present: rate (bit 2) and padding; no FCS.
			rt := Raw{0, 0, 12, 0, 0x04, 0, 0, 0, 0x0c, 0, 0, 0}
			return with([]gopacket.SerializableLayer{rt}, dot11Data(up, v6)...)
		}},
		{Name: "nflog", LinkType: 239, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			fam := byte(2)
			if v6 {
				fam = 10
			}
			h := Raw{fam, 0, 0, 5}
			// NFULA_PACKET_HDR (1): hardware protocol, hook, pad. TLV
			// lengths and types are in host byte order (little endian here).
			h = append(h, 8, 0, 1, 0)
			h = binary.BigEndian.AppendUint16(h, uint16(ethType(v6)))
			h = append(h, 3, 0)
			// NFULA_PREFIX (10): "tcpviz\0", padded to 4.
			h = append(h, 11, 0, 10, 0, 't', 'c', 'p', 'v', 'i', 'z', 0, 0)
			// NFULA_PAYLOAD (9), host byte order (little endian here).
			h = binary.LittleEndian.AppendUint16(h, uint16(4+len(ip)))
			h = append(h, 9, 0)
			return []gopacket.SerializableLayer{h}
		}},
		{Name: "juniper-ether", LinkType: 178, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// "MGC", flags (extensions, direction), 4 bytes of extension TLVs.
			dir := byte(0)
			if up {
				dir = 1
			}
			return []gopacket.SerializableLayer{Raw{'M', 'G', 'C', 0x80 | dir, 0, 4, 1, 2, 0, 7}, innerEth(up, v6)}
		}},
		{Name: "juniper-no-l2", LinkType: 178, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// No link-layer header: a 4-byte protocol hint (2 IPv4, 6 IPv6,
			// little endian) and the packet.
			proto := byte(2)
			if v6 {
				proto = 6
			}
			return []gopacket.SerializableLayer{Raw{'M', 'G', 'C', 0x02, proto, 0, 0, 0}}
		}},
		{Name: "ipoib", LinkType: 242, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			h := make(Raw, 44)
			h[0], h[19] = 0xfe, 1 // a pseudo destination address
			binary.BigEndian.PutUint16(h[40:], uint16(ethType(v6)))
			return []gopacket.SerializableLayer{h}
		}},
		{Name: "pflog", LinkType: 117, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// OpenBSD's pfloghdr: 61 bytes, padded to 64; AF_INET6 is 24.
			h := make(Raw, 64)
			h[0], h[1] = 61, 2
			if v6 {
				h[1] = 24
			}
			copy(h[4:], "em0")
			return []gopacket.SerializableLayer{h}
		}},
		{Name: "enc", LinkType: 109, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// OpenBSD's enchdr: address family (AF_INET6 is 24), SPI, flags.
			h := Raw{2, 0, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 0}
			if v6 {
				h[0] = 24
			}
			return []gopacket.SerializableLayer{h}
		}},
		{Name: "ppi-wlan", LinkType: 192, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return with([]gopacket.SerializableLayer{Raw{0, 0, 8, 0, 105, 0, 0, 0}}, dot11Data(up, v6)...)
		}},
		{Name: "prism-wlan", LinkType: 119, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			h := make(Raw, 144)
			h[0], h[4] = 0x44, 144 // message code and length, little endian
			copy(h[8:], "wlan0")
			return with([]gopacket.SerializableLayer{h}, dot11Data(up, v6)...)
		}},
		{Name: "avs-wlan", LinkType: 163, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			h := make(Raw, 64)
			binary.BigEndian.PutUint32(h, 0x80211001)
			binary.BigEndian.PutUint32(h[4:], 64)
			return with([]gopacket.SerializableLayer{h}, dot11Data(up, v6)...)
		}},
		{Name: "pktap", LinkType: 258, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			// Apple's PKTAP header (108 bytes): length, record type (a
			// packet), inner link type (Ethernet), interface name, process...
			h := make(Raw, 108)
			h[0], h[4], h[8] = 108, 1, 1
			copy(h[12:], "en0")
			return []gopacket.SerializableLayer{h, innerEth(up, v6)}
		}},
		{Name: "atm-rfc1483", LinkType: 100, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			return []gopacket.SerializableLayer{
				&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
				&layers.SNAP{OrganizationalCode: []byte{0, 0, 0}, Type: ethType(v6)},
			}
		}},
		{Name: "pppoe-linktype", LinkType: 51, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
			pt := layers.PPPTypeIPv4
			if v6 {
				pt = layers.PPPTypeIPv6
			}
			return []gopacket.SerializableLayer{
				&layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: 0x1234},
				&layers.PPP{PPPType: pt},
			}
		}},
		{Name: "raw-ipv4", LinkType: 228, V4Only: true, Wrap: func([]byte, bool, bool) []gopacket.SerializableLayer { return nil }},
		{Name: "raw-ipv6", LinkType: 229, V6Only: true, Wrap: func([]byte, bool, bool) []gopacket.SerializableLayer { return nil }},
	}
}

// Frame wraps one IP packet. ip is the whole packet (its payload padded to
// the length in the IP header); the frame is returned whole.
func Frame(e Encap, ip []byte, v6, up bool) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	ls := append(e.Wrap(ip, v6, up), gopacket.Payload(ip))
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	return buf.Bytes(), nil
}

// Packet is one IP packet read from a capture.
type Packet struct {
	TS     int64
	IP     []byte // padded to the IP header's length
	Cut    int    // bytes of IP that the snapshot did not capture
	V6     bool
	Source [16]byte
}

// ReadIP reads every IP packet of a capture (any link type gopacket
// knows), in order. Frames without IP are skipped.
func ReadIP(path string) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := pcapng.NewReader(f, path)
	var out []Packet
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if rec.Type != pcapng.RecordPacket || rec.Interface == nil {
			continue
		}
		pk := gopacket.NewPacket(rec.Data, layers.LinkType(rec.Interface.LinkType), gopacket.Default)
		var p Packet
		p.TS = rec.TS
		var ipb []byte
		var total int
		if l, ok := pk.NetworkLayer().(*layers.IPv4); ok {
			ipb, total = append(append([]byte{}, l.Contents...), l.Payload...), int(l.Length)
			copy(p.Source[:], l.SrcIP.To4())
		} else if l, ok := pk.NetworkLayer().(*layers.IPv6); ok {
			ipb, total, p.V6 = append(append([]byte{}, l.Contents...), l.Payload...), 40+int(l.Length), true
			copy(p.Source[:], l.SrcIP)
		} else {
			continue
		}
		if len(ipb) > total {
			ipb = ipb[:total]
		}
		p.Cut = total - len(ipb)
		p.IP = append(ipb, make([]byte, p.Cut)...)
		out = append(out, p)
	}
}

// Write writes the wrapped packets as a classic pcap stream.
func Write(w io.Writer, in []Packet, e Encap) (int, error) {
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], uint32(e.LinkType))
	if _, err := w.Write(hdr[:]); err != nil {
		return 0, err
	}
	var first [16]byte
	n := 0
	for _, p := range in {
		if (e.V6Only && !p.V6) || (e.V4Only && p.V6) {
			continue
		}
		if n == 0 {
			first = p.Source
		}
		frame, err := Frame(e, p.IP, p.V6, p.Source == first)
		if err != nil {
			return n, err
		}
		capLen := len(frame) - p.Cut
		var rh [16]byte
		binary.LittleEndian.PutUint32(rh[0:], uint32(p.TS/1e9))
		binary.LittleEndian.PutUint32(rh[4:], uint32(p.TS%1e9))
		binary.LittleEndian.PutUint32(rh[8:], uint32(capLen))
		binary.LittleEndian.PutUint32(rh[12:], uint32(len(frame)))
		if _, err := w.Write(rh[:]); err != nil {
			return n, err
		}
		if _, err := w.Write(frame[:capLen]); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// WriteFragmented writes the packets as whole Ethernet frames (payload cut
// by the source's snapshot is zeros), splitting every IP packet longer than
// size payload bytes into IPv4 fragments or IPv6 fragment headers. With
// reverse, each datagram's fragments are written last first, so the frame
// that completes it is its first fragment.
func WriteFragmented(w io.Writer, in []Packet, size int, reverse bool) (int, error) {
	size &^= 7
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	if _, err := w.Write(hdr[:]); err != nil {
		return 0, err
	}
	n := 0
	var id uint32
	for _, p := range in {
		var frags [][]byte
		if p.V6 {
			id++
			frags = split6(p.IP, size, id)
		} else {
			frags = split4(p.IP, size)
		}
		if reverse {
			for i, j := 0, len(frags)-1; i < j; i, j = i+1, j-1 {
				frags[i], frags[j] = frags[j], frags[i]
			}
		}
		for i, f := range frags {
			frame := append([]byte{0x02, 0, 0, 0, 0, 0xb, 0x02, 0, 0, 0, 0, 0xa, 0x08, 0x00}, f...)
			if p.V6 {
				frame[12], frame[13] = 0x86, 0xdd
			}
			ts := p.TS + int64(i)
			var rh [16]byte
			binary.LittleEndian.PutUint32(rh[0:], uint32(ts/1e9))
			binary.LittleEndian.PutUint32(rh[4:], uint32(ts%1e9))
			binary.LittleEndian.PutUint32(rh[8:], uint32(len(frame)))
			binary.LittleEndian.PutUint32(rh[12:], uint32(len(frame)))
			if _, err := w.Write(rh[:]); err != nil {
				return n, err
			}
			if _, err := w.Write(frame); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// split4 fragments an IPv4 packet that does not fit in size payload bytes.
func split4(pkt []byte, size int) [][]byte {
	if len(pkt)-int(pkt[0]&0x0f)*4 <= size {
		return [][]byte{pkt}
	}
	return Fragment4(pkt, size)
}

// split6 fragments an IPv6 packet that does not fit in size payload bytes.
func split6(pkt []byte, size int, id uint32) [][]byte {
	if len(pkt)-40 <= size {
		return [][]byte{pkt}
	}
	return Fragment6(pkt, size, id)
}

// Fragment4 splits an IPv4 packet into fragments of at most size payload
// bytes (a multiple of 8), DF cleared; one that fits becomes a single
// fragment with offset 0 and no more-fragments flag.
func Fragment4(pkt []byte, size int) [][]byte {
	ihl := int(pkt[0]&0x0f) * 4
	hdr, pay := pkt[:ihl], pkt[ihl:]
	var out [][]byte
	for off := 0; off < len(pay); off += size {
		end := min(off+size, len(pay))
		f := append(append([]byte(nil), hdr...), pay[off:end]...)
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		fo := uint16(off / 8)
		if end < len(pay) {
			fo |= 0x2000 // more fragments; DF cleared
		}
		binary.BigEndian.PutUint16(f[6:], fo)
		out = append(out, f)
	}
	return out
}

// Fragment6 splits an IPv6 packet (no extension headers) into fragments of
// at most size payload bytes (a multiple of 8) with fragment headers of
// identification id; one that fits becomes an atomic fragment.
func Fragment6(pkt []byte, size int, id uint32) [][]byte {
	hdr, pay := pkt[:40], pkt[40:]
	next := hdr[6]
	var out [][]byte
	for off := 0; off < len(pay); off += size {
		end := min(off+size, len(pay))
		f := append([]byte(nil), hdr...)
		f[6] = byte(layers.IPProtocolIPv6Fragment)
		fh := []byte{next, 0, byte(off >> 8), byte(off), 0, 0, 0, 0}
		if end < len(pay) {
			fh[3] |= 1
		}
		binary.BigEndian.PutUint32(fh[4:], id)
		f = append(append(f, fh...), pay[off:end]...)
		binary.BigEndian.PutUint16(f[4:], uint16(len(f)-40))
		out = append(out, f)
	}
	return out
}

// VXLANOnPort is VXLAN to a UDP port of the caller's choice (Linux's own
// VXLAN devices default to 8472, not IANA's 4789).
func VXLANOnPort(port uint16) Encap {
	return Encap{Name: fmt.Sprintf("vxlan-%d", port), LinkType: 1, Wrap: func(ip []byte, v6, up bool) []gopacket.SerializableLayer {
		return with(udp(up, port), &layers.VXLAN{ValidIDFlag: true, VNI: 4242}, innerEth(up, v6))
	}}
}
