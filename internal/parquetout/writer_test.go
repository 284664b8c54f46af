package parquetout

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// jsonFields lists the JSON names of a record type, nested structs
// flattened as PREFIX_NAME.
func jsonFields(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(events.Timestamp(0)) && ft.PkgPath() != "net/netip" {
			out = append(out, jsonFields(ft, prefix+name+"_")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// columns lists a row's top-level columns and its struct leaves joined
// with "_" (limits_c2s.seconds.rwnd as limits_c2s_seconds_rwnd).
func columns(row any) []string {
	var out []string
	for _, f := range parquet.SchemaOf(row).Fields() {
		out = append(out, f.Name())
	}
	for _, path := range parquet.SchemaOf(row).Columns() {
		out = append(out, strings.Join(path, "_"))
	}
	return out
}

// TestEveryJSONFieldHasAColumn fails when a record gains a JSON field that
// its Parquet table does not carry: add the column in rows.go and the line
// in docs/parquet.md.
func TestEveryJSONFieldHasAColumn(t *testing.T) {
	for _, c := range []struct {
		table string
		rec   any
		row   any
		// JSON fields written under other names or not at all.
		renamed map[string]string
	}{
		{TableEvents, events.Event{}, EventRow{}, map[string]string{"kernel": "(kernel table)"}},
		{TableKernel, kblock.Record{}, KernelRow{}, map[string]string{}},
		{TableFlows, events.FlowRecord{}, FlowRow{}, map[string]string{"type": "(always flow)", "first": "ts"}},
		{TablePackets, events.PacketRecord{}, PacketRow{}, map[string]string{"type": "(always packet)", "sack": "sack_left"}},
	} {
		cols := columns(c.row)
		for _, f := range jsonFields(reflect.TypeOf(c.rec), "") {
			if c.table == TableEvents && strings.HasPrefix(f, "kernel_") {
				continue // the kernel object goes to the kernel table
			}
			name := f
			if r, ok := c.renamed[f]; ok {
				if strings.HasPrefix(r, "(") {
					continue
				}
				name = r
			}
			if !slices.Contains(cols, name) {
				t.Errorf("table %s: JSON field %s has no column", c.table, f)
			}
		}
		for _, must := range []string{"capture_file", "frame", "ts", "ts_ns"} {
			if !slices.Contains(cols, must) {
				t.Errorf("table %s: no %s column", c.table, must)
			}
		}
		for _, partition := range []string{"host", "date", "table"} {
			cols := columns(c.row)[:len(parquet.SchemaOf(c.row).Fields())]
			if slices.Contains(cols, partition) {
				t.Errorf("table %s: column %s repeats a partition directory", c.table, partition)
			}
		}
		// The kernel table also carries the event's own fields.
		if c.table == TableKernel {
			for _, f := range []string{"type", "flow", "dir", "context_srtt_ms"} {
				if !slices.Contains(cols, f) {
					t.Errorf("table kernel: no %s column", f)
				}
			}
		}
	}
}

// TestEveryKernelJSONFieldHasAColumn covers the kernel fields written by
// the record's own encoder (the send-limit groups), with every group set.
func TestEveryKernelJSONFieldHasAColumn(t *testing.T) {
	r := kblock.Record{Kind: kblock.KindProbe, Has: kblock.HasAll}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	cols := columns(KernelRow{})
	for k := range m {
		if !slices.Contains(cols, k) {
			t.Errorf("kernel JSON field %s has no column", k)
		}
	}
}

func event(ts time.Time, frame uint64) *events.Event {
	return &events.Event{Type: events.TypeRetransmission, Frame: frame, TS: events.Timestamp(ts.UnixNano()), Flow: 1,
		Dir: events.DirS2C, Src: "10.0.0.2:443", Dst: "10.0.0.1:50000", Severity: events.SevWarn, Kind: events.RetransRTO}
}

func finals(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasPrefix(info.Name(), "part-") && strings.HasSuffix(p, ".parquet") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	sort := slices.Sorted(slices.Values(out))
	return sort
}

func TestPartitionsRollAndReadBack(t *testing.T) {
	root := t.TempDir()
	w, err := New(Config{Dir: root, Host: "web/1", Stem: "s", Roll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w.SetCaptureFile("/cap/a.pcapng")
	t0 := time.Date(2026, 12, 1, 23, 10, 0, 123456789, time.UTC)
	for i := 0; i < 3000; i++ {
		w.Event(event(t0.Add(time.Duration(i)*time.Second/2), uint64(i+1))) // 25 minutes
	}
	if got := finals(t, root); len(got) != 0 {
		t.Fatalf("files visible before the hour ended: %v", got)
	}
	// Crossing midnight: the 23:00 hour closes, the rows go to a new date.
	w.Event(event(t0.Add(time.Hour), 3001))
	want := []string{"table=events/date=2026-12-01/host=web_1/part-s-00001.parquet"}
	if got := finals(t, root); !slices.Equal(got, want) {
		t.Fatalf("after the hour: %v, want %v", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(want, "table=events/date=2026-12-02/host=web_1/part-s-00001.parquet")
	if got := finals(t, root); !slices.Equal(got, want) {
		t.Fatalf("after Close: %v, want %v", got, want)
	}
	rows, err := parquet.ReadFile[EventRow](filepath.Join(root, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3000 {
		t.Fatalf("%d rows, want 3000", len(rows))
	}
	r := rows[2]
	if r.TSNs != t0.Add(time.Second).UnixNano() || r.TS != t0.Add(time.Second).UnixMicro() || r.Frame != 3 ||
		r.CaptureFile != "/cap/a.pcapng" || r.ServerPort != 443 || r.ClientPort != 50000 || r.ServerNet != "10.0.0.0/24" {
		t.Errorf("row %+v", r)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	root := t.TempDir()
	w, _ := New(Config{Dir: root, Host: "h", Stem: "s"})
	w.Event(event(time.Now(), 1))
	w.Flow(&events.FlowRecord{Flow: 1, First: events.Timestamp(time.Now().UnixNano())})
	w.Abort()
	var left []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("Abort left %v", left)
	}
}

// TestKilledWriterLeavesNoFinalFile kills a process in the middle of
// writing (SIGKILL: no cleanup runs) and checks that no file is visible
// under a final name.
func TestKilledWriterLeavesNoFinalFile(t *testing.T) {
	if dir := os.Getenv("TCPVIZ_PARQUET_CHILD"); dir != "" {
		w, _ := New(Config{Dir: dir, Host: "h", Stem: "s", RowGroupRows: 1000})
		t0 := time.Now()
		for i := 0; ; i++ {
			w.Event(event(t0.Add(time.Duration(i)), uint64(i)))
			if i == 50_000 {
				fmt.Println("writing") // several row groups are on disk by now
			}
		}
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesNoFinalFile$")
	cmd.Env = append(os.Environ(), "TCPVIZ_PARQUET_CHILD="+root)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if line != "writing\n" {
		t.Fatalf("child said %q", line)
	}
	var temps int
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if strings.HasPrefix(info.Name(), "part-") {
				t.Errorf("killed writer left a final file %s", p)
			} else if info.Size() > 0 {
				temps++
			}
		}
		return nil
	})
	if temps == 0 {
		t.Error("the child wrote nothing: the test proves nothing")
	}
}
