package monitor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/pcapng"
)

// The writer adds its last blocks to a file and rotates between the
// follower's end of file and its look at the directory: those blocks are
// still read, before the new file.
func TestFollowEOFBeforeListing(t *testing.T) {
	pkts := scenario(t, 10, 0)
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			one, two := ringName(dir, 1), ringName(dir, 2)
			appendFile(t, one, pcapngOf(t, pkts, 0, 10))
			fl := follow(t, FollowConfig{Path: filepath.Join(dir, "ring.pcapng"), FromStart: true,
				NoNotify: m.noNotify, PollInterval: m.poll})
			fl.waitRecords(10)
			var once atomic.Bool
			fl.f.beforeList = func() {
				if once.CompareAndSwap(false, true) {
					appendFile(t, one, pcapngOf(t, pkts, 10, 3))
					appendFile(t, two, pcapngOf(t, pkts, 13, 5))
				}
			}
			// Any notification makes a pass that lists the directory.
			appendFile(t, filepath.Join(dir, "other"), []byte("x"))
			waitFor(t, "18 records", 5*time.Second, func() bool { return fl.records() >= 18 || fl.perFile()[filepath.Base(two)] >= 5 })
			time.Sleep(50 * time.Millisecond)
			fl.stop()
			want := map[string]int{filepath.Base(one): 13, filepath.Base(two): 5}
			if got := fl.perFile(); got[filepath.Base(one)] != 13 || got[filepath.Base(two)] != 5 {
				t.Errorf("records per file %v, want %v", got, want)
			}
		})
	}
}

// fastRing writes files of perFile packets each, as fast as it can, the way
// a capture rotates: every block its own write, a file finished before the
// next one is created. It returns the packets written.
func fastRing(dir string, files, perFile int) (int, error) {
	frame := make([]byte, 54)
	frame[12], frame[13], frame[14], frame[23] = 0x08, 0x00, 0x45, 6 // IPv4, TCP
	n := 0
	ts := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC).UnixNano()
	for i := 1; i <= files; i++ {
		f, err := os.OpenFile(ringName(dir, i), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return n, err
		}
		w, err := pcapng.NewWriter(f, pcapng.WriterOptions{Application: "fast ring"})
		if err == nil {
			_, err = w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: snaplen})
		}
		for j := 0; j < perFile && err == nil; j++ {
			ts += 1000
			if err = w.WritePacket(0, ts, frame, 1500, pcapng.PacketOptions{}); err == nil {
				err = w.Flush()
			}
			n++
		}
		if err == nil {
			err = w.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, err
		}
		time.Sleep(time.Millisecond) // the rotation interval
	}
	return n, nil
}

// TestFastRingWriter is the writer process of TestFollowFastRotationUnderLoad.
func TestFastRingWriter(t *testing.T) {
	dir := os.Getenv("TCPVIZ_FAST_RING_DIR")
	if dir == "" {
		t.Skip("helper process of TestFollowFastRotationUnderLoad")
	}
	if _, err := fastRing(dir, ringFiles, ringPerFile); err != nil {
		t.Fatal(err)
	}
}

const ringFiles, ringPerFile = 600, 4

