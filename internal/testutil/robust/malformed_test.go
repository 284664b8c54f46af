package robust

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/pcapng"
)

// memCap is the most one parse run of a small hostile file may allocate,
// whatever lengths the file claims (up to 4 GiB).
const memCap = 8 << 20

// checkFailed asserts a run failed with a FormatError naming the input file
// and exactly the offset want, left no output file behind and stayed under
// the memory cap.
func checkFailed(t *testing.T, o outcome, want int64, msg string) {
	t.Helper()
	if o.err == nil {
		t.Fatalf("parse succeeded (%d frames), want an error at offset %d", o.res.Summary.Frames, want)
	}
	var fe *pcapng.FormatError
	if !errors.As(o.err, &fe) {
		t.Fatalf("error %T %v, want a *pcapng.FormatError", o.err, o.err)
	}
	prefix := fmt.Sprintf("%s: offset %d: ", o.in, want)
	if fe.Offset != want || !strings.HasPrefix(o.err.Error(), prefix) {
		t.Fatalf("error %q, want it to start with %q", o.err, prefix)
	}
	if msg != "" && !strings.Contains(o.err.Error(), msg) {
		t.Fatalf("error %q does not say %q", o.err, msg)
	}
	checkNoOutput(t, o)
	checkMem(t, o)
}

func checkNoOutput(t *testing.T, o outcome) {
	t.Helper()
	left, err := os.ReadDir(o.out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("failed run left %s in the output directory", e.Name())
	}
}

func checkMem(t *testing.T, o outcome) {
	t.Helper()
	if o.alloc > memCap {
		t.Fatalf("run allocated %d MiB, cap %d MiB", o.alloc>>20, memCap>>20)
	}
}

// checkParsed asserts a run succeeded with frames frames and, when
// truncatedAt >= 0, a warning about a truncated block at that offset.
func checkParsed(t *testing.T, o outcome, frames uint64, truncatedAt int64) {
	t.Helper()
	if truncatedAt == 0 {
		// Cut inside the file header: nothing can be read, an error (exit
		// 1), not an empty session.
		want := fmt.Sprintf("%s: offset 0: truncated: ", o.in)
		if o.err == nil || !strings.HasPrefix(o.err.Error(), want) {
			t.Fatalf("error %v, want one starting %q", o.err, want)
		}
		if names, _ := os.ReadDir(o.out); len(names) > 0 {
			t.Fatalf("%s left behind in %s", names[0].Name(), o.out)
		}
		return
	}
	if o.err != nil {
		t.Fatalf("parse failed: %v", o.err)
	}
	s := o.res.Summary
	if s.Frames != frames {
		t.Fatalf("%d frames, want %d", s.Frames, frames)
	}
	var trunc []string
	for _, w := range s.Warnings {
		if strings.Contains(w, "truncated") {
			trunc = append(trunc, w)
		}
	}
	switch {
	case truncatedAt < 0 && len(trunc) > 0:
		t.Fatalf("unexpected truncation warning %q", trunc)
	case truncatedAt >= 0:
		want := fmt.Sprintf("%s: offset %d: truncated block", o.in, truncatedAt)
		if len(trunc) != 1 || !strings.HasPrefix(trunc[0], want) {
			t.Fatalf("warnings %q, want one starting %q", s.Warnings, want)
		}
	}
	checkMem(t, o)
}

// realPcapng returns the first n blocks of a real capture from samples/
// (itself a valid file), or the synthetic capture when samples are absent.
func realPcapng(t *testing.T, name string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "samples", name))
	if err != nil {
		t.Logf("samples/%s not available (%v): using the synthetic capture", name, err)
		return synthetic(t)
	}
	bl := blocks(t, b)
	if len(bl) > n {
		b = b[:bl[n].off]
	}
	return b
}

