package monitor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
	"github.com/tcpviz/tcpviz/pcapng"
)

// followed runs a Follower in the background and records what it hands on.
type followed struct {
	t      *testing.T
	f      *Follower
	log    *syncbuf.Buffer
	mu     sync.Mutex
	files  []string // file of each record, in order
	ts     []int64
	cancel context.CancelFunc
	done   chan error
	// block, when set, holds the follower at the end of its next pass
	// until release is closed; blocked is closed once it is held.
	block   atomic.Bool
	blocked chan struct{}
	release chan struct{}
}

func follow(t *testing.T, cfg FollowConfig) *followed {
	t.Helper()
	fl := &followed{t: t, log: &syncbuf.Buffer{}, done: make(chan error, 1)}
	cfg.Log = fl.log
	f, err := NewFollower(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fl.f = f
	f.caughtUp = func() {
		if fl.block.CompareAndSwap(true, false) {
			close(fl.blocked)
			<-fl.release
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	fl.cancel = cancel
	go func() {
		fl.done <- f.Run(ctx, func(file string, rec *pcapng.Record) error {
			fl.mu.Lock()
			fl.files = append(fl.files, file)
			fl.ts = append(fl.ts, rec.TS)
			fl.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() { fl.stop() })
	waitFor(t, "the follower to start", 5*time.Second, func() bool { return f.passDone.Load() >= 1 })
	return fl
}

func (fl *followed) stop() {
	if fl.cancel != nil {
		fl.cancel()
		fl.cancel = nil
		if err := <-fl.done; err != nil {
			fl.t.Errorf("follower: %v", err)
		}
	}
}

func (fl *followed) records() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return len(fl.files)
}

func (fl *followed) stats() FollowStats {
	_, _, s := fl.f.readPosition()
	return s
}

// perFile counts the records handed on from each file.
func (fl *followed) perFile() map[string]int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	m := make(map[string]int)
	for _, f := range fl.files {
		m[filepath.Base(f)]++
	}
	return m
}

func (fl *followed) waitRecords(n int) {
	fl.t.Helper()
	waitFor(fl.t, fmt.Sprintf("%d records", n), 10*time.Second, func() bool { return fl.records() >= n })
}

// hold stops the follower at the end of its next pass (triggered by
// poke) and returns a function that lets it go on.
func (fl *followed) hold(poke func()) func() {
	fl.t.Helper()
	fl.blocked, fl.release = make(chan struct{}), make(chan struct{})
	fl.block.Store(true)
	poke()
	select {
	case <-fl.blocked:
	case <-time.After(10 * time.Second):
		fl.t.Fatal("the follower did not make a pass")
	}
	return func() { close(fl.release) }
}

// pcapngOf is a complete pcapng file of n packets from the scenario,
// starting at packet from.
func pcapngOf(t *testing.T, pkts []pkt, from, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := pcapng.NewWriter(&b, pcapng.WriterOptions{Application: "tcpviz monitor test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: snaplen}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts[from : from+n] {
		if err := w.WritePacket(0, p.ts, p.data, p.origLen, pcapng.PacketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func ringName(dir string, seq int) string {
	return filepath.Join(dir, fmt.Sprintf("ring_%05d_20261123093000.pcapng", seq))
}

var followModes = []struct {
	name     string
	noNotify bool
	poll     time.Duration
}{
	{"fsnotify", false, time.Hour},
	{"poll", true, 10 * time.Millisecond},
}

func TestFollowTruncated(t *testing.T) {
	pkts := scenario(t, 5, 0)
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cap.pcapng")
			appendFile(t, path, pcapngOf(t, pkts, 0, 10))
			fl := follow(t, FollowConfig{Path: path, FromStart: true, NoNotify: m.noNotify, PollInterval: m.poll})
			fl.waitRecords(10)
			// Cut the file to nothing, as a writer reusing its name does,
			// then write a new capture into it.
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the truncation to be noticed", 10*time.Second, func() bool { return fl.stats().Restarts == 1 })
			appendFile(t, path, pcapngOf(t, pkts, 10, 7))
			fl.waitRecords(17)
			fl.stop()
			if n := fl.records(); n != 17 {
				t.Errorf("%d records, want 17 (10 before the truncation, 7 after)", n)
			}
			if !slices.Equal(fl.ts[10:], tsOf(pkts[10:17])) {
				t.Error("the records after the truncation are not the new file's")
			}
			if !strings.Contains(fl.log.String(), "cap.pcapng was truncated") {
				t.Errorf("no truncation notice in %q", fl.log)
			}
		})
	}
}

func tsOf(p []pkt) []int64 {
	ts := make([]int64, len(p))
	for i := range p {
		ts[i] = p[i].ts
	}
	return ts
}

func TestFollowReplaced(t *testing.T) {
	pkts := scenario(t, 5, 0)
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cap.pcapng")
			appendFile(t, path, pcapngOf(t, pkts, 0, 10))
			fl := follow(t, FollowConfig{Path: path, FromStart: true, NoNotify: m.noNotify, PollInterval: m.poll})
			fl.waitRecords(10)
			// A new file renamed over the old name: another inode, longer.
			tmp := filepath.Join(dir, ".cap.tmp")
			appendFile(t, tmp, pcapngOf(t, pkts, 10, 20))
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			fl.waitRecords(30)
			fl.stop()
			if n, s := fl.records(), fl.f.Stats(); n != 30 || s.Restarts != 1 {
				t.Errorf("%d records, %d restarts; want 30 and 1", n, s.Restarts)
			}
			if !strings.Contains(fl.log.String(), "cap.pcapng was replaced") {
				t.Errorf("no replacement notice in %q", fl.log)
			}
		})
	}
}

// A ring that rotates faster than the follower reads deletes a file before
// it was opened: the gap is reported and the next file is read.
func TestFollowDeletedGap(t *testing.T) {
	pkts := scenario(t, 10, 0)
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			appendFile(t, ringName(dir, 1), pcapngOf(t, pkts, 0, 10))
			fl := follow(t, FollowConfig{Path: filepath.Join(dir, "ring.pcapng"), FromStart: true, NoNotify: m.noNotify, PollInterval: m.poll})
			fl.waitRecords(10)
			release := fl.hold(func() { appendFile(t, ringName(dir, 1), pcapngOf(t, pkts, 10, 2)) })
			// While the follower is busy: files 2, 3 and 4 appear, 2 and 3
			// are deleted by the ring.
			appendFile(t, ringName(dir, 2), pcapngOf(t, pkts, 20, 5))
			appendFile(t, ringName(dir, 3), pcapngOf(t, pkts, 25, 5))
			appendFile(t, ringName(dir, 4), pcapngOf(t, pkts, 30, 8))
			os.Remove(ringName(dir, 2))
			os.Remove(ringName(dir, 3))
			release()
			fl.waitRecords(20)
			fl.stop()
			want := map[string]int{filepath.Base(ringName(dir, 1)): 12, filepath.Base(ringName(dir, 4)): 8}
			if got := fl.perFile(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("records per file %v, want %v", got, want)
			}
			if s := fl.f.Stats(); s.Gaps != 2 || s.Files != 2 {
				t.Errorf("gaps %d, files %d; want 2 and 2", s.Gaps, s.Files)
			}
			if !strings.Contains(fl.log.String(), "gap: 2 file(s) between ring_00001") {
				t.Errorf("no gap notice in %q", fl.log)
			}
		})
	}
}

