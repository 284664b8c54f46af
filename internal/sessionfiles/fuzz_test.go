package sessionfiles_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/internal/testutil/robust"
)

// scratchDir is a fresh directory on tmpfs when there is one: sessionfiles.Run
// syncs its outputs, which is slow on a disk and irrelevant here.
func scratchDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "tcpviz-fuzz-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

var offsetRE = regexp.MustCompile(`offset \d+`)

// FuzzParse runs the whole parse pipeline (reader, decoder, flow table,
// detectors, JSONL writers) on arbitrary bytes. It must not panic; a failure
// must name the input file and a byte offset and leave no output file under
// its final name; a success must leave valid JSON in every output file.
func FuzzParse(f *testing.F) {
	syn, err := robust.Synthetic()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(syn)
	f.Add(syn[:len(syn)/2])
	f.Add(syn[:len(syn)-7])
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(syn)
	zw.Close()
	f.Add(z.Bytes())
	f.Add(z.Bytes()[:z.Len()/2])

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := scratchDir(t)
		in := filepath.Join(dir, "input.pcapng")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		res, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: in, OutDir: out, Packets: true, Pipeline: pipecfg.Detectors()})
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, in) || !offsetRE.MatchString(msg) {
				t.Fatalf("error does not name the file and an offset: %v", err)
			}
			for _, name := range []string{sessionfiles.EventsFile, sessionfiles.FlowsFile, sessionfiles.SummaryFile} {
				if _, err := os.Stat(filepath.Join(out, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s exists after a failed run (%v)", name, err)
				}
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Fatalf("failed run left %d files, first %s", len(left), left[0].Name())
			}
			return
		}
		for _, w := range res.Summary.Warnings {
			if strings.Contains(w, "truncated") && !offsetRE.MatchString(w) {
				t.Fatalf("warning without an offset: %q", w)
			}
		}
		var sum events.Summary
		b, err := os.ReadFile(filepath.Join(out, sessionfiles.SummaryFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatalf("summary.json: %v", err)
		}
		if sum.Frames != res.Summary.Frames || sum.Packets > sum.Frames || sum.TCPPackets > sum.Packets {
			t.Fatalf("inconsistent summary: frames %d (returned %d), packets %d, tcp %d",
				sum.Frames, res.Summary.Frames, sum.Packets, sum.TCPPackets)
		}
		var lines, tcpLines int
		for _, name := range []string{sessionfiles.EventsFile, sessionfiles.FlowsFile} {
			fh, err := os.Open(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var v map[string]any
				if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
					t.Fatalf("%s line %d: %v: %.200s", name, lines+1, err, sc.Bytes())
				}
				if name == sessionfiles.EventsFile && v["type"] == "packet" {
					tcpLines++
				}
				lines++
			}
			fh.Close()
			if err := sc.Err(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if uint64(tcpLines) != sum.TCPPackets {
			t.Fatalf("events.jsonl has %d packet records, summary counts %d TCP packets", tcpLines, sum.TCPPackets)
		}
	})
}