func synthetic(t *testing.T) []byte {
	t.Helper()
	b, err := Synthetic()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTruncatedPcapng cuts captures at every block boundary and at several
// places inside every block. A cut at a boundary is a shorter valid file; a
// cut inside a block keeps every earlier frame and warns about the block,
// naming its offset.
func TestTruncatedPcapng(t *testing.T) {
	files := map[string][]byte{
		"synthetic.pcapng":      synthetic(t),
		"clean-ipv4.pcapng":     realPcapng(t, "clean-ipv4.pcapng", 60),
		"reorder-sender.pcapng": realPcapng(t, "reorder-sender.pcapng", 40),
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			bl := blocks(t, data)
			var frames uint64
			for i, b := range bl {
				if i > 0 {
					checkParsed(t, parseBytes(t, name, data[:b.off]), frames, -1)
				}
				for _, cut := range []int{1, 4, 8, 11, b.len / 2, b.len - 4, b.len - 1} {
					if cut <= 0 || cut >= b.len {
						continue
					}
					o := parseBytes(t, name, data[:b.off+cut])
					checkParsed(t, o, frames, int64(b.off))
				}
				if b.isFrame() {
					frames++
				}
			}
			checkParsed(t, parseBytes(t, name, data), frames, -1)
		})
	}
}

// TestTruncatedPcap does the same for classic pcap files.
func TestTruncatedPcap(t *testing.T) {
	for _, name := range []string{"keepalive.pcap", "handshake-syn-retries.pcap"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "samples", name))
		if err != nil {
			t.Logf("samples/%s not available: %v", name, err)
			continue
		}
		if binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 && binary.LittleEndian.Uint32(data) != 0xa1b23c4d {
			t.Fatalf("%s is not a little-endian pcap file", name)
		}
		t.Run(name, func(t *testing.T) {
			recs := pcapRecords(t, data)
			for _, cut := range []int{1, 3, 23} {
				checkParsed(t, parseBytes(t, name, data[:cut]), 0, 0)
			}
			for i, off := range recs {
				checkParsed(t, parseBytes(t, name, data[:off]), uint64(i), -1)
				if i == len(recs)-1 {
					break
				}
				n := recs[i+1] - off
				for _, cut := range []int{1, 15, 16, n / 2, n - 1} {
					if cut > 0 && cut < n {
						checkParsed(t, parseBytes(t, name, data[:off+cut]), uint64(i), int64(off))
					}
				}
			}
		})
	}
}

// TestCorruptBlocks breaks one block's framing; parsing must stop with an
// error naming the file and that block's offset.
func TestCorruptBlocks(t *testing.T) {
	le := binary.LittleEndian
	base := synthetic(t)
	bl := blocks(t, base)
	var epb, custom, idb block
	for _, b := range bl {
		switch {
		case b.typ == blockEPB && epb.len == 0 && b.off > 200:
			epb = b
		case b.typ == blockCustom && custom.len == 0:
			custom = b
		case b.typ == blockIDB:
			idb = b
		}
	}
	tests := []struct {
		name  string
		edit  func(b []byte)
		at    int
		msg   string
		limit bool // the block claims a huge length: check memory
	}{
		{"wrong magic", func(b []byte) { copy(b, "GIF8") }, 0, "not a pcap or pcapng file", false},
		{"byte-order magic", func(b []byte) { copy(b[8:], []byte{1, 2, 3, 4}) }, 0, "bad byte-order magic", false},
		{"length 0", func(b []byte) { le.PutUint32(b[epb.off+4:], 0) }, epb.off, "below 12", false},
		{"length 4 GiB", func(b []byte) { le.PutUint32(b[epb.off+4:], 0xffffffff) }, epb.off, "exceeds limit", true},
		{"length 4 GiB - 4", func(b []byte) { le.PutUint32(b[epb.off+4:], 0xfffffffc) }, epb.off, "exceeds limit", true},
		{"length not a multiple of 4", func(b []byte) { le.PutUint32(b[epb.off+4:], uint32(epb.len+2)) }, epb.off, "multiple of 4", false},
		{"trailer mismatch", func(b []byte) { le.PutUint32(b[epb.off+epb.len-4:], uint32(epb.len+4)) }, epb.off, "at the end", false},
		{"trailer of the custom block", func(b []byte) { le.PutUint32(b[custom.off+custom.len-4:], 0) }, custom.off, "at the end", false},
		{"interface not defined", func(b []byte) { le.PutUint32(b[epb.off+8:], 7) }, epb.off, "interface 7 not defined", false},
		{"captured length past the block", func(b []byte) { le.PutUint32(b[epb.off+20:], 0xfffffff0) }, epb.off, "captured length", true},
		{"IDB length 0", func(b []byte) { le.PutUint32(b[idb.off+4:], 0) }, idb.off, "below 12", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Clone(base)
			tc.edit(data)
			o := parseBytes(t, "corrupt.pcapng", data)
			checkFailed(t, o, int64(tc.at), tc.msg)
		})
	}
}

