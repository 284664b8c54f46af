package pairing

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
)

// synth describes one lab-like transfer seen at both ends: the client sends
// n data segments, the server acknowledges each one it receives; chosen
// segments are lost on the way and retransmitted.
type synth struct {
	n        int   // client data segments
	lost     []int // data segments whose first transmission is lost
	lostRetx []int // of those, the ones whose retransmission is lost too
	ackLost  []int // data segments whose ACK from the server is lost
	dupAcks  int   // duplicate ACKs the server sends at the end ...
	dupLost  int   // ... of which this many are lost (the first ones)
	delay    int64 // one-way delay on the path, both ways (ns)
	offset   int64 // the server capture's clock minus the client capture's
	nat      bool  // the server capture sees the client as 192.0.2.7:61000
	noHS     bool  // the captures start after the handshake
	zeroIPID bool  // every IP ID is 0 (no help telling transmissions apart)
	conns    int   // connections on the same tuple, one after the other (default 1)
}

// truth is what the generator knows: per direction, data and pure-ACK
// segments sent and lost.
type truth struct {
	dataSent, dataLost, acksSent, acksLost [2]int
}

type gpkt struct {
	from int // 0 client, 1 server
	send int64
	seg  capgen.Segment
	lost bool
}

var (
	cliAddr = [4]byte{10, 200, 1, 2}
	srvAddr = [4]byte{10, 200, 2, 2}
	natAddr = [4]byte{192, 0, 2, 7}
)

// write generates the two captures into dir and returns their paths
// (client side, server side) and the truth.
func (s synth) write(t testing.TB, dir string) (string, string, truth) {
	t.Helper()
	var pk []gpkt
	var tr truth
	conns := max(s.conns, 1)
	for k := range conns {
		pk = s.conn(pk, k, capgen.Start+int64(k)*2e9)
	}
	for _, p := range pk {
		d := p.from // c2s from the client
		data := p.seg.Len > 0 || p.seg.Flags&(capgen.SYN|capgen.FIN) != 0
		if data {
			tr.dataSent[d]++
			if p.lost {
				tr.dataLost[d]++
			}
		} else {
			tr.acksSent[d]++
			if p.lost {
				tr.acksLost[d]++
			}
		}
	}
	var atC, atS []capgen.Segment
	for _, p := range pk {
		sc, ss := p.seg, p.seg
		if p.from == 0 {
			sc.TS = p.send
			ss.TS = p.send + s.delay + s.offset
		} else {
			ss.TS = p.send + s.offset
			sc.TS = p.send + s.delay
		}
		if s.nat {
			if p.from == 0 {
				ss.Src, ss.SrcPort = natAddr, 61000
			} else {
				ss.Dst, ss.DstPort = natAddr, 61000
			}
		}
		if s.noHS && p.seg.Flags&capgen.SYN != 0 {
			continue
		}
		if p.from == 0 || !p.lost {
			atC = append(atC, sc)
		}
		if p.from == 1 || !p.lost {
			atS = append(atS, ss)
		}
	}
	byTS := func(a, b capgen.Segment) int { return int(a.TS - b.TS) }
	slices.SortStableFunc(atC, byTS)
	slices.SortStableFunc(atS, byTS)
	return writeFile(t, filepath.Join(dir, "client.pcap"), atC), writeFile(t, filepath.Join(dir, "server.pcap"), atS), tr
}

