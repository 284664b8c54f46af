//go:build linux

package capture

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// portPackets counts the packets of a capture file with port as source or
// destination.
func portPackets(t *testing.T, name string, port uint16) (match, other int) {
	t.Helper()
	eachRecord(t, name, func(rec *pcapng.Record) {
		if rec.Type != pcapng.RecordPacket {
			return
		}
		if p := tcpPorts(rec.Data, rec.Interface.LinkType); p[0] == port || p[1] == port {
			match++
		} else {
			other++
		}
	})
	return match, other
}

// TestLabOwnerClientSide: --comm and --pid on the client end of a connection
// through a real interface keep every packet of that connection (tcpdump's
// count on the same interface) and no packet of a decoy connection made by
// another process at the same time.
func TestLabOwnerClientSide(t *testing.T) {
	needRoot(t)
	traffic := lab.BuildTraffic(t)
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "100mbit"}); err != nil {
		t.Fatal(err)
	}
	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	decoySrv, err := l.Start(l.Server, traffic, "server", "-l", ":5002")
	if err != nil {
		t.Fatal(err)
	}
	if err := decoySrv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	target := l.ServerAddr.String() + ":5001"
	for _, owner := range []string{"comm", "pid"} {
		t.Run(owner, func(t *testing.T) {
			dir := t.TempDir()
			ref := filepath.Join(dir, "tcpdump.pcap")
			td, err := l.Start(l.Client, "tcpdump", "-i", l.ClientIf, "-s", "128", "-U", "--immediate-mode", "-n",
				"-B", "16384", "-w", ref, "tcp")
			if err != nil {
				t.Fatal(err)
			}
			if err := td.WaitOutput("listening on", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			// The client waits until the capture is attached (its pid is
			// known before), then becomes labtraffic through exec.
			goFile := filepath.Join(dir, "go")
			client, err := l.Start(l.Client, "sh", "-c", "while [ ! -e "+goFile+" ]; do sleep 0.05; done; exec "+
				traffic+" client -c "+target+" --bytes 2000000")
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "owner.pcapng")
			cfg := Config{Output: out, Interface: l.ClientIf, Netns: l.Client}
			if owner == "comm" {
				cfg.Comm = "labtraffic"
			} else {
				cfg.PID = uint32(client.Cmd.Process.Pid)
			}
			stop := startCapture(t, cfg)
			if err := os.WriteFile(goFile, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			// The decoy: this test process (another pid and comm) talks to
			// the same server host while the client runs.
			decoyErr := make(chan error, 1)
			go func() {
				decoyErr <- l.Do(l.Client, func() error {
					c, err := net.DialTimeout("tcp", l.ServerAddr.String()+":5002", 5*time.Second)
					if err != nil {
						return err
					}
					defer c.Close()
					_, err = c.Write(make([]byte, 300_000))
					return err
				})
			}()
			if err := client.Wait(); err != nil {
				t.Fatalf("client: %v: %s", err, client.Output())
			}
			if err := <-decoyErr; err != nil {
				t.Fatalf("decoy: %v", err)
			}
			time.Sleep(300 * time.Millisecond) // the last ACKs and FINs
			sum, err := stop()
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Stop(td); err != nil {
				t.Fatalf("tcpdump: %v", err)
			}
			checkTcpdumpDrops(t, td.Output())
			want, decoy := portPackets(t, ref, 5001)
			got, others := portPackets(t, out, 5001)
			if decoy == 0 {
				t.Fatal("tcpdump saw no decoy packets: the test proves nothing")
			}
			if got != want || others != 0 {
				t.Errorf("--%s: %d packets of the client's connection (tcpdump %d), %d of others (tcpdump saw %d decoy packets)",
					owner, got, want, others, decoy)
			}
			fc := readCapture(t, out)
			for _, r := range fc.records {
				if r.Dport != 5001 {
					t.Errorf("kernel record of another socket: %v %s:%d -> %s:%d", r.Kind, r.Saddr, r.Sport, r.Daddr, r.Dport)
					break
				}
				const synSent = 2 // the kernel assigns the local port after this change
				if r.Sport == 0 && !(r.Kind == kblock.KindState && r.NewState == synSent) {
					t.Errorf("kernel record without the local port: %v %+v", r.Kind, r)
					break
				}
			}
			if fc.kernel[kblock.KindProbe] == 0 {
				t.Errorf("no cwnd/srtt samples of the client's connection (kernel records %v)", fc.kernel)
			}
			t.Logf("--%s: %d packets (tcpdump %d, decoy %d), kernel records %v, summary %d packets, pid %s",
				owner, got, want, decoy, fc.kernel, sum.Packets, strconv.Itoa(client.Cmd.Process.Pid))
		})
	}
}