// TestHugeClaimsBoundedMemory gives lengths of up to 4 GiB in files of a few
// hundred bytes: the reader must not allocate what the fields claim.
func TestHugeClaimsBoundedMemory(t *testing.T) {
	le := binary.LittleEndian
	base := synthetic(t)
	bl := blocks(t, base)
	last := bl[len(bl)-1]
	pcapHdr := func(capLen uint32) []byte {
		b := le.AppendUint32(nil, 0xa1b2c3d4)
		b = le.AppendUint16(b, 2)
		b = le.AppendUint16(b, 4)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, 0xffffffff) // snaplen
		b = le.AppendUint32(b, 1)
		b = le.AppendUint32(b, 1) // ts
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, capLen)
		b = le.AppendUint32(b, capLen)
		return append(b, make([]byte, 100)...)
	}
	tests := []struct {
		name      string
		data      []byte
		failAt    int64 // offset of the expected error, or -1
		truncated int64 // offset of the expected truncation warning, or -1
	}{
		// The largest block the reader accepts, announced at the end of a
		// file that stops right after the header.
		{"pcapng block of MaxBlockLen", append(bytes.Clone(base[:last.off+last.len]),
			le.AppendUint32(le.AppendUint32(nil, blockEPB), pcapng.MaxBlockLen)...), -1, int64(last.off + last.len)},
		{"pcapng block of 4 GiB", append(bytes.Clone(base),
			le.AppendUint32(le.AppendUint32(nil, blockEPB), 0xfffffffc)...), int64(len(base)), -1},
		{"pcap record of 4 GiB", pcapHdr(0xfffffff0), 24, -1},
		{"pcap record of MaxBlockLen", pcapHdr(pcapng.MaxBlockLen - 16), -1, 24},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := parseBytes(t, "huge.cap", tc.data)
			t.Logf("%d-byte file: the run allocated %d KiB", len(tc.data), o.alloc>>10)
			if tc.failAt >= 0 {
				checkFailed(t, o, tc.failAt, "")
				return
			}
			if o.err != nil {
				t.Fatalf("parse failed: %v", o.err)
			}
			checkMem(t, o)
			want := fmt.Sprintf("offset %d: truncated block", tc.truncated)
			if len(o.res.Summary.Warnings) == 0 || !strings.Contains(strings.Join(o.res.Summary.Warnings, "\n"), want) {
				t.Fatalf("warnings %q, want %q", o.res.Summary.Warnings, want)
			}
		})
	}
}

// TestMixedByteOrders appends a big-endian section between two
// little-endian ones: every packet of every section is read.
func TestMixedByteOrders(t *testing.T) {
	base := synthetic(t)
	frames := conversationFrames(t, false)
	be := bigEndianSection(frames[:3])
	data := append(append(bytes.Clone(base), be...), base...)
	o := parseBytes(t, "mixed.pcapng", data)
	one := parseBytes(t, "one.pcapng", base)
	if o.err != nil || one.err != nil {
		t.Fatalf("parse: %v / %v", o.err, one.err)
	}
	s, s1 := o.res.Summary, one.res.Summary
	if s.TCPPackets != 2*s1.TCPPackets+3 || s.Frames != 2*s1.Frames+3 || s.KernelRecords != 2*s1.KernelRecords {
		t.Fatalf("mixed file: %d TCP packets, %d frames, %d kernel records; one section: %d, %d, %d",
			s.TCPPackets, s.Frames, s.KernelRecords, s1.TCPPackets, s1.Frames, s1.KernelRecords)
	}
}