// A file that ends inside a block keeps the follower waiting for the rest;
// once a newer file exists and the rest does not come, it moves on.
func TestFollowPartialBlock(t *testing.T) {
	pkts := scenario(t, 5, 0)
	dir := t.TempDir()
	first := pcapngOf(t, pkts, 0, 10)
	one := ringName(dir, 1)
	cut := len(first) - 20 // inside the last packet block
	appendFile(t, one, first[:cut])
	fl := follow(t, FollowConfig{Path: filepath.Join(dir, "ring*.pcapng"), FromStart: true, PollInterval: 20 * time.Millisecond})
	fl.waitRecords(9)
	// The rest of the block arrives: the 10th record is handed on.
	appendFile(t, one, first[cut:])
	fl.waitRecords(10)
	// Half a block again, then the ring rotates.
	extra := pcapngOf(t, pkts, 10, 1)
	ifaceEnd := len(pcapngOf(t, pkts, 0, 0))
	appendFile(t, one, extra[ifaceEnd:ifaceEnd+16])
	appendFile(t, ringName(dir, 2), pcapngOf(t, pkts, 11, 4))
	fl.waitRecords(14)
	fl.stop()
	if got := fl.perFile(); got[filepath.Base(one)] != 10 || got[filepath.Base(ringName(dir, 2))] != 4 {
		t.Errorf("records per file %v, want 10 and 4", got)
	}
	if !strings.Contains(fl.log.String(), "truncated block: have 16 of") || !strings.Contains(fl.log.String(), "moving on") {
		t.Errorf("no notice of the cut block in %q", fl.log)
	}
}

