package wireshark

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "plugins")
	path, changed, err := Install(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, PluginName) || !changed {
		t.Errorf("first install: %s changed=%v", path, changed)
	}
	check := func() {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, Plugin) {
			t.Fatalf("installed file differs from the plugin (%v)", err)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", st.Mode().Perm())
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("%d files in the plugin folder, want 1 (no temporary file left)", len(ents))
		}
	}
	check()
	if _, changed, err := Install(dir); err != nil || changed {
		t.Errorf("second install: changed=%v err=%v, want an unchanged file", changed, err)
	}
	// An older version is replaced.
	if err := os.WriteFile(path, []byte("-- old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := Install(dir); err != nil || !changed {
		t.Errorf("update: changed=%v err=%v", changed, err)
	}
	check()
	// A folder that cannot be created is an error naming it.
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	if _, _, err := Install(filepath.Join(blocker, "plugins")); err == nil {
		t.Error("install under a regular file succeeded")
	}
}

// TestPluginPENs: the plugin registers for the PEN tcpviz writes and for
// the documentation number older files carry.
func TestPluginPENs(t *testing.T) {
	m := regexp.MustCompile(`(?m)^local PENS = \{([0-9, ]*)\}`).FindSubmatch(Plugin)
	if m == nil {
		t.Fatal("no `local PENS = { ... }` line in tcpviz.lua")
	}
	pens := make(map[uint32]bool)
	for _, f := range strings.Split(string(m[1]), ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
		if err != nil {
			t.Fatalf("PENS entry %q: %v", f, err)
		}
		pens[uint32(n)] = true
	}
	for _, p := range []uint32{kblock.PEN, kblock.DocumentationPEN} {
		if !pens[p] {
			t.Errorf("tcpviz.lua's PENS lacks %d", p)
		}
	}
}
