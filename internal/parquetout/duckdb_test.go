package parquetout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/parquetout"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/duckdb"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// fromJSONL is what the JSONL files of one sample hold, per table.
type fromJSONL struct {
	host    string
	events  []events.Event // detector events
	kernel  []events.Event // kernel records
	packets []events.PacketRecord
	flows   []events.FlowRecord
}

// parseSample runs a sample through the pipeline with JSONL and Parquet
// written from the same pass, and reads the JSONL back.
func parseSample(t testing.TB, input, root, host string) fromJSONL {
	t.Helper()
	w, err := parquetout.New(parquetout.Config{Dir: root, Host: host, Stem: parquetout.StemFor(input), Packets: true})
	if err != nil {
		t.Fatal(err)
	}
	w.SetCaptureFile(input)
	cfg := pipecfg.Detectors()
	cfg.OnFlow = w.Flow
	out := filepath.Join(t.TempDir(), host)
	if _, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: input, OutDir: out, Packets: true,
		Pipeline: cfg, Sinks: []pipeline.Sink{w}}); err != nil {
		w.Abort()
		t.Fatalf("%s: %v", input, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := fromJSONL{host: host}
	eachJSON(t, filepath.Join(out, sessionfiles.EventsFile), func(b []byte) {
		if strings.Contains(string(b), `"type":"packet"`) {
			var p events.PacketRecord
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			got.packets = append(got.packets, p)
			return
		}
		var e events.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if e.Kernel != nil {
			got.kernel = append(got.kernel, e)
		} else {
			got.events = append(got.events, e)
		}
	})
	eachJSON(t, filepath.Join(out, sessionfiles.FlowsFile), func(b []byte) {
		var f events.FlowRecord
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		got.flows = append(got.flows, f)
	})
	return got
}

func eachJSON(t testing.TB, path string, fn func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// docQueries reads the DuckDB queries of docs/parquet.md (```sql blocks
// whose first line is "-- duckdb: NAME"), pointed at root.
func docQueries(t testing.TB, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/parquet.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```sql\n-- duckdb: (\\w+)\n(.*?)```")
	qs := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		qs[m[1]] = strings.ReplaceAll(m[2], "/data/tcpviz", root)
	}
	for _, want := range []string{"top_services", "p95_rtt", "window_limited"} {
		if qs[want] == "" {
			t.Fatalf("docs/parquet.md has no DuckDB query %q", want)
		}
	}
	return qs
}

func serverOf(src, dst string, dir events.Dir) netip.AddrPort {
	s := dst
	if dir == events.DirS2C {
		s = src
	}
	ap, _ := netip.ParseAddrPort(s)
	return ap
}

func prefix(a netip.Addr) string {
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

// quantileCont is DuckDB's quantile_cont: linear interpolation between the
// closest ranks.
func quantileCont(v []float64, q float64) float64 {
	sort.Float64s(v)
	pos := q * float64(len(v)-1)
	lo, hi := math.Floor(pos), math.Ceil(pos)
	return v[int(lo)] + (pos-lo)*(v[int(hi)]-v[int(lo)])
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestDuckDBReadsEverySample writes every sample's results as Parquet from
// the same pass as its JSONL, then has DuckDB read every table and answer
// the queries of docs/parquet.md, and checks each answer against the same
// figure computed from the JSONL files.
func TestDuckDBReadsEverySample(t *testing.T) {
	db := duckdb.Open(t)
	samples, _ := filepath.Glob("../../samples/*.pcap*")
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	root := filepath.Join(t.TempDir(), "pq")
	var all []fromJSONL
	for _, s := range samples {
		abs, _ := filepath.Abs(s)
		host := parquetout.PartitionValue(strings.SplitN(filepath.Base(s), ".", 2)[0])
		all = append(all, parseSample(t, abs, root, host))
	}
	// A capture with kernel records for the kernel table.
	all = append(all, parseSample(t, withKernelRecords(t, "../../samples/cubic-loss-sender.pcapng"), root, "kernel-host"))

	// Every table, per host: rows and checksums of frame, time and a value.
	type check struct{ rows, frames, ms, value, badTS, files int64 }
	tables := map[string]string{
		"events":  "sum(CAST(round(rtt_ms * 1000) AS BIGINT))",
		"kernel":  "sum(snd_cwnd) + coalesce(sum(busy_us), 0) + count(*) FILTER (WHERE cwnd_limited)",
		"packets": "sum(len)",
		"flows":   "sum(bytes_c2s + bytes_s2c)",
	}
	var qs []duckdb.Query
	for table, value := range tables {
		qs = append(qs, duckdb.Query{Name: table, SQL: fmt.Sprintf(`SELECT host, count(*) AS rows, sum(frame) AS frames,
			sum(ts_ns // 1000000) AS ms, coalesce(%s, 0) AS value,
			count(*) FILTER (WHERE epoch_us(ts) <> ts_ns // 1000) AS bad_ts,
			count(DISTINCT capture_file) AS files
			FROM read_parquet('%s/table=%s/*/*/*.parquet', hive_partitioning = true) GROUP BY host`, value, root, table)})
	}
	qs = append(qs, duckdb.Query{Name: "types", SQL: fmt.Sprintf(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM
		read_parquet('%s/table=*/*/*/*.parquet', hive_partitioning = true, union_by_name = true))`, root)})
	doc := docQueries(t, root)
	for name, sql := range doc {
		qs = append(qs, duckdb.Query{Name: name, SQL: sql})
	}
	res, err := db.Run(qs)
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]map[string]check{}
	for table := range tables {
		want[table] = map[string]check{}
	}
	add := func(table, host string, frame uint64, ts events.Timestamp, value int64) {
		c := want[table][host]
		c.rows++
		c.frames += int64(frame)
		c.ms += int64(ts) / 1e6
		c.value += value
		c.files = 1
		want[table][host] = c
	}
	for _, s := range all {
		for _, e := range s.events {
			add("events", s.host, e.Frame, e.TS, int64(math.Round(e.RTTms*1000)))
		}
		for _, e := range s.kernel {
			v := int64(e.Kernel.SndCwnd)
			if e.Kernel.Has&kblock.HasChrono != 0 {
				v += int64(e.Kernel.BusyUS)
			}
			if e.Kernel.Has&kblock.HasCwndLimited != 0 && e.Kernel.CwndLimited {
				v++
			}
			add("kernel", s.host, e.Frame, e.TS, v)
		}
		for _, p := range s.packets {
			add("packets", s.host, p.Frame, p.TS, int64(p.Len))
		}
		for _, f := range s.flows {
			add("flows", s.host, f.FirstFrame, f.First, int64(f.BytesC2S+f.BytesS2C))
		}
	}
	for table := range tables {
		got := map[string]check{}
		for _, r := range res[table] {
			var c check
			var err error
			for _, f := range []struct {
				col string
				v   *int64
			}{{"rows", &c.rows}, {"frames", &c.frames}, {"ms", &c.ms}, {"value", &c.value}, {"bad_ts", &c.badTS}, {"files", &c.files}} {
				if *f.v, err = r.Int(f.col); err != nil {
					t.Fatalf("%s: %v", table, err)
				}
			}
			got[r.String("host")] = c
		}
		if len(got) != len(want[table]) {
			t.Errorf("table %s: DuckDB sees %d hosts, the JSONL %d", table, len(got), len(want[table]))
		}
		for host, w := range want[table] {
			if got[host] != w {
				t.Errorf("table %s host %s: DuckDB %+v, JSONL %+v", table, host, got[host], w)
			}
		}
	}
	if len(want["kernel"]) == 0 || len(want["events"]) < 10 {
		t.Errorf("samples give too little to compare: %d hosts with kernel records, %d with events", len(want["kernel"]), len(want["events"]))
	}
	for _, r := range res["types"] {
		typ := r.String("column_type")
		if strings.HasPrefix(typ, "U") || strings.Contains(typ, "(VARCHAR, U") {
			t.Errorf("column %s is %s: engines without unsigned types misread it", r.String("column_name"), typ)
		}
		if col := r.String("column_name"); (col == "ts" || col == "last") && typ != "TIMESTAMP WITH TIME ZONE" {
			t.Errorf("column %s is %s, want TIMESTAMP WITH TIME ZONE (micros, UTC)", col, typ)
		}
	}

	t.Run("top_services", func(t *testing.T) {
		type key struct {
			host string
			port int64
		}
		n := map[key]int64{}
		for _, s := range all {
			for _, e := range s.events {
				if e.Type == events.TypeRetransmission {
					n[key{s.host, int64(serverOf(e.Src, e.Dst, e.Dir).Port())}]++
				}
			}
		}
		keys := make([]key, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := keys[i], keys[j]
			if n[a] != n[b] {
				return n[a] > n[b]
			}
			if a.host != b.host {
				return a.host < b.host
			}
			return a.port < b.port
		})
		if len(keys) > 20 {
			keys = keys[:20]
		}
		rows := res["top_services"]
		if len(rows) != len(keys) || len(keys) < 3 {
			t.Fatalf("DuckDB gives %d rows, the JSONL %d", len(rows), len(keys))
		}
		for i, k := range keys {
			port, _ := rows[i].Int("server_port")
			cnt, _ := rows[i].Int("retransmissions")
			if rows[i].String("host") != k.host || port != k.port || cnt != n[k] {
				t.Errorf("row %d: DuckDB %s:%d %d, JSONL %s:%d %d", i, rows[i].String("host"), port, cnt, k.host, k.port, n[k])
			}
		}
	})

	t.Run("p95_rtt", func(t *testing.T) {
		rtts := map[string][]float64{}
		for _, s := range all {
			for _, e := range s.events {
				if e.Type == events.TypeRTTSample && e.Reason != events.ReasonHandshake {
					p := prefix(serverOf(e.Src, e.Dst, e.Dir).Addr())
					rtts[p] = append(rtts[p], e.RTTms)
				}
			}
		}
		rows := res["p95_rtt"]
		if len(rows) != len(rtts) || len(rtts) < 2 {
			t.Fatalf("DuckDB gives %d prefixes, the JSONL %d", len(rows), len(rtts))
		}
		for _, r := range rows {
			p := r.String("server_prefix")
			v := rtts[p]
			samples, _ := r.Int("samples")
			p95, _, err := r.Float("p95_rtt_ms")
			if err != nil || samples != int64(len(v)) || !near(p95, quantileCont(v, 0.95)) {
				t.Errorf("%s: DuckDB %d samples p95 %v, JSONL %d samples p95 %v", p, samples, p95, len(v), quantileCont(v, 0.95))
			}
		}
	})

	t.Run("window_limited", func(t *testing.T) {
		rows := res["window_limited"]
		if len(rows) != len(all) {
			t.Fatalf("DuckDB gives %d hosts, there are %d samples", len(rows), len(all))
		}
		byHost := map[string]duckdb.Row{}
		for _, r := range rows {
			byHost[r.String("host")] = r
		}
		limited := 0
		for _, s := range all {
			var total, rwnd float64
			for _, f := range s.flows {
				for _, d := range []*events.DirLimits{f.Limits.Dir(events.DirC2S), f.Limits.Dir(events.DirS2C)} {
					if d != nil {
						total += d.Seconds.Total()
						rwnd += d.Seconds.Rwnd
					}
				}
			}
			r := byHost[s.host]
			secs, _, _ := r.Float("sender_seconds")
			rw, _, _ := r.Float("rwnd_seconds")
			share, ok, _ := r.Float("window_limited_share")
			if !near(secs, total) || !near(rw, rwnd) {
				t.Errorf("%s: DuckDB %v s limited by rwnd of %v s, JSONL %v of %v", s.host, rw, secs, rwnd, total)
			}
			if total == 0 {
				if ok {
					t.Errorf("%s: share %v of no time, want NULL", s.host, share)
				}
				continue
			}
			if !ok || !near(share, rwnd/total) {
				t.Errorf("%s: DuckDB window-limited share %v, JSONL %v", s.host, share, rwnd/total)
			}
			if rwnd > 0 {
				limited++
			}
		}
		if limited == 0 {
			t.Error("no sample has window-limited time: the comparison proves nothing")
		}
	})
}
