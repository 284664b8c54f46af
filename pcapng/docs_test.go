package pcapng

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// TestKernelBlockDocExample keeps the hex example in
// docs/pcapng-kernel-blocks.md in step with what the code writes.
func TestKernelBlockDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/pcapng-kernel-blocks.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "```hexdump\n")
	if !ok {
		t.Fatal("no hexdump block in the document")
	}
	documented, _, _ := strings.Cut(after, "```")

	rec := kblock.Record{Kind: kblock.KindProbe, TS: 1700000000123456789, Cookie: 0x1234,
		Saddr: netip.MustParseAddr("10.0.0.1"), Daddr: netip.MustParseAddr("10.0.0.2"), Sport: 5201, Dport: 40000,
		SndCwnd: 10, Ssthresh: 7, SRTTus: 1500, MSS: 1448, CAState: 3}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shb := w.Size()
	if err := w.WriteCustom(kblock.PEN, kblock.Append(nil, &rec), true); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := hex.Dump(buf.Bytes()[shb:]); got != documented {
		t.Errorf("documented example differs from the code's output:\n%s", got)
	}
}
