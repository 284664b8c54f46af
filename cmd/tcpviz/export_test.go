package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tcpviz/tcpviz/internal/parquetout"
)

func parquetFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".parquet") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func readRows[T any](t *testing.T, path string) []T {
	t.Helper()
	rows, err := parquet.ReadFile[T](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestExportMatchesParseParquet: a session exported later gives the same
// files, under the same names, with the same rows as parse-pcap --parquet
// writing from the capture, and exporting again replaces them.
func TestExportMatchesParseParquet(t *testing.T) {
	tmp := t.TempDir()
	sess := filepath.Join(tmp, "session")
	direct := filepath.Join(tmp, "direct")
	exported := filepath.Join(tmp, "exported")
	in := "../../samples/zero-window.pcapng"
	if _, errOut, code := runTool(t, "parse-pcap", "-q", "--in", in, "--out", sess, "--packets",
		"--parquet", direct, "--parquet-packets", "--host", "lab-1"); code != 0 {
		t.Fatalf("parse-pcap: %s", errOut)
	}
	for range 2 {
		if _, errOut, code := runTool(t, "export", "-q", "--format", "parquet", "--out", exported, "--host", "lab-1", "--packets", sess); code != 0 {
			t.Fatalf("export: %s", errOut)
		}
	}
	a, b := parquetFiles(t, direct), parquetFiles(t, exported)
	if len(a) != 3 || !reflect.DeepEqual(a, b) {
		t.Fatalf("parse-pcap --parquet wrote %v, export %v", a, b)
	}
	for _, f := range a {
		var same bool
		switch {
		case strings.HasPrefix(f, "table=events/"):
			same = reflect.DeepEqual(readRows[parquetout.EventRow](t, filepath.Join(direct, f)), readRows[parquetout.EventRow](t, filepath.Join(exported, f)))
		case strings.HasPrefix(f, "table=flows/"):
			same = reflect.DeepEqual(readRows[parquetout.FlowRow](t, filepath.Join(direct, f)), readRows[parquetout.FlowRow](t, filepath.Join(exported, f)))
		case strings.HasPrefix(f, "table=packets/"):
			same = reflect.DeepEqual(readRows[parquetout.PacketRow](t, filepath.Join(direct, f)), readRows[parquetout.PacketRow](t, filepath.Join(exported, f)))
		default:
			t.Fatalf("unexpected table %s", f)
		}
		if !same {
			t.Errorf("%s: rows differ between parse-pcap --parquet and export", f)
		}
	}
	if _, errOut, code := runTool(t, "export", "--format", "csv", "--out", exported, sess); code != 2 || !strings.Contains(errOut, "parquet") {
		t.Errorf("--format csv: exit %d, %q", code, errOut)
	}
}

// TestParquetNamesEachFileOfADirectory: parse-pcap --in DIR reads several
// captures as one; each Parquet row names the file its frame is in.
func TestParquetNamesEachFileOfADirectory(t *testing.T) {
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in")
	os.Mkdir(in, 0o755)
	for _, s := range []string{"cubic-loss-sender.pcapng", "zero-window.pcapng"} {
		b, err := os.ReadFile("../../samples/" + s)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(in, s), b, 0o644)
	}
	pq := filepath.Join(tmp, "pq")
	if _, errOut, code := runTool(t, "parse-pcap", "-q", "--in", in, "--out", filepath.Join(tmp, "s"), "--parquet", pq); code != 0 {
		t.Fatalf("parse-pcap: %s", errOut)
	}
	byFile := map[string]int{}
	for _, f := range parquetFiles(t, pq) {
		if strings.HasPrefix(f, "table=events/") {
			for _, r := range readRows[parquetout.EventRow](t, filepath.Join(pq, f)) {
				byFile[r.CaptureFile]++
			}
		}
	}
	for _, s := range []string{"cubic-loss-sender.pcapng", "zero-window.pcapng"} {
		if byFile[filepath.Join(in, s)] == 0 {
			t.Errorf("no events name %s: %v", s, byFile)
		}
	}
	if len(byFile) != 2 {
		t.Errorf("capture_file values %v, want the two files", byFile)
	}
}

// TestParquetInsteadOfJSONL: --no-jsonl writes the Parquet tables and the
// summary, no events.jsonl or flows.jsonl.
func TestParquetInsteadOfJSONL(t *testing.T) {
	tmp := t.TempDir()
	sess, pq := filepath.Join(tmp, "s"), filepath.Join(tmp, "pq")
	if _, errOut, code := runTool(t, "parse-pcap", "-q", "--in", "../../samples/zero-window.pcapng", "--out", sess,
		"--parquet", pq, "--no-jsonl"); code != 0 {
		t.Fatalf("parse-pcap: %s", errOut)
	}
	ents, _ := os.ReadDir(sess)
	if len(ents) != 1 || ents[0].Name() != "summary.json" {
		t.Errorf("session holds %v, want summary.json alone", ents)
	}
	if got := parquetFiles(t, pq); len(got) != 2 {
		t.Errorf("Parquet files %v, want events and flows", got)
	}
	if _, errOut, code := runTool(t, "parse-pcap", "--in", "../../samples/zero-window.pcapng", "--out", filepath.Join(tmp, "x"), "--no-jsonl"); code != 2 || !strings.Contains(errOut, "--parquet") {
		t.Errorf("--no-jsonl without --parquet: exit %d, %q", code, errOut)
	}
}
