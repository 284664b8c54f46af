//go:build linux

package capture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// labRun is one transfer through the lab with tcpdump and our capture on the
// client's interface at the same time.
type labRun struct {
	sum         Summary
	tcpdumpFile string
	tcpdumpOut  string
	retransSegs uint64 // client namespace's TcpRetransSegs delta
}

func runLab(t *testing.T, l *lab.Lab, cfg Config, bytes int) labRun {
	t.Helper()
	return runLabTo(t, l, cfg, bytes, l.ServerAddr.String()+":5001")
}

func runLabTo(t *testing.T, l *lab.Lab, cfg Config, bytes int, server string) labRun {
	t.Helper()
	traffic := lab.BuildTraffic(t)
	dir := t.TempDir()
	res := labRun{tcpdumpFile: filepath.Join(dir, "tcpdump.pcap")}

	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	td, err := l.Start(l.Client, "tcpdump", "-i", l.ClientIf, "-s", "128", "-U", "--immediate-mode", "-n",
		"-B", "16384", "-w", res.tcpdumpFile, "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if err := td.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}

	cfg.Interface = l.ClientIf
	cfg.Netns = l.Client
	stop := startCapture(t, cfg)
	time.Sleep(50 * time.Millisecond)

	before, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	l.Run(l.Client, traffic, "client", "-c", server, "--bytes", strconv.Itoa(bytes), "--cc", "cubic")
	time.Sleep(300 * time.Millisecond) // the last ACKs and FINs
	after, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	res.retransSegs = lab.Delta(before, after)["TcpRetransSegs"]

	res.sum, err = stop()
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	if err := l.Stop(td); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	res.tcpdumpOut = td.Output()
	t.Logf("summary:\n%s", res.sum)
	return res
}

var tcpdumpDrops = regexp.MustCompile(`(\d+) packets dropped by kernel`)

func checkTcpdumpDrops(t *testing.T, out string) {
	t.Helper()
	m := tcpdumpDrops.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no drop count in tcpdump's output: %s", out)
	}
	if m[1] != "0" {
		t.Fatalf("tcpdump dropped %s packets: the reference is incomplete", m[1])
	}
}

// TestLabLossyTransfer: a transfer through a 50 Mbit/s bottleneck with 1 %
// random loss, offloads off so every packet is one segment.
func TestLabLossyTransfer(t *testing.T) {
	needRoot(t)
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "50mbit", Burst: "32kbit", Latency: "50ms"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLoss(lab.ToServer, 10); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "lossy.pcapng")
	r := runLab(t, l, Config{Output: out, SampleInterval: 50 * time.Millisecond}, 4_000_000)
	checkTcpdumpDrops(t, r.tcpdumpOut)

	fc := readCapture(t, out)
	want := pcapCount(t, r.tcpdumpFile)
	if fc.packets != want || uint64(fc.packets) != r.sum.Packets {
		t.Errorf("packets: file %d, summary %d, tcpdump %d", fc.packets, r.sum.Packets, want)
	}
	if r.sum.Drops() != 0 {
		t.Errorf("we dropped %d", r.sum.Drops())
	}
	if got := tsharkCount(t, out); got != fc.packets {
		t.Errorf("tshark reads %d packets, we wrote %d", got, fc.packets)
	}
	// Each polling round is written in time order; only a packet that
	// reached the ring after its round was written can be out of order.
	if fc.outOfOrd*1000 > fc.packets {
		t.Errorf("%d of %d blocks out of time order", fc.outOfOrd, fc.packets)
	}
	if fc.inbound == 0 || fc.outbound == 0 || fc.inbound+fc.outbound != fc.packets {
		t.Errorf("directions: %d in, %d out of %d", fc.inbound, fc.outbound, fc.packets)
	}

	// Offloads are off, so each retransmit record is one segment; segs is
	// summed anyway so GSO retransmits would count right too.
	var segs uint64
	probes := map[[2]uint16]int{}
	for _, rec := range fc.records {
		switch rec.Kind {
		case kblock.KindRetransmit:
			segs += uint64(rec.Segs)
		case kblock.KindProbe:
			if rec.SndCwnd > 0 && rec.SRTTus > 0 {
				probes[[2]uint16{rec.Sport, rec.Dport}]++
			}
		}
	}
	if r.retransSegs == 0 {
		t.Errorf("no retransmissions with 1%% loss: the lab did not impair the transfer")
	}
	if segs != r.retransSegs {
		t.Errorf("retransmit records cover %d segments, nstat TcpRetransSegs delta is %d", segs, r.retransSegs)
	}
	// Only sockets of the client's namespace: the server's and the
	// router's are filtered out in the kernel.
	for _, rec := range fc.records {
		if rec.Saddr != l.ClientAddr && rec.Kind != kblock.KindReset {
			t.Errorf("kernel record of a socket outside the capture's namespace: %v %s:%d", rec.Kind, rec.Saddr, rec.Sport)
			break
		}
	}
	// Every connection seen in the kernel's state changes has samples.
	flows := map[[2]uint16]bool{}
	for _, rec := range fc.records {
		if rec.Kind == kblock.KindState && rec.NewState == 1 { // ESTABLISHED
			flows[[2]uint16{rec.Sport, rec.Dport}] = true
		}
	}
	if len(flows) == 0 {
		t.Error("no connection reached ESTABLISHED in the kernel records")
	}
	for f := range flows {
		if probes[f] < 2 {
			t.Errorf("connection %v has %d cwnd/srtt samples", f, probes[f])
		}
	}
	// The sample policy keeps the records well below one per ACK.
	if n := fc.kernel[kblock.KindProbe]; n*4 > fc.packets {
		t.Errorf("%d probe records for %d packets", n, fc.packets)
	}
	checkParse(t, out, fc, segs)
	t.Logf("packets %d (tcpdump %d), retransmitted segments %d (nstat %d), kernel records %v, late %d",
		fc.packets, want, segs, r.retransSegs, fc.kernel, r.sum.LateRecords)
}