// bigEndianSection writes a big-endian SHB, an Ethernet IDB (microsecond
// timestamps) and one EPB per frame, without options.
func bigEndianSection(frames [][]byte) []byte {
	be := binary.BigEndian
	var b []byte
	b = be.AppendUint32(b, blockSHB)
	b = be.AppendUint32(b, 28)
	b = be.AppendUint32(b, 0x1a2b3c4d)
	b = be.AppendUint16(b, 1)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint64(b, 0xffffffffffffffff)
	b = be.AppendUint32(b, 28)
	b = be.AppendUint32(b, blockIDB)
	b = be.AppendUint32(b, 20)
	b = be.AppendUint16(b, 1)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, 20)
	for i, f := range frames {
		pad := (4 - len(f)%4) % 4
		n := uint32(32 + len(f) + pad)
		b = be.AppendUint32(b, blockEPB)
		b = be.AppendUint32(b, n)
		b = be.AppendUint32(b, 0)
		ts := uint64(1_700_000_100_000_000 + i)
		b = be.AppendUint32(b, uint32(ts>>32))
		b = be.AppendUint32(b, uint32(ts))
		b = be.AppendUint32(b, uint32(len(f)))
		b = be.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
		b = append(b, make([]byte, pad)...)
		b = be.AppendUint32(b, n)
	}
	return b
}

