package wireshark

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// tshark runs Debian's tshark with the plugin installed in a scratch home
// directory, so the user's own Wireshark configuration plays no part and
// the plugin loads the way Wireshark loads any personal plugin.
type tshark struct {
	home string
	env  []string
}

// rootNotice is what tshark prints on every run as root; anything else on
// stderr is a problem (a plugin that fails to load says so there).
const rootNotice = `Running as user "root" and group "root". This could be dangerous.`

// shared is the tshark set up once for all tests of the package.
var shared struct {
	once   sync.Once
	ts     *tshark
	fields map[string]tsharkField
	err    error
}

// TestMain removes the scratch home directory of the shared tshark.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.ts != nil {
		os.RemoveAll(shared.ts.home)
	}
	os.Exit(code)
}

// newTshark returns the shared tshark, the plugin installed with Install
// into the folder tshark names for personal Lua plugins.
func newTshark(t *testing.T) *tshark {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (Debian package tshark): the Wireshark plugin tests need it")
	}
	shared.once.Do(func() {
		home, err := os.MkdirTemp("", "tcpviz-wireshark-test-")
		if err != nil {
			shared.err = err
			return
		}
		ts := &tshark{home: home, env: append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))}
		shared.ts = ts
		dir, err := ts.luaPluginDir()
		if err != nil {
			shared.err = err
			return
		}
		if !strings.HasPrefix(dir, home) {
			shared.err = fmt.Errorf("tshark's personal Lua plugin folder %q is not under HOME=%s", dir, home)
			return
		}
		if _, _, err := Install(dir); err != nil {
			shared.err = err
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.ts
}

// luaPluginDir asks tshark where personal Lua plugins go.
func (ts *tshark) luaPluginDir() (string, error) {
	cmd := exec.Command("tshark", "-G", "folders")
	cmd.Env = ts.env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tshark -G folders: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Personal Lua Plugins" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("tshark -G folders names no personal Lua plugin folder:\n%s", out)
}

// run runs tshark and returns its standard output. Anything on standard
// error besides the root notice fails the test: that is where Wireshark
// reports a plugin that does not load or registers a bad field.
func (ts *tshark) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "tshark", args...)
	cmd.Env = ts.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && line != rootNotice {
			t.Errorf("tshark %s: stderr: %s", strings.Join(args, " "), line)
		}
	}
	return stdout.String()
}

// tsharkField is one field as `tshark -G fields` lists it.
type tsharkField struct {
	name, abbrev, typ string
}

// fields lists the fields the plugin registers.
func (ts *tshark) fields(t *testing.T) map[string]tsharkField {
	t.Helper()
	if shared.fields != nil {
		return shared.fields
	}
	out := ts.run(t, "-G", "fields")
	m := make(map[string]tsharkField)
	for _, line := range strings.Split(out, "\n") {
		c := strings.Split(line, "\t")
		if len(c) >= 5 && c[0] == "F" && c[4] == "tcpviz" {
			m[c[2]] = tsharkField{name: c[1], abbrev: c[2], typ: c[3]}
		}
	}
	if len(m) == 0 {
		t.Fatal("tshark -G fields lists no tcpviz field: the plugin did not load")
	}
	shared.fields = m
	return m
}

// table runs tshark -T fields over a capture and returns, per frame number,
// the value of each field ("" when absent). Fields that occur several times
// in a frame are joined with ",". extra are further tshark options.
func (ts *tshark) table(t *testing.T, path, filter string, fields []string, extra ...string) map[string]map[string]string {
	t.Helper()
	args := append([]string{"-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "quote=n", "-e", "frame.number"}, extra...)
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out := ts.run(t, args...)
	rows := make(map[string]map[string]string)
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != len(fields)+1 {
			t.Fatalf("tshark row of %d columns, want %d: %q", len(c), len(fields)+1, line)
		}
		row := make(map[string]string, len(fields))
		for i, f := range fields {
			row[f] = c[i+1]
		}
		rows[c[0]] = row
	}
	return rows
}

// frames returns the frame numbers a display filter selects.
func (ts *tshark) frames(t *testing.T, path, filter string) []string {
	t.Helper()
	out := ts.run(t, "-n", "-r", path, "-Y", filter, "-T", "fields", "-e", "frame.number")
	return strings.Fields(out)
}
