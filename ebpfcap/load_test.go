//go:build linux

package ebpfcap

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads eBPF programs and attaches them to lo")
	}
}

// transfer sends n bytes over a new loopback connection and returns the
// client's local port and the server's port.
func transfer(t *testing.T, n int) (clientPort, serverPort uint16) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(io.Discard, c)
		c.Close()
		done <- err
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for sent := 0; sent < n; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return uint16(c.LocalAddr().(*net.TCPAddr).Port), uint16(ln.Addr().(*net.TCPAddr).Port)
}

func drain(t *testing.T, m *Capture) (pkts []Packet, recs []kblock.Record) {
	t.Helper()
	for _, ring := range []struct {
		name string
		r    func(raw []byte)
		rb   *ringbuf.Reader
	}{
		{"packets", func(raw []byte) {
			var p Packet
			if err := ParsePacket(raw, &p); err != nil {
				t.Fatal(err)
			}
			p.Data = append([]byte(nil), p.Data...)
			pkts = append(pkts, p)
		}, nil},
		{"kernel", func(raw []byte) {
			var r kblock.Record
			if _, err := ParseKernel(raw, &r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}, nil},
	} {
		mp := m.Packets
		if ring.name == "kernel" {
			mp = m.Kernel
		}
		rd, err := ringbuf.NewReader(mp)
		if err != nil {
			t.Fatal(err)
		}
		rd.SetDeadline(time.Now())
		var rec ringbuf.Record
		for {
			err := rd.ReadInto(&rec)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ring.r(rec.RawSample)
		}
		rd.Close()
	}
	return pkts, recs
}

func loopback(t *testing.T) int {
	ifc, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	return ifc.Index
}

func TestLoadOnLoopback(t *testing.T) {
	needRoot(t)
	ns, err := NetnsInode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(Options{Ifindex: loopback(t), L2Len: 14, Snaplen: 96, Egress: true, NetnsInode: ns,
		SampleInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Logf("mode %s, tracepoints %v, unavailable %v", m.Mode, m.Tracepoints, m.Unavailable)
	if m.Mode != ModeTCX {
		t.Errorf("mode %q on a kernel with tcx", m.Mode)
	}

	cport, sport := transfer(t, 4<<20)
	time.Sleep(50 * time.Millisecond)
	pkts, recs := drain(t, m)

	var ours, withCookie int
	for _, p := range pkts {
		if len(p.Data) < 14+20+4 || p.Data[12] != 0x08 || p.Data[13] != 0x00 {
			continue
		}
		ihl := int(p.Data[14]&0x0f) * 4
		tcp := p.Data[14+ihl:]
		sp, dp := uint16(tcp[0])<<8|uint16(tcp[1]), uint16(tcp[2])<<8|uint16(tcp[3])
		if (sp == cport && dp == sport) || (sp == sport && dp == cport) {
			ours++
			if p.Cookie != 0 {
				withCookie++
			}
			if p.Dir != DirOutbound || len(p.Data) > 96 || p.Len < uint32(len(p.Data)) {
				t.Errorf("packet dir %d caplen %d len %d", p.Dir, len(p.Data), p.Len)
			}
		}
	}
	// Handshake (3) + data + FINs: at least a handful of packets.
	if ours < 6 {
		t.Errorf("saw %d packets of the connection, want >= 6", ours)
	}
	if withCookie == 0 {
		t.Error("no packet carried a socket cookie")
	}

	kinds := map[kblock.Kind]int{}
	var probesWithState int
	for _, r := range recs {
		if r.Sport != cport && r.Sport != sport {
			continue
		}
		kinds[r.Kind]++
		if r.Kind == kblock.KindProbe && r.SndCwnd > 0 && r.SRTTus > 0 && r.MSS > 0 {
			probesWithState++
		}
	}
	if probesWithState == 0 {
		t.Errorf("no tcp_probe record with cwnd, srtt and mss; kinds %v", kinds)
	}
	// The send-limit fields: every group on this kernel, and closing state
	// records with the chronographs (a loopback transfer of a few MB takes
	// less than a jiffy, so their values are checked by the lab tests).
	var limited, closingBusy int
	for _, r := range recs {
		if r.Sport != cport && r.Sport != sport {
			continue
		}
		if r.Kind == kblock.KindProbe && r.Has == kblock.HasAll && r.MinRTTus > 0 && r.Sndbuf > 0 {
			limited++
		}
		if r.Kind == kblock.KindState && r.Has&kblock.HasChrono != 0 {
			closingBusy++
		}
	}
	if limited == 0 {
		t.Error("no probe record with every send-limit group, min_rtt and sndbuf")
	}
	if closingBusy == 0 {
		t.Error("no closing state record with the chronographs")
	}
	if kinds[kblock.KindState] < 4 {
		t.Errorf("%d state records, want >= 4 (SYN_SENT, ESTABLISHED, FIN_WAIT1, CLOSE...)", kinds[kblock.KindState])
	}
	// The sample policy: far fewer probe records than packets.
	if kinds[kblock.KindProbe] >= ours {
		t.Errorf("%d probe records for %d packets: sample policy not applied", kinds[kblock.KindProbe], ours)
	}
	c, err := m.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.PacketsLost != 0 || c.KernelLost != 0 {
		t.Errorf("ring buffer losses: %+v", c)
	}
	t.Logf("packets %d (cookie %d), kernel records %v, counters %+v", ours, withCookie, kinds, c)
}

// A connection to a closed port: the kernel answers the SYN with a reset
// that has no socket (tcp_send_reset, tuple from the skb) and the client's
// socket receives it (tcp_receive_reset).
func TestResetRecords(t *testing.T) {
	needRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // the port is now closed
	m, err := Load(Options{Ifindex: loopback(t), L2Len: 14, Egress: true, Ports: []uint16{port}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := net.Dial("tcp4", ln.Addr().String()); err == nil {
		t.Fatal("connected to a closed port")
	}
	time.Sleep(20 * time.Millisecond)
	_, recs := drain(t, m)
	var sent, received int
	for _, r := range recs {
		if r.Kind != kblock.KindReset {
			continue
		}
		switch {
		case r.ResetDir == 1 && r.Sport == port && r.Cookie == 0:
			sent++ // the local end of a socketless reset is the closed port
		case r.ResetDir == 2 && r.Dport == port && r.Cookie != 0:
			received++
		default:
			t.Errorf("unexpected reset record %+v", r)
		}
	}
	if sent != 1 || received != 1 {
		t.Errorf("%d sent and %d received reset records, want 1 and 1 (records %+v)", sent, received, recs)
	}
}
