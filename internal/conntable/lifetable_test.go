package conntable

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"github.com/tcpviz/tcpviz/internal/connfilter"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC).UnixNano()

func flow(id uint64, client, server string, c2s, s2c uint64, startMS, durMS int64) events.FlowRecord {
	ca, cp, _ := strings.Cut(client, "|")
	sa, sp, _ := strings.Cut(server, "|")
	port := func(s string) uint16 {
		var n uint16
		for _, c := range s {
			n = n*10 + uint16(c-'0')
		}
		return n
	}
	first := t0 + startMS*1e6
	return events.FlowRecord{Flow: id, ClientAddr: ca, ClientPort: port(cp), ServerAddr: sa, ServerPort: port(sp),
		First: events.Timestamp(first), Last: events.Timestamp(first + durMS*1e6), DurationMS: float64(durMS),
		BytesC2S: c2s, BytesS2C: s2c, WireC2S: c2s + 66, WireS2C: s2c + 66, PacketsC2S: 3, PacketsS2C: 2,
		State: "SF", History: "ShADadFf"}
}

func sampleRows() []Row {
	f1 := flow(1, "10.0.0.1|40000", "10.0.0.2|80", 3000, 50000, 0, 100)
	f1.PID, f1.Comm = 181, "curl"
	f1.Events = map[string]int{events.TypeRetransmission: 2}
	f1.RTTAvgMS = 1.5
	f1.SetZeroWindow(40e6) // 40 ms of 100
	// The server sent more: its direction's verdict is the connection's.
	f1.Limits = events.FlowLimits{
		C2S: events.DirLimits{Source: events.LimitSourcePackets, Dominant: events.LimitApp, MaxWindow: -1,
			Seconds: events.LimitSeconds{App: 0.09, Cwnd: 0.01}},
		S2C: events.DirLimits{Source: events.LimitSourceKernel, Dominant: events.LimitRwnd, MaxWindow: 16384,
			Seconds: events.LimitSeconds{Rwnd: 0.061, Cwnd: 0.039}}}
	f2 := flow(2, "10.0.0.1|40001", "10.0.0.2|443", 0, 0, 10, 1)
	f2.State, f2.History = "REJ", "Sr"
	f3 := flow(3, "2001:db8::1|50000", "2001:db8::2|22", 9000, 1000, 5, 4000)
	f3.HandshakeRTTms = 0.25
	f4 := flow(4, "10.0.0.3|5555", "10.0.0.2|8080", 1000, 7000, 20, 50)
	f4.PID, f4.Comm = 99, "nginx"
	return []Row{FromFlow(&f1, false), FromFlow(&f2, false), FromFlow(&f3, false), FromFlow(&f4, true)}
}

func TestFromFlow(t *testing.T) {
	rows := sampleRows()
	cases := []struct {
		name           string
		r              Row
		laddr          string
		lport, rport   uint16
		tx, rx, txWire uint64
		rtt            float64
		retrans        int
	}{
		{"client is local", rows[0], "10.0.0.1", 40000, 80, 3000, 50000, 3066, 1.5, 2},
		{"handshake RTT when no samples", rows[2], "2001:db8::1", 50000, 22, 9000, 1000, 9066, 0.25, 0},
		{"server is local", rows[3], "10.0.0.2", 8080, 5555, 7000, 1000, 7066, 0, 0},
	}
	for _, c := range cases {
		r := c.r
		if r.LAddr != c.laddr || r.LPort != c.lport || r.RPort != c.rport || r.TXBytes != c.tx || r.RXBytes != c.rx ||
			r.TXWire != c.txWire || r.RTTms != c.rtt || r.Retrans != c.retrans {
			t.Errorf("%s: got %+v", c.name, r)
		}
	}
}

// The record's sides stay the client's and the server's whoever is local:
// the summary and report tables read them.
func TestFromFlowRecordSides(t *testing.T) {
	rows := sampleRows()
	raw := flow(5, "|", "|", 10, 20, 0, 1)
	raw.Client, raw.Server = "[2001:db8::1]:7", "not an address"
	rows = append(rows, FromFlow(&raw, false))
	cases := []struct {
		name           string
		r              Row
		client, server string
		c2s, s2c       uint64
		limit          string
	}{
		{"client is local", rows[0], "10.0.0.1:40000", "10.0.0.2:80", 3000, 50000, "rwnd 61%"},
		{"no payload: no limit", rows[1], "10.0.0.1:40001", "10.0.0.2:443", 0, 0, ""},
		{"IPv6", rows[2], "[2001:db8::1]:50000", "[2001:db8::2]:22", 9000, 1000, ""},
		{"server is local", rows[3], "10.0.0.3:5555", "10.0.0.2:8080", 1000, 7000, ""},
		{"raw endpoints", rows[4], "[2001:db8::1]:7", "not an address", 10, 20, ""},
	}
	for _, c := range cases {
		r := c.r
		if r.Client != c.client || r.Server != c.server || r.BytesC2S() != c.c2s || r.BytesS2C() != c.s2c ||
			r.Bytes() != c.c2s+c.s2c || r.Packets() != 5 || r.Limit() != c.limit {
			t.Errorf("%s: got client %q server %q c2s %d s2c %d bytes %d packets %d limit %q", c.name, r.Client, r.Server,
				r.BytesC2S(), r.BytesS2C(), r.Bytes(), r.Packets(), r.Limit())
		}
	}
}

