package capture

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRunFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	if got := RunFile(); got != filepath.Join(dir, "tcpviz", "capture") {
		t.Fatalf("RunFile %s", got)
	}
	if _, _, err := Running(); !errors.Is(err, ErrNoCapture) {
		t.Fatalf("before any capture: %v", err)
	}
	remove, err := recordRun("rolling.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	path, pid, err := Running()
	wd, _ := os.Getwd()
	if err != nil || path != filepath.Join(wd, "rolling.pcapng") || pid != os.Getpid() {
		t.Fatalf("Running: %s %d %v", path, pid, err)
	}
	remove()
	if _, _, err := Running(); !errors.Is(err, ErrNoCapture) {
		t.Fatalf("after the capture: %v", err)
	}
	// A run file left by a process that has ended names no capture.
	if err := os.WriteFile(RunFile(), []byte(`{"path":"/x.pcapng","pid":2147483646}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Running(); !errors.Is(err, ErrNoCapture) {
		t.Fatalf("stale run file: %v", err)
	}
}
