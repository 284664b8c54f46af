package main

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sampleCaptures lists the captures in samples/ (recorded by
// scripts/make-samples.sh).
func sampleCaptures(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", "samples", pat))
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Skip("no captures in samples/ (scripts/make-samples.sh records them)")
	}
	return out
}

func needTshark(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark)")
	}
}

// pairKey names a connection's endpoints in either order.
type pairKey struct{ a, b netip.AddrPort }

func makePair(x, y netip.AddrPort) pairKey {
	if x.Compare(y) < 0 {
		return pairKey{x, y}
	}
	return pairKey{y, x}
}

// tsharkConv is one line of `tshark -q -z conv,tcp`: frames and bytes sent
// by A ("->" column) and by B ("<-" column).
type tsharkConv struct {
	a, b                 netip.AddrPort
	framesAB, framesBA   uint64
	bytesAB, bytesBA     uint64 // as printed: exact for "bytes", else rounded down to the unit
	unitAB, unitBA       uint64 // 1 for "bytes", 1000 for "kB", ...
	exactAB, exactBA     uint64 // from per-frame lengths
	exactFrAB, exactFrBA uint64
}

var convLine = regexp.MustCompile(`^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) (\d+) (bytes|kB|MB|GB)\s+(\d+) (\d+) (bytes|kB|MB|GB)\s`)

func unitBytes(u string) uint64 {
	switch u {
	case "kB":
		return 1e3
	case "MB":
		return 1e6
	case "GB":
		return 1e9
	}
	return 1
}

func tsharkConversations(t *testing.T, path string) map[pairKey]*tsharkConv {
	t.Helper()
	// One run prints every TCP frame's endpoints and length (for exact byte
	// counts: the conversation table rounds large numbers), then the table.
	out, err := exec.Command("tshark", "-n", "-r", path, "-z", "conv,tcp", "-Y", "tcp", "-T", "fields",
		"-E", "separator=,", "-E", "occurrence=f", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
		"-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "frame.len").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	convs := map[pairKey]*tsharkConv{}
	for _, line := range strings.Split(string(out), "\n") {
		m := convLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		num := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
		a := netip.AddrPortFrom(netip.MustParseAddr(m[1]), uint16(num(m[2])))
		b := netip.AddrPortFrom(netip.MustParseAddr(m[3]), uint16(num(m[4])))
		// tshark 4.0 prints "<-" (frames B sent) before "->" (frames A sent).
		convs[makePair(a, b)] = &tsharkConv{a: a, b: b,
			framesBA: num(m[5]), bytesBA: num(m[6]), unitBA: unitBytes(m[7]),
			framesAB: num(m[8]), bytesAB: num(m[9]), unitAB: unitBytes(m[10])}
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 7 {
			continue
		}
		src, dst := f[0]+f[1], f[3]+f[4]
		sp, _ := strconv.ParseUint(f[2], 10, 16)
		dp, _ := strconv.ParseUint(f[5], 10, 16)
		n, _ := strconv.ParseUint(f[6], 10, 64)
		sa, err1 := netip.ParseAddr(src)
		da, err2 := netip.ParseAddr(dst)
		if err1 != nil || err2 != nil {
			continue
		}
		s, d := netip.AddrPortFrom(sa, uint16(sp)), netip.AddrPortFrom(da, uint16(dp))
		c := convs[makePair(s, d)]
		if c == nil {
			continue
		}
		if s == c.a {
			c.exactAB += n
			c.exactFrAB++
		} else {
			c.exactBA += n
			c.exactFrBA++
		}
	}
	return convs
}

// TestFlowsAgreesWithTshark compares the flows table with Wireshark's TCP
// conversation table on every sample: the number of connections, and frames
// and wire bytes each way.
func TestFlowsAgreesWithTshark(t *testing.T) {
	needTshark(t)
	for _, path := range sampleCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			convs := tsharkConversations(t, path)
			stdout, stderr, code := runTool(t, "flows", "--in", path, "--json", "-q")
			if code != exitOK {
				t.Fatalf("flows: exit %d: %s", code, stderr)
			}
			type sums struct{ framesLR, framesRL, bytesLR, bytesRL uint64 }
			ours := map[pairKey]*sums{}
			local := map[pairKey]netip.AddrPort{}
			rows := 0
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				if line == "" {
					continue
				}
				var r struct {
					LAddr     string `json:"laddr"`
					LPort     uint16 `json:"lport"`
					RAddr     string `json:"raddr"`
					RPort     uint16 `json:"rport"`
					TXWire    uint64 `json:"tx_wire_bytes"`
					RXWire    uint64 `json:"rx_wire_bytes"`
					TXPackets uint64 `json:"tx_packets"`
					RXPackets uint64 `json:"rx_packets"`
				}
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("JSON line %q: %v", line, err)
				}
				rows++
				l := netip.AddrPortFrom(netip.MustParseAddr(r.LAddr), r.LPort)
				rm := netip.AddrPortFrom(netip.MustParseAddr(r.RAddr), r.RPort)
				k := makePair(l, rm)
				s := ours[k]
				if s == nil {
					s = &sums{}
					ours[k] = s
					local[k] = l
				}
				// A reused 4-tuple is one conversation for tshark but several
				// connections for tcpviz: add them up.
				s.framesLR += r.TXPackets
				s.framesRL += r.RXPackets
				if local[k] == l {
					s.bytesLR += r.TXWire
					s.bytesRL += r.RXWire
				} else {
					s.bytesLR += r.RXWire
					s.bytesRL += r.TXWire
				}
			}
			if len(ours) != len(convs) {
				t.Errorf("%d connections (%d endpoint pairs), tshark has %d conversations", rows, len(ours), len(convs))
			}
			for k, c := range convs {
				s := ours[k]
				if s == nil {
					t.Errorf("tshark conversation %s <-> %s missing from flows", c.a, c.b)
					continue
				}
				// Orient our sums as tshark's A -> B.
				fAB, fBA, bAB, bBA := s.framesLR, s.framesRL, s.bytesLR, s.bytesRL
				if local[k] != c.a {
					fAB, fBA, bAB, bBA = fBA, fAB, bBA, bAB
				}
				if fAB != c.framesAB || fBA != c.framesBA {
					t.Errorf("%s <-> %s: frames %d/%d, tshark %d/%d", c.a, c.b, fAB, fBA, c.framesAB, c.framesBA)
				}
				if bAB/c.unitAB != c.bytesAB || bBA/c.unitBA != c.bytesBA {
					t.Errorf("%s <-> %s: bytes %d/%d, tshark's table says %d/%d (units of %d/%d bytes)",
						c.a, c.b, bAB, bBA, c.bytesAB, c.bytesBA, c.unitAB, c.unitBA)
				}
				if bAB != c.exactAB || bBA != c.exactBA {
					t.Errorf("%s <-> %s: bytes %d/%d, tshark frame lengths add up to %d/%d", c.a, c.b, bAB, bBA, c.exactAB, c.exactBA)
				}
			}
		})
	}
}
