//go:build linux

package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/capturetest"
)

// scratchNetns makes a network namespace with a veth pair tvzd0/tvzd1.
func scratchNetns(t *testing.T) string {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	ns := "tvz-flt-" + hex.EncodeToString(suffix)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("needs iproute2 with veth devices: ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run("-n", ns, "link", "add", "tvzd0", "type", "veth", "peer", "name", "tvzd1")
	run("-n", ns, "link", "set", "tvzd0", "up")
	return ns
}

// An interface deleted under a capture ends it with an error that says so;
// an interface taken down and up again does not.
func TestInterfaceDeleted(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name    string
		do      []string
		wantErr bool
	}{
		{"deleted", []string{"link del tvzd0"}, true},
		{"down and up", []string{"link set tvzd0 down", "link set tvzd0 up"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := scratchNetns(t)
			out := filepath.Join(t.TempDir(), "gone.pcapng")
			capt := capturetest.Start(t, runner(Config{Interface: "tvzd0", Netns: ns, Output: out}))
			for _, c := range tc.do {
				args := append([]string{"-n", ns}, strings.Fields(c)...)
				if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
					t.Fatalf("ip %v: %v: %s", args, err, b)
				}
			}
			var sum Summary
			var err error
			select {
			case <-capt.Done():
				sum, err = capt.Result()
				if !tc.wantErr {
					t.Fatalf("capture ended after %s: %v", tc.name, err)
				}
			case <-time.After(3 * linkPeriod):
				if tc.wantErr {
					t.Fatal("capture still running 3 s after its interface was deleted")
				}
				sum, err = capt.Stop()
			}
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "tvzd0 disappeared") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q: want one line saying the interface disappeared", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			// Either way the file is complete: what was captured is kept.
			fc := readCapture(t, out)
			if len(fc.stats) != 1 || sum.Start.IsZero() {
				t.Errorf("%d statistics blocks, summary start %v: want a finished file and a summary", len(fc.stats), sum.Start)
			}
		})
	}
}

// Two rotating captures with one -w name: the second refuses before it
// loads anything, naming the first's lock.
func TestRingLocked(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "ring.pcapng")
	stop := startCapture(t, Config{Interface: "lo", Output: out, RotateBytes: 1_000_000})
	_, err := Run(context.Background(), Config{Interface: "lo", Output: out, RotateBytes: 1_000_000})
	if err == nil || !strings.Contains(err.Error(), "another capture is writing "+out) {
		t.Fatalf("second capture on one ring: %v", err)
	}
	if _, err := stop(); err != nil {
		t.Fatal(err)
	}
	// Released at the end: the next run takes the ring over.
	stop = startCapture(t, Config{Interface: "lo", Output: out, RotateBytes: 1_000_000})
	sum, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	if want := "ring_00002_"; len(sum.Files) != 1 || !strings.HasPrefix(filepath.Base(sum.Files[0]), want) {
		t.Errorf("files %v, want one %s file", sum.Files, want)
	}
}

// The lock itself, without root.
func TestFileSetLock(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ring.pcapng")
	a, err := newFileSet(out, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newFileSet(out, true, 0); err == nil || !strings.Contains(err.Error(), "another capture") {
		t.Fatalf("second lock: %v", err)
	}
	a.unlock()
	b, err := newFileSet(out, true, 0)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	b.unlock()
	// The lock never follows a symlink planted in its place.
	lock := b.lockName()
	os.Remove(lock)
	if err := os.Symlink("/etc/passwd", lock); err != nil {
		t.Fatal(err)
	}
	if _, err := newFileSet(out, true, 0); err == nil {
		t.Fatal("lock followed a symlink")
	}
}
