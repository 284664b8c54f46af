package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// The real binary, built once for every test in the package, and the
// synthetic capture (fixture_test.go).
var (
	toolPath    string
	fixturePath string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	// World-readable so tests can run it as an unprivileged user.
	dir, err := os.MkdirTemp("", "tcpviz-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	toolPath = filepath.Join(dir, "tcpviz")
	build := exec.Command("go", "build", "-o", toolPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build tcpviz:", err)
		return 1
	}
	fixturePath = filepath.Join(dir, "synthetic.pcapng")
	if err := writeFixture(fixturePath); err != nil {
		fmt.Fprintln(os.Stderr, "write fixture:", err)
		return 1
	}
	os.Chmod(fixturePath, 0o644)
	return m.Run()
}

// runTool runs the tcpviz binary with args in the test's working directory
// and returns its standard output, standard error and exit code.
func runTool(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runToolWith(t, toolRun{}, args...)
}

// toolRun are the less common settings of a run.
type toolRun struct {
	dir   string   // working directory ("" for the test's)
	stdin []byte   // standard input (empty when nil)
	env   []string // added to a minimal environment
	wrap  []string // a command that runs the tool, e.g. setpriv ...
}

func runToolWith(t *testing.T, o toolRun, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	argv := append(append(append([]string{}, o.wrap...), toolPath), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = o.dir
	// Fixed time zone for the TIME column; no colours.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TZ=UTC"}, o.env...)
	if o.stdin != nil {
		cmd.Stdin = bytes.NewReader(o.stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run tcpviz %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestExitCodes(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.pcap")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a capture "), 10), 0o644)
	cases := []struct {
		name     string
		args     []string
		code     int
		stderrIn string // a piece of the error line
	}{
		{"no command", nil, exitUsage, "Usage: tcpviz <command>"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, ""},
		{"flows help", []string{"flows", "--help"}, exitOK, "Examples:"},
		{"flows without input", []string{"flows"}, exitUsage, "--in is required"},
		{"unknown flag", []string{"flows", "--in", "x", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"bad sort", []string{"flows", "--in", "x", "--sort", "size"}, exitUsage, `sort key "size"`},
		{"bad port", []string{"flows", "--in", "x", "-L", "http"}, exitUsage, `port "http"`},
		{"csv and json", []string{"flows", "--in", "x", "--csv", "--json"}, exitUsage, "exclude each other"},
		{"missing file", []string{"flows", "--in", "/nonexistent/x.pcap"}, exitFailure, "/nonexistent/x.pcap"},
		{"not a capture", []string{"flows", "--in", garbage}, exitFailure, "offset 0"},
		{"sessions without subcommand", []string{"sessions"}, exitUsage, "want a subcommand"},
		{"sessions bad subcommand", []string{"sessions", "prune"}, exitUsage, `unknown subcommand "prune"`},
		{"show missing session", []string{"sessions", "show", "nope", "--base", t.TempDir()}, exitFailure, `no session "nope"`},
		{"analyze with no sessions", []string{"analyze", "--base", t.TempDir()}, exitFailure, "no complete session under "},
		{"quick without interface", []string{"quick"}, exitUsage, "-i IFACE is required"},
		{"version with arguments", []string{"version", "x"}, exitUsage, "unexpected arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runTool(t, c.args...)
			if code != c.code {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			if !strings.Contains(stderr, c.stderrIn) {
				t.Errorf("stderr %q does not mention %q", stderr, c.stderrIn)
			}
			if c.code == exitFailure {
				// Errors are one line naming the command.
				if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "tcpviz ") {
					t.Errorf("error is not one 'tcpviz CMD: cause' line: %q", stderr)
				}
			}
		})
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	stdout, _, code := runTool(t, "help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(stdout, "  "+name+" ") {
			t.Errorf("help does not list %s:\n%s", name, stdout)
		}
		_, stderr, code := runTool(t, name, "--help")
		if code != exitOK || !strings.Contains(stderr, "tcpviz "+name) {
			t.Errorf("%s --help: exit %d, %q", name, code, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code := runTool(t, "version")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	fields := strings.Fields(stdout)
	if len(fields) < 4 || fields[0] != "tcpviz" || fields[2] != "commit" {
		t.Fatalf("version line %q: want 'tcpviz VERSION commit COMMIT ...'", stdout)
	}
	if !strings.Contains(stdout, "go1.") {
		t.Errorf("version line %q lacks the Go version", stdout)
	}
}

func TestVersionLine(t *testing.T) {
	cases := []struct {
		name string
		info *debug.BuildInfo
		want []string
	}{
		{"no build info", nil, []string{"tcpviz unknown commit unknown"}},
		{"devel without VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, []string{"tcpviz devel commit unknown"}},
		{"tagged, clean", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}},
			[]string{"tcpviz v0.3.1 commit 0123456789ab "}},
		{"modified tree", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}}},
			[]string{"commit abc (modified)", "2026-01-02T03:04:05Z"}},
	}
	for _, c := range cases {
		got := versionLine(c.info)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
	}
}
