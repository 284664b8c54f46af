package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/contrib/wireshark"
)

// TestWiresharkInstall installs the plugin into a scratch home directory and,
// with tshark, checks that Wireshark then loads it from there.
func TestWiresharkInstall(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	stdout, stderr, code := runToolWith(t, toolRun{env: env}, "wireshark", "install")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	path := strings.TrimSpace(stdout)
	if want := filepath.Join(home, ".local", "lib", "wireshark", "plugins", wireshark.PluginName); path != want {
		t.Errorf("installed into %s, want %s", path, want)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, wireshark.Plugin) {
		t.Fatalf("installed file differs from the embedded plugin (%v)", err)
	}
	if !strings.Contains(stderr, path) {
		t.Errorf("stderr does not say where: %q", stderr)
	}
	if _, stderr, code := runToolWith(t, toolRun{env: env}, "wireshark", "install"); code != 0 || !strings.Contains(stderr, "up to date") {
		t.Errorf("second install: exit %d, %q", code, stderr)
	}
	if _, _, code := runTool(t, "wireshark", "uninstall"); code != exitUsage {
		t.Errorf("unknown subcommand: exit %d, want %d", code, exitUsage)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (Debian package tshark): cannot check that Wireshark loads the plugin")
	}
	cmd := exec.Command("tshark", "-G", "fields")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "\ttcpviz.pkt.snd_cwnd\t") {
		t.Error("tshark does not list tcpviz.pkt.snd_cwnd after the install: the plugin did not load from there")
	}
}