func TestSides(t *testing.T) {
	s := NewSides()
	kernel := &kblock.Record{}
	feed := func(flow uint64, d events.Dir) { s.Event(&events.Event{Flow: flow, Dir: d, Kernel: kernel}) }
	feed(1, events.DirC2S)
	feed(2, events.DirS2C)
	feed(3, events.DirC2S)
	feed(3, events.DirS2C)
	s.Event(&events.Event{Flow: 4, Dir: events.DirS2C}) // not a kernel record
	cases := map[uint64]bool{1: false, 2: true, 3: false, 4: false, 5: false}
	for flow, want := range cases {
		if got := s.LocalIsServer(flow); got != want {
			t.Errorf("flow %d: LocalIsServer %v, want %v", flow, got, want)
		}
	}
}

func flowIDs(rows []Row) []uint64 {
	var ids []uint64
	for _, r := range rows {
		ids = append(ids, r.Flow)
	}
	return ids
}

func TestFilter(t *testing.T) {
	cases := []struct {
		name string
		f    connfilter.Filter
		want []uint64
	}{
		{"everything", connfilter.Filter{}, []uint64{1, 2, 3, 4}},
		{"pid", connfilter.Filter{PIDs: []uint32{181}}, []uint64{1}},
		{"pids", connfilter.Filter{PIDs: []uint32{181, 99}}, []uint64{1, 4}},
		{"local ports", connfilter.Filter{LocalPorts: []uint16{40001, 8080}}, []uint64{2, 4}},
		{"remote port", connfilter.Filter{RemotePorts: []uint16{22}}, []uint64{3}},
		{"all must match", connfilter.Filter{PIDs: []uint32{181}, RemotePorts: []uint16{443}}, nil},
		// The server of flow 4 is the local side: --dport names the server
		// whichever side the capture was taken on.
		{"server port", connfilter.Filter{DPorts: []uint16{8080}}, []uint64{4}},
		{"client address", connfilter.Filter{SAddrs: []string{"2001:db8::/32"}}, []uint64{3}},
		{"cwnd: no kernel figures in rows", connfilter.Filter{CwndMin: 1}, nil},
	}
	for _, c := range cases {
		if err := c.f.Compile(); err != nil {
			t.Fatal(err)
		}
		got := flowIDs(Select(&c.f, sampleRows(), 0))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseLists(t *testing.T) {
	if p, err := connfilter.ParseList[uint16](" 22, 80,,443 ", "port", 65535); err != nil || !slices.Equal(p, []uint16{22, 80, 443}) {
		t.Errorf("ParseList: %v %v", p, err)
	}
	for _, bad := range []string{"0", "65536", "http", "-1"} {
		if _, err := connfilter.ParseList[uint16](bad, "port", 65535); err == nil {
			t.Errorf("ParseList(%q) accepted", bad)
		}
	}
}

func TestSort(t *testing.T) {
	cases := []struct {
		key  string
		want []uint64
	}{
		{"", []uint64{1, 3, 2, 4}}, // start 0, 5, 10, 20 ms
		{SortStart, []uint64{1, 3, 2, 4}},
		{SortBytes, []uint64{1, 3, 4, 2}},    // 53000, 10000, 8000, 0
		{SortRetrans, []uint64{1, 3, 2, 4}},  // 2, then ties by start
		{SortDuration, []uint64{3, 1, 4, 2}}, // 4000, 100, 50, 1 ms
	}
	for _, c := range cases {
		rows := sampleRows()
		slices.Reverse(rows)
		if err := Sort(rows, c.key); err != nil {
			t.Fatal(err)
		}
		if got := flowIDs(rows); !slices.Equal(got, c.want) {
			t.Errorf("sort %q: %v, want %v", c.key, got, c.want)
		}
	}
	if err := Sort(nil, "size"); err == nil {
		t.Error("unknown sort key accepted")
	}
}

func render(t *testing.T, rows []Row, o Options) string {
	t.Helper()
	o.Location = time.UTC
	var b bytes.Buffer
	if err := Write(&b, rows, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTextColumns(t *testing.T) {
	cases := []struct {
		name   string
		o      Options
		header []string
		row0   []string // the first row's fields (curl)
	}{
		{"tcplife columns", Options{Header: true},
			[]string{"PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KiB", "RX_KiB", "MS", "RETRANS", "RTT_MS", "LIMIT", "ZERO_WIN", "STATE", "END", "HISTORY"},
			[]string{"181", "curl", "10.0.0.1", "40000", "10.0.0.2", "80", "2", "48", "100.00", "2", "1.500", "rwnd", "61%", "40%/40.0ms", "SF", "normal-close", "ShADadFf"}},
		{"wide with both times", Options{Header: true, Wide: true, Seconds: true, Clock: true},
			[]string{"TIME", "TIME(s)", "PID", "COMM", "IP", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KiB", "RX_KiB", "MS", "RETRANS", "RTT_MS", "LIMIT", "ZERO_WIN", "STATE", "END", "HISTORY"},
			[]string{"07:08:09", "0.000", "181", "curl", "4", "10.0.0.1", "40000", "10.0.0.2", "80", "2", "48", "100.00", "2", "1.500", "rwnd", "61%", "40%/40.0ms", "SF", "normal-close", "ShADadFf"}},
	}
	for _, c := range cases {
		out := render(t, sampleRows(), c.o)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if got := strings.Fields(lines[0]); !slices.Equal(got, c.header) {
			t.Errorf("%s: header %q", c.name, got)
		}
		if got := strings.Fields(lines[1]); !slices.Equal(got, c.row0) {
			t.Errorf("%s: row %q, want %q", c.name, got, c.row0)
		}
		// Unknown PID and COMM are "-"; the unknown RTT too.
		if f := strings.Fields(lines[2]); !slices.Contains(f, "-") {
			t.Errorf("%s: row without a process has no '-': %q", c.name, lines[2])
		}
	}
	// Wide columns keep an IPv6 row aligned with the header.
	out := render(t, sampleRows(), Options{Header: true, Wide: true})
	lines := strings.Split(out, "\n")
	col := strings.Index(lines[0], "LPORT")
	if v6 := lines[3]; v6[col-1] != ' ' || !strings.HasPrefix(v6[col:], "50000") {
		t.Errorf("IPv6 row misaligned:\n%s\n%s", lines[0], v6)
	}
}

func TestTextColorAndControlCharacters(t *testing.T) {
	rows := sampleRows()
	rows[0].Comm = "evil\x1b[2Jname"
	plain := render(t, rows, Options{Header: true})
	if strings.Contains(plain, "\x1b") {
		t.Errorf("escape characters in plain output: %q", plain)
	}
	colored := render(t, rows, Options{Header: true, Color: true})
	if !strings.Contains(colored, sgrGreen+"SF") || !strings.Contains(colored, sgrRed+"REJ") {
		t.Errorf("states not coloured: %q", colored)
	}
	if strings.Contains(colored, "\x1b[2J") {
		t.Errorf("a process name drives the terminal: %q", colored)
	}
}

func TestCSVAndJSON(t *testing.T) {
	rows := sampleRows()
	recs, err := csv.NewReader(strings.NewReader(render(t, rows, Options{Format: FormatCSV, Header: true}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], CSVHeader) || len(recs) != len(rows)+1 {
		t.Fatalf("CSV header %q, %d records", recs[0], len(recs))
	}
	idx := slices.Index(CSVHeader, "pid")
	if recs[1][idx] != "181" || recs[2][idx] != "" {
		t.Errorf("CSV pid column %q %q", recs[1][idx], recs[2][idx])
	}
	lines := strings.Split(strings.TrimSpace(render(t, rows, Options{Format: FormatJSON})), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("%d JSON lines", len(lines))
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if len(m) != len(CSVHeader) {
			t.Errorf("line %d has %d fields, CSV has %d columns", i, len(m), len(CSVHeader))
		}
		if got, want := m["tx_bytes"].(float64), float64(rows[i].TXBytes); got != want {
			t.Errorf("line %d: tx_bytes %v, want %v", i, got, want)
		}
	}
	if err := Write(&bytes.Buffer{}, rows, Options{Format: "xml"}); err == nil {
		t.Error("unknown format accepted")
	}
}

// BenchmarkWriteText renders a 10,000-connection table.
func BenchmarkWriteText(b *testing.B) {
	benchmarkWrite(b, Options{Header: true, Wide: true, Seconds: true})
}

// BenchmarkWriteJSON writes 10,000 JSON lines.
func BenchmarkWriteJSON(b *testing.B) { benchmarkWrite(b, Options{Format: FormatJSON}) }

func benchmarkWrite(b *testing.B, o Options) {
	base := sampleRows()
	rows := make([]Row, 0, 10000)
	for i := 0; len(rows) < cap(rows); i++ {
		r := base[i%len(base)]
		r.Flow = uint64(i + 1)
		r.Start += int64(i) * 1e6
		rows = append(rows, r)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, rows, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

func TestWhy(t *testing.T) {
	out := render(t, sampleRows(), Options{Why: true})
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want one per connection:\n%s", len(lines), out)
	}
	want := "#1 10.0.0.1:40000 > 10.0.0.2:80: 61 % of 0.1 s limited by the receiver's window (at most 16 KiB advertised): " +
		"the receiver is not reading fast enough or its buffer is too small (kernel accounting)"
	if lines[0] != want {
		t.Errorf("first sentence\n got %q\nwant %q", lines[0], want)
	}
	if !strings.HasPrefix(lines[2], "#3 [2001:db8::1]:50000 > [2001:db8::2]:22: no data sent") {
		t.Errorf("connection without limits: %q", lines[2])
	}
}
