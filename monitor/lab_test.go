//go:build linux

package monitor

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capturetest"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// TestLabRollingCapture runs tcpviz's own capture into rotating files in a
// lab where the router drops 3 % of the packets to port 5001 and none to
// port 5002, with the monitor following the ring as it is written: a WARN
// comes for the lossy connection, nothing for the clean one, and every
// packet the capture wrote is processed exactly once.
func TestLabRollingCapture(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, nftables and eBPF capture")
	}
	if err := lab.Available(); err != nil {
		t.Skipf("no lab: %v", err)
	}
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "50mbit", Burst: "32kbit", Latency: "50ms"}); err != nil {
		t.Fatal(err)
	}
	if err := l.AddRule("tcp dport 5001 numgen random mod 1000 < 30 counter drop"); err != nil {
		t.Fatal(err)
	}
	traffic := lab.BuildTraffic(t)
	for _, port := range []string{"5001", "5002"} {
		srv, err := l.Start(l.Server, traffic, "server", "-l", ":"+port)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	ring := filepath.Join(dir, "ring.pcapng")
	h := startMonitor(t, Config{
		Follow:     FollowConfig{Path: ring},
		Pipeline:   pipecfg.Detectors(),
		Window:     time.Minute,
		Thresholds: Thresholds{Retransmission: 10, Loss: 10, OutOfOrder: 20, CriticalFactor: 5},
	})

	capt := capturetest.Start(t, func(ctx context.Context, ready func()) (capture.Summary, error) {
		return capture.Run(ctx, capture.Config{Interface: l.ClientIf, Netns: l.Client, Output: ring,
			RotateBytes: 400_000, SampleInterval: 50 * time.Millisecond, Ready: ready})
	})

	var wg sync.WaitGroup
	for _, port := range []string{"5001", "5002"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Run(l.Client, traffic, "client", "-c", l.ServerAddr.String()+":"+port, "--bytes", strconv.Itoa(3_000_000), "--cc", "cubic")
		}()
	}
	wg.Wait()
	waitFor(t, "a WARN for the lossy connection", 30*time.Second, func() bool {
		for _, a := range h.alerts() {
			if a.Level == LevelWarn && strings.HasSuffix(a.Server, ":5001") {
				return true
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond) // the last ACKs and FINs
	capSum, err := capt.Stop()
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	t.Logf("capture: %d packets in %d files", capSum.Packets, len(capSum.Files))
	waitDrained(t, h.m.fol, time.Minute)
	s := h.stop()
	var sb strings.Builder
	s.Write(&sb)
	var lines []byte
	for _, a := range h.alerts() {
		lines = append(FormatAlert(lines, &a, false), '\n')
	}
	t.Logf("monitor:\n%s\nalerts:\n%s", sb.String(), lines)

	if len(capSum.Files) < 2 {
		t.Errorf("the capture wrote %d files: no rotation to follow", len(capSum.Files))
	}
	if s.Packets != capSum.Packets || s.Files != len(capSum.Files) || s.Gaps != 0 {
		t.Errorf("monitor read %d packets in %d files (%d gaps); the capture wrote %d in %d",
			s.Packets, s.Files, s.Gaps, capSum.Packets, len(capSum.Files))
	}
	for _, a := range h.alerts() {
		if strings.HasSuffix(a.Server, ":5002") {
			t.Errorf("alert for the clean connection: %+v", a)
		}
	}
}

// TestLabFastRotation follows tcpviz's own capture rotating every
// millisecond (the smallest rotation it takes: a new file at each turn of
// its loop) during four parallel transfers (about 25,000 packets through a
// 100 Mbit/s bottleneck), while another process keeps
// every CPU busy. Once the capture has stopped and the monitor has read
// every file to its end, the monitor's packets, files and detector events
// equal an offline read of the same files through the same pipeline, and
// no gap was reported. Before the follower distrusted an end of file seen
// before its directory listing, such runs lost packets at rotations (false
// lost_segment events, false gaps).
func TestLabFastRotation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, nftables and eBPF capture")
	}
	if err := lab.Available(); err != nil {
		t.Skipf("no lab: %v", err)
	}
	l := lab.New(t, lab.Options{NoOffload: true})
	// A bottleneck spreads the packets over a few seconds: the capture
	// rotates at each turn of its loop, and a turn at full rate takes a
	// batch of 1,024 packets.
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "100mbit", Burst: "64kbit", Latency: "50ms"}); err != nil {
		t.Fatal(err)
	}
	traffic := lab.BuildTraffic(t)
	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}

	ring := filepath.Join(t.TempDir(), "ring.pcapng")
	h := startMonitor(t, Config{Follow: FollowConfig{Path: ring, PollInterval: 100 * time.Millisecond},
		Pipeline: pipecfg.Detectors(), Thresholds: DefaultThresholds()})

	capt := capturetest.Start(t, func(ctx context.Context, ready func()) (capture.Summary, error) {
		return capture.Run(ctx, capture.Config{Interface: l.ClientIf, Netns: l.Client, Output: ring,
			RotateInterval: time.Millisecond, SampleInterval: 20 * time.Millisecond, Ready: ready})
	})

	// CPU pressure for the capture and the monitor alike.
	burner := exec.Command(os.Args[0], "-test.run=^TestBurnCPU$", "-test.count=1")
	burner.Env = append(os.Environ(), "TCPVIZ_BURN_CPU=1")
	if err := burner.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Run(l.Client, traffic, "client", "-c", l.ServerAddr.String()+":5001", "--bytes", strconv.Itoa(6_000_000), "--cc", "cubic")
		}()
	}
	wg.Wait()
	_ = burner.Process.Kill()
	_ = burner.Wait()
	capSum, err := capt.Stop()
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	// The writer has finished: wait until the monitor has read it all.
	waitDrained(t, h.m.fol, 2*time.Minute)
	s := h.stop()

	// The same files read afterwards, in order, through the same pipeline.
	off := pipeline.New(pipecfg.Detectors())
	for _, name := range capSum.Files {
		feed.File(t, name, off)
	}
	want := off.Stats()
	t.Logf("capture: %d packets in %d files; monitor: %d packets, %d files, %d gaps; offline: %d packets",
		capSum.Packets, len(capSum.Files), s.Packets, s.Files, s.Gaps, want.Packets)
	if len(capSum.Files) < 50 {
		t.Errorf("the capture wrote %d files: not the fast rotation this test is about", len(capSum.Files))
	}
	if want.Packets != capSum.Packets {
		t.Errorf("the files hold %d packets, the capture says it wrote %d", want.Packets, capSum.Packets)
	}
	if s.Packets != want.Packets || s.Files != len(capSum.Files) || s.Gaps != 0 || s.FileErrors != 0 {
		t.Errorf("monitor: %d packets in %d files, %d gaps, %d abandoned; the files hold %d packets in %d files\nlog:\n%s",
			s.Packets, s.Files, s.Gaps, s.FileErrors, want.Packets, len(capSum.Files), h.log)
	}
	if !maps.Equal(s.Events, want.Events) {
		t.Errorf("monitor events %v\noffline events %v", s.Events, want.Events)
	}
}
