package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
	"github.com/tcpviz/tcpviz/pcapng"
)

// bulkCapture is a pcapng of one bulk transfer of n packets: full-size
// segments, an ACK for every second one, and every 200th segment sent again
// 150 ms later (a retransmission and an inferred loss).
func bulkCapture(tb testing.TB, n int) []byte {
	tb.Helper()
	var out []pkt
	c := &conn{t: tb, c: lossy, cseq: 1000, sseq: 50000, out: &out}
	c.handshake(t0)
	ts := t0 + 30e6
	type pending struct {
		ts  int64
		seq uint32
	}
	var again []pending
	for seg := 0; len(out) < n; seg++ {
		ts += 10e3
		for len(again) > 0 && again[0].ts <= ts {
			c.add(again[0].ts, true, again[0].seq, c.sseq, false, 1448, true)
			again = again[1:]
		}
		c.add(ts, true, c.cseq, c.sseq, false, 1448, false)
		if seg%200 == 199 {
			again = append(again, pending{ts + 150e6, c.cseq})
		}
		c.cseq += 1448
		if seg%2 == 1 {
			c.add(ts+5e3, false, c.sseq, c.cseq, false, 0, false)
		}
	}
	out = out[:n]
	var b bytes.Buffer
	w, err := pcapng.NewWriter(&b, pcapng.WriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: snaplen}); err != nil {
		tb.Fatal(err)
	}
	for _, p := range out {
		if err := w.WritePacket(0, p.ts, p.data, p.origLen, pcapng.PacketOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkMonitorAppend appends a bulk transfer to a file in 256 KiB
// chunks (cutting blocks anywhere) while the monitor follows it with
// fsnotify, and reports the process CPU time per packet. The parse
// sub-benchmark runs the same bytes through the same pipeline from memory:
// the cost of the analysis itself, which the monitor should match.
func BenchmarkMonitorAppend(b *testing.B) {
	const n = 200000
	data := bulkCapture(b, n)
	b.Run("monitor", func(b *testing.B) {
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			dir := b.TempDir()
			path := filepath.Join(dir, "bulk.pcapng")
			out := &syncbuf.Buffer{}
			m, err := New(Config{Follow: FollowConfig{Path: path}, Pipeline: pipecfg.Detectors(),
				Thresholds: DefaultThresholds(), Alerts: out})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			waitFor(b, "start", 5*time.Second, func() bool { return m.fol.passDone.Load() >= 1 })
			runtime.GC() // the capture's construction is not the monitor's cost
			c0 := cputime.Process()
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < len(data); off += 256 << 10 {
				if _, err := f.Write(data[off:min(off+256<<10, len(data))]); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
			waitFor(b, "all records", time.Minute, func() bool { return m.Summary().Records >= n })
			cpu += cputime.Process() - c0
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if s := m.Final(); s.Records != n || s.Events["retransmission"] == 0 {
				b.Fatalf("records %d, retransmissions %d", s.Records, s.Events["retransmission"])
			}
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/pkt")
		b.ReportMetric(cpu.Seconds()/float64(b.N*n)*1e6, "cpu-s/Mpkt")
	})
	b.Run("parse", func(b *testing.B) {
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			runtime.GC()
			c0 := cputime.Process()
			p := pipeline.New(pipecfg.Detectors())
			feed.Bytes(b, data, "bulk", p)
			cpu += cputime.Process() - c0
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/pkt")
		b.ReportMetric(cpu.Seconds()/float64(b.N*n)*1e6, "cpu-s/Mpkt")
	})
}

// stampWriter notes when each alert line is written.
type stampWriter struct {
	mu sync.Mutex
	at []time.Time
	ch chan struct{}
}

func (s *stampWriter) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte("WARN")) {
		return len(p), nil // RECOVERED lines of earlier rounds
	}
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default: // never block the monitor
	}
	return len(p), nil
}

