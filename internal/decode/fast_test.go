package decode

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
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
	// a holds another packet's fields in every field, so that a field
	// either path leaves as it was shows: callers reuse one Packet without
	// clearing it.
	var a, b events.Packet
	poison(reflect.ValueOf(&a).Elem())
	a.Frame, a.TS, a.Interface = 0, 0, 0 // the caller's to set
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

// poison sets every field of v, recursively, to a value no decoded frame
// has in all of them.
func poison(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[netip.Addr]() {
			v.Set(reflect.ValueOf(netip.MustParseAddr("192.0.2.99")))
			return
		}
		for i := range v.NumField() {
			poison(v.Field(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			poison(v.Index(i))
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(99)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(99)
	case reflect.String:
		v.SetString("poison")
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	default:
		panic("poison: no value for a " + v.Kind().String())
	}
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