// TestSnaplenZero: snaplen 0 means "no limit"; nothing changes.
func TestSnaplenZero(t *testing.T) {
	frames := conversationFrames(t, false)
	want := parseBytes(t, "a.pcapng", writeCapture(t, 262144, frames, nil))
	got := parseBytes(t, "b.pcapng", writeCapture(t, 0, frames, nil))
	if want.err != nil || got.err != nil {
		t.Fatalf("parse: %v / %v", want.err, got.err)
	}
	if got.res.Summary.TCPPackets != uint64(len(frames)) || !equalCounts(got.res.Summary.Events, want.res.Summary.Events) {
		t.Fatalf("snaplen 0: %d TCP packets, events %v; want %d, %v", got.res.Summary.TCPPackets,
			got.res.Summary.Events, len(frames), want.res.Summary.Events)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Offsets inside an Ethernet/IPv4/TCP frame.
const (
	ipOff  = 14
	tcpOff = 14 + 20
)

// TestBadPackets breaks one frame's headers in a valid conversation. The
// frame is skipped and counted under its reason; the others are analysed.
func TestBadPackets(t *testing.T) {
	const victim = 3 // the first data segment
	tests := []struct {
		name    string
		v6      bool
		edit    func(f []byte) []byte
		origLen uint32 // 0: the captured length
		reason  string // skip reason; "" if the frame must still decode
	}{
		{"cut inside the IP header, snapped", false, func(f []byte) []byte { return f[:ipOff+10] }, 154, "truncated"},
		{"cut inside the IP header, not snapped", false, func(f []byte) []byte { return f[:ipOff+10] }, 0, "malformed"},
		{"cut inside the TCP header, snapped", false, func(f []byte) []byte { return f[:tcpOff+12] }, 154, "truncated"},
		{"cut inside the TCP header, not snapped", false, func(f []byte) []byte { return f[:tcpOff+12] }, 0, "malformed"},
		// The frame ends where IPv4 should start: no IP layer was seen.
		{"Ethernet header only", false, func(f []byte) []byte { return f[:14] }, 0, "not_ip"},
		{"IPv4 IHL 4", false, func(f []byte) []byte { f[ipOff] = 0x44; return f }, 0, "malformed"},
		{"IPv4 IHL 0", false, func(f []byte) []byte { f[ipOff] = 0x40; return f }, 0, "malformed"},
		{"IPv4 IHL 15 past the packet", false, func(f []byte) []byte { f[ipOff] = 0x4f; return f[:tcpOff+20] }, 0, "malformed"},
		// Wireshark takes the segment as what the frame holds; so does tcpviz
		// (never a phantom 64 KiB segment).
		{"IPv4 total length past the packet", false, func(f []byte) []byte { f[ipOff+2], f[ipOff+3] = 0xff, 0xff; return f }, 0, ""},
		{"IPv4 total length below the headers", false, func(f []byte) []byte { f[ipOff+2], f[ipOff+3] = 0, 30; return f }, 0, "malformed"},
		{"TCP data offset 4", false, func(f []byte) []byte { f[tcpOff+12] = 4 << 4; return f }, 0, "malformed"},
		{"TCP data offset 0", false, func(f []byte) []byte { f[tcpOff+12] = 0; return f }, 0, "malformed"},
		{"TCP data offset past the packet", false, func(f []byte) []byte { f[tcpOff+12] = 15 << 4; return f[:tcpOff+40] }, 0, "malformed"},
		{"TCP option length past the header", false, func(f []byte) []byte { return withOption(f, []byte{2, 40, 5, 0xb4}) }, 0, ""},
		{"TCP option length 0", false, func(f []byte) []byte { return withOption(f, []byte{8, 0, 0, 0}) }, 0, ""},
		{"TCP option length 1", false, func(f []byte) []byte { return withOption(f, []byte{3, 1, 1, 1}) }, 0, ""},
		{"TCP SACK option with a partial block", false, func(f []byte) []byte { return withOption(f, []byte{5, 6, 0, 0}) }, 0, ""},
		{"IPv6 cut inside the header", true, func(f []byte) []byte { return f[:14+30] }, 0, "malformed"},
		{"IPv6 payload length past the packet", true, func(f []byte) []byte { f[14+4], f[14+5] = 0xff, 0xff; return f }, 0, ""},
		{"IPv6 200 extension headers", true, func(f []byte) []byte { return withExtensions(f, 60, DestOptsChain(200, 6)) }, 0, ""},
		{"IPv6 extension header chain cut short", true, func(f []byte) []byte { return withExtensions(f, 60, DestOptsChain(50, 6))[:14+40+397] }, 0, "malformed"},
		{"IPv6 hop-by-hop repeated", true, func(f []byte) []byte { return withExtensions(f, 0, repeatedHopByHop(100)) }, 0, ""},
		{"IPv6 routing header naming itself", true, func(f []byte) []byte { return withExtensions(f, 43, selfRouting(100)) }, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frames := conversationFrames(t, tc.v6)
			frames[victim] = tc.edit(bytes.Clone(frames[victim]))
			o := parseBytes(t, "bad.pcapng", writeCapture(t, 0, frames, map[int]uint32{victim: tc.origLen}))
			if o.err != nil {
				t.Fatalf("parse failed: %v", o.err)
			}
			checkMem(t, o)
			s := o.res.Summary
			var skipped uint64
			for _, n := range s.Skipped {
				skipped += n
			}
			if s.Packets != uint64(len(frames)) || s.TCPPackets+skipped != s.Packets {
				t.Fatalf("%d packets, %d TCP, skipped %v", s.Packets, s.TCPPackets, s.Skipped)
			}
			if tc.reason == "" {
				if skipped != 0 {
					t.Fatalf("skipped %v, want every frame decoded", s.Skipped)
				}
				// The payload length is the real one and no option was
				// read from the damaged list.
				p := packetRecord(t, o, victim+1)
				if p.Len != 100 || p.MSS != 0 || len(p.SACK) != 0 {
					t.Fatalf("frame %d decoded as len %d, mss %d, sack %v; want len 100, no options", victim+1, p.Len, p.MSS, p.SACK)
				}
				return
			}
			if skipped != 1 || s.Skipped[tc.reason] != 1 {
				t.Fatalf("skipped %v, want one frame as %q", s.Skipped, tc.reason)
			}
		})
	}
}

// packetRecord finds frame's packet record in events.jsonl.
func packetRecord(t *testing.T, o outcome, frame uint64) events.PacketRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.out, sessionfiles.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var p events.PacketRecord
		if json.Unmarshal(line, &p) == nil && p.Type == events.TypePacket && p.Frame == frame {
			return p
		}
	}
	t.Fatalf("no packet record for frame %d", frame)
	return events.PacketRecord{}
}