// BenchmarkAlertLatency measures the time from the write of the block that
// crosses a threshold to the alert line: each round starts a connection,
// lets the monitor read it, then appends the one retransmission that
// raises the WARN (threshold 1). Reports the median and the 99th
// percentile.
func BenchmarkAlertLatency(b *testing.B) {
	for _, mode := range followModes {
		b.Run(mode.name, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "lat.pcapng")
			sw := &stampWriter{ch: make(chan struct{}, 1)}
			th := Thresholds{Retransmission: 1, CriticalFactor: 0}
			poll := mode.poll
			if mode.noNotify {
				poll = 100 * time.Millisecond // the default would be 1 s
			}
			m, err := New(Config{Follow: FollowConfig{Path: path, PollInterval: poll, NoNotify: mode.noNotify},
				Pipeline: pipecfg.Detectors(), Thresholds: th, Alerts: sw, Window: 24 * time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var buf bytes.Buffer
			w, err := pcapng.NewWriter(&buf, pcapng.WriterOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: snaplen}); err != nil {
				b.Fatal(err)
			}
			flush := func() {
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(buf.Bytes()); err != nil {
					b.Fatal(err)
				}
				buf.Reset()
			}
			flush()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					b.Error(err)
				}
			}()
			waitFor(b, "start", 5*time.Second, func() bool { return m.fol.passDone.Load() >= 1 })
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A new connection each round (new client port), 1 s of
				// capture time apart.
				var pk []pkt
				c := &conn{t: b, c: clientPort(i), cseq: 1000, sseq: 50000, out: &pk}
				base := t0 + int64(i)*1e9
				c.handshake(base)
				c.add(base+30e6, true, c.cseq, c.sseq, false, 1000, false)
				c.add(base+200e6, true, c.cseq, c.sseq, false, 1000, true)
				for _, p := range pk[:len(pk)-1] {
					w.WritePacket(0, p.ts, p.data, p.origLen, pcapng.PacketOptions{})
				}
				flush()
				size := fileSize(b, f)
				waitFor(b, "the connection to be read", 10*time.Second, func() bool {
					_, n, _ := m.fol.readPosition()
					return n >= size
				})
				last := pk[len(pk)-1]
				w.WritePacket(0, last.ts, last.data, last.origLen, pcapng.PacketOptions{})
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
				t := time.Now()
				if _, err := f.Write(buf.Bytes()); err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				select {
				case <-sw.ch:
				case <-time.After(10 * time.Second):
					b.Fatal("no alert")
				}
				sw.mu.Lock()
				lat = append(lat, sw.at[len(sw.at)-1].Sub(t))
				sw.mu.Unlock()
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// clientPort is the client of round i.
func clientPort(i int) netip.AddrPort {
	return netip.AddrPortFrom(lossy.Addr(), uint16(20000+i%40000))
}

func fileSize(tb testing.TB, f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

// BenchmarkMonitorConnChurn follows a capture of many short connections
// (capgen's reset and short shapes: ended by the client's RST, or by FINs
// both ways) arriving at a fixed rate for 90 s of capture time, longer than
// the 60 s a closed connection may be kept, and reports the peak live heap
// (the heap the garbage collector found live, sampled every 20 ms) and the
// peak RSS of the run (VmHWM, reset after the capture is written).
// Memory must follow the connections alive at once, not the rate:
//
//	go test ./monitor -run '^$' -bench ConnChurn -benchtime 1x
func BenchmarkMonitorConnChurn(b *testing.B) {
	const seconds = 90
	for _, shape := range []string{"reset", "short"} {
		for _, rate := range []int{2000, 4000} {
			b.Run(fmt.Sprintf("%s/%d-per-s", shape, rate), func(b *testing.B) {
				n := rate * seconds
				path := filepath.Join(b.TempDir(), shape+".pcap")
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				gen, packets := capgen.Reset, 6*n
				if shape == "short" {
					gen, packets = capgen.Short, 8*n
				}
				if err := gen(f, n, int64(time.Second)/int64(rate), int64(time.Millisecond)); err != nil {
					b.Fatal(err)
				}
				f.Close()
				var heap, rss float64
				for b.Loop() {
					h, r := churnRun(b, path, uint64(packets))
					heap, rss = max(heap, h), max(rss, r)
				}
				b.ReportMetric(heap/(1<<20), "MiB-peak-heap")
				b.ReportMetric(rss/(1<<20), "MiB-peak-RSS")
			})
		}
	}
}

// churnRun follows path from the start until every packet is processed
// and returns the peak live heap and peak RSS meanwhile.
func churnRun(b *testing.B, path string, packets uint64) (heap, rss float64) {
	runtime.GC()
	debug.FreeOSMemory()
	// "5" resets the peak RSS (VmHWM) to the current RSS.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset (%v): it includes writing the capture", err)
	}
	done := make(chan struct{})
	var once sync.Once
	m, err := New(Config{Follow: FollowConfig{Path: path, FromStart: true}, Pipeline: pipecfg.Detectors(),
		Thresholds: DefaultThresholds(), OnCaughtUp: func(s Summary) {
			if s.Packets >= packets {
				once.Do(func() { close(done) })
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Minute)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			metrics.Read(sample)
			heap = max(heap, float64(sample[0].Value.Uint64()))
		case <-timeout:
			b.Fatalf("monitor did not catch up in 10 minutes: %+v", m.Summary())
		}
	}
	cancel()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	if s := m.Final(); s.Packets != packets {
		b.Fatalf("%d packets processed, want %d", s.Packets, packets)
	}
	return heap, peakRSS()
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
			return kb * 1024
		}
	}
	return 0
}
