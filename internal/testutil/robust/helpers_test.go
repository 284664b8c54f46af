package robust

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng"
)

// outcome is what one parse run produced.
type outcome struct {
	in, out string
	res     *sessionfiles.Result
	err     error
	alloc   uint64 // bytes allocated during the run (TotalAlloc delta)
}

// parseBytes writes data to a file and runs the whole parse pipeline on it.
func parseBytes(t *testing.T, name string, data []byte) outcome {
	t.Helper()
	dir := scratchDir(t)
	o := outcome{in: filepath.Join(dir, name), out: filepath.Join(dir, "out")}
	if err := os.WriteFile(o.in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	o.res, o.err = sessionfiles.Run(context.Background(), sessionfiles.Options{Input: o.in, OutDir: o.out, Packets: true, Pipeline: pipecfg.Detectors()})
	runtime.ReadMemStats(&after)
	o.alloc = after.TotalAlloc - before.TotalAlloc
	return o
}

// smallTmpfs mounts a tmpfs of size (mount's size=, e.g. "2m") on a fresh
// directory, unmounted when the test ends, for tests of a full disk (root
// only; the test is skipped where mounting fails).
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0750", "tcpviz-robust", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// scratchDir is a fresh directory on tmpfs when there is one: sessionfiles.Run
// syncs its outputs, which is slow on a busy disk and irrelevant here.
func scratchDir(t *testing.T) string {
	t.Helper()
	if dir, err := os.MkdirTemp("/dev/shm", "tcpviz-robust-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

// block is one pcapng block of a little-endian file.
type block struct {
	off, len int
	typ      uint32
}

const (
	blockSHB    = 0x0a0d0d0a
	blockIDB    = 1
	blockEPB    = 6
	blockISB    = 5
	blockCustom = 0x40000bad
)

// blocks walks a well-formed little-endian pcapng file.
func blocks(t *testing.T, b []byte) []block {
	t.Helper()
	var out []block
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			t.Fatalf("walk: %d stray bytes at %d", len(b)-off, off)
		}
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		out = append(out, block{off, n, binary.LittleEndian.Uint32(b[off:])})
		off += n
	}
	return out
}

// isFrame says whether a block is numbered as a frame (Wireshark's count).
func (b block) isFrame() bool {
	return b.typ == blockEPB || b.typ == 2 || b.typ == 3 || b.typ == 0xbad || b.typ == blockCustom
}

// pcapRecords returns the offsets of a little-endian classic pcap file's
// records, plus the end of the file.
func pcapRecords(t *testing.T, b []byte) []int {
	t.Helper()
	var out []int
	off := 24
	for off < len(b) {
		out = append(out, off)
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	if off != len(b) {
		t.Fatalf("pcap walk ends at %d of %d", off, len(b))
	}
	return append(out, off)
}

// writeCapture builds a one-interface Ethernet pcapng file from frames;
// origLen[i], when present and non-zero, overrides a frame's wire length.
func writeCapture(t *testing.T, snaplen uint32, frames [][]byte, origLen map[int]uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapng.NewWriter(&buf, pcapng.WriterOptions{Application: "tcpviz robust"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: snaplen, Name: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ol := uint32(len(f))
		if v := origLen[i]; v != 0 {
			ol = v
		}
		if err := w.WritePacket(id, int64(1_700_000_000+i)*1e9, f, ol, pcapng.PacketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// conversationFrames is Conversation serialized.
func conversationFrames(t *testing.T, v6 bool) [][]byte {
	t.Helper()
	c, s := "10.0.0.1:40000", "10.0.0.2:80"
	if v6 {
		c, s = "[fd00::1]:40000", "[fd00::2]:80"
	}
	var out [][]byte
	for _, sg := range Conversation(netip.MustParseAddrPort(c), netip.MustParseAddrPort(s)) {
		f, err := Frame(sg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}
