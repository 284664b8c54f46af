package capture

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// fileMode of capture files: packets are sensitive, so not world-readable.
const fileMode = 0o640

// fileSet names, creates and deletes the capture files. Without rotation it
// creates exactly the -w name; with rotation, base_NNNNN_YYYYmmddHHMMSS.ext
// files like dumpcap's ring buffer, keeping at most maxFiles, and a
// base-current.ext symlink to the file being written. It never overwrites
// an existing file.
type fileSet struct {
	output   string
	rotating bool
	maxFiles int
	base     string // output without its extension
	ext      string
	seq      int
	ring     []string // files of this run still on disk, oldest first
	all      []string // every file this run created
	stdout   *os.File // where "-" writes
	lockFile *os.File // held for the run by a rotating capture
}

func newFileSet(output string, rotating bool, maxFiles int) (*fileSet, error) {
	ext := filepath.Ext(output)
	if ext == "" {
		ext = ".pcapng"
	}
	f := &fileSet{output: output, rotating: rotating, maxFiles: maxFiles,
		base: strings.TrimSuffix(output, filepath.Ext(output)), ext: ext}
	if rotating {
		if err := f.lock(); err != nil {
			return nil, err
		}
		seq, err := f.lastSeq()
		if err != nil {
			f.unlock()
			return nil, err
		}
		f.seq = seq
	}
	return f, nil
}

// lastSeq finds the highest NNNNN among existing base_NNNNN_* files, so a
// new run continues the numbering instead of mixing with old files.
func (f *fileSet) lastSeq() (int, error) {
	dir := filepath.Dir(f.base)
	re := regexp.MustCompile("^" + regexp.QuoteMeta(filepath.Base(f.base)) + `_(\d{5,})_\d{14}` + regexp.QuoteMeta(f.ext) + "$")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("capture: read output directory: %w", err)
	}
	max := 0
	for _, e := range entries {
		if m := re.FindStringSubmatch(e.Name()); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > max {
				max = n
			}
		}
	}
	return max, nil
}

// CurrentLink is the name of the symlink to the file being written.
func (f *fileSet) currentLink() string { return f.base + "-current" + f.ext }

// next creates the next file.
func (f *fileSet) next(now time.Time) (*os.File, string, error) {
	if !f.rotating {
		if len(f.all) > 0 {
			return nil, "", errors.New("capture: second file without rotation")
		}
		if f.output == "-" {
			f.all = append(f.all, "-")
			if f.stdout != nil {
				return f.stdout, "-", nil
			}
			return os.Stdout, "-", nil
		}
		file, err := create(f.output)
		if err != nil {
			return nil, "", err
		}
		f.all = append(f.all, f.output)
		return file, f.output, nil
	}
	for tries := 0; ; tries++ {
		f.seq++
		name := fmt.Sprintf("%s_%05d_%s%s", f.base, f.seq, now.Format("20060102150405"), f.ext)
		file, err := create(name)
		if errors.Is(err, fs.ErrExist) && tries < 1000 {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		f.ring = append(f.ring, name)
		f.all = append(f.all, name)
		if err := f.point(name); err != nil {
			file.Close()
			return nil, "", err
		}
		return file, name, nil
	}
}

// trim deletes the oldest files beyond maxFiles, never the current one.
func (f *fileSet) trim() ([]string, error) {
	var removed []string
	for f.maxFiles > 0 && len(f.ring) > f.maxFiles {
		old := f.ring[0]
		if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("capture: delete old ring file: %w", err)
		}
		f.ring = f.ring[1:]
		removed = append(removed, old)
	}
	return removed, nil
}

// point atomically re-points the -current symlink: a new link under a
// temporary name renamed over the old one.
func (f *fileSet) point(name string) error {
	link := f.currentLink()
	tmp := fmt.Sprintf("%s.tmp%d", link, os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(name), tmp); err != nil {
		return fmt.Errorf("capture: current-file symlink: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("capture: current-file symlink: %w", err)
	}
	return nil
}

// lockName is the hidden file a rotating capture locks: .NAME.lock beside
// the -w name.
func (f *fileSet) lockName() string {
	return filepath.Join(filepath.Dir(f.output), "."+filepath.Base(f.output)+".lock")
}

// create makes a new file, refusing to replace an existing one.
func create(name string) (*os.File, error) {
	file, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("capture: %s already exists; not overwriting it: %w", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("capture: create %s: %w", name, err)
	}
	// The umask may have removed bits; capture files are 0640 exactly.
	if err := file.Chmod(fileMode); err != nil {
		file.Close()
		return nil, fmt.Errorf("capture: chmod %s: %w", name, err)
	}
	return file, nil
}