// tcpdump -C names: cap, cap1, cap2, ... cap10 come after cap9.
func TestFollowTcpdumpOrder(t *testing.T) {
	pkts := scenario(t, 10, 0)
	dir := t.TempDir()
	var want []string
	for i := 0; i <= 11; i++ {
		name := "dump.pcap"
		if i > 0 {
			name += fmt.Sprint(i)
		}
		appendFile(t, filepath.Join(dir, name), pcapngOf(t, pkts, i, 1))
		want = append(want, filepath.Join(dir, name))
	}
	fl := follow(t, FollowConfig{Path: filepath.Join(dir, "dump.pcap"), FromStart: true, NoNotify: true, PollInterval: 10 * time.Millisecond})
	fl.waitRecords(12)
	fl.stop()
	if !slices.Equal(fl.files, want) {
		t.Errorf("order read:\n%q\nwant\n%q", fl.files, want)
	}
	if !slices.IsSorted(fl.ts) {
		t.Error("records not in capture order")
	}
}

// By default the newest existing file is skipped to its end and older ones
// are not read at all.
func TestFollowStartsAtNewest(t *testing.T) {
	pkts := scenario(t, 10, 0)
	dir := t.TempDir()
	appendFile(t, ringName(dir, 1), pcapngOf(t, pkts, 0, 5))
	appendFile(t, ringName(dir, 2), pcapngOf(t, pkts, 5, 6))
	fl := follow(t, FollowConfig{Path: dir, PollInterval: 10 * time.Millisecond, NoNotify: true})
	if s := fl.stats(); s.Skipped != 6 || s.Files != 1 {
		t.Errorf("skipped %d records in %d files, want 6 in 1", s.Skipped, s.Files)
	}
	// New packets in the current file are read with its interface.
	full := pcapngOf(t, pkts, 5, 9)
	appendFile(t, ringName(dir, 2), full[len(pcapngOf(t, pkts, 5, 6)):])
	fl.waitRecords(3)
	fl.stop()
	if !slices.Equal(fl.ts, tsOf(pkts[11:14])) {
		t.Errorf("records %v, want the 3 appended", fl.ts)
	}
}

