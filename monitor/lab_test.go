//go:build linux

package monitor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
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
		Pipeline:   detectorPipeline(),
		Window:     time.Minute,
		Thresholds: Thresholds{Retransmission: 10, Loss: 10, OutOfOrder: 20, CriticalFactor: 5},
	})

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	var capSum capture.Summary
	var capErr error
	capDone := make(chan struct{})
	go func() {
		defer close(capDone)
		capSum, capErr = capture.Run(ctx, capture.Config{Interface: l.ClientIf, Netns: l.Client, Output: ring,
			RotateBytes: 400_000, SampleInterval: 50 * time.Millisecond, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case <-capDone:
		t.Fatalf("capture ended before it was ready: %v", capErr)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("capture not ready after 20s")
	}

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
	cancel()
	<-capDone
	if capErr != nil {
		t.Fatalf("capture: %v", capErr)
	}
	t.Logf("capture: %d packets in %d files", capSum.Packets, len(capSum.Files))
	h.waitRecords(capSum.Packets)
	time.Sleep(100 * time.Millisecond)
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
