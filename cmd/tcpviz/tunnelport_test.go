package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/internal/testutil/rewrap"
)

// TestTunnelPortFlag: VXLAN on Linux's default port 8472 is not decoded as
// VXLAN unless --tunnel-port says so; with it, the connection inside is.
func TestTunnelPortFlag(t *testing.T) {
	in := filepath.Join("..", "..", "samples", "handshake-refused.pcap")
	pkts, err := rewrap.ReadIP(in)
	if err != nil {
		t.Skip(err)
	}
	capture := filepath.Join(t.TempDir(), "vxlan-8472.pcapng")
	f, err := os.Create(capture)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rewrap.Write(f, pkts, rewrap.VXLANOnPort(8472)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	want, _, code := runToolWith(t, toolRun{}, "flows", "--in", in, "--csv")
	if code != 0 {
		t.Fatalf("flows on the plain capture: exit %d", code)
	}
	rows := func(args ...string) int {
		t.Helper()
		out, stderr, code := runToolWith(t, toolRun{}, append([]string{"flows", "--in", capture, "--csv"}, args...)...)
		if code != 0 {
			t.Fatalf("flows %v: exit %d: %s", args, code, stderr)
		}
		return strings.Count(strings.TrimSpace(out), "\n")
	}
	wantRows := strings.Count(strings.TrimSpace(want), "\n")
	if wantRows == 0 {
		t.Fatal("the plain capture has no connection")
	}
	if n := rows(); n != 0 {
		t.Errorf("without --tunnel-port: %d connections, want 0 (UDP to 8472 is not VXLAN by default)", n)
	}
	if n := rows("--tunnel-port", "vxlan=8472"); n != wantRows {
		t.Errorf("with --tunnel-port vxlan=8472: %d connections, want %d as in the plain capture", n, wantRows)
	}
	for _, bad := range []string{"vxlan", "nosuch=1", "vxlan=0", "vxlan=70000"} {
		if _, _, code := runToolWith(t, toolRun{}, "flows", "--in", capture, "--tunnel-port", bad); code != exitUsage {
			t.Errorf("--tunnel-port %s: exit %d, want %d", bad, code, exitUsage)
		}
	}
}