// A file that is not a capture is reported with its name and offset and
// skipped; the follower goes on with the next file.
func TestFollowBadFile(t *testing.T) {
	pkts := scenario(t, 5, 0)
	dir := t.TempDir()
	good := pcapngOf(t, pkts, 0, 4)
	bad := append(bytes.Clone(good), good...)
	bad[len(good)+4] = 0xff // the second SHB's length: not a multiple of 4
	appendFile(t, ringName(dir, 1), bad)
	appendFile(t, ringName(dir, 2), pcapngOf(t, pkts, 4, 3))
	fl := follow(t, FollowConfig{Path: dir, FromStart: true, PollInterval: 10 * time.Millisecond, NoNotify: true})
	fl.waitRecords(11)
	fl.stop()
	// The damaged header is skipped: the second section's interface and
	// packets are read on, then the next file.
	fl.waitRecords(11)
	if s := fl.f.Stats(); s.Damaged != 1 || s.Errors != 0 || fl.records() != 11 {
		t.Errorf("damaged %d, errors %d, records %d; want 1, 0 and 11: %s", s.Damaged, s.Errors, fl.records(), fl.log)
	}
	if want := fmt.Sprintf("%s: offset %d", ringName(dir, 1), len(good)); !strings.Contains(fl.log.String(), want) {
		t.Errorf("log %q does not name %q", fl.log, want)
	}
}

func TestFollowPathErrors(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{
		filepath.Join(dir, "*", "x.pcapng"),       // wildcard in a directory
		filepath.Join(dir, "missing", "x.pcapng"), // directory does not exist
		filepath.Join(dir, "[", "x.pcapng"),       // bad pattern in a directory
		filepath.Join(dir, "x[.pcapng"),           // bad pattern
		"",
	} {
		if _, err := NewFollower(FollowConfig{Path: p}); err == nil {
			t.Errorf("%q: no error", p)
		}
	}
}

// A symlink re-pointed at files with unrelated names: each new target is
// read after the old one is finished.
func TestFollowSymlinkAnyNames(t *testing.T) {
	pkts := scenario(t, 10, 0)
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			link := filepath.Join(dir, "latest.pcap")
			point := func(target string) {
				tmp := link + ".new"
				if err := os.Symlink(target, tmp); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, link); err != nil {
					t.Fatal(err)
				}
			}
			first := pcapngOf(t, pkts, 0, 6)
			appendFile(t, filepath.Join(dir, "morning.pcapng"), first[:len(first)-30])
			point("morning.pcapng")
			fl := follow(t, FollowConfig{Path: link, FromStart: true, NoNotify: m.noNotify, PollInterval: m.poll})
			fl.waitRecords(5)
			// The writer finishes the old file, then starts another and
			// re-points the link.
			appendFile(t, filepath.Join(dir, "morning.pcapng"), first[len(first)-30:])
			appendFile(t, filepath.Join(dir, "afternoon.pcapng"), pcapngOf(t, pkts, 6, 4))
			point(filepath.Join(dir, "afternoon.pcapng")) // absolute this time
			fl.waitRecords(10)
			fl.stop()
			want := map[string]int{"morning.pcapng": 6, "afternoon.pcapng": 4}
			if got := fl.perFile(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("records per file %v, want %v", got, want)
			}
			if !slices.Equal(fl.ts, tsOf(pkts[:10])) {
				t.Error("records not in order")
			}
		})
	}
}

// NoFollow reads the files that exist, from the start, and returns at the
// end of the last one; a block cut at the end of it is left unread.
func TestFollowNoFollow(t *testing.T) {
	pkts := scenario(t, 5, 0)
	dir := t.TempDir()
	appendFile(t, ringName(dir, 1), pcapngOf(t, pkts, 0, 10))
	second := pcapngOf(t, pkts, 10, 6)
	appendFile(t, ringName(dir, 2), second[:len(second)-20])
	f, err := NewFollower(FollowConfig{Path: filepath.Join(dir, "ring.pcapng"), NoFollow: true})
	if err != nil {
		t.Fatal(err)
	}
	perFile := map[string]int{}
	done := make(chan error, 1)
	go func() {
		done <- f.Run(context.Background(), func(file string, rec *pcapng.Record) error {
			perFile[filepath.Base(file)]++
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return at the end of the files")
	}
	// Each file's section header and interface blocks are not records.
	want := map[string]int{filepath.Base(ringName(dir, 1)): 10, filepath.Base(ringName(dir, 2)): 5}
	if fmt.Sprint(perFile) != fmt.Sprint(want) {
		t.Errorf("records per file %v, want %v", perFile, want)
	}
}
