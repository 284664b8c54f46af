//go:build linux

package capture

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/capturetest"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads eBPF programs and attaches them to an interface")
	}
}

// captureUnanswered captures with cfg while, inside cfg.Netns, a connection
// to addr that nobody answers times out (1.5 s: the SYN and a retry).
func captureUnanswered(t *testing.T, cfg Config, addr string) Summary {
	t.Helper()
	stop := startCapture(t, cfg)
	_ = inNetns(cfg.Netns, func() error {
		c, err := net.DialTimeout("tcp4", addr, 1500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return nil
	})
	sum, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// startCapture runs Run in the background and returns once it is attached.
func startCapture(t testing.TB, cfg Config) (stop func() (Summary, error)) {
	t.Helper()
	return capturetest.Start(t, runner(cfg)).Stop
}

// runner is Run with cfg, for capturetest.Start.
func runner(cfg Config) func(ctx context.Context, ready func()) (Summary, error) {
	return func(ctx context.Context, ready func()) (Summary, error) {
		cfg.Ready = ready
		return Run(ctx, cfg)
	}
}

func TestLoopbackCapture(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("needs tcpdump (Debian package tcpdump) as the reference capture")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	ref := filepath.Join(dir, "ref.pcap")
	td := exec.Command("tcpdump", "-i", "lo", "-s", "128", "-U", "--immediate-mode", "-n", "-w", ref, "tcp port "+strconv.Itoa(int(port)))
	tdOut, _ := td.StderrPipe()
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, _ := tdOut.Read(buf) // "listening on lo..." once the socket is open
	_ = n
	time.Sleep(100 * time.Millisecond)

	out := filepath.Join(dir, "lo.pcapng")
	stop := startCapture(t, Config{Interface: "lo", Output: out, Ports: []uint16{port}, SampleInterval: 20 * time.Millisecond})

	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = io.Copy(io.Discard, c)
			c.Close()
		}
		done <- err
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// Small paced writes, then bulk ones: large GSO packets on lo are
	// segmented in software, and the capture must count what tcpdump does.
	chunk := make([]byte, 32<<10)
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Write(make([]byte, 50<<20)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	sum, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	_ = td.Process.Signal(os.Interrupt)
	_ = td.Wait()
	t.Logf("summary:\n%s", sum)

	fc := readCapture(t, out)
	if fc.packets == 0 || uint64(fc.packets) != sum.Packets {
		t.Errorf("file has %d packets, summary says %d", fc.packets, sum.Packets)
	}
	if want := pcapCount(t, ref); fc.packets != want {
		t.Errorf("we captured %d packets, tcpdump %d: lo packets must be recorded once", fc.packets, want)
	}
	if got := tsharkCount(t, out); got != fc.packets {
		t.Errorf("tshark reads %d packets, our reader %d", got, fc.packets)
	}
	// The file starts with a packet, not a kernel record (a custom block
	// has no time: Wireshark would start the capture at the epoch and its
	// I/O statistics would be empty).
	if fc.first != pcapng.RecordPacket {
		// tshark would then try to print decades of 1 s intervals.
		t.Errorf("the first record after the interface block is of type %v, want a packet", fc.first)
	} else if got := tsharkIOFrames(t, out); got < fc.packets {
		t.Errorf("tshark -z io,stat,1 counts %d frames; the file holds %d packets and %d kernel records", got, fc.packets, len(fc.records))
	}
	t.Logf("%d kernel records held for the first packet", fc.held)
	if sum.Drops() != 0 {
		t.Errorf("drops: %+v", sum)
	}
	if len(fc.linkTypes) != 1 || fc.linkTypes[0] != linkTypeEthernet {
		t.Errorf("link types %v, want one Ethernet interface", fc.linkTypes)
	}
	if len(fc.stats) != 1 || fc.stats[0].Delivered != uint64(fc.packets) {
		t.Errorf("statistics blocks %+v, want one with %d delivered", fc.stats, fc.packets)
	}
	// Packets from two CPUs may be a few µs out of order (as with tcpdump);
	// a kernel record must never be written after a later packet.
	if fc.lateKern != 0 {
		t.Errorf("%d kernel records out of time order", fc.lateKern)
	}
	// Both sockets (client and server) report their state, with the port filter applied.
	sides := map[bool]int{}
	for _, r := range fc.records {
		if r.Sport != port && r.Dport != port {
			t.Errorf("kernel record of another connection: %+v", r)
		}
		if r.Kind == kblock.KindProbe && r.SndCwnd > 0 && r.SRTTus > 0 {
			sides[r.Sport == port]++
		}
	}
	if sides[true] == 0 || sides[false] == 0 {
		t.Errorf("cwnd/srtt samples per side (server true, client false): %v", sides)
	}
	if fc.kernel[kblock.KindState] < 6 {
		t.Errorf("%d state records, want the handshake and close of both ends", fc.kernel[kblock.KindState])
	}
	// Copyable custom blocks: editcap keeps the kernel records.
	if _, err := exec.LookPath("editcap"); err == nil {
		edited := filepath.Join(dir, "edited.pcapng")
		if out, err := exec.Command("editcap", out, edited).CombinedOutput(); err != nil {
			t.Fatalf("editcap: %v: %s", err, out)
		}
		if ec := readCapture(t, edited); len(ec.records) != len(fc.records) || ec.packets != fc.packets {
			t.Errorf("after editcap: %d packets, %d kernel records; before: %d, %d",
				ec.packets, len(ec.records), fc.packets, len(fc.records))
		}
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v, want 0640", fi.Mode().Perm())
	}
}

// --count and --duration stop the capture like Ctrl-C: drained, closed,
// with the statistics block.
func TestStopConditions(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		cfg     Config
		traffic bool
		// took is from before the start, sinceReady from the moment the
		// capture was attached.
		check func(t *testing.T, s Summary, fc fileContents, took, sinceReady time.Duration)
	}{
		{"count", Config{Count: 7}, true, func(t *testing.T, s Summary, fc fileContents, _, _ time.Duration) {
			if fc.packets != 7 || s.Packets != 7 {
				t.Errorf("--count 7 wrote %d packets (summary %d)", fc.packets, s.Packets)
			}
		}},
		{"duration", Config{Duration: 300 * time.Millisecond}, false, func(t *testing.T, s Summary, fc fileContents, took, sinceReady time.Duration) {
			// Attaching can take seconds on a loaded machine: the upper
			// bound counts from the moment the capture was ready.
			if took < 300*time.Millisecond || sinceReady > 5*time.Second {
				t.Errorf("--duration 300ms took %v (%v after it was ready)", took, sinceReady)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "s.pcapng")
			cfg := tc.cfg
			cfg.Interface, cfg.Output = "lo", out
			start := time.Now()
			c := capturetest.Start(t, runner(cfg))
			ready := time.Now()
			if tc.traffic {
				loopConn(t, "tcp4", "127.0.0.1:0", 1_000_000)
			}
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("capture did not stop by itself")
			}
			sum, err := c.Result()
			if err != nil {
				t.Fatal(err)
			}
			fc := readCapture(t, out)
			if len(fc.stats) != 1 {
				t.Errorf("%d statistics blocks, want 1", len(fc.stats))
			}
			tc.check(t, sum, fc, time.Since(start), time.Since(ready))
		})
	}
}

