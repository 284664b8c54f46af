package sessionfiles

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// ringFiles is how many files BenchmarkParseRing splits its capture into.
const ringFiles = 8

// BenchmarkParseRing runs parse-pcap's whole path over a directory of files
// read as one capture (a rotated ring): the capture named by
// TCPVIZ_BENCH_PCAP (classic pcap), or 200,000 generated short connections,
// cut into eight files of consecutive packets. Run it with -cpu to see how
// throughput follows the cores:
//
//	TCPVIZ_BENCH_PCAP=/tmp/x.pcap go test ./internal/sessionfiles -run XXX \
//	  -bench ParseRing -benchtime 3x -cpu 1,2
func BenchmarkParseRing(b *testing.B) {
	dir := b.TempDir()
	src := os.Getenv("TCPVIZ_BENCH_PCAP")
	if src == "" {
		src = filepath.Join(dir, "short.pcap")
		f, err := os.Create(src)
		if err != nil {
			b.Fatal(err)
		}
		err = capgen.Short(f, 200_000, int64(50*time.Microsecond), int64(time.Millisecond))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	ring := filepath.Join(dir, "ring")
	packets, err := splitPcap(src, ring, ringFiles)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(dir, "out"+strconv.Itoa(i))
		if _, err := Run(context.Background(), Options{Input: ring, OutDir: out, Pipeline: pipecfg.Detectors()}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(out)
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric((cputime.Process()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// splitPcap cuts a classic pcap file into n files in dir (ring_00.pcap, ...)
// of about as many records each, every one with the original file header.
// It returns the number of records.
func splitPcap(src, dir string, n int) (int, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, err
	}
	if len(data) < 24 {
		return 0, fmt.Errorf("%s: too short for a pcap file", src)
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return 0, fmt.Errorf("%s: not a classic pcap file (TCPVIZ_BENCH_PCAP must be one)", src)
	}
	var starts []int // byte offset of each record
	for off := 24; off < len(data); {
		if off+16 > len(data) {
			return 0, fmt.Errorf("%s: offset %d: record header cut short", src, off)
		}
		starts = append(starts, off)
		off += 16 + int(order.Uint32(data[off+8:]))
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	per := (len(starts) + n - 1) / n
	for i := 0; i < n && i*per < len(starts); i++ {
		from := starts[i*per]
		to := len(data)
		if (i+1)*per < len(starts) {
			to = starts[(i+1)*per]
		}
		if err := writeParts(filepath.Join(dir, fmt.Sprintf("ring_%02d.pcap", i)), data[:24], data[from:to]); err != nil {
			return 0, err
		}
	}
	return len(starts), nil
}

func writeParts(path string, parts ...[]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := f.Write(p); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
