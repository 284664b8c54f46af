package session

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// Files a session may hold besides parse's output. They are named here so
// listing does not depend on the packages that write them.
const (
	summaryFile = "summary.json"
	alertsFile  = "alerts.jsonl"
	reportFile  = "report.html"
)

// Info describes one session directory.
type Info struct {
	ID   string    `json:"id"`   // directory name, e.g. session_20260102_030405
	Dir  string    `json:"dir"`  // path
	Time time.Time `json:"time"` // from the name (local time), else the directory's mtime
	// Complete is set when summary.json exists and parses: the run that
	// made the session finished.
	Complete bool            `json:"complete"`
	Summary  *events.Summary `json:"summary,omitempty"`
	Problem  string          `json:"problem,omitempty"` // why summary.json could not be read
	// Capture is the capture the session describes: a capture file inside
	// the session, else the summary's input.
	Capture      string    `json:"capture,omitempty"`
	CaptureBytes int64     `json:"capture_bytes"`
	Packets      uint64    `json:"packets"`
	Flows        int       `json:"flows"`
	Events       int       `json:"events"` // detector findings (samples and kernel records not counted)
	Alerts       int       `json:"alerts"` // lines of alerts.jsonl
	Report       bool      `json:"report"` // report.html exists
	Files        int       `json:"files"`
	Bytes        int64     `json:"bytes"`    // all files together
	Modified     time.Time `json:"modified"` // newest file (or the directory when empty)
}

// Empty reports whether the session holds no files.
func (i *Info) Empty() bool { return i.Files == 0 }

// List returns the sessions under base, oldest first. A missing base is an
// empty list.
func List(base string) ([]Info, error) {
	ents, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var out []Info
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), Prefix) {
			continue
		}
		info, err := Stat(filepath.Join(base, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b Info) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// sessionTime reads the time from a session name (session_YYYYmmdd_HHMMSS,
// optionally with a -N suffix).
func sessionTime(name string) (time.Time, bool) {
	s := strings.TrimPrefix(name, Prefix)
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s = s[:i]
	}
	t, err := time.ParseInLocation("20060102_150405", s, time.Local)
	return t, err == nil
}

// Stat describes one session directory.
func Stat(dir string) (Info, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return Info{}, fmt.Errorf("session %s: %w", dir, err)
	}
	if !st.IsDir() {
		return Info{}, fmt.Errorf("session %s: not a directory", dir)
	}
	info := Info{ID: filepath.Base(dir), Dir: dir, Modified: st.ModTime()}
	if t, ok := sessionTime(info.ID); ok {
		info.Time = t
	} else {
		info.Time = st.ModTime()
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return Info{}, fmt.Errorf("session %s: %w", dir, err)
	}
	var captures []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed while we looked
		}
		info.Files++
		if fi.Mode().IsRegular() {
			info.Bytes += fi.Size()
		}
		if fi.ModTime().After(info.Modified) {
			info.Modified = fi.ModTime()
		}
		name := e.Name()
		switch {
		case name == reportFile:
			info.Report = true
		case name == alertsFile:
			info.Alerts = countLines(filepath.Join(dir, name))
		case isCapture(name):
			captures = append(captures, name)
			info.CaptureBytes += fi.Size()
		}
	}
	if len(captures) > 0 {
		info.Capture = filepath.Join(dir, captures[0])
	}
	b, err := os.ReadFile(filepath.Join(dir, summaryFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		info.Problem = err.Error()
	default:
		var sum events.Summary
		if err := json.Unmarshal(b, &sum); err != nil {
			info.Problem = fmt.Sprintf("%s: %v", summaryFile, err)
			break
		}
		info.Complete = true
		info.Summary = &sum
		info.Packets, info.Flows = sum.Packets, sum.Flows
		info.Events = events.Findings(sum.Events)
		if info.Capture == "" && sum.Input != "" && sum.Input != "-" {
			info.Capture = sum.Input
			info.CaptureBytes = sum.InputBytes
		}
	}
	return info, nil
}

func isCapture(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false // a temporary file
	}
	name = strings.TrimSuffix(name, ".gz")
	return strings.HasSuffix(name, ".pcapng") || strings.HasSuffix(name, ".pcap")
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := bytes.Count(b, []byte{'\n'})
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// Latest is the session argument that picks the newest complete session.
const Latest = "latest"

// Resolve finds a session by ID (the directory name, with or without the
// session_ prefix), by path, or "latest" (or "") for the newest complete
// session under base.
func Resolve(base, id string) (Info, error) {
	if id == "" || id == Latest {
		list, err := List(base)
		if err != nil {
			return Info{}, err
		}
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Complete {
				return list[i], nil
			}
		}
		return Info{}, noSession(base, len(list))
	}
	candidates := []string{filepath.Join(base, id), filepath.Join(base, Prefix+id)}
	if strings.ContainsRune(id, os.PathSeparator) {
		candidates = append([]string{id}, candidates...)
	}
	for _, dir := range candidates {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return Stat(dir)
		}
	}
	var looked []string
	for _, c := range candidates {
		looked = append(looked, absPath(c))
	}
	return Info{}, fmt.Errorf("no session %q: looked for %s%s", id, strings.Join(looked, ", "), hint)
}

// hint says where sessions come from, after an error that found none.
const hint = " (parse-pcap, capture and quick write sessions under out/ in the directory they run in; --base names another directory, or give a session directory's path)"

// noSession says where Resolve looked for the latest session and what it
// found there.
func noSession(base string, incomplete int) error {
	abs := absPath(base)
	if _, err := os.Stat(base); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no complete session: %s does not exist%s", abs, hint)
	}
	if incomplete > 0 {
		return fmt.Errorf("no complete session under %s: %d %s without a readable %s%s", abs, incomplete,
			plural(incomplete, "session directory", "session directories"), summaryFile, hint)
	}
	return fmt.Errorf("no complete session under %s: no %s* directory there%s", abs, Prefix, hint)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// absPath makes a path absolute for messages (as given when that fails).
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Cleanable lists the sessions clean would remove: empty ones and those
// without a readable summary.json. Sessions with a file changed within
// busy are left alone: a capture may still be writing into them.
func Cleanable(list []Info, now time.Time, busy time.Duration) (remove, inUse []Info) {
	for _, s := range list {
		if s.Complete {
			continue
		}
		if now.Sub(s.Modified) < busy {
			inUse = append(inUse, s)
			continue
		}
		remove = append(remove, s)
	}
	return remove, inUse
}

// Remove deletes a session directory. It refuses anything that is not a
// session directory, so a wrong path cannot delete other data.
func Remove(s Info) error {
	if !strings.HasPrefix(filepath.Base(s.Dir), Prefix) {
		return fmt.Errorf("remove %s: not a session directory", s.Dir)
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return fmt.Errorf("remove session: %w", err)
	}
	return nil
}