// conn appends connection k's packets, starting at t0 (client clock).
func (s synth) conn(pk []gpkt, k int, t0 int64) []gpkt {
	isnC, isnS := uint32(0xfffff000+k*7), uint32(0x12345678+k*11) // the client's wraps
	var ipid [2]uint16
	ipid[0], ipid[1] = 1000, 5000
	add := func(from int, at int64, seq, ack uint32, flags uint8, n int, lost bool) {
		seg := capgen.Segment{Src: cliAddr, Dst: srvAddr, SrcPort: 40000, DstPort: 5001, Seq: seq, Ack: ack,
			Flags: flags, Window: 500, Len: n, SetIPID: true, SYNOptions: flags&capgen.SYN != 0}
		if from == 1 {
			seg.Src, seg.Dst, seg.SrcPort, seg.DstPort = srvAddr, cliAddr, 5001, 40000
		}
		if !s.zeroIPID {
			seg.IPID = ipid[from]
			ipid[from]++
		}
		pk = append(pk, gpkt{from: from, send: at, seg: seg, lost: lost})
	}
	d := s.delay
	add(0, t0, isnC, 0, capgen.SYN, 0, false)
	add(1, t0+d+20e3, isnS, isnC+1, capgen.SYN|capgen.ACK, 0, false)
	t := t0 + 2*d + 30e3
	add(0, t, isnC+1, isnS+1, capgen.ACK, 0, false)
	const mss = 1000
	seq := func(i int) uint32 { return isnC + 1 + uint32(i*mss) }
	for i := range s.n {
		at := t + int64(i+1)*50e3
		lost := slices.Contains(s.lost, i)
		add(0, at, seq(i), isnS+1, capgen.ACK|capgen.PSH, mss, lost)
		if !lost {
			add(1, at+d+5e3, isnS+1, seq(i+1), capgen.ACK, 0, slices.Contains(s.ackLost, i))
		}
	}
	t += int64(s.n+1)*50e3 + 10e6
	for _, i := range s.lost {
		t += 100e3
		again := slices.Contains(s.lostRetx, i)
		add(0, t, seq(i), isnS+1, capgen.ACK|capgen.PSH, mss, again)
		if again {
			t += 200e3
			add(0, t, seq(i), isnS+1, capgen.ACK|capgen.PSH, mss, false)
		}
		add(1, t+d+5e3, isnS+1, seq(i+1), capgen.ACK, 0, false)
	}
	for j := range s.dupAcks {
		t += 20e3
		add(1, t, isnS+1, seq(s.n), capgen.ACK, 0, j < s.dupLost)
	}
	t += 1e6
	add(0, t, seq(s.n), isnS+1, capgen.FIN|capgen.ACK, 0, false)
	add(1, t+d+10e3, isnS+1, seq(s.n)+1, capgen.FIN|capgen.ACK, 0, false)
	add(0, t+2*d+20e3, seq(s.n)+1, isnS+2, capgen.ACK, 0, false)
	return pk
}

