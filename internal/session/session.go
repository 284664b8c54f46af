// Package session manages tcpviz's output directories
// (out/session_YYYYmmdd_HHMMSS) and writes files so that an interrupted run
// never leaves a half-written file under its final name.
package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"
)

// DefaultBase is where sessions go when --out is not given.
const DefaultBase = "out"

// Prefix starts every session directory name.
const Prefix = "session_"

// NewDir creates a fresh session directory under base named after t. An
// existing session is never reused: a suffix (-2, -3, ...) is added instead.
// The directory is created 0750: it holds traffic.
func NewDir(base string, t time.Time) (string, error) {
	if err := os.MkdirAll(base, 0o750); err != nil {
		return "", fmt.Errorf("create output base: %w", err)
	}
	name := Prefix + t.Format("20060102_150405")
	for i := 1; i < 1000; i++ {
		dir := filepath.Join(base, name)
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		err := os.Mkdir(dir, 0o750)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("create session directory: %w", err)
		}
	}
	return "", fmt.Errorf("create session directory: too many sessions named %s in %s", name, base)
}

// OutDir checks an explicit output directory (--out) and creates it (0750)
// when missing; created says whether it did, so a failed run can remove
// it. A symbolic link is never followed (it could point anywhere, /etc
// included), a path that is not a directory is refused, and so is a
// directory that already holds files unless force is set: results are
// never replaced without being asked. allowFull skips that last check, for
// outputs that accumulate by design (a Parquet dataset root).
func OutDir(dir string, force, allowFull bool) (created bool, err error) {
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return false, fmt.Errorf("create output directory: %w", err)
		}
		return true, os.Chmod(dir, 0o750) // whatever the umask
	case err != nil:
		return false, fmt.Errorf("--out %s: %w", dir, err)
	case st.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("--out %s is a symbolic link: not following it (give the directory itself)", dir)
	case !st.IsDir():
		return false, fmt.Errorf("--out %s is not a directory", dir)
	}
	if allowFull || force {
		return false, nil
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return false, fmt.Errorf("--out %s: %w", dir, err)
	} else if len(ents) > 0 {
		return false, fmt.Errorf("--out %s is not empty: choose a new directory, or --force to write into it (tcpviz's files there are replaced)", dir)
	}
	return false, nil
}

// EnsureDir creates an explicit output directory (--out) if needed.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	return nil
}

// durable is SetDurable's setting.
var durable atomic.Bool

// SetDurable makes the files created after it flushed to the disk before
// they are renamed into place (and their directory after), so a finished
// run's files survive a crash of the machine, not only of the process.
// Off by default, as in tcpdump, tshark and dumpcap: the files are derived
// from a capture that can be read again, and on a slow disk the flush sets
// the pace of a large run (events.jsonl of a million-packet lossy capture
// is 77 MB, 0.6 s of a 120 MB/s disk). Without it an interrupted process
// still never leaves a half-written file under the final name; a machine
// crash may leave the newest files empty or missing.
func SetDurable(on bool) { durable.Store(on) }

// File is an output file written under a temporary name and renamed into
// place by Commit. Until then, readers of the final name see the previous
// file or none.
type File struct {
	*os.File
	final   string
	done    bool
	durable bool // SetDurable's setting when the file was created
	// Bytes written through Write, and where the last writeback started
	// (writeback.go).
	written, started int64
}

// Create opens a temporary file beside path, mode 0640.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Chmod(0o640); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{File: f, final: path, durable: durable.Load()}, nil
}

// Path is the final name.
func (f *File) Path() string { return f.final }

// Commit closes and renames the file to its final name; with SetDurable
// it flushes the file first and the directory after.
func (f *File) Commit() error {
	if f.done {
		return nil
	}
	f.done = true
	if f.durable {
		if err := f.File.Sync(); err != nil {
			f.File.Close()
			os.Remove(f.File.Name())
			return fmt.Errorf("write %s: %w", f.final, err)
		}
	}
	if err := f.File.Close(); err != nil {
		os.Remove(f.File.Name())
		return fmt.Errorf("write %s: %w", f.final, err)
	}
	if err := os.Rename(f.File.Name(), f.final); err != nil {
		os.Remove(f.File.Name())
		return fmt.Errorf("write %s: %w", f.final, err)
	}
	if f.durable {
		if err := syncDir(filepath.Dir(f.final)); err != nil {
			return fmt.Errorf("write %s: %w", f.final, err)
		}
	}
	return nil
}

// syncDir flushes a directory's entries, so a rename in it is on the disk.
// Windows cannot open a directory for that; its renames are journaled.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abort discards the temporary file. It is safe after Commit (no-op).
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}
