package sessionfiles

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// thirdPartyFloor is the per-kind F1 score below which a third-party
// capture fails.
const thirdPartyFloor = 0.99

// thirdPartyDepartures are the captures where tcpviz departs from tshark by
// design (docs/thirdparty-captures.md), by directory and file name. They
// must still parse; their counts and flags are logged, not checked.
var thirdPartyDepartures = map[string]string{
	// TCP inside WireGuard, which tshark decrypts with the keys the file
	// carries (a pcapng Decryption Secrets Block).
	"wireshark/wireguard-ping-tcp-dsb.pcapng": "the TCP is inside encrypted WireGuard; tshark decrypts it with the keys in the file, tcpviz does not decrypt",
	// A bit-flipped copy of an FTP-like session.
	"gopacket/linux_sll_oversized_addr.pcapng": "two frames with a malformed TCP header (data offset 0, a header longer than the frame) are skipped; tshark gives them a stream",
}

// thirdPartyCaptures lists the capture files in the directories (or the
// files) named by TCPVIZ_THIRDPARTY_DIRS (colon-separated).
func thirdPartyCaptures(t *testing.T) []string {
	var files []string
	for _, d := range filepath.SplitList(os.Getenv("TCPVIZ_THIRDPARTY_DIRS")) {
		if d == "" {
			continue
		}
		paths, _, err := driver.Inputs(d)
		if err != nil {
			t.Fatalf("TCPVIZ_THIRDPARTY_DIRS: %v", err)
		}
		files = append(files, paths...)
	}
	sort.Strings(files)
	return files
}

// TestThirdPartyCapturesMatchTshark runs captures that others made on real
// networks (tcpdump's and Wireshark's test captures: scripts/thirdparty-captures.sh
// fetches them from Debian's source packages) through parse-pcap's path and
// checks each against tshark: no error on a file tshark reads, the same
// number of TCP connections, the same frames decoded as TCP, and per-frame
// flags at an F1 score of at least thirdPartyFloor per kind.
func TestThirdPartyCapturesMatchTshark(t *testing.T) {
	if os.Getenv("TCPVIZ_THIRDPARTY_DIRS") == "" {
		t.Skip("TCPVIZ_THIRDPARTY_DIRS is not set: scripts/thirdparty-captures.sh DIR fetches third-party captures into DIR (CI does)")
	}
	if !tsharkoracle.Available() {
		t.Skip("tshark not installed (Debian package tshark): the oracle test needs it")
	}
	files := thirdPartyCaptures(t)
	if len(files) == 0 {
		t.Fatalf("no capture files under TCPVIZ_THIRDPARTY_DIRS=%s", os.Getenv("TCPVIZ_THIRDPARTY_DIRS"))
	}
	if v, err := tsharkoracle.Version(t.Context()); err == nil && len(files) > 1 {
		t.Log(v)
	}
	for _, path := range files {
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkThirdParty(t, path, thirdPartyDepartures[name])
		})
	}
}

// checkThirdParty compares one capture; departure, when not empty, is why
// its figures may differ (they are then logged, not checked).
func checkThirdParty(t *testing.T, path, departure string) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	theirs, streams, tcpFrames, terr := tsharkoracle.RunAll(ctx, path)
	ours := make(tsharkoracle.Frames)
	cfg := pipecfg.Detectors()
	res, err := Run(ctx, Options{Input: path, OutDir: t.TempDir(), NoJSONL: true, Pipeline: cfg,
		Sinks: []pipeline.Sink{tsharkoracle.FrameSink(ours)}})
	if terr != nil {
		// Not a capture tshark can read: ours may refuse it too, with an
		// error that names the file.
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name the file: %v", err)
		}
		t.Logf("tshark: %v; tcpviz: %v", terr, err)
		return
	}
	if err != nil {
		t.Fatalf("tshark reads it, tcpviz fails: %v", err)
	}
	s := res.Summary
	errorf := t.Errorf
	if departure != "" {
		t.Logf("departs from tshark by design: %s", departure)
		errorf = t.Logf
	}
	if s.Flows != streams || int(s.TCPPackets) != tcpFrames {
		errorf("tcpviz: %d connections, %d TCP packets (skipped %v); tshark: %d streams, %d TCP frames",
			s.Flows, s.TCPPackets, s.Skipped, streams, tcpFrames)
	}
	worst := 1.0
	for _, r := range tsharkoracle.Compare(ours, theirs) {
		worst = min(worst, r.F1)
		if r.F1 < thirdPartyFloor {
			errorf("%v: ours only %v, tshark only %v", r, head(r.OursOnly), head(r.TsharkOnly))
		} else if len(r.OursOnly)+len(r.TsharkOnly) > 0 {
			t.Logf("%v", r)
		}
	}
	t.Logf("result: frames %d streams %d/%d tcp %d/%d min-F1 %.4f skipped %s", s.Frames, s.Flows, streams, s.TCPPackets, tcpFrames, worst, fmtSkipped(s.Skipped))
}

func head(s []uint64) []uint64 { return s[:min(len(s), 10)] }

func fmtSkipped(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
