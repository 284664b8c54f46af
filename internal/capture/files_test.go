//go:build linux

package capture

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFileSetRing(t *testing.T) {
	dir := t.TempDir()
	// A file from an earlier run: numbering continues after it.
	old := filepath.Join(dir, "ring_00007_20250101000000.pcapng")
	if err := os.WriteFile(old, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := newFileSet(filepath.Join(dir, "ring.pcapng"), true, 2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.Local)
	var names []string
	for i := 0; i < 4; i++ {
		f, name, err := fs.next(now)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		names = append(names, name)
		if _, err := fs.trim(); err != nil {
			t.Fatal(err)
		}
		link, err := os.Readlink(filepath.Join(dir, "ring-current.pcapng"))
		if err != nil || link != filepath.Base(name) {
			t.Errorf("after file %d: ring-current -> %q (%v), want %q", i, link, err, filepath.Base(name))
		}
	}
	re := regexp.MustCompile(`^ring_000(08|09|10|11)_20261123100000\.pcapng$`)
	for _, n := range names {
		if !re.MatchString(filepath.Base(n)) {
			t.Errorf("name %s", filepath.Base(n))
		}
		fi, err := os.Stat(n)
		if strings.HasSuffix(n, "10_20261123100000.pcapng") || strings.HasSuffix(n, "11_20261123100000.pcapng") {
			if err != nil {
				t.Errorf("kept file %s: %v", n, err)
			} else if fi.Mode().Perm() != 0o640 {
				t.Errorf("%s mode %v", n, fi.Mode().Perm())
			}
		} else if err == nil {
			t.Errorf("%s should have been deleted (--rotate-files 2)", n)
		}
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("a file of an earlier run was touched: %v", err)
	}
}

func TestFileSetNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.pcapng")
	if err := os.WriteFile(out, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := newFileSet(out, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fs.next(time.Now()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("err = %v, want a refusal to overwrite", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Error("existing file changed")
	}

	// In a ring, a name taken by someone else is skipped.
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	taken := filepath.Join(dir, "r_00001_20260102030405.pcapng")
	if err := os.WriteFile(taken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := newFileSet(filepath.Join(dir, "r.pcapng"), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, name, err := rs.next(now)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if filepath.Base(name) != "r_00002_20260102030405.pcapng" {
		t.Errorf("got %s", name)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{"ok", Config{Interface: "eth0", Output: "x.pcapng"}, ""},
		{"no interface", Config{Output: "x.pcapng"}, "no interface"},
		{"no output", Config{Interface: "eth0"}, "no output"},
		{"snaplen too big", Config{Interface: "eth0", Output: "x", Snaplen: 5000}, "snaplen"},
		{"snaplen too small", Config{Interface: "eth0", Output: "x", Snaplen: 20}, "snaplen"},
		{"files without rotation", Config{Interface: "eth0", Output: "x", RotateFiles: 3}, "--rotate-files"},
		{"pid and comm", Config{Interface: "eth0", Output: "x", PID: 1, Comm: "nginx"}, "--pid or --comm"},
		{"ring not a power of two", Config{Interface: "eth0", Output: "x", PacketRingBytes: 3 << 20}, "power of two"},
		{"ring of 16 MiB", Config{Interface: "eth0", Output: "x", PacketRingBytes: 16 << 20}, ""},
	}
	for _, tc := range tests {
		c := tc.cfg
		c.setDefaults()
		err := c.validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestBootClock(t *testing.T) {
	var c bootClock
	c.measure()
	b := bootNow()
	got := c.wall(b)
	now := time.Now().UnixNano()
	if d := now - got; d < -int64(time.Millisecond) || d > int64(50*time.Millisecond) {
		t.Errorf("boot time %d converts to %d, %d ns from now", b, got, d)
	}
	if c.span <= 0 || c.span > int64(time.Millisecond) {
		t.Errorf("bracket span %d ns", c.span)
	}
}
