//go:build linux

package pairing

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
)

var tcpdumpDrops = regexp.MustCompile(`(\d+) packets dropped by kernel`)

// TestLabLossesEqualRouterDrops: a transfer from the client namespace
// through the router to the server namespace, captured on the client's and
// the server's interfaces. The router drops data segments towards the
// server and any TCP packet towards the client at random, each with an
// nftables counter. Pairing the two captures must find exactly the
// router's drops: the client's data segments the server never saw equal the
// first counter, the server's segments (its ACKs, SYN/ACK and FIN) the
// client never saw equal the second. Both captures run on one host, so the
// one-way delays share a clock and cannot be negative.
func TestLabLossesEqualRouterDrops(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, tc, nftables, tcpdump")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("needs tcpdump (Debian package tcpdump)")
	}
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "20mbit", Burst: "32kb", Latency: "50ms"}); err != nil {
		t.Fatal(err)
	}
	// Data segments only (an IPv4 packet longer than any TCP header): the
	// client's pure ACKs, SYN and FIN all pass.
	if err := l.AddRule(`oifname "` + lab.RouterServerIf + `" meta l4proto tcp ip length > 100 numgen random mod 1000 < 15 counter drop`); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLoss(lab.ToClient, 20); err != nil {
		t.Fatal(err)
	}
	traffic := lab.BuildTraffic(t)
	dir := t.TempDir()
	sender, receiver := filepath.Join(dir, "sender.pcap"), filepath.Join(dir, "receiver.pcap")
	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var dumps []*lab.Proc
	for _, c := range []struct{ ns, dev, file string }{{l.Client, l.ClientIf, sender}, {l.Server, l.ServerIf, receiver}} {
		td, err := l.Start(c.ns, "tcpdump", "-i", c.dev, "-s", "128", "-U", "--immediate-mode", "-n", "-B", "16384", "-w", c.file, "tcp")
		if err != nil {
			t.Fatal(err)
		}
		if err := td.WaitOutput("listening on", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		dumps = append(dumps, td)
	}
	l.Run(l.Client, traffic, "client", "-c", l.ServerAddr.String()+":5001", "--bytes", "3000000", "--cc", "cubic")
	time.Sleep(300 * time.Millisecond)
	for _, td := range dumps {
		if err := l.Stop(td); err != nil {
			t.Fatalf("tcpdump: %v", err)
		}
		if m := tcpdumpDrops.FindStringSubmatch(td.Output()); m == nil || m[1] != "0" {
			t.Fatalf("tcpdump did not capture everything: %s", td.Output())
		}
	}
	ctr, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	dataDrops, toClientDrops := ctr["extra-0"].Packets, ctr["loss-to-client"].Packets
	if dataDrops == 0 || toClientDrops == 0 {
		t.Fatalf("router dropped %d data segments towards the server and %d packets towards the client: the lab did not impair the transfer (%v)", dataDrops, toClientDrops, ctr)
	}

	r := Pair(read(t, sender), read(t, receiver))
	if len(r.Conns) != 1 || len(r.OnlyA)+len(r.OnlyB) != 0 {
		t.Fatalf("%d connections paired, only A %v, only B %v; want one", len(r.Conns), r.OnlyA, r.OnlyB)
	}
	c := &r.Conns[0]
	if c.NearClient != "a" || c.Position != PositionHandshake {
		t.Errorf("near client %s (%s), want the sender's capture from the handshake", c.NearClient, c.Position)
	}
	c2s, s2c := &c.Dirs[0], &c.Dirs[1]
	t.Logf("router: %d data segments dropped towards the server, %d packets towards the client (%v)", dataDrops, toClientDrops, ctr)
	for _, s := range []*DirStats{c2s, s2c} {
		t.Logf("%s: data %d sent, %d lost; ACKs %d sent, %d lost; %d only downstream; one-way delay ms min %.3f median %.3f p95 %.3f max %.3f",
			s.Dir, s.DataSent, s.DataLost, s.ACKsSent, s.ACKsLost, s.OnlyDown, s.Delay.MinMS, s.Delay.P50MS, s.Delay.P95MS, s.Delay.MaxMS)
		if s.OnlyDown != 0 {
			t.Errorf("%s: %d segments only in the downstream capture", s.Dir, s.OnlyDown)
		}
		if s.Delay.Samples == 0 || s.Delay.MinMS < 0 {
			t.Errorf("%s: one-way delay over %d segments, minimum %.3f ms: one clock cannot give a negative delay", s.Dir, s.Delay.Samples, s.Delay.MinMS)
		}
	}
	if uint64(c2s.DataLost) != dataDrops || c2s.ACKsLost != 0 {
		t.Errorf("c2s: pairing found %d data segments and %d ACKs the receiver never saw; the router dropped %d data segments", c2s.DataLost, c2s.ACKsLost, dataDrops)
	}
	if uint64(s2c.DataLost+s2c.ACKsLost) != toClientDrops {
		t.Errorf("s2c: pairing found %d segments (%d data, %d ACKs) the client never saw; the router dropped %d", s2c.DataLost+s2c.ACKsLost, s2c.DataLost, s2c.ACKsLost, toClientDrops)
	}
}
