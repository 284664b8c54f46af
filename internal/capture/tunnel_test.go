//go:build linux

package capture

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/pcapng"
)

// A TCP SYN sent through a VXLAN overlay leaves the underlay interface as
// UDP: the program writes it whole, and TCP is found inside (tshark agrees).
func TestTunnelPacketsWritten(t *testing.T) {
	needRoot(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	ns, peer := "tvz-vx-"+hex.EncodeToString(suffix), "tvz-vxp-"+hex.EncodeToString(suffix)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("needs iproute2 with veth and vxlan: ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run("netns", "add", peer)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", peer).Run() })
	run("link", "add", "tvzva", "netns", ns, "type", "veth", "peer", "name", "tvzvb", "netns", peer)
	run("-n", ns, "addr", "add", "10.98.0.1/24", "dev", "tvzva")
	run("-n", ns, "link", "set", "tvzva", "up")
	run("-n", peer, "addr", "add", "10.98.0.2/24", "dev", "tvzvb")
	run("-n", peer, "link", "set", "tvzvb", "up")
	run("-n", ns, "link", "add", "tvzvx", "type", "vxlan", "id", "7", "local", "10.98.0.1", "remote", "10.98.0.2", "dstport", "4789", "dev", "tvzva")
	run("-n", ns, "addr", "add", "192.168.99.1/24", "dev", "tvzvx")
	run("-n", ns, "link", "set", "tvzvx", "up")
	// A fixed neighbour: the SYN goes out without an ARP exchange first.
	run("-n", ns, "neigh", "add", "192.168.99.2", "lladdr", "02:00:00:00:00:99", "dev", "tvzvx")

	out := filepath.Join(t.TempDir(), "vxlan.pcapng")
	// Nobody answers inside the overlay: the SYN (and a retry) leave.
	sum := captureUnanswered(t, Config{Interface: "tvzva", Netns: ns, Output: out}, "192.168.99.2:5001")
	fc := readCapture(t, out)
	// Besides the SYNs, the overlay carries the kernel's own IPv6 neighbour
	// discovery: written too, as the program does not look inside.
	ours := tcpInside(t, out)
	if got := tsharkCount(t, out); got < 2 || got != ours {
		t.Errorf("tshark finds TCP in %d of the %d packets written, tcpviz in %d; want the SYN and its retry (summary: %s)", got, fc.packets, ours, sum)
	}
}

// tcpInside counts the packets of a capture tcpviz decodes as TCP.
func tcpInside(t *testing.T, name string) int {
	t.Helper()
	d := decode.New()
	n := 0
	eachRecord(t, name, func(rec *pcapng.Record) {
		var p events.Packet
		if rec.Type == pcapng.RecordPacket && rec.Interface != nil {
			if ok, _ := d.Decode(rec.Interface.LinkType, rec.Data, rec.OrigLen, &p); ok && p.Encap == "eth/ip/udp/vxlan/eth/ip" {
				n++
			}
		}
	})
	return n
}
