//go:build linux

package robust

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
	"github.com/tcpviz/tcpviz/pcapng"
)

func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// captureProc is this test binary running as a capture process (TestMain).
type captureProc struct {
	cmd         *exec.Cmd
	stdout, err syncbuf.Buffer
	done        chan struct{}
	exit        error
}

// startCapture starts a capture process on the lab client's interface
// writing to out; rotate > 0 rotates files at that many bytes. With
// wantReady it waits until the capture is attached.
func startCapture(t *testing.T, l *lab.Lab, out string, rotate int64, wantReady bool) *captureProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TCPVIZ_ROBUST_HELPER=capture", "CAP_IFACE="+l.ClientIf, "CAP_NETNS="+l.Client,
		"CAP_OUT="+out, "CAP_ROTATE="+strconv.FormatInt(rotate, 10))
	p := startProc(t, cmd)
	if wantReady {
		p.waitFor(t, &p.stdout, "ready")
	}
	return p
}

// startProc starts cmd, collecting its output; the process is killed when
// the test ends.
func startProc(t *testing.T, cmd *exec.Cmd) *captureProc {
	t.Helper()
	p := &captureProc{cmd: cmd, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exit = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// readyTimeout bounds the wait for a capture process to attach: loading
// the eBPF programs takes seconds on a loaded two-core machine.
const readyTimeout = 60 * time.Second

// waitFor waits until out (the process's stdout or stderr) holds marker, the
// capture's word that it is attached; it fails the test if the process
// exits first or the marker does not come within readyTimeout.
func (p *captureProc) waitFor(t *testing.T, out *syncbuf.Buffer, marker string) {
	t.Helper()
	deadline := time.After(readyTimeout)
	for !strings.Contains(out.String(), marker) {
		select {
		case <-p.done:
			t.Fatalf("capture exited before it was ready (%v): %s", p.exit, p.err.String())
		case <-deadline:
			t.Fatalf("capture not ready after %v: %s", readyTimeout, p.err.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// wait waits up to d for the process to exit.
func (p *captureProc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.exit
	case <-time.After(d):
		t.Fatalf("capture still running after %v: %s", d, p.err.String())
		return nil
	}
}

// labTraffic starts the lab's traffic server and returns a function that
// runs one client transfer of n bytes in the background.
func labTraffic(t *testing.T, l *lab.Lab) func(n int) *lab.Proc {
	t.Helper()
	traffic := lab.BuildTraffic(t)
	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return func(n int) *lab.Proc {
		c, err := l.Start(l.Client, traffic, "client", "-c", l.ServerAddr.String()+":5001", "--bytes", strconv.Itoa(n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// fileCheck is what our reader found in a capture file.
type fileCheck struct {
	packets   int
	frames    uint64
	truncated bool // the file ends inside a block (NeedMore at the tail)
	stats     []pcapng.InterfaceStats
	lastType  pcapng.RecordType
}

// readToLastBlock reads a capture file with our reader. It must reach the
// end of the file or stop at a partial block that is the file's tail.
func readToLastBlock(t *testing.T, name string) fileCheck {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	r := pcapng.NewReader(bytes.NewReader(b), name)
	var c fileCheck
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return c
		}
		var nm *pcapng.NeedMoreError
		if errors.As(err, &nm) {
			if nm.Offset+int64(nm.Have) != int64(len(b)) {
				t.Fatalf("%s: truncated block at %d is not the file's tail (%d bytes): %v", name, nm.Offset, len(b), err)
			}
			c.truncated = true
			return c
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.lastType = rec.Type
		c.frames = max(c.frames, rec.Frame)
		switch rec.Type {
		case pcapng.RecordPacket:
			c.packets++
		case pcapng.RecordStats:
			c.stats = append(c.stats, rec.Stats)
		}
	}
}

// tsharkFrames counts the frames tshark reads from a file (packets and
// custom blocks). A file cut inside a block is accepted with tshark's
// "cut short" complaint only when cutShort says it is.
func tsharkFrames(t *testing.T, name string, cutShort bool) uint64 {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed (Debian package tshark): cross-check skipped")
		return 0
	}
	cmd := exec.Command("tshark", "-n", "-r", name, "-T", "fields", "-e", "frame.number")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && !(cutShort && strings.Contains(stderr.String(), "cut short")) {
		t.Fatalf("tshark -r %s: %v: %s", name, err, stderr.String())
	}
	var n uint64
	for _, l := range strings.Fields(string(out)) {
		if v, err := strconv.ParseUint(l, 10, 64); err == nil && v > n {
			n = v
		}
	}
	return n
}

// checkReadable asserts our reader and tshark agree on a file that may end
// inside a block, and returns what it holds.
func checkReadable(t *testing.T, name string) fileCheck {
	t.Helper()
	c := readToLastBlock(t, name)
	if n := tsharkFrames(t, name, c.truncated); n != 0 && n != c.frames {
		t.Errorf("%s: tshark reads %d frames, our reader %d", name, n, c.frames)
	}
	return c
}

// ringFiles lists the rotated files of base (ring_NNNNN_*.pcapng), in order.
func ringFiles(t *testing.T, dir, base string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, base+"_[0-9][0-9][0-9][0-9][0-9]_*.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func fileBytes(t *testing.T, names []string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	return out
}

// TestCaptureKilled kills a capture with SIGKILL during a transfer. Every
// file must be readable (ours and tshark) up to its last complete block,
// and the next capture must not touch it.
func TestCaptureKilled(t *testing.T) {
	needRoot(t, "loads eBPF programs and builds a network-namespace lab")
	l := lab.New(t, lab.Options{NoOffload: true})
	transfer := labTraffic(t, l)
	for _, rotate := range []int64{0, 300_000} {
		t.Run("rotate="+strconv.FormatInt(rotate, 10), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "ring.pcapng")
			p := startCapture(t, l, out, rotate, true)
			client := transfer(200_000_000)
			// Kill once a good part of the transfer is on disk.
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) && dirSize(dir) < 1_000_000 {
				time.Sleep(5 * time.Millisecond)
			}
			p.cmd.Process.Kill()
			err := p.wait(t, 10*time.Second)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("capture ended with %v before the kill: %s", err, p.err.String())
			}
			l.Stop(client)

			files := []string{out}
			if rotate > 0 {
				files = ringFiles(t, dir, "ring")
				if len(files) < 2 {
					t.Fatalf("%d ring files before the kill", len(files))
				}
			}
			total := 0
			for i, f := range files {
				c := checkReadable(t, f)
				if i < len(files)-1 && (c.truncated || c.lastType != pcapng.RecordStats) {
					t.Errorf("%s: a closed ring file must end with its statistics block (truncated %v)", f, c.truncated)
				}
				total += c.packets
			}
			if total == 0 {
				t.Fatal("no packet survived the kill")
			}
			before := fileBytes(t, files)

			// The next start: without rotation it refuses the existing file;
			// with rotation it continues the numbering.
			next := startCapture(t, l, out, rotate, rotate > 0)
			if rotate == 0 {
				err := next.wait(t, 30*time.Second)
				if err == nil || !strings.Contains(next.err.String(), "already exists; not overwriting") {
					t.Fatalf("second capture onto %s: %v: %s", out, err, next.err.String())
				}
			} else {
				next.cmd.Process.Signal(os.Interrupt)
				if err := next.wait(t, 30*time.Second); err != nil {
					t.Fatalf("second capture: %v: %s", err, next.err.String())
				}
				after := ringFiles(t, dir, "ring")
				if len(after) != len(files)+1 || after[len(after)-1] <= files[len(files)-1] {
					t.Fatalf("ring files after a restart: %v (before: %v)", after, files)
				}
			}
			for name, b := range fileBytes(t, files) {
				if !bytes.Equal(b, before[name]) {
					t.Errorf("%s changed after the next capture started", name)
				}
			}
			t.Logf("%d files, %d packets kept after SIGKILL", len(files), total)
		})
	}
}

func dirSize(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// TestCaptureDiskFull captures onto a 2 MB tmpfs: the capture stops by
// itself with an error naming the file and the cause, and the file is valid
// up to its last complete block.
func TestCaptureDiskFull(t *testing.T) {
	needRoot(t, "mounts a tmpfs, loads eBPF programs and builds a lab")
	l := lab.New(t, lab.Options{NoOffload: true})
	transfer := labTraffic(t, l)
	dir := smallTmpfs(t, "2m")
	out := filepath.Join(dir, "full.pcapng")
	p := startCapture(t, l, out, 0, true)
	client := transfer(400_000_000)
	err := p.wait(t, 60*time.Second)
	l.Stop(client)
	if err == nil {
		t.Fatalf("capture on a full disk exited cleanly: %s", p.stdout.String())
	}
	msg := p.err.String()
	if !strings.Contains(msg, "no space left on device") || !strings.Contains(msg, out) {
		t.Fatalf("error does not name the file and the cause: %s", msg)
	}
	c := checkReadable(t, out)
	if c.packets == 0 {
		t.Fatal("no packet in the file")
	}
	t.Logf("stopped with %q; %d packets readable, tail truncated %v", lastLine(msg), c.packets, c.truncated)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

var summaryPackets = regexp.MustCompile(`(\d+) packets captured on`)

// TestCaptureInterrupt stops a capture with SIGINT (Ctrl-C): the summary is
// printed, the file ends with a statistics block whose counters match the
// file, and the file is complete and private (0640).
func TestCaptureInterrupt(t *testing.T) {
	needRoot(t, "loads eBPF programs and builds a network-namespace lab")
	l := lab.New(t, lab.Options{NoOffload: true})
	transfer := labTraffic(t, l)
	out := filepath.Join(t.TempDir(), "int.pcapng")
	p := startCapture(t, l, out, 0, true)
	if err := transfer(5_000_000).Wait(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the last ACKs
	p.cmd.Process.Signal(os.Interrupt)
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("capture after SIGINT: %v: %s", err, p.err.String())
	}
	m := summaryPackets.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no summary printed: %s", p.stdout.String())
	}
	c := checkReadable(t, out)
	if c.truncated || c.lastType != pcapng.RecordStats || len(c.stats) != 1 {
		t.Fatalf("file after SIGINT: truncated %v, last record %v, %d statistics blocks", c.truncated, c.lastType, len(c.stats))
	}
	st := c.stats[0]
	if strconv.Itoa(c.packets) != m[1] || st.Delivered != uint64(c.packets) || st.OSDropped != 0 || st.Dropped != 0 {
		t.Fatalf("file has %d packets, summary says %s, statistics block %+v", c.packets, m[1], st)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o640 {
		t.Fatalf("capture file mode %v, want 0640", info.Mode().Perm())
	}
}

// TestCaptureRotationAccounting rotates files during a transfer at the lab's
// full rate next to tcpdump: the ring files hold as many packets as tcpdump
// saw, and the statistics blocks report no drops.
func TestCaptureRotationAccounting(t *testing.T) {
	needRoot(t, "loads eBPF programs and builds a network-namespace lab")
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("needs tcpdump (Debian package tcpdump) as the reference capture")
	}
	l := lab.New(t, lab.Options{NoOffload: true})
	transfer := labTraffic(t, l)
	dir := t.TempDir()
	ref := filepath.Join(dir, "tcpdump.pcap")
	td, err := l.Start(l.Client, "tcpdump", "-i", l.ClientIf, "-s", "128", "-U", "--immediate-mode", "-n",
		"-B", "32768", "-w", ref, "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if err := td.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p := startCapture(t, l, filepath.Join(dir, "ring.pcapng"), 500_000, true)
	if err := transfer(30_000_000).Wait(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(os.Interrupt)
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("capture: %v: %s", err, p.err.String())
	}
	if err := l.Stop(td); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	if m := regexp.MustCompile(`(\d+) packets dropped by kernel`).FindStringSubmatch(td.Output()); m == nil || m[1] != "0" {
		t.Fatalf("tcpdump is not a complete reference: %s", td.Output())
	}
	files := ringFiles(t, dir, "ring")
	if len(files) < 3 {
		t.Fatalf("%d ring files, want several", len(files))
	}
	total := 0
	var last pcapng.InterfaceStats
	for _, f := range files {
		c := checkReadable(t, f)
		if c.truncated || len(c.stats) != 1 {
			t.Fatalf("%s: truncated %v, %d statistics blocks", f, c.truncated, len(c.stats))
		}
		if info, err := os.Stat(f); err != nil {
			t.Error(err)
		} else if info.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", f, info.Mode().Perm())
		}
		last = c.stats[0]
		if last.OSDropped != 0 || last.Dropped != 0 {
			t.Errorf("%s: statistics block reports drops: %+v", f, last)
		}
		total += c.packets
	}
	want := readToLastBlock(t, ref).packets
	if total != want || last.Delivered != uint64(total) {
		t.Fatalf("ring files hold %d packets (last statistics block: %d delivered), tcpdump saw %d", total, last.Delivered, want)
	}
	t.Logf("%d packets in %d files, tcpdump %d", total, len(files), want)
}
