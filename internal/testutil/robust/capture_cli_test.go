//go:build linux

package robust

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
)

// startCLICapture runs `tcpviz capture` on the lab client's interface and
// waits until it is capturing.
func startCLICapture(t *testing.T, l *lab.Lab, args ...string) *captureProc {
	t.Helper()
	argv := append([]string{"capture", "-i", l.ClientIf, "--netns", l.Client}, args...)
	p := startProc(t, exec.Command(tcpvizBinary(t), argv...))
	p.waitFor(t, &p.err, "capturing on")
	time.Sleep(100 * time.Millisecond) // the first file is opened after the notice
	return p
}

// A full disk ends `tcpviz capture` with exit 1, one line naming the file
// and the cause, and the capture's summary.
func TestCaptureDiskFullCommand(t *testing.T) {
	needRoot(t, "mounts a tmpfs, loads eBPF programs and builds a lab")
	l := lab.New(t, lab.Options{NoOffload: true})
	transfer := labTraffic(t, l)
	dir := smallTmpfs(t, "2m")
	out := filepath.Join(dir, "full.pcapng")
	p := startCLICapture(t, l, "-w", out)
	client := transfer(400_000_000)
	err := p.wait(t, 60*time.Second)
	l.Stop(client)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("capture on a full disk: %v, want exit 1: %s", err, p.err.String())
	}
	msg := p.err.String()
	if n := strings.Count(msg, "no space left on device"); n != 1 || !strings.Contains(msg, out) {
		t.Errorf("want one line naming the file and the cause, got %d mentions:\n%s", n, msg)
	}
	if !summaryPackets.MatchString(msg) {
		t.Errorf("no capture summary after the error:\n%s", msg)
	}
}