// TestLabRotation: ring files under load hold every packet exactly once.
func TestLabRotation(t *testing.T) {
	needRoot(t)
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "200mbit"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "ring.pcapng")
	r := runLab(t, l, Config{Output: out, RotateBytes: 200_000, AllNetns: true}, 8_000_000)
	checkTcpdumpDrops(t, r.tcpdumpOut)

	if len(r.sum.Files) < 3 {
		t.Fatalf("%d files, want several at 200 kB each", len(r.sum.Files))
	}
	total := 0
	sockets := map[string]bool{} // local addresses of kernel records
	for i, f := range r.sum.Files {
		fc := readCapture(t, f)
		for _, rec := range fc.records {
			sockets[rec.Saddr.String()] = true
		}
		if len(fc.linkTypes) != 1 || len(fc.stats) != 1 {
			t.Errorf("%s: %d interfaces, %d statistics blocks; want one of each", f, len(fc.linkTypes), len(fc.stats))
		}
		if got := tsharkCount(t, f); got != fc.packets {
			t.Errorf("%s: tshark reads %d packets, we wrote %d", f, got, fc.packets)
		}
		want := fmt.Sprintf("ring_%05d_", i+1)
		if base := filepath.Base(f); len(base) < len(want) || base[:len(want)] != want {
			t.Errorf("file %d is named %s", i, base)
		}
		total += fc.packets
	}
	if want := pcapCount(t, r.tcpdumpFile); total != want {
		t.Errorf("ring files hold %d packets, tcpdump %d", total, want)
	}
	// --all-netns: the server's socket (another namespace) reports too.
	if !sockets[l.ClientAddr.String()] || !sockets[l.ServerAddr.String()] {
		t.Errorf("--all-netns: kernel records from %v, want client and server sockets", sockets)
	}
	link, err := os.Readlink(filepath.Join(dir, "ring-current.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	if last := filepath.Base(r.sum.Files[len(r.sum.Files)-1]); link != last {
		t.Errorf("ring-current.pcapng -> %s, want %s", link, last)
	}
	t.Logf("%d packets in %d files", total, len(r.sum.Files))
}

// checkParse runs parse-pcap's engine on our file: it must see our kernel
// records and compare the retransmissions it infers with the kernel's.
func checkParse(t *testing.T, file string, fc fileContents, kernelSegs uint64) {
	t.Helper()
	cfg := pipeline.Config{Flows: conntrack.DefaultConfig()}
	cfg.NewDetector = func(emit func(*events.Event)) pipeline.Detector {
		return detectors.New(detectors.DefaultConfig(), emit)
	}
	res, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: file, OutDir: t.TempDir(), Pipeline: cfg})
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	s := res.Summary
	if s.KernelRecords != uint64(len(fc.records)) || s.Packets != uint64(fc.packets) {
		t.Errorf("parse-pcap sees %d packets and %d kernel records, the file has %d and %d",
			s.Packets, s.KernelRecords, fc.packets, len(fc.records))
	}
	if s.KernelRetrans == nil {
		t.Fatal("parse-pcap made no inferred-vs-kernel retransmission comparison")
	}
	kr := s.KernelRetrans
	if uint64(kr.Kernel) != kernelSegs || kr.Matched == 0 {
		t.Errorf("retransmission check %+v, want kernel = %d and some matched", *kr, kernelSegs)
	}
	t.Logf("parse-pcap retransmissions: kernel %d, inferred %d, matched %d (precision %.2f, recall %.2f)",
		kr.Kernel, kr.Inferred, kr.Matched, kr.Precision, kr.Recall)
}

// TestLabIPv6: the same checks over IPv6 (segments split from GSO packets,
// kernel records with IPv6 addresses).
func TestLabIPv6(t *testing.T) {
	needRoot(t)
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "100mbit"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "v6.pcapng")
	r := runLabTo(t, l, Config{Output: out}, 3_000_000, "["+l.ServerAddr6.String()+"]:5001")
	checkTcpdumpDrops(t, r.tcpdumpOut)
	fc := readCapture(t, out)
	if want := pcapCount(t, r.tcpdumpFile); fc.packets != want || r.sum.Drops() != 0 {
		t.Errorf("packets: ours %d (drops %d), tcpdump %d", fc.packets, r.sum.Drops(), want)
	}
	if got := tsharkCount(t, out); got != fc.packets {
		t.Errorf("tshark reads %d packets, we wrote %d", got, fc.packets)
	}
	probes := 0
	for _, rec := range fc.records {
		if rec.Saddr != l.ClientAddr6 {
			t.Errorf("kernel record from %s, want the client's IPv6 address %s", rec.Saddr, l.ClientAddr6)
			break
		}
		if rec.Kind == kblock.KindProbe && rec.SndCwnd > 0 && rec.SRTTus > 0 {
			probes++
		}
	}
	if probes < 2 {
		t.Errorf("%d cwnd/srtt samples over IPv6", probes)
	}
	t.Logf("IPv6: %d packets, kernel records %v", fc.packets, fc.kernel)
}
