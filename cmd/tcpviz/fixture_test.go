package main

import (
	"net/netip"
	"os"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/frames"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// fixtureConn is one connection of the synthetic capture, with what the
// flows table must report for it.
type fixtureConn struct {
	client, server netip.AddrPort
	start          time.Duration // after fixtureEpoch
	refused        bool          // SYN answered by RST
	c2s, s2c       int           // payload bytes each way (retransmissions excluded)
	retransS2C     bool          // the server resends its first data segment once after an RTO
	resetByClient  bool          // ends with the client's RST instead of FINs
	kernelSide     int           // 0: no kernel record, 1: the client's socket, 2: the server's
	pid            uint32
	comm           string

	// Expected table values.
	wantState  string
	wantLocal  netip.AddrPort
	wantRemote netip.AddrPort
	wantTX     int // payload the local side sent, retransmissions included
	wantRX     int
}

var fixtureEpoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// fixtureConns is the synthetic capture: an HTTP-like exchange owned by
// "curl" with one retransmission, a refused connection, an IPv6 connection
// reset by its client, and a server-side capture where the kernel record
// belongs to the server's socket ("nginx").
var fixtureConns = []fixtureConn{
	{client: ap("10.0.0.1:40000"), server: ap("10.0.0.2:80"), start: 0, c2s: 3000, s2c: 5000, retransS2C: true,
		kernelSide: 1, pid: 181, comm: "curl",
		wantState: "SF", wantLocal: ap("10.0.0.1:40000"), wantRemote: ap("10.0.0.2:80"), wantTX: 3000, wantRX: 6000},
	{client: ap("10.0.0.1:40001"), server: ap("10.0.0.2:443"), start: time.Second, refused: true,
		wantState: "REJ", wantLocal: ap("10.0.0.1:40001"), wantRemote: ap("10.0.0.2:443")},
	{client: ap("[2001:db8::1]:50000"), server: ap("[2001:db8::2]:22"), start: 2 * time.Second, c2s: 2048, s2c: 1024,
		resetByClient: true, wantState: "RSTO", wantLocal: ap("[2001:db8::1]:50000"), wantRemote: ap("[2001:db8::2]:22"), wantTX: 2048, wantRX: 1024},
	{client: ap("10.0.0.3:5555"), server: ap("10.0.0.2:8080"), start: 3 * time.Second, c2s: 1000, s2c: 7000,
		kernelSide: 2, pid: 99, comm: "nginx",
		wantState: "SF", wantLocal: ap("10.0.0.2:8080"), wantRemote: ap("10.0.0.3:5555"), wantTX: 7000, wantRX: 1000},
}

// fixtureWriter turns segments into Ethernet frames in a pcapng file.
type fixtureWriter struct {
	w   *pcapng.Writer
	id  uint32
	err error
}

func (f *fixtureWriter) segment(ts time.Time, src, dst netip.AddrPort, seq, ack uint32, flags string, payload int) {
	if f.err != nil {
		return
	}
	var data []byte
	if data, f.err = frames.TCP(src, dst, seq, ack, flags, 65535, payload); f.err != nil {
		return
	}
	f.err = f.w.WritePacket(f.id, ts.UnixNano(), data, uint32(len(data)), pcapng.PacketOptions{})
}

func (f *fixtureWriter) kernel(ts time.Time, local, remote netip.AddrPort, pid uint32, comm string) {
	if f.err != nil {
		return
	}
	rec := kblock.Record{Kind: kblock.KindProbe, TS: ts.UnixNano(), Saddr: local.Addr(), Sport: local.Port(),
		Daddr: remote.Addr(), Dport: remote.Port(), SndCwnd: 10, SRTTus: 1000, PID: pid, Comm: comm}
	f.err = f.w.WriteCustom(kblock.PEN, kblock.Append(nil, &rec), false)
}

// writeFixture writes the synthetic capture to path. Connections follow each
// other in time, so packets are in capture order.
func writeFixture(path string) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	defer file.Close()
	w, err := pcapng.NewWriter(file, pcapng.WriterOptions{Application: "tcpviz tests"})
	if err != nil {
		return err
	}
	id, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 65535, Name: "eth0"})
	if err != nil {
		return err
	}
	fw := &fixtureWriter{w: w, id: id}
	const mss = 1000
	for _, c := range fixtureConns {
		t := fixtureEpoch.Add(c.start)
		step := func() time.Time { t = t.Add(time.Millisecond); return t }
		cs, ss := uint32(1000), uint32(500000) // ISNs
		fw.segment(step(), c.client, c.server, cs, 0, "S", 0)
		if c.refused {
			fw.segment(step(), c.server, c.client, 0, cs+1, "RA", 0)
			continue
		}
		fw.segment(step(), c.server, c.client, ss, cs+1, "SA", 0)
		cs, ss = cs+1, ss+1
		fw.segment(step(), c.client, c.server, cs, ss, "A", 0)
		switch c.kernelSide {
		case 1:
			fw.kernel(step(), c.client, c.server, c.pid, c.comm)
		case 2:
			fw.kernel(step(), c.server, c.client, c.pid, c.comm)
		}
		for sent := 0; sent < c.c2s; sent += mss {
			n := min(mss, c.c2s-sent)
			fw.segment(step(), c.client, c.server, cs, ss, "PA", n)
			cs += uint32(n)
			fw.segment(step(), c.server, c.client, ss, cs, "A", 0)
		}
		for sent := 0; sent < c.s2c; sent += mss {
			n := min(mss, c.s2c-sent)
			fw.segment(step(), c.server, c.client, ss, cs, "PA", n)
			if sent == 0 && c.retransS2C {
				t = t.Add(300 * time.Millisecond) // no ACK: the RTO fires
				fw.segment(step(), c.server, c.client, ss, cs, "PA", n)
			}
			ss += uint32(n)
			fw.segment(step(), c.client, c.server, cs, ss, "A", 0)
		}
		if c.resetByClient {
			fw.segment(step(), c.client, c.server, cs, ss, "RA", 0)
			continue
		}
		fw.segment(step(), c.client, c.server, cs, ss, "FA", 0)
		fw.segment(step(), c.server, c.client, ss, cs+1, "FA", 0)
		fw.segment(step(), c.client, c.server, cs+1, ss+1, "A", 0)
	}
	if fw.err != nil {
		return fw.err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return file.Close()
}
