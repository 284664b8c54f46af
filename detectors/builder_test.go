package detectors

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// tconn builds the packets of one crafted connection and plays the flow
// table's part: it fills Flow, Dir, RelSeq, RelAck and WindowScaled.
type tconn struct {
	flow   uint64
	addr   [2]netip.AddrPort
	isn    [2]uint32
	wscale [2]int // -1 unknown
	synOK  [2]bool
	ts     int64
	pkts   []events.Packet
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()

func newConn(flow uint64, v6 bool, isnC, isnS uint32) *tconn {
	c := &tconn{flow: flow, isn: [2]uint32{isnC, isnS}, wscale: [2]int{-1, -1}, ts: epoch}
	if v6 {
		c.addr[0] = netip.MustParseAddrPort("[2001:db8::1]:40000")
		c.addr[1] = netip.MustParseAddrPort("[2001:db8::2]:443")
	} else {
		c.addr[0] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(flow >> 8), byte(flow)}), 40000)
		c.addr[1] = netip.MustParseAddrPort("10.9.9.9:80")
	}
	return c
}

// after advances the clock.
func (c *tconn) after(d time.Duration) *tconn { c.ts += int64(d); return c }

type opt func(*events.Options)

func wsOpt(s uint8) opt { return func(o *events.Options) { o.HasWScale, o.WScale = true, s } }
func tsOpt(val, ecr uint32) opt {
	return func(o *events.Options) { o.HasTS, o.TSVal, o.TSEcr = true, val, ecr }
}

// send adds a segment; rseq and rack are relative to the ISNs (the SYN is 0).
func (c *tconn) send(d events.Dir, flags uint16, rseq, rack, n uint32, win uint16, opts ...opt) *tconn {
	p := events.Packet{
		Frame: uint64(len(c.pkts) + 1), TS: c.ts,
		Src: c.addr[d].Addr(), Dst: c.addr[d^1].Addr(), SrcPort: c.addr[d].Port(), DstPort: c.addr[d^1].Port(),
		Seq: c.isn[d] + rseq, Flags: flags, Window: win, Len: n,
		Flow: c.flow, Dir: d, RelSeq: rseq, WindowScaled: -1,
	}
	if flags&events.FlagACK != 0 {
		p.Ack, p.RelAck = c.isn[d^1]+rack, rack
	}
	for _, o := range opts {
		o(&p.Options)
	}
	if flags&events.FlagSYN != 0 {
		c.synOK[d] = true
		if p.Options.HasWScale {
			c.wscale[d] = int(p.Options.WScale)
		}
	}
	if flags&events.FlagSYN == 0 && c.synOK[0] && c.synOK[1] && c.wscale[0] >= 0 && c.wscale[1] >= 0 {
		p.WindowScaled = int64(win) << c.wscale[d]
	}
	c.pkts = append(c.pkts, p)
	return c
}

const (
	S  = events.FlagSYN
	A  = events.FlagACK
	F  = events.FlagFIN
	R  = events.FlagRST
	P  = events.FlagPSH
	SA = S | A
	PA = P | A
	FA = F | A
	RA = R | A
)

// handshake adds SYN, SYN/ACK and ACK one millisecond apart.
func (c *tconn) handshake(opts ...opt) *tconn {
	c.send(0, S, 0, 0, 0, 64240, opts...).after(time.Millisecond)
	c.send(1, SA, 0, 1, 0, 65160, opts...).after(time.Millisecond)
	return c.send(0, A, 1, 1, 0, 502)
}

func (c *tconn) data(d events.Dir, rseq, n uint32) *tconn {
	return c.send(d, PA, rseq, 1, n, 502)
}

func (c *tconn) ack(d events.Dir, rack uint32) *tconn {
	return c.send(d, A, 1, rack, 0, 502)
}

// merge interleaves the packets of several connections by time and numbers
// the frames.
func merge(cs ...*tconn) []events.Packet {
	var all []events.Packet
	for _, c := range cs {
		all = append(all, c.pkts...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].TS < all[j].TS })
	for i := range all {
		all[i].Frame = uint64(i + 1)
	}
	return all
}

// runEngine feeds pkts through a fresh engine, calls Advance(advance) when
// advance is not 0, then Finish, and returns copies of the events.
func runEngine(cfg Config, pkts []events.Packet, advance int64) ([]events.Event, *Engine) {
	var out []events.Event
	e := New(cfg, func(ev *events.Event) { out = append(out, *ev) })
	for i := range pkts {
		e.Packet(&pkts[i])
	}
	if advance != 0 {
		e.Advance(advance)
	}
	e.Finish()
	return out, e
}

func oracleFrames(evs []events.Event) tsharkoracle.Frames {
	fr := make(tsharkoracle.Frames)
	for i := range evs {
		fr.Add(&evs[i])
	}
	return fr
}

// tsharkCase is one crafted sequence and the flags tcpviz gave it.
type tsharkCase struct {
	name string
	pkts []events.Packet
	ours tsharkoracle.Frames
}

// checkTshark writes all cases into one pcap (each on its own ports, frames
// and times shifted), runs tshark once and fails on every frame where
// tshark's flags differ from ours.
func checkTshark(t *testing.T, cases []tsharkCase) {
	t.Helper()
	if !tsharkoracle.Available() {
		t.Skip("tshark not installed (Debian package tshark): skipping the frame-by-frame check against tshark")
	}
	var all []events.Packet
	offset := make([]uint64, len(cases))
	for i, c := range cases {
		offset[i] = uint64(len(all))
		for _, p := range c.pkts {
			p.Frame += offset[i]
			p.TS += int64(i) * int64(time.Hour)
			if p.Dir == events.DirC2S {
				p.SrcPort = uint16(10000 + i)
			} else {
				p.DstPort = uint16(10000 + i)
			}
			all = append(all, p)
		}
	}
	path := filepath.Join(t.TempDir(), "cases.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tsharkoracle.WritePCAP(f, all); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	theirs, err := tsharkoracle.Run(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		for _, p := range c.pkts {
			if a, b := c.ours[p.Frame], theirs[p.Frame+offset[i]]; a != b {
				t.Errorf("%s: frame %d: tcpviz %s, tshark %s", c.name, p.Frame, tsharkoracle.Describe(a), tsharkoracle.Describe(b))
			}
		}
	}
}
