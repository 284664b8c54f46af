package decode

import (
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/rewrap"
)

// FuzzDecode feeds arbitrary frames of every supported link type to the
// decoder. It must never panic, and what it accepts must be self-consistent.
func FuzzDecode(f *testing.F) {
	tcp, pay := tcpLayer(20)
	t := &testing.T{}
	f.Add(uint16(LinkEthernet), serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay))
	tcp, pay = tcpLayer(0)
	f.Add(uint16(LinkRaw), serialize(t, ip6(layers.IPProtocolTCP), tcp, pay))
	// Every encapsulation, around a segment in IPv4 and in IPv6.
	for _, e := range rewrap.All() {
		for _, v6 := range []bool{false, true} {
			if (v6 && e.V4Only) || (!v6 && e.V6Only) {
				continue
			}
			tcp, pay := tcpLayer(8)
			ip := serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
			if v6 {
				ip = serialize(t, ip6(layers.IPProtocolTCP), tcp, pay)
			}
			frame, err := rewrap.Frame(e, ip, v6, true)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(e.LinkType, frame)
		}
	}
	// A first IPv4 fragment.
	tcp, pay = tcpLayer(4)
	fr := serialize(t, ip4(layers.IPProtocolTCP), tcp, pay)
	fr[6] |= 0x20
	f.Add(uint16(LinkRaw), fr)
	f.Add(uint16(LinkSLL2), make([]byte, 20))
	f.Add(uint16(LinkNull), []byte{2, 0, 0, 0, 0x45})
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		// Fresh decoders: a fragment held from an earlier input must not
		// make an input's outcome depend on the ones before it.
		d, slow := New(), New()
		slow.slow = true
		sameDecode(t, d, slow, link, data, uint32(len(data)))
		var p events.Packet
		ok, why := d.Decode(link, data, uint32(len(data)), &p)
		if !ok {
			if why == SkipNone {
				t.Fatal("rejected without a reason")
			}
			return
		}
		if int(p.CapLen) != len(data) || len(p.Payload) > int(p.Len) {
			t.Fatalf("inconsistent packet: caplen %d of %d, payload %d of %d", p.CapLen, len(data), len(p.Payload), p.Len)
		}
		if p.Options.NumSACK > 4 {
			t.Fatalf("%d SACK blocks", p.Options.NumSACK)
		}
	})
}
