package sessionfiles

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng"
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
// of about as many records each, every one with the original file header
// (a pcapng file would need its section and interfaces in each). It
// returns the number of records.
func splitPcap(src, dir string, n int) (int, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, err
	}
	const pcapHeaderLen = 24
	r := pcapng.NewReader(bytes.NewReader(data), src)
	var starts []int // byte offset of each record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if rec.BlockType != 0 {
			return 0, fmt.Errorf("%s is pcapng: TCPVIZ_BENCH_PCAP must be a classic pcap file", src)
		}
		starts = append(starts, int(rec.Offset))
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	per := (len(starts) + n - 1) / n
	for i := 0; i < n && i*per < len(starts); i++ {
		to := len(data)
		if (i+1)*per < len(starts) {
			to = starts[(i+1)*per]
		}
		part := append(data[:pcapHeaderLen:pcapHeaderLen], data[starts[i*per]:to]...)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ring_%02d.pcap", i)), part, 0o640); err != nil {
			return 0, err
		}
	}
	return len(starts), nil
}
