//go:build linux

package capture

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCapsError(t *testing.T) {
	bit := func(caps ...uint) uint64 {
		var v uint64
		for _, c := range caps {
			v |= 1 << c
		}
		return v
	}
	tests := []struct {
		name    string
		eff     uint64
		euid    int
		missing string // "" when the capture may run
	}{
		{"root", ^uint64(0), 0, ""},
		{"bpf perfmon net_admin", bit(capBPF, capPerfmon, capNetAdmin), 1000, ""},
		{"sys_admin covers bpf and perfmon", bit(capSysAdmin, capNetAdmin), 1000, ""},
		{"no capabilities", 0, 1000, "CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN"},
		{"no net_admin", bit(capBPF, capPerfmon), 1000, "lacks CAP_NET_ADMIN"},
		{"root without perfmon", bit(capBPF, capNetAdmin), 0, "this process lacks CAP_PERFMON"},
	}
	for _, tc := range tests {
		err := capsError(tc.eff, tc.euid)
		switch {
		case tc.missing == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.missing != "" && (err == nil || !strings.Contains(err.Error(), tc.missing)):
			t.Errorf("%s: err = %v, want it to name %q", tc.name, err, tc.missing)
		case tc.missing != "" && tc.euid != 0 && !strings.Contains(err.Error(), "not running as root"):
			t.Errorf("%s: %v does not say the process is not root", tc.name, err)
		}
	}
}

// Start-up failures are reported before anything is created.
func TestRunStartupErrors(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.pcapng")
	if err := os.WriteFile(existing, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no such interface", Config{Interface: "tvz-nosuch0", Output: filepath.Join(dir, "a.pcapng")}, `no such interface "tvz-nosuch0"`},
		{"existing output", Config{Interface: "lo", Output: existing}, "already exists; not overwriting"},
		{"no such namespace", Config{Interface: "lo", Output: filepath.Join(dir, "b.pcapng"), Netns: "tvz-nosuch-ns"}, "network namespace tvz-nosuch-ns"},
	}
	for _, tc := range tests {
		_, err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Error("an existing file was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "a.pcapng")); err == nil {
		t.Error("a file was created for a capture that could not start")
	}
}
