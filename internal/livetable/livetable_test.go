package livetable

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

var (
	cli = netip.MustParseAddr("10.0.0.1")
	srv = netip.MustParseAddr("10.0.0.2")
)

func pkt(flow uint64, dir events.Dir, flags uint16, seq, ack, n uint32) *events.Packet {
	p := &events.Packet{Flow: flow, Dir: dir, Flags: flags, RelSeq: seq, RelAck: ack, Len: n,
		Src: cli, Dst: srv, SrcPort: 40000, DstPort: 443}
	if dir == events.DirS2C {
		p.Src, p.Dst, p.SrcPort, p.DstPort = srv, cli, 443, 40000
	}
	return p
}

// clock is a fake wall clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTable() (*Table, *clock) {
	c := &clock{t: time.Unix(1000, 0)}
	t := New(nil)
	t.now = c.now
	return t, c
}

func TestRatesInFlightAndRetransmissions(t *testing.T) {
	tab, clk := newTable()
	tab.Snapshot() // interval starts
	const ack = events.FlagACK
	// Client sends 10 segments of 1000 bytes; the server acknowledges 6.
	for i := uint32(0); i < 10; i++ {
		tab.Packet(pkt(1, events.DirC2S, ack, 1+i*1000, 1, 1000))
	}
	tab.Packet(pkt(1, events.DirS2C, ack, 1, 6001, 0))
	tab.Event(&events.Event{Type: events.TypeRetransmission, Flow: 1, Kind: events.RetransFast})
	clk.t = clk.t.Add(2 * time.Second)
	rows, tot := tab.Snapshot()
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	r := rows[0]
	tests := []struct {
		name      string
		got, want float64
	}{
		{"send rate", r.SendRate, 10000 / 2.0},
		{"recv rate", r.RecvRate, 0},
		{"in flight", float64(r.InFlight), 10001 - 6001},
		{"retransmissions", float64(r.Retrans), 1},
		{"retransmissions in the interval", float64(r.RetransNow), 1},
		{"total send rate", tot.SendRate, 5000},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if r.Local != "10.0.0.1:40000" || r.Remote != "10.0.0.2:443" || r.RetransFrom != "packets" {
		t.Errorf("ends %s → %s (%s), want the client as local", r.Local, r.Remote, r.RetransFrom)
	}
	// The next interval starts from zero.
	clk.t = clk.t.Add(time.Second)
	rows, _ = tab.Snapshot()
	if rows[0].SendRate != 0 || rows[0].RetransNow != 0 || rows[0].Retrans != 1 {
		t.Errorf("second interval: send %v, retrans now %d total %d; want 0, 0, 1", rows[0].SendRate, rows[0].RetransNow, rows[0].Retrans)
	}
}

func TestKernelRecordsWin(t *testing.T) {
	tab, clk := newTable()
	tab.Snapshot()
	// The server's socket reports: it is the local end, and its state.
	rec := &kblock.Record{Kind: kblock.KindProbe, Saddr: srv, Daddr: cli, Sport: 443, Dport: 40000,
		SndCwnd: 42, Ssthresh: 30, SRTTus: 12400, RTTVarus: 3000, TotalRetrans: 5, PID: 77, Comm: "nginx\x1b[2J"}
	tab.Packet(pkt(1, events.DirS2C, events.FlagACK, 1, 1, 1448))
	tab.Event(&events.Event{Type: events.TypeKernelSample, Flow: 1, Dir: events.DirS2C, Kernel: rec})
	clk.t = clk.t.Add(time.Second)
	rows, _ := tab.Snapshot()
	r := rows[0]
	if r.Local != "10.0.0.2:443" || r.SendRate != 1448 || r.Cwnd != 42 || r.SRTTms != 12.4 || r.Retrans != 5 || r.RetransFrom != "kernel" || r.PID != 77 {
		t.Errorf("row %+v: want the server's socket as local, sending 1448 B/s, cwnd 42, srtt 12.4, 5 kernel retransmissions, pid 77", r)
	}
	rec2 := *rec
	rec2.TotalRetrans = 9
	tab.Event(&events.Event{Type: events.TypeKernelSample, Flow: 1, Dir: events.DirS2C, Kernel: &rec2})
	clk.t = clk.t.Add(time.Second)
	rows, _ = tab.Snapshot()
	if rows[0].RetransNow != 4 {
		t.Errorf("retransmissions in the interval %d, want 4 (9-5)", rows[0].RetransNow)
	}
	line := Line(&rows[0], Visible(400))
	if strings.ContainsRune(line, 0x1b) {
		t.Errorf("a control character from comm reached the screen: %q", line)
	}
}

func TestClosedConnectionsLingerThenLeave(t *testing.T) {
	tab, clk := newTable()
	tab.Packet(pkt(1, events.DirC2S, events.FlagRST, 1, 0, 0))
	rows, tot := tab.Snapshot()
	if len(rows) != 1 || !rows[0].Closed || rows[0].State != "RESET" || tot.Closed != 1 {
		t.Fatalf("after RST: %+v", rows)
	}
	clk.t = clk.t.Add(Linger + time.Second)
	if rows, _ = tab.Snapshot(); len(rows) != 0 {
		t.Errorf("%d rows %s after the reset, want none", len(rows), Linger+time.Second)
	}
}

func TestVisibleDropOrder(t *testing.T) {
	all := 0
	for _, c := range Columns {
		all += c.Width + 1
	}
	tests := []struct {
		width   int
		without []string
		with    []string
	}{
		{all, nil, []string{"RTTVAR", "PACING/s", "AGE"}},
		{all - 1, []string{"RTTVAR"}, []string{"PACING/s", "CWND"}},
		{80, []string{"RTTVAR", "PACING/s", "DELIV/s", "AGE", "SSTHR", "PID"}, []string{"COMM", "LOCAL", "REMOTE", "CWND", "SRTT", "SEND/s", "RETR"}},
	}
	for _, tc := range tests {
		names := map[string]bool{}
		for _, i := range Visible(tc.width) {
			names[Columns[i].Name] = true
		}
		for _, n := range tc.without {
			if names[n] {
				t.Errorf("width %d: %s shown, want it dropped", tc.width, n)
			}
		}
		for _, n := range tc.with {
			if !names[n] {
				t.Errorf("width %d: %s dropped, want it shown", tc.width, n)
			}
		}
	}
}

func TestSortAndFilter(t *testing.T) {
	rows := []Row{
		{Flow: 1, Comm: "curl", SendRate: 10, Retrans: 3},
		{Flow: 2, Comm: "iperf3", SendRate: 30, Retrans: 1},
		{Flow: 3, Comm: "nginx", SendRate: 20, Retrans: 2},
	}
	Sort(rows, ColumnIndex("send"), false)
	if rows[0].Flow != 2 || rows[2].Flow != 1 {
		t.Errorf("by send rate, descending: %d %d %d", rows[0].Flow, rows[1].Flow, rows[2].Flow)
	}
	Sort(rows, ColumnIndex("RETR"), true)
	if rows[0].Flow != 2 || rows[2].Flow != 1 {
		t.Errorf("by retransmissions, ascending: %d %d %d", rows[0].Flow, rows[1].Flow, rows[2].Flow)
	}
	if !rows[0].Matches("IPERF") || rows[0].Matches("iperf3 curl") {
		t.Error("filter words must all match, case-insensitively")
	}
}

func TestProcOwners(t *testing.T) {
	root := t.TempDir()
	write := func(name, s string) {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 127.0.0.1:8080 → 127.0.0.1:51000, inode 4242.
	write("net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
		"   0: 0100007F:1F90 0100007F:C738 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 20 4 30 10 -1\n")
	write("123/comm", "server\n")
	os.MkdirAll(filepath.Join(root, "123", "fd"), 0o755)
	if err := os.Symlink("socket:[4242]", filepath.Join(root, "123", "fd", "5")); err != nil {
		t.Fatal(err)
	}
	key := [2]string{"127.0.0.1:8080", "127.0.0.1:51000"}
	got := ProcOwners(root, map[[2]string]bool{key: true})
	if o := got[key]; o.PID != 123 || o.Comm != "server" {
		t.Errorf("owner %+v, want pid 123 server", o)
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {512, "512B"}, {1536, "1.5KiB"}, {3 << 20, "3.0MiB"}, {5 << 30, "5.00GiB"}} {
		if got := Bytes(tc.v); got != tc.want {
			t.Errorf("Bytes(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
