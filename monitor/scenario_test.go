package monitor

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/pcapng"
)

// The test capture: a lossy flow whose every data segment is sent twice
// (an RTO-style retransmission 150 ms later, no duplicate ACKs) and a clean
// flow, both to the same server.
var (
	server = netip.MustParseAddrPort("10.0.0.2:5201")
	lossy  = netip.MustParseAddrPort("10.0.0.1:40001")
	clean  = netip.MustParseAddrPort("10.0.0.1:40002")
	t0     = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC).UnixNano()
)

const snaplen = 96

// pkt is one frame of the scenario.
type pkt struct {
	ts      int64
	data    []byte
	origLen uint32
	retrans bool // a retransmission of the lossy flow
}

func tcpFrame(t testing.TB, src, dst netip.AddrPort, seq, ack uint32, syn, fin bool, payload int) ([]byte, uint32) {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, SYN: syn, FIN: fin, ACK: !syn || ack != 0, Window: 65535}
	if syn {
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(make([]byte, payload)))
	if err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := uint32(len(b))
	if len(b) > snaplen {
		b = b[:snaplen]
	}
	return bytes.Clone(b), n
}

// conn builds the packets of one connection.
type conn struct {
	t          testing.TB
	c          netip.AddrPort
	cseq, sseq uint32
	out        *[]pkt
}

func (c *conn) add(ts int64, fromClient bool, seq, ack uint32, syn bool, n int, retrans bool) {
	src, dst := c.c, server
	if !fromClient {
		src, dst = server, c.c
	}
	d, l := tcpFrame(c.t, src, dst, seq, ack, syn, false, n)
	*c.out = append(*c.out, pkt{ts: ts, data: d, origLen: l, retrans: retrans})
}

// handshake at ts: SYN, SYN/ACK 10 ms later, ACK 10 ms after that.
func (c *conn) handshake(ts int64) {
	c.add(ts, true, c.cseq, 0, true, 0, false)
	c.add(ts+10e6, false, c.sseq, c.cseq+1, true, 0, false)
	c.cseq++
	c.sseq++
	c.add(ts+20e6, true, c.cseq, c.sseq, false, 0, false)
}

// round sends one 1000-byte segment at ts, and for a lossy round the same
// segment again 150 ms later; the server acknowledges it 30 ms after that.
func (c *conn) round(ts int64, lossy bool) {
	c.add(ts, true, c.cseq, c.sseq, false, 1000, false)
	ackAt := ts + 20e6
	if lossy {
		c.add(ts+150e6, true, c.cseq, c.sseq, false, 1000, true)
		ackAt = ts + 180e6
	}
	c.cseq += 1000
	c.add(ackAt, false, c.sseq, c.cseq, false, 0, false)
}

// scenario returns the packets in time order and the index where each
// phase ends: lossy rounds every second (rounds of both flows), then a
// quiet phase of clean traffic only, long enough for the window to empty.
func scenario(t testing.TB, rounds, quietSeconds int) []pkt {
	const spacing = 1e9 // wider than the window's merge width: exact counts
	var a, b []pkt
	la := &conn{t: t, c: lossy, cseq: 1000, sseq: 50000, out: &a}
	lb := &conn{t: t, c: clean, cseq: 7000, sseq: 90000, out: &b}
	la.handshake(t0)
	lb.handshake(t0 + 5e6)
	for i := 0; i < rounds; i++ {
		ts := t0 + 1e9 + int64(i)*spacing
		la.round(ts, true)
		lb.round(ts+250e6, false)
	}
	end := t0 + 1e9 + int64(rounds)*spacing
	for s := 0; s < quietSeconds; s++ {
		lb.round(end+int64(s)*1e9, false)
	}
	return mergeByTime(a, b)
}

func mergeByTime(a, b []pkt) []pkt {
	out := make([]pkt, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || (len(a) > 0 && a[0].ts <= b[0].ts) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// ring writes a capture like a rotating capture does: numbered files in
// a directory, each its own pcapng section, appended in chunks that split
// blocks, with an optional symlink to the file being written.
type ring struct {
	t    testing.TB
	dir  string
	base string
	link string // if set, re-pointed at every new file

	seq   int
	path  string
	f     *os.File
	w     *pcapng.Writer
	buf   bytes.Buffer
	frame uint64
	// pause, when set, is called between the two halves of each chunk so
	// that the reader sees a block cut in two.
	pause func(file string, size int64)
	size  int64 // bytes in the current file
	// where each retransmission went: file and frame.
	retrans []loc
	files   []string
	frames  map[string]uint64 // frames written per file
}

type loc struct {
	file  string
	frame uint64
	ts    int64
}

func newRing(t testing.TB, dir, base string) *ring {
	return &ring{t: t, dir: dir, base: base, frames: make(map[string]uint64)}
}

func (r *ring) name(seq int) string {
	return filepath.Join(r.dir, fmt.Sprintf("%s_%05d_20261123093000.pcapng", r.base, seq))
}

// rotate closes the current file and starts the next one.
func (r *ring) rotate() {
	r.t.Helper()
	r.flush()
	if r.f != nil {
		r.f.Close()
	}
	r.seq++
	r.path = r.name(r.seq)
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		r.t.Fatal(err)
	}
	r.f, r.size = f, 0
	r.files = append(r.files, r.path)
	r.buf.Reset()
	w, err := pcapng.NewWriter(&r.buf, pcapng.WriterOptions{Application: "tcpviz monitor test"})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: snaplen, Name: "eth0"}); err != nil {
		r.t.Fatal(err)
	}
	r.w, r.frame = w, 0
	if r.link != "" {
		tmp := r.link + ".tmp"
		os.Remove(tmp)
		if err := os.Symlink(filepath.Base(r.path), tmp); err != nil {
			r.t.Fatal(err)
		}
		if err := os.Rename(tmp, r.link); err != nil {
			r.t.Fatal(err)
		}
	}
	r.flush()
}

func (r *ring) write(p pkt) {
	r.t.Helper()
	if err := r.w.WritePacket(0, p.ts, p.data, p.origLen, pcapng.PacketOptions{}); err != nil {
		r.t.Fatal(err)
	}
	r.frame++
	r.frames[r.path]++
	if p.retrans {
		r.retrans = append(r.retrans, loc{r.path, r.frame, p.ts})
	}
}

// flush appends what was written so far to the file, in two halves.
func (r *ring) flush() {
	r.t.Helper()
	if r.w == nil {
		return
	}
	if err := r.w.Flush(); err != nil {
		r.t.Fatal(err)
	}
	b := r.buf.Bytes()
	if len(b) == 0 {
		return
	}
	half := len(b)/2 + 1
	if _, err := r.f.Write(b[:half]); err != nil {
		r.t.Fatal(err)
	}
	r.size += int64(half)
	if r.pause != nil {
		r.pause(r.path, r.size)
	}
	if _, err := r.f.Write(b[half:]); err != nil {
		r.t.Fatal(err)
	}
	r.size += int64(len(b) - half)
	r.buf.Reset()
}

func (r *ring) close() {
	r.flush()
	if r.f != nil {
		r.f.Close()
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
