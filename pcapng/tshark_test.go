package pcapng

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// tcpPacket returns an Ethernet/IPv4/TCP frame with n bytes of payload
// (checksums are not filled in: the tools below do not check them).
func tcpPacket(seq uint32, n int) []byte {
	b := make([]byte, 14+20+20+n)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(40+n))
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:], []byte{127, 0, 0, 1})
	copy(ip[16:], []byte{127, 0, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12] = 5 << 4
	tcp[13] = 0x18
	binary.BigEndian.PutUint16(tcp[14:], 512)
	return b
}

// kernelFile writes a capture of packets with kernel records between them.
func kernelFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kernel.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, WriterOptions{Application: "tcpviz test"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(Interface{LinkType: 1, SnapLen: 96, Name: "lo"})
	if err != nil {
		t.Fatal(err)
	}
	ts := int64(1_700_000_000_000_000_000)
	var payload []byte
	for i := 0; i < 20; i++ {
		if err := w.WritePacket(id, ts+int64(i)*1000, tcpPacket(uint32(i*100), 100), 154, PacketOptions{Flags: FlagOutbound}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			rec := kblock.Record{Kind: kblock.KindProbe, TS: ts + int64(i)*1000 + 1, Saddr: netip.MustParseAddr("127.0.0.1"),
				Daddr: netip.MustParseAddr("127.0.0.2"), Sport: 40000, Dport: 5201, SndCwnd: uint32(10 + i), SRTTus: 40}
			payload = kblock.Append(payload[:0], &rec)
			if err := w.WriteCustom(kblock.PEN, payload, i%2 == 0); err != nil {
				t.Fatal(err)
			}
		}
		if i == 10 {
			if err := w.WriteStats(id, ts+int64(i)*1000+2, InterfaceStats{Received: 11}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// handmadeAllBlocks builds a file with every block type the reader knows of,
// and some it does not, between packets.
func handmadeAllBlocks() []byte {
	w := &builder{bo: binary.LittleEndian}
	w.shb()
	w.idb(1, 0, w.opt(ifTSResol, []byte{9}), w.end())
	pkt := tcpPacket(1, 10)
	w.epb(0, 1e18, pkt, uint32(len(pkt)))
	w.block(blockNRB, w.opt(1, append([]byte{127, 0, 0, 1}, "localhost\x00"...)), w.opt(0, nil))
	w.epb(0, 1e18+1, pkt, uint32(len(pkt)))
	w.block(blockSJE, []byte("__REALTIME_TIMESTAMP=1000000\nMESSAGE=hello\n"))
	w.block(blockCustomCopy, w.u32(32473), []byte{1, 2, 3})
	w.block(0x0000000A, w.u32(0x544c534b), w.u32(4), []byte("abcd")) // decryption secrets
	w.block(blockISB, w.u32(0), w.u32(0), w.u32(5), w.opt(isbIfRecv, w.u64(3)), w.end())
	w.block(0x7eadbeef, []byte{1, 2, 3, 4}) // unknown
	w.idb(113, 0)
	w.block(blockPB, w.u16(0), w.u16(0), w.u32(0), w.u32(7), w.u32(uint32(len(pkt))), w.u32(uint32(len(pkt))), pkt)
	w.block(blockSPB, w.u32(uint32(len(pkt))), pkt)
	w.block(blockCustom, w.u32(32473), []byte{4, 5, 6, 7, 8})
	w.epb(1, 1e18+2, pkt[14:], uint32(len(pkt)-14))
	return w.b
}

// TestAgainstTshark checks that frame numbers agree with tshark's and that
// tools which count packets only (capinfos, tcpdump) see the packets.
func TestAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark) to compare frame numbers")
	}
	t.Run("writer", func(t *testing.T) { compareTshark(t, kernelFile(t), true) })
	t.Run("every block type", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "blocks.pcapng")
		if err := os.WriteFile(path, handmadeAllBlocks(), 0o644); err != nil {
			t.Fatal(err)
		}
		// libpcap, and so tcpdump, refuses files whose interfaces differ in
		// link type, as here.
		compareTshark(t, path, false)
	})
}

func compareTshark(t *testing.T, path string, tcpdump bool) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ours []string
	packets := 0
	r := NewReader(f, path)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch rec.Type {
		case RecordPacket:
			packets++
			ours = append(ours, fmt.Sprintf("%d\t%d", rec.Frame, rec.OrigLen))
		case RecordCustom:
			ours = append(ours, fmt.Sprintf("%d\t%d", rec.Frame, len(rec.CustomData)))
		}
	}

	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.number", "-e", "frame.len").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	theirs := strings.Split(strings.TrimSpace(string(out)), "\n")
	if uint64(len(theirs)) != r.Frames() {
		t.Errorf("tshark shows %d frames, we count %d", len(theirs), r.Frames())
	}
	// Frames we do not return (journal entries) are left out of the
	// comparison.
	theirs = slices.DeleteFunc(theirs, func(line string) bool {
		n, _ := strconv.Atoi(strings.Fields(line)[0])
		return !slices.ContainsFunc(ours, func(o string) bool { return strings.HasPrefix(o, strconv.Itoa(n)+"\t") })
	})
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Fatalf("frame numbers and lengths differ\nours:\n%s\ntshark:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	if len(ours) == packets {
		t.Fatal("test file has no custom blocks")
	}

	if _, err := exec.LookPath("capinfos"); err == nil {
		out, err := exec.Command("capinfos", "-c", "-M", path).Output()
		if err != nil {
			t.Fatalf("capinfos: %v", err)
		}
		m := regexp.MustCompile(`Number of packets:\s+(\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("capinfos output without a packet count:\n%s", out)
		}
		if n, _ := strconv.Atoi(string(m[1])); n != packets {
			t.Errorf("capinfos counts %d packets, we %d", n, packets)
		}
	}
	if _, err := exec.LookPath("tcpdump"); err == nil && tcpdump {
		out, err := exec.Command("tcpdump", "-n", "-r", path).Output()
		if err != nil {
			t.Fatalf("tcpdump: %v", err)
		}
		n := 0
		for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); n++ {
		}
		if n != packets {
			t.Errorf("tcpdump prints %d packets, we count %d", n, packets)
		}
	}
}
