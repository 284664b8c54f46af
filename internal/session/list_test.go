package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeSession creates base/name with files (name -> content) and sets every
// mtime to mtime.
func makeSession(t *testing.T, base, name string, files map[string]string, mtime time.Time) string {
	t.Helper()
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for f, content := range files {
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	os.Chtimes(dir, mtime, mtime)
	return dir
}

const summaryJSON = `{"schema":1,"input":"/data/x.pcapng","input_bytes":12345,"packets":100,"flows":3,
"events":{"retransmission":4,"dup_ack":6,"rtt_sample":50,"kernel_sample":9}}`

func TestListAndStat(t *testing.T) {
	base := t.TempDir()
	old := time.Now().Add(-time.Hour)
	makeSession(t, base, "session_20260102_030405", map[string]string{
		"summary.json": summaryJSON, "events.jsonl": "{}\n", "alerts.jsonl": "{}\n{}\n{}", "report.html": "<html>",
	}, old)
	makeSession(t, base, "session_20260102_030405-2", map[string]string{
		"capture.pcapng": "0123456789", "summary.json": `{"input":"` + base + `/session_20260102_030405-2/capture.pcapng","packets":7}`,
	}, old)
	makeSession(t, base, "session_20250101_000000", nil, old)
	makeSession(t, base, "session_20250101_000001", map[string]string{"summary.json": "{broken"}, old)
	makeSession(t, base, "not_a_session", map[string]string{"x": "y"}, old)

	list, err := List(base)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	want := []string{"session_20250101_000000", "session_20250101_000001", "session_20260102_030405", "session_20260102_030405-2"}
	if len(ids) != len(want) {
		t.Fatalf("sessions %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("sessions %v, want %v (oldest first)", ids, want)
		}
	}
	cases := []struct {
		name                  string
		s                     Info
		complete, report      bool
		packets               uint64
		flows, events, alerts int
		captureBytes          int64
		problem               bool
	}{
		{"empty", list[0], false, false, 0, 0, 0, 0, 0, false},
		{"broken summary", list[1], false, false, 0, 0, 0, 0, 0, true},
		{"complete", list[2], true, true, 100, 3, 10, 3, 12345, false},
		{"capture inside", list[3], true, false, 7, 0, 0, 0, 10, false},
	}
	for _, c := range cases {
		s := c.s
		if s.Complete != c.complete || s.Report != c.report || s.Packets != c.packets || s.Flows != c.flows ||
			s.Events != c.events || s.Alerts != c.alerts || s.CaptureBytes != c.captureBytes || (s.Problem != "") != c.problem {
			t.Errorf("%s: %+v", c.name, s)
		}
	}
	if !list[0].Empty() || list[2].Empty() {
		t.Errorf("Empty() wrong")
	}
	if got := list[2].Time; !got.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)) {
		t.Errorf("time from name: %v", got)
	}
	if filepath.Base(list[3].Capture) != "capture.pcapng" {
		t.Errorf("capture inside the session not found: %q", list[3].Capture)
	}
}

func TestResolve(t *testing.T) {
	base := t.TempDir()
	old := time.Now().Add(-time.Hour)
	makeSession(t, base, "session_20260102_030405", map[string]string{"summary.json": summaryJSON}, old)
	makeSession(t, base, "session_20260102_030406", map[string]string{"summary.json": summaryJSON}, old)
	makeSession(t, base, "session_20260103_000000", nil, old) // newer but incomplete
	cases := []struct{ id, want string }{
		{"", "session_20260102_030406"},
		{"latest", "session_20260102_030406"},
		{"session_20260102_030405", "session_20260102_030405"},
		{"20260102_030405", "session_20260102_030405"},
		{filepath.Join(base, "session_20260103_000000"), "session_20260103_000000"},
	}
	for _, c := range cases {
		s, err := Resolve(base, c.id)
		if err != nil || s.ID != c.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", c.id, s.ID, err, c.want)
		}
	}
	if _, err := Resolve(base, "nope"); err == nil {
		t.Error("unknown session resolved")
	}
	if _, err := Resolve(t.TempDir(), "latest"); err == nil {
		t.Error("latest resolved with no sessions")
	}
}

func TestCleanableAndRemove(t *testing.T) {
	base := t.TempDir()
	now := time.Now()
	old := now.Add(-time.Hour)
	makeSession(t, base, "session_20260102_030405", map[string]string{"summary.json": summaryJSON}, old)
	makeSession(t, base, "session_20250101_000000", nil, old)
	makeSession(t, base, "session_20250101_000001", map[string]string{"capture.pcapng": "x"}, old)
	makeSession(t, base, "session_20250101_000002", map[string]string{"capture.pcapng": "growing"}, now)
	list, err := List(base)
	if err != nil {
		t.Fatal(err)
	}
	remove, inUse := Cleanable(list, now, 2*time.Minute)
	if len(remove) != 2 || remove[0].ID != "session_20250101_000000" || remove[1].ID != "session_20250101_000001" {
		t.Fatalf("remove %+v", remove)
	}
	if len(inUse) != 1 || inUse[0].ID != "session_20250101_000002" {
		t.Fatalf("in use %+v", inUse)
	}
	for _, s := range remove {
		if err := Remove(s); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
			t.Errorf("%s still there", s.Dir)
		}
	}
	if err := Remove(Info{Dir: base}); err == nil {
		t.Error("Remove accepted a directory that is not a session")
	}
	if _, err := os.Stat(base); err != nil {
		t.Error("Remove deleted the base")
	}
}

// TestResolveSaysWhereItLooked checks that a session not found is reported
// with the absolute directories looked in and what was there.
func TestResolveSaysWhereItLooked(t *testing.T) {
	empty := t.TempDir()
	incomplete := t.TempDir()
	makeSession(t, incomplete, "session_20260103_000000", nil, time.Now())
	missing := filepath.Join(t.TempDir(), "out")
	t.Chdir(empty)
	cases := []struct {
		base, id string
		want     []string
	}{
		{missing, "", []string{"no complete session: " + missing + " does not exist", "--base"}},
		{"out", "latest", []string{"no complete session: " + filepath.Join(empty, "out") + " does not exist"}},
		{empty, "", []string{"no complete session under " + empty + ": no session_* directory there"}},
		{incomplete, "", []string{"under " + incomplete + ": 1 session directory without a readable summary.json"}},
		{empty, "x1", []string{`no session "x1": looked for ` + filepath.Join(empty, "x1") + ", " + filepath.Join(empty, "session_x1")}},
	}
	for _, c := range cases {
		_, err := Resolve(c.base, c.id)
		if err == nil {
			t.Fatalf("Resolve(%q, %q) found a session", c.base, c.id)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Resolve(%q, %q): %v; want it to say %q", c.base, c.id, err, w)
			}
		}
	}
}