func writeFile(t testing.TB, path string, segs []capgen.Segment) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := capgen.NewWriter(f)
	for i := range segs {
		if err := g.Write(&segs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

func read(t *testing.T, path string) *Capture {
	t.Helper()
	c, err := Read(context.Background(), path, pipeline.Config{Flows: conntrack.DefaultConfig()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPair(t *testing.T) {
	const ms = int64(1e6)
	cases := []struct {
		name     string
		s        synth
		reversed bool   // the server-side capture is given first
		match    string // expected match kind
		position string
		// exact: every matched segment's delay is the path's (IP IDs tell
		// retransmissions apart); otherwise only the counts are checked.
		exact bool
	}{
		{name: "clean", s: synth{n: 50, delay: 5 * ms}, match: MatchTupleISN, position: PositionHandshake, exact: true},
		{name: "data loss and retransmissions", s: synth{n: 200, lost: []int{3, 50, 51, 199}, lostRetx: []int{51}, delay: 2 * ms},
			match: MatchTupleISN, position: PositionHandshake, exact: true},
		{name: "ack loss and dup acks", s: synth{n: 100, ackLost: []int{0, 10, 99}, dupAcks: 5, dupLost: 2, delay: ms},
			match: MatchTupleISN, position: PositionHandshake, exact: true},
		{name: "receiver clock behind", s: synth{n: 30, lost: []int{7}, delay: 3 * ms, offset: -100 * ms},
			match: MatchTupleISN, position: PositionHandshake, exact: true},
		{name: "captures given server side first", s: synth{n: 30, lost: []int{1}, ackLost: []int{4}, delay: 4 * ms},
			reversed: true, match: MatchTupleISN, position: PositionHandshake, exact: true},
		{name: "nat rewrote the client", s: synth{n: 40, lost: []int{2}, nat: true, delay: ms},
			match: MatchISN, position: PositionHandshake, exact: true},
		{name: "no handshake captured", s: synth{n: 40, lost: []int{5, 6}, noHS: true, delay: ms},
			match: MatchTuple, position: PositionOrder, exact: true},
		{name: "ip id all zero", s: synth{n: 60, lost: []int{10, 20}, lostRetx: []int{20}, zeroIPID: true, delay: ms},
			match: MatchTupleISN, position: PositionHandshake},
		{name: "tuple reused", s: synth{n: 20, lost: []int{4}, conns: 3, delay: ms},
			match: MatchTupleISN, position: PositionHandshake, exact: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp, sp, tr := tc.s.write(t, t.TempDir())
			if tc.s.noHS {
				// Without SYNs nothing is sent in sequence space but the
				// data and the FIN.
				tr.dataSent[0]--
				tr.dataSent[1]--
			}
			a, b := read(t, cp), read(t, sp)
			if tc.reversed {
				a, b = b, a
			}
			r := Pair(a, b)
			conns := max(tc.s.conns, 1)
			if len(r.Conns) != conns || len(r.OnlyA)+len(r.OnlyB) != 0 {
				t.Fatalf("%d paired, only A %v, only B %v; want %d paired", len(r.Conns), r.OnlyA, r.OnlyB, conns)
			}
			var got truth
			for i := range r.Conns {
				c := &r.Conns[i]
				if c.Match != tc.match || c.Position != tc.position {
					t.Errorf("%v: match %s position %s, want %s %s", c, c.Match, c.Position, tc.match, tc.position)
				}
				wantNear := "a"
				if tc.reversed && tc.position == PositionHandshake {
					wantNear = "b"
				}
				if c.NearClient != wantNear {
					t.Errorf("%v: near client %s, want %s", c, c.NearClient, wantNear)
				}
				if (c.ClientB != "") != tc.s.nat {
					t.Errorf("%v: B's tuple %q → %q, nat %v", c, c.ClientB, c.ServerB, tc.s.nat)
				}
				if c.FlowA != uint64(i+1) || c.FlowB != uint64(i+1) {
					t.Errorf("connection %d paired flows %d and %d", i, c.FlowA, c.FlowB)
				}
				for d := range 2 {
					s := &c.Dirs[d]
					got.dataSent[d] += s.DataSent
					got.dataLost[d] += s.DataLost
					got.acksSent[d] += s.ACKsSent
					got.acksLost[d] += s.ACKsLost
					if s.OnlyDown != 0 {
						t.Errorf("%v %s: %d segments only downstream", c, s.Dir, s.OnlyDown)
					}
					if len(s.LostFrames) != s.DataLost {
						t.Errorf("%v %s: %d lost frames listed for %d lost", c, s.Dir, len(s.LostFrames), s.DataLost)
					}
					want := float64((tc.s.delay+tc.s.offset*(1-2*int64(d)))/1000) / 1000
					if s.Delay.MinMS != want {
						t.Errorf("%v %s: minimum one-way delay %v ms, want %v", c, s.Dir, s.Delay.MinMS, want)
					}
					if tc.exact && (s.Delay.MaxMS != want || s.Delay.P50MS != want) {
						t.Errorf("%v %s: one-way delay median %v max %v ms, want all %v", c, s.Dir, s.Delay.P50MS, s.Delay.MaxMS, want)
					}
					if s.Delay.Samples != s.DataSent+s.ACKsSent-s.DataLost-s.ACKsLost {
						t.Errorf("%v %s: %d delay samples for %d segments that crossed", c, s.Dir, s.Delay.Samples, s.DataSent+s.ACKsSent-s.DataLost-s.ACKsLost)
					}
					lost := 0
					for _, p := range s.Segs {
						if p.Lost() {
							lost++
						} else if tc.exact && p.Delay != tc.s.delay+tc.s.offset*(1-2*int64(d)) {
							t.Errorf("%v %s: frame %d→%d delay %d", c, s.Dir, p.Up, p.Down, p.Delay)
						}
					}
					if lost != s.DataLost+s.ACKsLost {
						t.Errorf("%v %s: %d segments marked lost, %d counted", c, s.Dir, lost, s.DataLost+s.ACKsLost)
					}
				}
			}
			if got != tr {
				t.Errorf("sent/lost per direction\n got %+v\nwant %+v", got, tr)
			}
			if tot := r.Totals(); tot[0].DataLost != tr.dataLost[0] || tot[1].ACKsLost != tr.acksLost[1] {
				t.Errorf("totals %+v, want c2s data lost %d, s2c ACKs lost %d", tot, tr.dataLost[0], tr.acksLost[1])
			}
		})
	}
}

// TestPairUnmatched: connections one capture lacks are listed, not paired.
func TestPairUnmatched(t *testing.T) {
	dir := t.TempDir()
	cp, sp, _ := synth{n: 10, delay: 1e6}.write(t, filepath.Join(mkdir(t, dir, "one")))
	other := synth{n: 10, delay: 1e6}
	cp2, _, _ := other.write(t, mkdir(t, dir, "two"))
	a := read(t, cp)
	// A second connection, only in A: the same shape on another port.
	extra := read(t, cp2)
	for _, c := range extra.Conns {
		c.Flow = 2
		c.Client = netipPort(c.Client, 40001)
	}
	a.Conns = append(a.Conns, extra.Conns...)
	r := Pair(a, read(t, sp))
	if len(r.Conns) != 1 || !slices.Equal(r.OnlyA, []uint64{2}) || len(r.OnlyB) != 0 {
		t.Fatalf("paired %d, only A %v, only B %v; want 1, [2], []", len(r.Conns), r.OnlyA, r.OnlyB)
	}
}

// TestOutputs: the text, JSON and CSV outputs carry the same figures.
func TestOutputs(t *testing.T) {
	cp, sp, tr := synth{n: 80, lost: []int{5, 6, 7}, ackLost: []int{9}, delay: 2e6}.write(t, t.TempDir())
	r := Pair(read(t, cp), read(t, sp))
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Note  string `json:"note"`
		Conns []struct {
			Dirs []struct {
				DataLost int `json:"data_lost"`
				ACKsLost int `json:"acks_lost"`
				Delay    struct {
					P50 float64 `json:"p50_ms"`
				} `json:"one_way_delay"`
			} `json:"directions"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Conns) != 1 || doc.Conns[0].Dirs[0].DataLost != tr.dataLost[0] || doc.Conns[0].Dirs[1].ACKsLost != tr.acksLost[1] ||
		doc.Conns[0].Dirs[0].Delay.P50 != 2 || !strings.Contains(doc.Note, "offset") {
		t.Errorf("JSON %s", js.String())
	}
	var txt bytes.Buffer
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if tr.dataSent[0] != 85 {
		t.Fatalf("generator: c2s data segments %d, want 85 (SYN, 80, 3 retransmissions, FIN)", tr.dataSent[0])
	}
	for _, want := range []string{DelayNote, "c2s (A → B): data 85 sent, 3 lost (3.53%)",
		fmt.Sprintf("s2c (B → A): data %d sent, 0 lost (0.00%%); ACKs %d sent, 1 lost", tr.dataSent[1], tr.acksSent[1]),
		"median 2.000"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	var cs bytes.Buffer
	if err := WriteCSV(&cs, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1][4] != "c2s" || rows[1][7] != "3" || rows[2][9] != "1" {
		t.Errorf("CSV rows %q", rows)
	}
}

func netipPort(ap netip.AddrPort, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr(), port)
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
