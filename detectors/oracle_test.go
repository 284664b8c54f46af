package detectors

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

// oracleFloor is the agreement below which the oracle test fails (the goal
// is 99 %).
const oracleFloor = 0.97

// oracleCaptures lists the captures in samples/ plus those in the
// directories named by TCPVIZ_ORACLE_DIRS (colon-separated), e.g. captures
// a lab test has just made.
func oracleCaptures(t *testing.T) []string {
	dirs := []string{filepath.Join("..", "samples")}
	if s := os.Getenv("TCPVIZ_ORACLE_DIRS"); s != "" {
		dirs = append(dirs, filepath.SplitList(s)...)
	}
	var files []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			if !os.IsNotExist(err) {
				t.Fatal(err)
			}
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() && (strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") || strings.HasSuffix(n, ".gz")) {
				files = append(files, filepath.Join(d, n))
			}
		}
	}
	return files
}

// TestOracle compares tcpviz with tshark frame by frame and kind by kind on
// every capture: precision and recall per kind must reach oracleFloor.
func TestOracle(t *testing.T) {
	if !tsharkoracle.Available() {
		t.Skip("tshark not installed (Debian package tshark): the oracle test needs it")
	}
	files := oracleCaptures(t)
	if len(files) == 0 {
		t.Skip("no captures in samples/ or TCPVIZ_ORACLE_DIRS")
	}
	if v, err := tsharkoracle.Version(t.Context()); err == nil {
		t.Log(v)
	}
	det := func(emit func(*events.Event)) pipeline.Detector { return New(DefaultConfig(), emit) }
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			_, _, res, err := tsharkoracle.CheckFile(ctx, path, det)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Both+len(r.OursOnly)+len(r.TsharkOnly) > 0 {
					t.Logf("%s: %v", filepath.Base(path), r)
				}
				if r.Precision < oracleFloor || r.Recall < oracleFloor {
					t.Errorf("%s below %.0f%%: ours only %v, tshark only %v", r.Kind, oracleFloor*100, head(r.OursOnly), head(r.TsharkOnly))
				} else if len(r.OursOnly)+len(r.TsharkOnly) > 0 {
					t.Logf("  disagreements: ours only %v, tshark only %v", head(r.OursOnly), head(r.TsharkOnly))
				}
			}
		})
	}
}

func head(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}
