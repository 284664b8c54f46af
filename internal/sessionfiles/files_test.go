package sessionfiles

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/pcapng"
)

// splitCapture writes the records of a sample into n pcapng files, as a
// capture ring would, and returns their paths in order.
func splitCapture(t *testing.T, path, dir string, n int) []string {
	t.Helper()
	var recs []pcapng.Record
	feed.File(t, path, feed.Func(func(rec *pcapng.Record) error {
		if rec.Type == pcapng.RecordPacket || rec.Type == pcapng.RecordCustom {
			c := *rec
			c.Data = bytes.Clone(rec.Data)
			c.CustomData = bytes.Clone(rec.CustomData)
			recs = append(recs, c)
		}
		return nil
	}))
	var paths []string
	per := (len(recs) + n - 1) / n
	for i := 0; i < n; i++ {
		out := filepath.Join(dir, fmt.Sprintf("ring_%05d.pcapng", i+1))
		var b bytes.Buffer
		w, err := pcapng.NewWriter(&b, pcapng.WriterOptions{Application: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[*pcapng.Interface]uint32{}
		for _, rec := range recs[min(i*per, len(recs)):min((i+1)*per, len(recs))] {
			if rec.Type == pcapng.RecordCustom {
				if err := w.WriteCustom(rec.PEN, rec.CustomData, rec.Copyable); err != nil {
					t.Fatal(err)
				}
				continue
			}
			id, ok := ids[rec.Interface]
			if !ok {
				if id, err = w.AddInterface(pcapng.Interface{LinkType: rec.Interface.LinkType, SnapLen: rec.Interface.SnapLen, Name: rec.Interface.Name}); err != nil {
					t.Fatal(err)
				}
				ids[rec.Interface] = id
			}
			if err := w.WritePacket(id, rec.TS, rec.Data, rec.OrigLen, pcapng.PacketOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, out)
	}
	return paths
}

// runOver runs a pipeline fed by feed and returns its packets, events and
// flows as JSON Lines.
func runOver(t *testing.T, feed func(p *pipeline.Pipeline) error) string {
	t.Helper()
	var b bytes.Buffer
	w := events.NewWriter(&b, 0)
	cfg := pipeline.Config{Flows: conntrack.DefaultConfig(), OnFlow: w.Flow,
		NewDetector: func(emit func(*events.Event)) pipeline.Detector {
			return detectors.New(detectors.DefaultConfig(), emit)
		}}
	p := pipeline.New(cfg)
	s := &jsonlSink{w: w, table: p.Table(), packets: true}
	p.AddSink(s)
	if err := feed(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestFeedFilesSameAsSequential: reading a ring of files ahead on several
// goroutines gives, byte for byte, what one goroutine reading them one
// after the other gives; and connections continue across the files.
func TestFeedFilesSameAsSequential(t *testing.T) {
	for _, sample := range []string{"cubic-loss-sender.pcapng", "kernel-web.pcapng", "any-sll2.pcap"} {
		t.Run(sample, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join("../../samples", sample)
			if _, err := os.Stat(path); err != nil {
				t.Skip(err)
			}
			paths := splitCapture(t, path, dir, 5)
			sequential := runOver(t, func(p *pipeline.Pipeline) error {
				for _, f := range paths {
					feed.File(t, f, p)
				}
				p.Finish()
				return nil
			})
			got, sizes, err := driver.Inputs(filepath.Join(dir, "ring_*.pcapng"))
			if err != nil || len(got) != len(paths) {
				t.Fatalf("Inputs: %v %v", got, err)
			}
			ahead := runOver(t, func(p *pipeline.Pipeline) error {
				open := func(i int) (*pcapng.Reader, io.Closer, error) {
					in, err := driver.OpenInput(got[i], nil)
					if err != nil {
						return nil, nil, err
					}
					return pcapng.NewReader(in, in.Name), in, nil
				}
				_, err := driver.FeedFiles(context.Background(), open, sizes, p, nil, nil)
				return err
			})
			if ahead != sequential {
				t.Fatalf("read ahead differs from sequential reading (%d vs %d bytes)", len(ahead), len(sequential))
			}
			// The whole file gives the same connections: none was cut at a
			// file boundary.
			whole := runOver(t, func(p *pipeline.Pipeline) error {
				in, err := os.Open(path)
				if err != nil {
					return err
				}
				defer in.Close()
				return driver.Feed(context.Background(), pcapng.NewReader(in, path), 0, p, nil, nil)
			})
			if a, b := bytes.Count([]byte(whole), []byte(`"type":"flow"`)), bytes.Count([]byte(ahead), []byte(`"type":"flow"`)); a != b || a == 0 {
				t.Errorf("%d connections in the whole file, %d across the ring", a, b)
			}
		})
	}
}
