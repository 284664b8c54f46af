package sessionfiles

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// BenchmarkConnHeavy runs parse-pcap's whole path (detectors on, every event
// written) over the connection-heavy captures: a 300,000-SYN port scan and
// 200,000 short complete connections (1.6M packets). It reports packets per
// second and the process's peak RSS; run one shape per process for a
// meaningful peak:
//
//	go test ./internal/sessionfiles -run XXX -bench 'ConnHeavy/scan' -benchtime 1x
//	go test ./internal/sessionfiles -run XXX -bench 'ConnHeavy/short' -benchtime 1x
func BenchmarkConnHeavy(b *testing.B) {
	shapes := []struct {
		name    string
		packets int
		gen     func(f *os.File) error
	}{
		{"scan", 300_000, func(f *os.File) error { return capgen.Scan(f, 300_000, int64(10*time.Microsecond)) }},
		{"short", 1_600_000, func(f *os.File) error {
			return capgen.Short(f, 200_000, int64(50*time.Microsecond), int64(time.Millisecond))
		}},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			dir := b.TempDir()
			in := filepath.Join(dir, s.name+".pcap")
			f, err := os.Create(in)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.gen(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				cfg := pipecfg.Detectors()
				if _, err := Run(context.Background(), Options{Input: in, OutDir: filepath.Join(dir, "out"+strconv.Itoa(i)), Pipeline: cfg}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
			b.ReportMetric(peakRSS()/(1<<20), "MiB-peak-RSS")
		})
	}
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			n, _ := strconv.ParseFloat(string(bytes.Fields(v)[0]), 64)
			return n * 1024
		}
	}
	return 0
}

// BenchmarkLiveConnBytes reports what one live connection costs in memory
// (heap after a collection, divided by the connections in the table), for a
// connection that has sent only its SYN (a scan) and for an established
// one that has exchanged data (detectors on):
//
//	go test ./internal/sessionfiles -run XXX -bench LiveConnBytes -benchtime 1x
func BenchmarkLiveConnBytes(b *testing.B) {
	const n = 100_000
	for _, shape := range []string{"syn-only", "established"} {
		b.Run(shape, func(b *testing.B) {
			for b.Loop() {
				cfg := pipecfg.Detectors()
				before := heapAfterGC()
				p := pipeline.New(cfg)
				var frame uint64
				ts := capgen.Start
				feed := func(i int, fromClient bool, flags uint16, seq, ack, n uint32) {
					frame++
					ts += 1000
					pk := events.Packet{Frame: frame, TS: ts, Flags: flags, Seq: seq, Ack: ack, Len: n, Window: 502, WireLen: 66 + n}
					cli := netip.AddrFrom4([4]byte{10, 4, byte(i >> 8), byte(i)})
					srv := netip.AddrFrom4([4]byte{10, 3, 0, 1})
					pk.Src, pk.SrcPort, pk.Dst, pk.DstPort = cli, uint16(1024+i%50000), srv, 80
					if !fromClient {
						pk.Src, pk.SrcPort, pk.Dst, pk.DstPort = pk.Dst, pk.DstPort, pk.Src, pk.SrcPort
					}
					if flags&events.FlagSYN != 0 {
						pk.Options = events.Options{MSS: 1460, HasMSS: true, WScale: 7, HasWScale: true, SACKPerm: true}
					}
					p.FeedPacket(&pk)
				}
				for i := range n {
					feed(i, true, events.FlagSYN, 1000, 0, 0)
					if shape == "established" {
						feed(i, false, events.FlagSYN|events.FlagACK, 5000, 1001, 0)
						feed(i, true, events.FlagACK, 1001, 5001, 0)
						feed(i, true, events.FlagACK|events.FlagPSH, 1001, 5001, 100)
						feed(i, false, events.FlagACK|events.FlagPSH, 5001, 1101, 1000)
						feed(i, true, events.FlagACK, 1101, 6001, 0)
					}
				}
				live := p.Table().Len()
				used := heapAfterGC() - before
				b.ReportMetric(float64(used)/float64(live), "B/live-conn")
				runtime.KeepAlive(p)
			}
		})
	}
}

func heapAfterGC() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
