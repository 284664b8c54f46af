package sessionfiles

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/frames"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

var (
	cliIP = netip.AddrFrom4([4]byte{10, 9, 0, 1})
	srvIP = netip.AddrFrom4([4]byte{10, 9, 0, 2})
)

// frame builds an Ethernet/IPv4/TCP frame.
func frame(t *testing.T, fromClient bool, flags string, seq, ack uint32, payload int) []byte {
	t.Helper()
	cli, srv := netip.AddrPortFrom(cliIP, 43000), netip.AddrPortFrom(srvIP, 8080)
	if !fromClient {
		cli, srv = srv, cli
	}
	b, err := frames.TCP(cli, srv, seq, ack, flags, 1000, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeCapture writes a short connection with kernel records between the
// packets, as tcpviz capture does, and returns the bytes.
func writeCapture(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := pcapng.NewWriter(&b, pcapng.WriterOptions{Application: "test"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 256, Name: "veth0"})
	if err != nil {
		t.Fatal(err)
	}
	ts := int64(1_700_000_000_000_000_000)
	pkt := func(fromClient bool, flags string, seq, ack uint32, n int) {
		ts += 1_000_000
		d := frame(t, fromClient, flags, seq, ack, n)
		if err := w.WritePacket(id, ts, d, uint32(len(d)), pcapng.PacketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kern := func(r kblock.Record) {
		ts += 1_000_000
		r.TS = ts
		r.Saddr, r.Daddr = cliIP, srvIP
		r.Sport, r.Dport = 43000, 8080
		if err := w.WriteCustom(kblock.PEN, kblock.Append(nil, &r), true); err != nil {
			t.Fatal(err)
		}
	}
	pkt(true, "S", 100, 0, 0)                                                                             // frame 1
	kern(kblock.Record{Kind: kblock.KindState, OldState: 7, NewState: 2, PID: 4242, Comm: "<b>curl</b>"}) // frame 2
	pkt(false, "SA", 500, 101, 0)                                                                         // 3
	pkt(true, "A", 101, 501, 0)                                                                           // 4
	pkt(true, "PA", 101, 501, 100)                                                                        // 5
	kern(kblock.Record{Kind: kblock.KindProbe, SndCwnd: 10, SRTTus: 1500, Ssthresh: 7})                   // 6
	pkt(false, "A", 501, 201, 0)                                                                          // 7
	pkt(true, "FA", 201, 501, 0)                                                                          // 8
	pkt(false, "FA", 501, 202, 0)                                                                         // 9
	pkt(true, "A", 202, 502, 0)                                                                           // 10
	// Someone else's custom block: counted as a frame, not decoded.
	if err := w.WriteCustom(12345, []byte{1, 2, 3, 4}, true); err != nil { // 11
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestRunKernelRecordsJoinTheirConnection(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "k.pcapng")
	if err := os.WriteFile(in, writeCapture(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	res, err := Run(context.Background(), Options{Input: in, OutDir: out, Packets: true, KeepFlows: true, Pipeline: pipeline.Config{Flows: conntrack.DefaultConfig()}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.Packets != 8 || s.TCPPackets != 8 || s.KernelRecords != 2 || s.Frames != 11 || s.Flows != 1 {
		t.Errorf("summary: packets %d tcp %d kernel %d frames %d flows %d", s.Packets, s.TCPPackets, s.KernelRecords, s.Frames, s.Flows)
	}
	if len(res.Flows) != 1 {
		t.Fatalf("%d flows", len(res.Flows))
	}
	fl := res.Flows[0]
	if fl.PID != 4242 || fl.Comm != "<b>curl</b>" || fl.State != "SF" || fl.BytesC2S != 100 || !fl.HandshakeSeen {
		t.Errorf("flow record %+v", fl)
	}
	recs := readJSONL(t, filepath.Join(out, EventsFile))
	var frames []float64
	for _, r := range recs {
		frames = append(frames, r["frame"].(float64))
		switch r["type"] {
		case events.TypeKernelSample:
			k := r["kernel"].(map[string]any)
			if r["frame"] != 6.0 || r["flow"] != 1.0 || r["dir"] != "c2s" || k["snd_cwnd"] != 10.0 {
				t.Errorf("kernel sample %v", r)
			}
		case events.TypeKernelState:
			if r["frame"] != 2.0 || r["flow"] != 1.0 {
				t.Errorf("kernel state %v", r)
			}
		}
	}
	want := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if len(frames) != len(want) {
		t.Fatalf("frames in events.jsonl %v, want %v", frames, want)
	}
	for i := range want {
		if frames[i] != want[i] {
			t.Fatalf("frames in events.jsonl %v, want %v", frames, want)
		}
	}
	for _, name := range []string{EventsFile, FlowsFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestRunInputs(t *testing.T) {
	data := writeCapture(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	tests := []struct {
		name     string
		stdin    []byte
		file     []byte
		format   string
		warnings int
	}{
		{"stdin", data, nil, "pcapng", 0},
		{"gzip file", nil, gz.Bytes(), "pcapng+gzip", 0},
		{"cut inside the last block", nil, data[:len(data)-7], "pcapng", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{OutDir: filepath.Join(dir, "out"), Pipeline: pipeline.Config{Flows: conntrack.DefaultConfig()}}
			if tt.stdin != nil {
				o.Input, o.Stdin = "-", bytes.NewReader(tt.stdin)
			} else {
				o.Input = filepath.Join(dir, "in")
				os.WriteFile(o.Input, tt.file, 0o644)
			}
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Summary.Format != tt.format || len(res.Summary.Warnings) != tt.warnings || res.Summary.TCPPackets != 8 {
				t.Errorf("format %q warnings %q tcp %d", res.Summary.Format, res.Summary.Warnings, res.Summary.TCPPackets)
			}
			if tt.warnings > 0 && !strings.Contains(res.Summary.Warnings[0], "offset") {
				t.Errorf("warning does not name the offset: %q", res.Summary.Warnings[0])
			}
		})
	}
}

func TestRunBadInputLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bad.pcapng")
	data := writeCapture(t)
	// Corrupt the block length of the third block (after SHB and IDB).
	bad := append([]byte(nil), data...)
	shbLen := int(bad[4]) | int(bad[5])<<8
	idbLen := int(bad[shbLen+4]) | int(bad[shbLen+5])<<8
	third := shbLen + idbLen
	bad[third+4], bad[third+5], bad[third+6], bad[third+7] = 0xff, 0xff, 0xff, 0xff
	os.WriteFile(in, bad, 0o644)
	out := filepath.Join(dir, "out")
	_, err := Run(context.Background(), Options{Input: in, OutDir: out, Pipeline: pipeline.Config{Flows: conntrack.DefaultConfig()}})
	if err == nil {
		t.Fatal("no error for a corrupt block length")
	}
	if !strings.Contains(err.Error(), in) || !strings.Contains(err.Error(), "offset") {
		t.Errorf("error does not name file and offset: %v", err)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestRunStreamsFlows: without KeepFlows the records go to flows.jsonl only,
// and the file holds the same records KeepFlows returns.
func TestRunStreamsFlows(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "k.pcapng")
	if err := os.WriteFile(in, writeCapture(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{Flows: conntrack.DefaultConfig()}
	kept, err := Run(context.Background(), Options{Input: in, OutDir: filepath.Join(dir, "a"), KeepFlows: true, Pipeline: cfg})
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := Run(context.Background(), Options{Input: in, OutDir: filepath.Join(dir, "b"), Pipeline: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(streamed.Flows) != 0 || len(kept.Flows) != 1 {
		t.Fatalf("flows kept: %d without KeepFlows, %d with", len(streamed.Flows), len(kept.Flows))
	}
	b, err := os.ReadFile(filepath.Join(dir, "b", FlowsFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := string(kept.Flows[0].AppendJSON(nil)) + "\n"; string(b) != want {
		t.Errorf("flows.jsonl:\n%s\nwant\n%s", b, want)
	}
}
