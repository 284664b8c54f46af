// Package capgen writes synthetic Ethernet/IPv4/TCP captures (classic pcap,
// microsecond timestamps) of the connection-heavy shapes the benchmarks
// need: a port scan of SYNs nobody answers, and many short complete
// connections. The frames are built by hand so that millions of them take
// seconds; payload is cut at the snapshot length as tcpdump -s 96 would.
package capgen

import (
	"bufio"
	"encoding/binary"
	"io"
)

// SnapLen is the snapshot length of the files written.
const SnapLen = 96

// Writer writes a classic pcap file.
type Writer struct {
	w   *bufio.Writer
	buf [16 + SnapLen]byte
	err error
	N   int // packets written
}

// NewWriter writes the file header.
func NewWriter(w io.Writer) *Writer {
	g := &Writer{w: bufio.NewWriterSize(w, 1<<20)}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], SnapLen)
	binary.LittleEndian.PutUint32(h[20:], 1) // Ethernet
	_, g.err = g.w.Write(h[:])
	return g
}

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Segment is one TCP segment between two IPv4 endpoints.
type Segment struct {
	TS               int64 // ns since the Unix epoch
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	Len              int  // payload bytes (on the wire; the capture keeps what fits)
	SYNOptions       bool // MSS 1460, SACK permitted, window scale 7
	// IPID is the IPv4 identification when SetIPID; otherwise the frame's
	// index in the file is written.
	IPID    uint16
	SetIPID bool
}

// Write appends one frame.
func (g *Writer) Write(s *Segment) error {
	if g.err != nil {
		return g.err
	}
	b := g.buf[16:]
	// Ethernet
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 1})
	b[12], b[13] = 0x08, 0x00
	tcpLen := 20
	if s.SYNOptions {
		tcpLen = 32
	}
	ipLen := 20 + tcpLen + s.Len
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	id := uint16(g.N)
	if s.SetIPID {
		id = s.IPID
	}
	binary.BigEndian.PutUint16(ip[4:], id)
	ip[6], ip[7] = 0x40, 0 // DF
	ip[8], ip[9] = 64, 6
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], s.Src[:])
	copy(ip[16:20], s.Dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	t := b[34 : 34+tcpLen]
	binary.BigEndian.PutUint16(t[0:], s.SrcPort)
	binary.BigEndian.PutUint16(t[2:], s.DstPort)
	binary.BigEndian.PutUint32(t[4:], s.Seq)
	binary.BigEndian.PutUint32(t[8:], s.Ack)
	t[12] = byte(tcpLen/4) << 4
	t[13] = s.Flags
	binary.BigEndian.PutUint16(t[14:], s.Window)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0 // checksum not computed (payload is cut)
	if s.SYNOptions {
		copy(t[20:], []byte{2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1})
	}
	wire := 14 + ipLen
	capLen := min(wire, SnapLen)
	for i := 34 + tcpLen; i < capLen; i++ {
		b[i] = 'x'
	}
	h := g.buf[:16]
	binary.LittleEndian.PutUint32(h[0:], uint32(s.TS/1e9))
	binary.LittleEndian.PutUint32(h[4:], uint32(s.TS%1e9/1e3))
	binary.LittleEndian.PutUint32(h[8:], uint32(capLen))
	binary.LittleEndian.PutUint32(h[12:], uint32(wire))
	_, g.err = g.w.Write(g.buf[:16+capLen])
	g.N++
	return g.err
}

// Flush writes out what is buffered.
func (g *Writer) Flush() error {
	if g.err != nil {
		return g.err
	}
	return g.w.Flush()
}

// Start is the capture time of the first packet of every generated file.
const Start = int64(1_780_000_000_000_000_000)

// Scan writes n SYNs from one scanner to n different (host, port) pairs,
// one every gap nanoseconds, none answered: a port scan.
func Scan(w io.Writer, n int, gap int64) error {
	g := NewWriter(w)
	src := [4]byte{10, 1, 0, 1}
	for i := range n {
		host, port := i/1000, i%1000
		s := Segment{TS: Start + int64(i)*gap, Src: src, Dst: [4]byte{10, 2, byte(host >> 8), byte(host)},
			SrcPort: 40000 + uint16(i%20000), DstPort: uint16(1 + port), Seq: uint32(i) * 2654435761,
			Flags: SYN, Window: 1024, SYNOptions: true}
		if err := g.Write(&s); err != nil {
			return err
		}
	}
	return g.Flush()
}

