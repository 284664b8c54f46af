//go:build linux

package capture

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"testing"
)

// A raw-IP device (tun: no link-layer header) is written as LINKTYPE_RAW
// with the IP header first.
func TestRawIPDevice(t *testing.T) {
	needRoot(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	ns := "tvz-tun-" + hex.EncodeToString(suffix)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("needs iproute2 with tun support: ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run("-n", ns, "tuntap", "add", "dev", "tvztun0", "mode", "tun")
	run("-n", ns, "addr", "add", "10.99.0.1/24", "dev", "tvztun0")
	run("-n", ns, "link", "set", "tvztun0", "up")

	out := filepath.Join(t.TempDir(), "tun.pcapng")
	// Nobody answers behind the tun device: the SYN (and its retry) leave
	// through it.
	sum := captureUnanswered(t, Config{Interface: "tvztun0", Netns: ns, Output: out}, "10.99.0.2:5001")
	fc := readCapture(t, out)
	if len(fc.linkTypes) != 1 || fc.linkTypes[0] != linkTypeRaw {
		t.Fatalf("link types %v, want one LINKTYPE_RAW (101)", fc.linkTypes)
	}
	if fc.packets == 0 || fc.outbound != fc.packets {
		t.Fatalf("%d packets, %d outbound: want the SYNs, outbound (summary: %s)", fc.packets, fc.outbound, sum)
	}
	for _, p := range fc.tcpPorts {
		if p[1] != 5001 {
			t.Errorf("packet to port %d, want 5001 (IP header not first?)", p[1])
		}
	}
	if got := tsharkCount(t, out); got != fc.packets {
		t.Errorf("tshark reads %d TCP packets, we wrote %d", got, fc.packets)
	}
}
