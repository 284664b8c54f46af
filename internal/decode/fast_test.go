package decode

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng"
)

// sameDecode decodes data with the fast path allowed and with gopacket's
// path only, and fails when they disagree in any way.
func sameDecode(t *testing.T, fast, slow *Decoder, link uint16, data []byte, origLen uint32) bool {
	t.Helper()
	var a, b events.Packet
	// Poison both so that a field one path forgets to set shows.
	a.Flow, b.Flow, a.Options.NumSACK, b.Options.NumSACK = 99, 99, 3, 3
	okA, whyA := fast.Decode(link, data, origLen, &a)
	okB, whyB := slow.Decode(link, data, origLen, &b)
	if okA != okB || whyA != whyB {
		t.Fatalf("fast path %v/%v, gopacket %v/%v on %x", okA, whyA, okB, whyB, data)
	}
	if okA && !reflect.DeepEqual(a, b) {
		t.Fatalf("fast path\n%+v\ngopacket\n%+v\non %x", a, b, data)
	}
	return okA
}

// TestFastPathMatchesGopacket: on every frame of every sample, and on
// random corruptions of them, the fast path and gopacket's path agree.
func TestFastPathMatchesGopacket(t *testing.T) {
	files, _ := filepath.Glob("../../samples/*.pcap*")
	if len(files) == 0 {
		t.Fatal("no samples")
	}
	fast, slow := New(), New()
	slow.slow = true
	rng := rand.New(rand.NewPCG(7, 8))
	var frames, accepted int
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := pcapng.NewReader(f, path)
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) || errors.Is(err, pcapng.ErrNeedMore) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Type != pcapng.RecordPacket || rec.Interface == nil {
				continue
			}
			lt := rec.Interface.LinkType
			frames++
			if sameDecode(t, fast, slow, lt, rec.Data, rec.OrigLen) {
				accepted++
			}
			if frames%7 != 0 || len(rec.Data) < 20 {
				continue
			}
			// Corrupt a header byte, or cut the frame.
			buf := append([]byte(nil), rec.Data...)
			for range 3 {
				i := rng.IntN(min(len(buf), 80))
				buf[i] = byte(rng.Uint32())
			}
			sameDecode(t, fast, slow, lt, buf, uint32(len(buf)))
			sameDecode(t, fast, slow, lt, buf, rec.OrigLen)
			cut := buf[:rng.IntN(len(buf))]
			sameDecode(t, fast, slow, lt, cut, rec.OrigLen)
		}
		f.Close()
	}
	if accepted == 0 {
		t.Fatalf("no frame decoded in %d", frames)
	}
	t.Logf("%d frames, %d decoded", frames, accepted)
}

// BenchmarkDecodeFast compares the fast path with gopacket's on one
// Ethernet/IPv4/TCP frame with timestamps and SACK.
func BenchmarkDecodeFast(b *testing.B) {
	t := &testing.T{}
	tcp, pay := tcpLayer(40)
	frame := serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp, pay)
	for _, c := range []struct {
		name string
		slow bool
	}{{"fast", false}, {"gopacket", true}} {
		b.Run(c.name, func(b *testing.B) {
			d := New()
			d.slow = c.slow
			var p events.Packet
			for b.Loop() {
				if ok, why := d.Decode(LinkEthernet, frame, uint32(len(frame)), &p); !ok {
					b.Fatal(why)
				}
			}
		})
	}
}