// A writer process rotating every 4 packets while the CPUs are busy: the
// follower hands on every packet, the same count as reading the files
// afterwards, in every round, and reports no gap.
func TestFollowFastRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of CPU load")
	}
	for round := 0; round < 3; round++ {
		dir := t.TempDir()
		fl := follow(t, FollowConfig{Path: filepath.Join(dir, "ring.pcapng"), FromStart: true, PollInterval: 50 * time.Millisecond})
		// CPU pressure while the writer runs: another process keeps
		// every CPU busy, so the kernel preempts the follower at arbitrary
		// points.
		burner := exec.Command(os.Args[0], "-test.run=^TestBurnCPU$", "-test.count=1")
		burner.Env = append(os.Environ(), "TCPVIZ_BURN_CPU=1")
		if err := burner.Start(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestFastRingWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TCPVIZ_FAST_RING_DIR="+dir)
		out, err := cmd.CombinedOutput()
		_ = burner.Process.Kill()
		_ = burner.Wait()
		if err != nil {
			t.Fatalf("writer: %v: %s", err, out)
		}
		offline := 0
		for i := 1; i <= ringFiles; i++ {
			offline += countFile(t, ringName(dir, i))
		}
		waitDrained(t, fl.f, time.Minute)
		fl.stop()
		if got := fl.records(); got != offline || offline != ringFiles*ringPerFile {
			t.Errorf("round %d: the follower handed on %d packets; the files hold %d (written %d); stats %+v, current %s, log: %s", round, got, offline, ringFiles*ringPerFile, fl.f.Stats(), fl.f.Current(), fl.log)
		}
		if s := fl.f.Stats(); s.Gaps != 0 || strings.Contains(fl.log.String(), "gap") {
			t.Errorf("round %d: %d gaps reported: %s", round, s.Gaps, fl.log)
		}
	}
}

// waitDrained waits, once a writer has finished, until the follower has
// handed on everything it wrote: a pass that started after this call read
// its file to the end and found no newer file. No sleep, no count to
// guess.
func waitDrained(t testing.TB, f *Follower, timeout time.Duration) {
	t.Helper()
	after := f.passDone.Load() + 2 // the pass under way may have started before
	waitFor(t, "the follower to read every file to its end", timeout, func() bool { return f.drainedPass.Load() >= after })
}

// TestBurnCPU is the CPU-load process of TestFollowFastRotationUnderLoad: a
// busy goroutine per CPU for at most a minute (it is killed sooner).
func TestBurnCPU(t *testing.T) {
	if os.Getenv("TCPVIZ_BURN_CPU") == "" {
		t.Skip("helper process of TestFollowFastRotationUnderLoad")
	}
	var burn atomic.Int64
	end := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				for x := 0; x < 1_000_000; x++ {
					burn.Add(1)
				}
			}
		}()
	}
	wg.Wait()
}

func countFile(t *testing.T, name string) int {
	t.Helper()
	n := 0
	feed.File(t, name, feed.Func(func(rec *pcapng.Record) error {
		if rec.Type == pcapng.RecordPacket {
			n++
		}
		return nil
	}))
	return n
}

// A block whose length field is damaged (but below the 16 MiB limit) in a
// file that goes on growing: the follower reports it with its offset and
// hands on every block written after it.
func TestFollowDamagedLengthThenMore(t *testing.T) {
	pkts := scenario(t, 10, 0)
	head := len(pcapngOf(t, pkts, 0, 0)) // section and interface blocks
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			one := ringName(dir, 1)
			first := pcapngOf(t, pkts, 0, 10)
			appendFile(t, one, first)
			fl := follow(t, FollowConfig{Path: filepath.Join(dir, "ring.pcapng"), FromStart: true,
				NoNotify: m.noNotify, PollInterval: 20 * time.Millisecond})
			fl.waitRecords(10)
			bad := pcapngOf(t, pkts, 10, 1)[head:]
			bad[4], bad[5], bad[6] = 0, 0, 0x10 // length 1 MiB (little endian)
			appendFile(t, one, bad)
			for i := 0; i < 3; i++ {
				time.Sleep(30 * time.Millisecond)
				appendFile(t, one, pcapngOf(t, pkts, 11+10*i, 10)[head:])
			}
			waitFor(t, "40 records", 10*time.Second, func() bool { return fl.records() >= 40 })
			fl.stop()
			if got := fl.records(); got != 40 {
				t.Errorf("%d records handed on, want 40 (all but the damaged block)", got)
			}
			if s := fl.f.Stats(); s.Damaged != 1 {
				t.Errorf("damaged %d, want 1", s.Damaged)
			}
			if want := fmt.Sprintf("%s: offset %d", one, len(first)); !strings.Contains(fl.log.String(), want) ||
				!strings.Contains(fl.log.String(), "damaged") {
				t.Errorf("log %q does not report the damaged block at %q", fl.log, want)
			}
		})
	}
}
