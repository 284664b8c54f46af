//go:build linux

package capture

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/pcapng"
)

const port = 5011

// TestLabLowRateReachesFile: a capture filtered to one quiet connection
// (--port, a segment now and then, nothing else matching) writes each
// packet to its file while it runs, not only when it stops. Each segment
// carries a marker; the test waits for the marker to be in the file, with a
// bound far above the 200 ms flush interval so a loaded machine does not
// fail it, and the capture still running.
func TestLabLowRateReachesFile(t *testing.T) {
	needRoot(t)
	l := lab.New(t, lab.Options{})
	var ln net.Listener
	if err := l.Do(l.Server, func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(l.ServerAddr.String(), "5011"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()

	for _, toPipe := range []bool{false, true} {
		name := "file"
		if toPipe {
			name = "pipe"
		}
		t.Run(name, func(t *testing.T) { lowRate(t, l, toPipe) })
	}
}

func lowRate(t *testing.T, l *lab.Lab, toPipe bool) {
	cfg := Config{Output: filepath.Join(t.TempDir(), "quiet.pcapng"), Interface: l.ClientIf, Netns: l.Client, Ports: []uint16{port}}
	has := func(b []byte) bool { return fileHas(t, cfg.Output, b) }
	if toPipe {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cfg.Output, cfg.Stdout = "-", w
		var mu sync.Mutex
		var seen [][]byte
		go func() {
			rd := pcapng.NewReader(r, "pipe")
			for {
				rec, err := rd.Next()
				if err != nil {
					return
				}
				if rec.Type == pcapng.RecordPacket {
					mu.Lock()
					seen = append(seen, bytes.Clone(rec.Data))
					mu.Unlock()
				}
			}
		}()
		defer w.Close()
		has = func(b []byte) bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.ContainsFunc(seen, func(d []byte) bool { return bytes.Contains(d, b) })
		}
	}
	stop := startCapture(t, cfg)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	var c net.Conn
	if err := l.Do(l.Client, func() error {
		var err error
		c, err = net.DialTimeout("tcp", net.JoinHostPort(l.ServerAddr.String(), "5011"), 10*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 4 {
		marker := []byte{'m', 'a', 'r', 'k', byte('0' + i)}
		if _, err := c.Write(marker); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for !has(marker) {
			if time.Since(start) > 15*time.Second {
				t.Fatalf("segment %d not in the file after %v while the capture runs", i, time.Since(start))
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("segment %d in the file after %v", i, time.Since(start).Round(time.Millisecond))
		// Quiet for longer than the flush interval between segments.
		time.Sleep(500 * time.Millisecond)
	}
	stopped = true
	if _, err := stop(); err != nil {
		t.Fatal(err)
	}
}

// fileHas reports whether a packet in the capture file (read up to its
// last complete block) holds b.
func fileHas(t *testing.T, path string, b []byte) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := pcapng.NewReader(f, path)
	for {
		rec, err := r.Next()
		if err == io.EOF || errors.Is(err, pcapng.ErrNeedMore) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == pcapng.RecordPacket && bytes.Contains(rec.Data, b) {
			return true
		}
	}
}
