package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// RunFile is where a running capture records what it writes, so that
// `tcpviz monitor` given no path follows it: $XDG_RUNTIME_DIR/tcpviz/capture
// when the variable is set, else /run/tcpviz/capture.
func RunFile() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "tcpviz", "capture")
	}
	return filepath.Join("/run", "tcpviz", "capture")
}

// runRecord is the run file's content.
type runRecord struct {
	Path string `json:"path"` // the -w name (a rotating capture's base name)
	PID  int    `json:"pid"`
}

// recordRun writes the run file for a capture into output and returns the
// function that removes it (only if it still names this process). A run
// file that cannot be written is not an error: the monitor then needs a path.
func recordRun(output string) (remove func(), err error) {
	abs, err := filepath.Abs(output)
	if err != nil {
		return func() {}, err
	}
	path := RunFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return func() {}, fmt.Errorf("run file: %w", err)
	}
	b, _ := json.Marshal(runRecord{Path: abs, PID: os.Getpid()})
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return func() {}, fmt.Errorf("run file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return func() {}, fmt.Errorf("run file: %w", err)
	}
	return func() {
		if r, err := readRun(path); err == nil && r.PID == os.Getpid() {
			os.Remove(path)
		}
	}, nil
}

func readRun(path string) (runRecord, error) {
	var r runRecord
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Path == "" || r.PID <= 0 {
		return r, fmt.Errorf("%s: not a tcpviz run file", path)
	}
	return r, nil
}

// ErrNoCapture says no tcpviz capture is running on this host.
var ErrNoCapture = errors.New("no tcpviz capture is running")

// Running returns the output path and process id of the tcpviz capture
// running on this host, from the run file. A run file left by a capture that
// died (its process is gone) counts as none.
func Running() (path string, pid int, err error) {
	r, err := readRun(RunFile())
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, fmt.Errorf("%w (no %s)", ErrNoCapture, RunFile())
	}
	if err != nil {
		return "", 0, err
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(r.PID))); err != nil {
		return "", 0, fmt.Errorf("%w (%s names process %d, which has ended)", ErrNoCapture, RunFile(), r.PID)
	}
	return r.Path, r.PID, nil
}
