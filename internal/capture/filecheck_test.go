//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// fileContents is what one capture file holds, read with our reader.
type fileContents struct {
	packets   int
	kernel    map[kblock.Kind]int
	records   []kblock.Record
	stats     []pcapng.InterfaceStats
	linkTypes []uint16
	outOfOrd  int // blocks with a timestamp below the previous one
	lateKern  int // kernel records among them
	// held counts the kernel records written right after the file's first
	// packet though older than it: they wait for it (a file starts with a
	// packet, for Wireshark's I/O statistics) and are not late.
	held     int
	first    pcapng.RecordType // the first record after the interface block
	inbound  int
	outbound int
	tcpPorts [][2]uint16 // source and destination port of each packet
}

// eachRecord calls fn with every record of the capture file name, in order,
// failing the test on a read error, and returns the reader (its interfaces).
func eachRecord(t *testing.T, name string, fn func(rec *pcapng.Record)) *pcapng.Reader {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := pcapng.NewReader(f, name)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		fn(rec)
	}
}

func readCapture(t *testing.T, name string) fileContents {
	t.Helper()
	c := fileContents{kernel: map[kblock.Kind]int{}}
	var last, firstPacket int64
	n := 0
	r := eachRecord(t, name, func(rec *pcapng.Record) {
		if n++; n == 1 {
			c.first = rec.Type
		}
		switch rec.Type {
		case pcapng.RecordPacket:
			c.packets++
			c.tcpPorts = append(c.tcpPorts, tcpPorts(rec.Data, rec.Interface.LinkType))
			switch rec.Flags & pcapng.FlagDirectionMask {
			case pcapng.FlagInbound:
				c.inbound++
			case pcapng.FlagOutbound:
				c.outbound++
			}
		case pcapng.RecordCustom:
			if rec.PEN != kblock.PEN || !rec.Copyable {
				t.Errorf("%s: custom block PEN %d copyable %v", name, rec.PEN, rec.Copyable)
				return
			}
			var kr kblock.Record
			if _, err := kblock.Decode(rec.CustomData, &kr); err != nil {
				t.Fatalf("%s offset %d: %v", name, rec.Offset, err)
			}
			c.kernel[kr.Kind]++
			c.records = append(c.records, kr)
			if c.packets == 1 && kr.TS <= firstPacket && c.held == n-2 {
				c.held++ // held for the first packet, which came before them
				return
			}
			if kr.TS < last {
				c.outOfOrd++
				c.lateKern++
				t.Logf("%s: kernel record %v at %d, %d ns before the previous block", name, kr.Kind, rec.Offset, last-kr.TS)
			}
			last = kr.TS
			return
		case pcapng.RecordStats:
			c.stats = append(c.stats, rec.Stats)
			return
		}
		if rec.TS < last {
			c.outOfOrd++
			t.Logf("%s: packet at %d, %d ns before the previous block", name, rec.Offset, last-rec.TS)
		}
		if c.packets == 1 {
			firstPacket = rec.TS
		}
		last = rec.TS
	})
	for _, ifc := range r.Interfaces() {
		c.linkTypes = append(c.linkTypes, ifc.LinkType)
	}
	return c
}

// tsharkIOFrames is the frame count of tshark's I/O statistics in 1 s
// intervals (-z io,stat,1), summed; 0 when it prints no interval, as it
// does when the first frame has no timestamp: the capture then seems to
// start at the epoch and to last decades.
func tsharkIOFrames(t *testing.T, name string) int {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark) to cross-check files")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tshark", "-n", "-r", name, "-q", "-z", "io,stat,1").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r %s -z io,stat,1: %v: %s", name, err, out)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		// "| 0 <> 1 |   4010 | 4264732 |"
		f := strings.Split(l, "|")
		if len(f) == 5 && strings.Contains(f[1], "<>") {
			k, err := strconv.Atoi(strings.TrimSpace(f[2]))
			if err != nil {
				t.Fatalf("tshark io,stat line %q: %v", l, err)
			}
			n += k
		}
	}
	return n
}

// tsharkCount counts the packets tshark reads from a file (custom blocks
// are frames to tshark, so only frames with a TCP layer count).
func tsharkCount(t *testing.T, name string) int {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark) to cross-check files")
	}
	out, err := exec.Command("tshark", "-n", "-r", name, "-Y", "tcp", "-T", "fields", "-e", "frame.number").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r %s: %v: %s", name, err, out)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if _, err := strconv.Atoi(strings.TrimSpace(l)); err == nil {
			n++
		}
	}
	return n
}

// pcapCount counts the packets of a file (tcpdump's output).
func pcapCount(t *testing.T, name string) int {
	t.Helper()
	n, err := countPackets(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func countPackets(name string) (int, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := pcapng.NewReader(f, name)
	n := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read %s: %w", name, err)
		}
		if rec.Type == pcapng.RecordPacket {
			n++
		}
	}
}

// tcpPorts reads the ports of an Ethernet or raw-IP TCP packet.
func tcpPorts(b []byte, linkType uint16) [2]uint16 {
	if linkType == linkTypeEthernet {
		if len(b) < 14 {
			return [2]uint16{}
		}
		b = b[14:]
	}
	var l4 int
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		l4 = int(b[0]&0x0f) * 4
	case len(b) >= 40 && b[0]>>4 == 6:
		l4 = 40
	default:
		return [2]uint16{}
	}
	if len(b) < l4+4 {
		return [2]uint16{}
	}
	return [2]uint16{uint16(b[l4])<<8 | uint16(b[l4+1]), uint16(b[l4+2])<<8 | uint16(b[l4+3])}
}