// --rotate-seconds with --rotate-files: a new file every 200 ms, the oldest
// deleted beyond two, each file complete on its own.
func TestRotateSecondsKeepsNewest(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	sum, err := Run(context.Background(), Config{Interface: "lo", Output: filepath.Join(dir, "t.pcapng"),
		RotateInterval: 200 * time.Millisecond, RotateFiles: 2, Duration: 900 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Files) < 4 {
		t.Fatalf("%d files in 900 ms at one per 200 ms", len(sum.Files))
	}
	if len(sum.Deleted) != len(sum.Files)-2 {
		t.Errorf("%d of %d files deleted, want all but 2", len(sum.Deleted), len(sum.Files))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != ".t.pcapng.lock" { // the ring's lock stays
			names = append(names, e.Name())
		}
	}
	if len(names) != 3 { // two files and the -current symlink
		t.Errorf("directory holds %v, want the two newest files and t-current.pcapng", names)
	}
	for _, f := range sum.Files[len(sum.Files)-2:] {
		fc := readCapture(t, f)
		if len(fc.linkTypes) != 1 || len(fc.stats) != 1 {
			t.Errorf("%s: %d interfaces, %d statistics blocks", f, len(fc.linkTypes), len(fc.stats))
		}
	}
}

// -w - streams the pcapng to standard output.
func TestStdoutOutput(t *testing.T) {
	needRoot(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "stdout.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = f
	defer func() { os.Stdout = saved }()
	c := capturetest.Start(t, runner(Config{Interface: "lo", Output: "-", Count: 5}))
	loopConn(t, "tcp4", "127.0.0.1:0", 100_000)
	if _, err := c.Result(); err != nil {
		t.Fatal(err)
	}
	os.Stdout = saved
	if fc := readCapture(t, f.Name()); fc.packets != 5 || len(fc.stats) != 1 {
		t.Errorf("standard output got %d packets and %d statistics blocks, want 5 and 1", fc.packets, len(fc.stats))
	}
}