// withOption puts opt (a multiple of 4 bytes) into the TCP header of an
// Ethernet/IPv4/TCP frame, fixing the lengths (not the checksum).
func withOption(f []byte, opt []byte) []byte {
	tcpEnd := tcpOff + 20
	out := append(append(bytes.Clone(f[:tcpEnd]), opt...), f[tcpEnd:]...)
	out[tcpOff+12] = byte((20+len(opt))/4) << 4
	total := binary.BigEndian.Uint16(out[ipOff+2:]) + uint16(len(opt))
	binary.BigEndian.PutUint16(out[ipOff+2:], total)
	return out
}

// withExtensions inserts extension headers between the IPv6 header and TCP.
// first is the type of ext's first header; ext's chain names the rest.
func withExtensions(f []byte, first byte, ext []byte) []byte {
	const ip6 = 14
	out := append(append(bytes.Clone(f[:ip6+40]), ext...), f[ip6+40:]...)
	out[ip6+6] = first
	pl := binary.BigEndian.Uint16(out[ip6+4:]) + uint16(len(ext))
	binary.BigEndian.PutUint16(out[ip6+4:], pl)
	return out
}

func repeatedHopByHop(n int) []byte {
	b := make([]byte, 0, 8*n+8)
	for i := 0; i < n; i++ {
		nh := byte(0) // hop-by-hop naming hop-by-hop
		if i == n-1 {
			nh = 6
		}
		b = append(b, nh, 0, 1, 4, 0, 0, 0, 0)
	}
	return b
}

func selfRouting(n int) []byte {
	b := make([]byte, 0, 8*n)
	for i := 0; i < n; i++ {
		nh := byte(43) // routing naming routing, 0 segments left
		if i == n-1 {
			nh = 6
		}
		b = append(b, nh, 0, 0, 0, 0, 0, 0, 0)
	}
	return b
}

// TestGzipCutShort reads a gzip'd capture whose compressed stream stops
// early, and one with a corrupt byte.
func TestGzipCutShort(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(synthetic(t))
	zw.Close()
	inputs := map[string][]byte{"synthetic.pcapng.gz": z.Bytes()}
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "samples", "reno-loss-receiver.pcap.gz")); err == nil {
		inputs["reno-loss-receiver.pcap.gz"] = b
	}
	for name, gz := range inputs {
		t.Run(name, func(t *testing.T) {
			full := parseBytes(t, name, gz)
			if full.err != nil {
				t.Fatal(full.err)
			}
			cuts := []int{10, len(gz) / 3, len(gz) / 2, len(gz) - 9, len(gz) - 1}
			for i := 1; i < 8; i++ {
				cuts = append(cuts, len(gz)*i/8+i)
			}
			for _, cut := range cuts {
				o := parseBytes(t, name, gz[:cut])
				if o.err != nil {
					// A stream that stops inside the gzip header cannot be read at all.
					checkFailed(t, o, 0, "gzip")
					continue
				}
				checkMem(t, o)
				s := o.res.Summary
				if s.Frames > full.res.Summary.Frames {
					t.Fatalf("cut at %d: %d frames of %d", cut, s.Frames, full.res.Summary.Frames)
				}
				// Frames lost to the cut are never lost silently. (A cut that
				// removes only the end of the stream loses no frame and is
				// read as complete.)
				if s.Frames < full.res.Summary.Frames && !strings.Contains(strings.Join(s.Warnings, "\n"), "truncated block") {
					t.Fatalf("cut at %d of %d: %d frames, no truncation warning in %q", cut, len(gz), s.Frames, s.Warnings)
				}
			}
		})
	}
}
