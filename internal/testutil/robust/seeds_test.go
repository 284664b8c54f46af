package robust

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// TestWriteSeedCorpora regenerates the committed seed corpora of FuzzParse
// and FuzzKernelRecord from the synthetic capture and small samples:
//
//	TCPVIZ_WRITE_SEEDS=1 go test ./internal/testutil/robust -run TestWriteSeedCorpora
func TestWriteSeedCorpora(t *testing.T) {
	if os.Getenv("TCPVIZ_WRITE_SEEDS") == "" {
		t.Skip("set TCPVIZ_WRITE_SEEDS=1 to rewrite the fuzz seed corpora")
	}
	syn := synthetic(t)
	bl := blocks(t, syn)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(syn)
	zw.Close()

	parseSeeds := map[string][]byte{
		"synthetic":            syn,
		"synthetic-cut-block":  syn[:bl[len(bl)/2].off+bl[len(bl)/2].len/2],
		"synthetic-cut-header": syn[:bl[3].off+6],
		"synthetic-gzip":       z.Bytes(),
		"synthetic-gzip-cut":   z.Bytes()[:z.Len()/2],
		"mixed-byte-orders":    append(append(bytes.Clone(syn[:bl[4].off]), bigEndianSection(conversationFrames(t, false)[:2])...), syn[:bl[3].off]...),
	}
	frames := conversationFrames(t, true)
	frames[3] = withExtensions(frames[3], 60, DestOptsChain(20, 6))
	frames[4] = withExtensions(frames[4], 43, selfRouting(10))
	parseSeeds["ipv6-extension-chains"] = writeCapture(t, 0, frames[:6], nil)
	frames = conversationFrames(t, false)
	frames[3] = withOption(frames[3], []byte{2, 40, 5, 0xb4})
	frames[4] = frames[4][:tcpOff+10]
	parseSeeds["bad-tcp-headers"] = writeCapture(t, 96, frames[:6], map[int]uint32{4: 154})
	for _, name := range []string{"handshake-refused.pcap", "handshake-syn-retries.pcap", "keepalive.pcap"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "..", "samples", name)); err == nil {
			parseSeeds[name] = b
		}
	}
	writeCorpus(t, filepath.Join("..", "sessionfiles", "testdata", "fuzz", "FuzzParse"), parseSeeds)

	kernelSeeds := map[string][]byte{}
	r := pcapng.NewReader(bytes.NewReader(syn), "synthetic")
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if rec.Type == pcapng.RecordCustom && rec.PEN == kblock.PEN {
			d := bytes.Clone(rec.CustomData)
			kernelSeeds[fmt.Sprintf("synthetic-%d", i)] = d
			kernelSeeds[fmt.Sprintf("synthetic-%d-cut", i)] = d[:len(d)-5]
		}
	}
	writeCorpus(t, filepath.Join("..", "..", "..", "pcapng", "kblock", "testdata", "fuzz", "FuzzKernelRecord"), kernelSeeds)
}

// writeCorpus writes each input in the format of go test -fuzz corpora.
func writeCorpus(t *testing.T, dir string, seeds map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: %d seeds", dir, len(seeds))
}
