//go:build linux

package lab

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// BuildTraffic compiles internal/testutil/labtraffic (the TCP sender/receiver with
// knobs) into a temporary directory and returns the binary's path.
func BuildTraffic(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("lab: cannot locate the module source")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	bin := filepath.Join(tb.TempDir(), "labtraffic")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/testutil/labtraffic")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("lab: build labtraffic: %v\n%s", err, out)
	}
	return bin
}
