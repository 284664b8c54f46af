package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// inTerminal runs tcpviz with stdout and stderr on a pseudo-terminal (via
// script(1)) and returns what the terminal received.
func inTerminal(t *testing.T, env []string, args ...string) string {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("needs script (Debian package bsdutils) for a pseudo-terminal")
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command(script, "-qec", toolPath+" "+strings.Join(quoted, " "), "/dev/null")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TZ=UTC", "TERM=xterm"}, env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("in a terminal: %v: %q", err, out)
	}
	return string(out)
}

func TestTerminalProgressAndColour(t *testing.T) {
	cases := []struct {
		name          string
		env           []string
		args          []string
		want, notWant []string
	}{
		{"progress bar and colours", nil, []string{"flows", "--in", fixturePath},
			[]string{"packets/s", "\r\x1b[K", sgrBoldForTest + "PID"}, nil},
		{"quiet: no bar", nil, []string{"flows", "-q", "--in", fixturePath},
			[]string{"PID"}, []string{"packets/s"}},
		{"NO_COLOR", []string{"NO_COLOR=1"}, []string{"flows", "-q", "--in", fixturePath},
			[]string{"PID"}, []string{"\x1b["}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := inTerminal(t, c.env, c.args...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("terminal output lacks %q:\n%q", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(out, w) {
					t.Errorf("terminal output has %q:\n%q", w, out)
				}
			}
		})
	}
}

const sgrBoldForTest = "\x1b[1m"