// Short writes n short complete connections of eight packets each (SYN,
// SYN/ACK, ACK, a request, the response, FIN, FIN/ACK, ACK) from many
// clients to one server. A new connection starts every gap nanoseconds and
// lasts rtt×4, so about 4×rtt/gap connections are open at once.
func Short(w io.Writer, n int, gap, rtt int64) error {
	return conns(w, n, gap, shortSteps(rtt, false))
}

// Reset writes n short connections that the client ends with a RST after
// the response (SYN, SYN/ACK, ACK, a request, the response, RST), as
// clients that abort or load balancers that reset do. Timing as in Short.
func Reset(w io.Writer, n int, gap, rtt int64) error {
	return conns(w, n, gap, shortSteps(rtt, true))
}

// step is one packet of a generated connection.
type step struct {
	at        int64 // offset from the connection start
	fromCli   bool
	flags     uint8
	seqOff    uint32 // client or server relative seq
	ackOff    uint32
	len       int
	synOption bool
}

func shortSteps(rtt int64, reset bool) []step {
	const req, resp = 120, 900
	steps := []step{
		{0, true, SYN, 0, 0, 0, true},
		{rtt / 2, false, SYN | ACK, 0, 1, 0, true},
		{rtt, true, ACK, 1, 1, 0, false},
		{rtt + 1000, true, PSH | ACK, 1, 1, req, false},
		{2*rtt + 1000, false, PSH | ACK, 1, 1 + req, resp, false},
	}
	if reset {
		return append(steps, step{3 * rtt, true, RST | ACK, 1 + req, 1 + resp, 0, false})
	}
	return append(steps,
		step{3 * rtt, true, FIN | ACK, 1 + req, 1 + resp, 0, false},
		step{3*rtt + rtt/2, false, FIN | ACK, 1 + resp, 2 + req, 0, false},
		step{4 * rtt, true, ACK, 2 + req, 2 + resp, 0, false})
}

// conns writes n connections of the same shape, one every gap nanoseconds,
// from many clients to one server, in time order.
func conns(w io.Writer, n int, gap int64, steps []step) error {
	g := NewWriter(w)
	srv := [4]byte{10, 3, 0, 1}
	// Emit packets in time order: connections overlap, so merge them with a
	// sliding set of open connections (all of the same shape, so the packet
	// of connection i at step k is due at i*gap + steps[k].at).
	type open struct{ conn, next int }
	var live []open
	nextConn := 0
	for nextConn < n || len(live) > 0 {
		// Pick the earliest due packet among the open connections and the
		// next connection's SYN.
		best, bestAt := -1, int64(1<<62)
		for j, o := range live {
			if at := int64(o.conn)*gap + steps[o.next].at; at < bestAt {
				best, bestAt = j, at
			}
		}
		if nextConn < n && int64(nextConn)*gap < bestAt {
			live = append(live, open{nextConn, 0})
			best = len(live) - 1
			nextConn++
		}
		o := &live[best]
		i, st := o.conn, steps[o.next]
		cli := [4]byte{10, 4, byte(i >> 16 & 0x3f), byte(i >> 8)}
		cport := uint16(1024 + (i*7)%60000)
		cisn, sisn := uint32(i)*2654435761, uint32(i)*40503+12345
		s := Segment{TS: Start + int64(i)*gap + st.at, Flags: st.flags, Window: 502, Len: st.len, SYNOptions: st.synOption}
		if st.fromCli {
			s.Src, s.Dst, s.SrcPort, s.DstPort = cli, srv, cport, 80
			s.Seq, s.Ack = cisn+st.seqOff, sisn+st.ackOff
		} else {
			s.Src, s.Dst, s.SrcPort, s.DstPort = srv, cli, 80, cport
			s.Seq, s.Ack = sisn+st.seqOff, cisn+st.ackOff
		}
		if st.flags&ACK == 0 {
			s.Ack = 0
		}
		if err := g.Write(&s); err != nil {
			return err
		}
		o.next++
		if o.next == len(steps) {
			live[best] = live[len(live)-1]
			live = live[:len(live)-1]
		}
	}
	return g.Flush()
}
