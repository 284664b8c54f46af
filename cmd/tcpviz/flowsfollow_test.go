package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
)

// TestFlowsFollowMatchesOffline follows finished captures from their start:
// the rows printed as connections close (and, at Ctrl-C, those still in the
// table) are the rows the offline table prints for the same file.
func TestFlowsFollowMatchesOffline(t *testing.T) {
	for _, name := range []string{"kernel-web.pcapng", "handshake-refused.pcap", "cubic-loss-sender.pcapng"} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join("..", "..", "samples", name)
			if _, err := os.Stat(in); err != nil {
				t.Skip(err)
			}
			want, stderr, code := runToolWith(t, toolRun{}, "flows", "--in", in, "--csv")
			if code != 0 {
				t.Fatalf("flows --in: exit %d: %s", code, stderr)
			}
			wantLines := strings.Split(strings.TrimSpace(want), "\n")

			cmd := exec.Command(toolPath, "flows", "--follow", in, "--from-start", "--csv")
			var out, errb syncbuf.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The header comes at once; give the follower time to read the
			// file, then stop it: the connections still held come out then.
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(out.String(), "\n") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(2 * time.Second)
			cmd.Process.Signal(os.Interrupt)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("flows --follow: %v: %s", err, errb.String())
			}
			got := strings.Split(strings.TrimSpace(out.String()), "\n")
			if got[0] != wantLines[0] {
				t.Fatalf("header %q, want %q", got[0], wantLines[0])
			}
			g, w := slices.Sorted(slices.Values(got[1:])), slices.Sorted(slices.Values(wantLines[1:]))
			if !slices.Equal(g, w) {
				t.Errorf("--follow rows differ from --in rows:\n got %q\nwant %q", g, w)
			}
		})
	}
}
