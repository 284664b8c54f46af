//go:build linux

package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseNstat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]uint64
		wantErr bool
	}{
		{
			name: "typical",
			in:   "#kernel\nIpInReceives                    12                 0.0\nTcpRetransSegs                  3                  0.0\nTcpExtTCPLostRetransmit         0                  0.0\n",
			want: map[string]uint64{"IpInReceives": 12, "TcpRetransSegs": 3, "TcpExtTCPLostRetransmit": 0},
		},
		{name: "empty", in: "#kernel\n", want: map[string]uint64{}},
		{name: "bad value", in: "#kernel\nTcpOutSegs abc 0.0\n", wantErr: true},
		{name: "missing value", in: "#kernel\nTcpOutSegs\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNstat([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseNstat = %v, want error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("parseNstat = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	got := Delta(map[string]uint64{"a": 5, "b": 1}, map[string]uint64{"a": 8, "b": 1, "c": 2})
	want := map[string]uint64{"a": 3, "b": 0, "c": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Delta = %v, want %v", got, want)
	}
}

func TestParseNftCounters(t *testing.T) {
	in := `{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "tcpviz_lab"}},
{"rule": {"family": "inet", "table": "tcpviz_lab", "chain": "forward", "handle": 2, "comment": "tcp-to-server",
 "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "veth-rs"}},
          {"counter": {"packets": 100, "bytes": 150000}}]}},
{"rule": {"family": "inet", "table": "tcpviz_lab", "chain": "forward", "handle": 3, "comment": "loss-to-server",
 "expr": [{"counter": {"packets": 7, "bytes": 10500}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "tcpviz_lab", "chain": "forward", "handle": 4,
 "expr": [{"counter": {"packets": 1, "bytes": 1}}]}}]}`
	got, err := parseNftCounters([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Counter{
		"tcp-to-server":  {Packets: 100, Bytes: 150000},
		"loss-to-server": {Packets: 7, Bytes: 10500},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseNftCounters = %v, want %v", got, want)
	}
	if _, err := parseNftCounters([]byte("{")); err == nil {
		t.Error("parseNftCounters accepted broken JSON")
	}
}

// serve accepts connections in the server namespace and hands each one to
// handle.
func serve(t *testing.T, l *Lab, addr netip.AddrPort, handle func(net.Conn)) net.Listener {
	t.Helper()
	var ln net.Listener
	err := l.Do(l.Server, func() error {
		var err error
		ln, err = net.Listen("tcp", addr.String())
		return err
	})
	if err != nil {
		t.Fatalf("listen in server ns: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln
}

func dial(l *Lab, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := l.Do(l.Client, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr.String(), timeout)
		return err
	})
	return c, err
}

func TestConnectivity(t *testing.T) {
	t.Parallel()
	l := New(t, Options{})
	for _, tc := range []struct{ server, client netip.Addr }{
		{l.ServerAddr, l.ClientAddr},
		{l.ServerAddr6, l.ClientAddr6},
	} {
		peers := make(chan string, 1)
		ap := netip.AddrPortFrom(tc.server, 5001)
		serve(t, l, ap, func(c net.Conn) { peers <- c.RemoteAddr().String() })
		c, err := dial(l, ap, 3*time.Second)
		if err != nil {
			t.Fatalf("dial %v from client ns: %v", ap, err)
		}
		c.Close()
		// The server must see the client's own address: routed, no NAT.
		got := <-peers
		peer, err := netip.ParseAddrPort(got)
		if err != nil {
			t.Fatal(err)
		}
		if peer.Addr() != tc.client {
			t.Errorf("server saw peer %v, want %v", peer.Addr(), tc.client)
		}
	}
}

// transfer sends n bytes from the client to a sink on the server and returns
// how long it took until the server had read everything.
func transfer(t *testing.T, l *Lab, server netip.AddrPort, n int64) time.Duration {
	t.Helper()
	got := make(chan int64, 1)
	ln := serve(t, l, server, func(c net.Conn) {
		m, _ := io.Copy(io.Discard, c)
		got <- m
	})
	defer ln.Close()
	start := time.Now()
	c, err := dial(l, server, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, err := io.CopyN(c, zeroReader{}, n); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Close()
	select {
	case m := <-got:
		if m != n {
			t.Fatalf("server read %d bytes, want %d", m, n)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("transfer did not finish within 60 s")
	}
	return time.Since(start)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestLoss(t *testing.T) {
	t.Parallel()
	l := New(t, Options{NoOffload: true})
	if err := l.SetLoss(ToServer, 50); err != nil {
		t.Fatal(err)
	}
	before, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	transfer(t, l, netip.AddrPortFrom(l.ServerAddr, 5002), 4<<20)
	after, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	cnt, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	seen, dropped := cnt["tcp-to-server"].Packets, cnt["loss-to-server"].Packets
	if seen < 2000 {
		t.Fatalf("router saw %d TCP packets towards the server, want >= 2000 (counters %v)", seen, counterNames(cnt))
	}
	// 5 % loss: binomial with n >= 2000 stays well inside 2.5..10 %.
	if ratio := float64(dropped) / float64(seen); ratio < 0.025 || ratio > 0.10 {
		t.Errorf("dropped %d of %d packets (%.1f%%), want about 5%%", dropped, seen, 100*ratio)
	}
	if c := cnt["loss-to-client"].Packets; c != 0 {
		t.Errorf("loss rule towards the client dropped %d packets, want none", c)
	}
	retrans := Delta(before, after)["TcpRetransSegs"]
	if retrans < dropped/2 {
		t.Errorf("client retransmitted %d segments for %d drops", retrans, dropped)
	}
	t.Logf("forwarded %d, dropped %d, client TcpRetransSegs +%d", seen, dropped, retrans)
}

func TestDropSYN(t *testing.T) {
	t.Parallel()
	l := New(t, Options{})
	ap := netip.AddrPortFrom(l.ServerAddr, 5003)
	serve(t, l, ap, func(net.Conn) {})
	if err := l.DropSYN(ToServer, true); err != nil {
		t.Fatal(err)
	}
	// The first SYN retry leaves after 1 s, so 1.5 s sees two SYNs.
	if c, err := dial(l, ap, 1500*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("connected although SYNs are dropped")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("dial error %v, want a timeout", err)
	}
	cnt, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if got := cnt["drop-syn-to-server"].Packets; got < 2 {
		t.Errorf("dropped %d SYNs, want >= 2", got)
	}
	if err := l.DropSYN(ToServer, false); err != nil {
		t.Fatal(err)
	}
	c, err := dial(l, ap, 3*time.Second)
	if err != nil {
		t.Fatalf("dial after removing the SYN drop: %v", err)
	}
	c.Close()
	// 1000 ‰ is every packet (nft's numgen cannot express it).
	if err := l.SetLoss(ToServer, 1000); err != nil {
		t.Fatal(err)
	}
	if c, err := dial(l, ap, 500*time.Millisecond); err == nil {
		c.Close()
		t.Error("connected through 100 % loss")
	}
}

func TestBottleneck(t *testing.T) {
	t.Parallel()
	l := New(t, Options{})
	if err := l.SetBottleneck(ToServer, Bottleneck{Rate: "16mbit"}); err != nil {
		t.Fatal(err)
	}
	// 2 MiB at 16 Mbit/s takes at least ~1 s (minus the 32 kB bucket).
	const n = 2 << 20
	took := transfer(t, l, netip.AddrPortFrom(l.ServerAddr, 5004), n)
	if mbit := float64(n*8) / took.Seconds() / 1e6; mbit > 17.5 {
		t.Errorf("%.1f Mbit/s through a 16 Mbit/s bottleneck", mbit)
	}
	if err := l.SetBottleneck(ToServer, Bottleneck{}); err != nil {
		t.Fatalf("remove bottleneck: %v", err)
	}
	out := l.Run(l.Router, "tc", "qdisc", "show", "dev", RouterServerIf)
	if strings.Contains(out, "tbf") {
		t.Errorf("tbf still installed after removal: %s", out)
	}
}

func TestReorder(t *testing.T) {
	t.Parallel()
	l := New(t, Options{NoOffload: true})
	// A link slower than the sender keeps a queue in the normal class for
	// marked packets to overtake.
	if err := l.SetReorder(ToServer, Reorder{Permille: 20, Rate: "200mbit", SlowRate: "100mbit"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rx.pcap")
	stop, err := l.Capture(l.Server, ServerIf, file, CaptureOptions{Filter: "tcp"})
	if err != nil {
		if errors.Is(err, errNotFound) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	before, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	transfer(t, l, netip.AddrPortFrom(l.ServerAddr, 5005), 3<<20)
	after, err := l.Nstat(l.Client)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	cnt, err := l.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if got := cnt["reorder-to-server"].Packets; got == 0 {
		t.Error("no packet sent to the second class")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	late := lateSegments(t, data, l.ClientAddr)
	retrans := Delta(before, after)["TcpRetransSegs"]
	// Every retransmission arrives "late" too; reordering must add more.
	if uint64(late) <= retrans {
		t.Errorf("receiver saw %d segments below the highest sequence, sender retransmitted %d: no reordering", late, retrans)
	}
	t.Logf("%d marked, %d late segments at the receiver, %d retransmitted", cnt["reorder-to-server"].Packets, late, retrans)
}

// lateSegments counts the data segments from src in a classic Ethernet pcap
// that end at or below the highest sequence number already seen.
func lateSegments(t *testing.T, data []byte, src netip.Addr) int {
	t.Helper()
	var base, highest uint32
	started := false
	late := 0
	for off := 24; off+16 <= len(data); {
		capLen := int(binary.LittleEndian.Uint32(data[off+8:]))
		origLen := int(binary.LittleEndian.Uint32(data[off+12:]))
		pkt := data[off+16 : min(off+16+capLen, len(data))]
		off += 16 + capLen
		if len(pkt) < 14+20+20 || binary.BigEndian.Uint16(pkt[12:]) != 0x0800 {
			continue
		}
		ip := pkt[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != 6 || netip.AddrFrom4([4]byte(ip[12:16])) != src || len(ip) < ihl+20 {
			continue
		}
		tcp := ip[ihl:]
		payload := origLen - 14 - ihl - int(tcp[12]>>4)*4
		if payload <= 0 {
			continue
		}
		seq := binary.BigEndian.Uint32(tcp[4:])
		if !started {
			base, started = seq, true
		}
		end := seq - base + uint32(payload) // relative: no wrap within a few MB
		if end <= highest {
			late++
		} else {
			highest = end
		}
	}
	return late
}

func TestCapture(t *testing.T) {
	t.Parallel()
	l := New(t, Options{})
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		opts  CaptureOptions
		magic uint32
	}{
		{"pcap", CaptureOptions{Filter: "tcp"}, 0xa1b2c3d4},
		{"pcap-nano", CaptureOptions{Filter: "tcp", Nano: true}, 0xa1b23c4d},
		{"pcapng", CaptureOptions{Filter: "tcp", PcapNG: true}, 0x0a0d0d0a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name)
			stop, err := l.Capture(l.Server, ServerIf, file, tc.opts)
			if err != nil {
				if errors.Is(err, errNotFound) {
					t.Skip(err)
				}
				t.Fatal(err)
			}
			ap := netip.AddrPortFrom(l.ServerAddr, 5006)
			if tc.name != "pcap" {
				ap = netip.AddrPortFrom(l.ServerAddr, ap.Port()+uint16(len(tc.name)))
			}
			transfer(t, l, ap, 64<<10)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) < 24 {
				t.Fatalf("capture is %d bytes", len(data))
			}
			if got := binary.LittleEndian.Uint32(data); got != tc.magic {
				t.Errorf("magic %#x, want %#x", got, tc.magic)
			}
			// Count packets; a 64 KiB transfer is at least the handshake,
			// a few data segments and the teardown.
			n := 0
			if tc.opts.PcapNG {
				for off := 0; off+12 <= len(data); {
					typ, size := binary.LittleEndian.Uint32(data[off:]), int(binary.LittleEndian.Uint32(data[off+4:]))
					if size < 12 {
						t.Fatalf("block at %d has length %d", off, size)
					}
					if typ == 6 { // Enhanced Packet Block
						n++
					}
					off += size
				}
			} else {
				for off := 24; off+16 <= len(data); n++ {
					off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
				}
			}
			if n < 8 {
				t.Errorf("capture holds %d packets, want >= 8", n)
			}
		})
	}
}
