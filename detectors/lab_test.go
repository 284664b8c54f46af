//go:build linux

package detectors

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// retransCounter counts, from a sender-side capture, the segments the
// sender retransmitted: retransmission events of every kind plus
// out_of_order ones (before the capture point nothing can reorder, so an
// out-of-order segment from the sender is a retransmission that Wireshark's
// timing rule calls out-of-order). A packet larger than one segment (TSO/GSO
// super-segment seen before segmentation) counts ceil(len / segment size),
// as the kernel's tcp_skb_pcount does; the segment size is the peer's MSS
// option minus 12 bytes when timestamps are on.
type retransCounter struct {
	sender   string // "addr:port" prefix match on the sender address
	mss      uint32 // sender's segment size
	segments int
	events   map[string]int
	unproven int // sender-side out_of_order without NoteCopy
}

func (c *retransCounter) Packet(p *events.Packet) {
	if p.Flags&(S|A) == SA && p.Options.HasMSS && p.Dst.String() == c.sender {
		c.mss = uint32(p.Options.MSS)
		if p.Options.HasTS {
			c.mss -= 12
		}
	}
}

func (c *retransCounter) Event(e *events.Event) {
	if e.Type != events.TypeRetransmission && e.Type != events.TypeOutOfOrder {
		return
	}
	if addr, _, _ := cutPort(e.Src); addr != c.sender {
		return
	}
	c.events[e.Type+"/"+e.Kind]++
	if e.Type == events.TypeOutOfOrder && e.Note != NoteCopy {
		c.unproven++
	}
	n := 1
	if c.mss > 0 && e.Len > c.mss {
		n = int((e.Len + c.mss - 1) / c.mss)
	}
	c.segments += n
}

var portRE = regexp.MustCompile(`^\[?(.*?)\]?:(\d+)$`)

func cutPort(ep string) (string, string, bool) {
	m := portRE.FindStringSubmatch(ep)
	if m == nil {
		return ep, "", false
	}
	return m[1], m[2], true
}

// TestLabRetransmissionsMatchKernel: a real transfer through a bottleneck
// with 1 % random loss; the retransmissions inferred from the sender-side
// capture must equal the sender namespace's TcpRetransSegs delta (nstat).
// The frames are also checked against tshark.
func TestLabRetransmissionsMatchKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, tc, nftables, tcpdump")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("needs tcpdump (Debian package tcpdump)")
	}
	for _, tc := range []struct {
		name      string
		noOffload bool
		cc        string
	}{
		{"cubic-offloads-off", true, "cubic"},
		{"bbr-tso-gso-on", false, "bbr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Random loss can spare a short transfer entirely (with TSO on,
			// the router drops whole super-segments, so there are few
			// chances); that run proves nothing, so it is tried again.
			var (
				kernel uint64
				rc     *retransCounter
				file   string
			)
			for attempt := 1; attempt <= 3; attempt++ {
				kernel, rc, file = retransRun(t, tc.noOffload, tc.cc)
				if kernel > 0 {
					break
				}
				t.Logf("attempt %d: the kernel retransmitted nothing; running the transfer again", attempt)
			}
			det := func(emit func(*events.Event)) pipeline.Detector { return New(DefaultConfig(), emit) }
			if kernel == 0 {
				t.Fatal("no retransmissions with random loss in three transfers: the lab did not impair them")
			}
			if rc.unproven > 0 {
				t.Errorf("%d sender-side out_of_order segments not recognised as copies of bytes already seen", rc.unproven)
			}
			if uint64(rc.segments) != kernel {
				t.Errorf("inferred %d retransmitted segments, kernel counted %d", rc.segments, kernel)
			}
			if tsharkoracle.Available() {
				_, _, res, err := tsharkoracle.CheckFile(t.Context(), file, det)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res {
					if r.Precision < oracleFloor || r.Recall < oracleFloor {
						t.Errorf("tshark: %v", r)
					}
				}
			}
		})
	}
}

// retransRun sends 3 MB through a 50 Mbit/s bottleneck with 1 % random loss
// towards the server, capturing on the sender, and returns the sender's
// TcpRetransSegs delta, the retransmissions inferred from the capture and
// the capture's path.
func retransRun(t *testing.T, noOffload bool, cc string) (uint64, *retransCounter, string) {
	t.Helper()
	l := lab.New(t, lab.Options{NoOffload: noOffload})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "50mbit", Burst: "32kbit", Latency: "50ms"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLoss(lab.ToServer, 10); err != nil {
		t.Fatal(err)
	}
	traffic := lab.BuildTraffic(t)
	file := filepath.Join(t.TempDir(), "sender.pcap")
	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	td, err := l.Start(l.Client, "tcpdump", "-i", l.ClientIf, "-s", "128", "-U", "--immediate-mode", "-n", "-B", "16384", "-w", file, "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if err := td.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	before, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	l.Run(l.Client, traffic, "client", "-c", l.ServerAddr.String()+":5001", "--bytes", "3000000", "--cc", cc)
	time.Sleep(300 * time.Millisecond)
	after, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(td); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	if m := regexp.MustCompile(`(\d+) packets dropped by kernel`).FindStringSubmatch(td.Output()); m == nil || m[1] != "0" {
		t.Fatalf("tcpdump did not capture everything: %s", td.Output())
	}
	rc := &retransCounter{sender: l.ClientAddr.String(), events: map[string]int{}}
	det := func(emit func(*events.Event)) pipeline.Detector { return New(DefaultConfig(), emit) }
	if err := tsharkoracle.RunPipeline(file, det, rc); err != nil {
		t.Fatal(err)
	}
	kernel := lab.Delta(before, after)["TcpRetransSegs"]
	t.Logf("kernel TcpRetransSegs %d, inferred %d segments %v (segment size %d)", kernel, rc.segments, rc.events, rc.mss)
	return kernel, rc, file
}
