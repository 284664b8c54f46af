//go:build linux

package decode_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// encapCheck counts the packets that came through the overlay, with its
// path and VNI.
type encapCheck struct {
	want      string
	vni       events.Tunnel
	ok, other int
}

func (c *encapCheck) Packet(p *events.Packet) {
	if p.Encap == c.want && p.Tunnel == c.vni {
		c.ok++
	} else {
		c.other++
	}
}

func (c *encapCheck) Event(*events.Event) {}

// TestVXLANLabMatchesTshark runs real TCP transfers through a kernel VXLAN
// overlay (VNI 42, UDP 4789) between the lab's client and server, with 1.5 %
// of the overlay's UDP packets dropped by the router, captures the client's
// outer interface with tcpdump, and compares tcpviz with tshark: the same
// connections, the same TCP frames, the same per-frame flags.
func TestVXLANLabMatchesTshark(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, VXLAN devices, nftables, tcpdump")
	}
	if !tsharkoracle.Available() {
		t.Skip("tshark not installed (Debian package tshark): the oracle test needs it")
	}
	l := lab.New(t, lab.Options{NoOffload: true})
	for _, end := range []struct{ ns, dev, local, remote, addr string }{
		{l.Client, l.ClientIf, lab.ClientAddr.String(), lab.ServerAddr.String(), "192.168.42.1/24"},
		{l.Server, l.ServerIf, lab.ServerAddr.String(), lab.ClientAddr.String(), "192.168.42.2/24"},
	} {
		if out, err := l.RunErr(end.ns, "ip", "link", "add", "vx42", "type", "vxlan", "id", "42", "local", end.local,
			"remote", end.remote, "dstport", "4789", "dev", end.dev); err != nil {
			t.Skipf("this kernel cannot make a VXLAN device: %v: %s", err, out)
		}
		l.Run(end.ns, "ip", "addr", "add", end.addr, "dev", "vx42")
		l.Run(end.ns, "ip", "link", "set", "vx42", "up")
		l.Run(end.ns, "ethtool", "-K", "vx42", "tso", "off", "gso", "off", "gro", "off")
	}
	if err := l.AddRule(`oifname "` + lab.RouterServerIf + `" udp dport 4789 numgen random mod 1000 < 15 counter drop`); err != nil {
		t.Fatal(err)
	}
	traffic := lab.BuildTraffic(t)
	srv, err := l.Start(l.Server, traffic, "server", "-l", "192.168.42.2:5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "vxlan-outer.pcap")
	td, err := l.Start(l.Client, "tcpdump", "-i", l.ClientIf, "-s", "192", "-U", "--immediate-mode", "-n", "-B", "16384",
		"-w", file, "udp port 4789")
	if err != nil {
		t.Fatal(err)
	}
	if err := td.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// One bulk transfer with loss, then a few short connections.
	l.Run(l.Client, traffic, "client", "-c", "192.168.42.2:5001", "--bytes", "2000000", "--cc", "cubic")
	l.Run(l.Client, traffic, "client", "-c", "192.168.42.2:5001", "--bytes", "20000", "--conns", "3")
	time.Sleep(300 * time.Millisecond)
	if err := l.Stop(td); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	if m := regexp.MustCompile(`(\d+) packets dropped by kernel`).FindStringSubmatch(td.Output()); m == nil || m[1] != "0" {
		t.Fatalf("tcpdump did not capture everything: %s", td.Output())
	}

	det := func(emit func(*events.Event)) pipeline.Detector {
		return detectors.New(detectors.DefaultConfig(), emit)
	}
	check := &encapCheck{want: "eth/ip/udp/vxlan/eth/ip", vni: events.MakeTunnel(events.TunnelVXLAN, 42)}
	st := tsharkoracle.CheckAll(t, file, det, oracleFloor, check)
	t.Logf("%d flows, %d TCP packets, skipped %v, events %v", st.Flows, st.TCPPackets, st.Skipped, st.Events)
	if st.Flows != 4 {
		t.Errorf("%d flows, want 4", st.Flows)
	}
	if check.ok == 0 || check.other != 0 {
		t.Errorf("%d packets with path %q and VNI 42, %d others", check.ok, check.want, check.other)
	}
	if st.Events[events.TypeRetransmission] == 0 {
		t.Error("no retransmission: the router did not drop overlay packets")
	}
}
