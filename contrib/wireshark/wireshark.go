// Package wireshark carries tcpviz's Wireshark plugin, tcpviz.lua, which
// decodes the kernel records of tcpviz captures (docs/pcapng-kernel-blocks.md)
// and copies the kernel's congestion state onto every TCP packet. The plugin
// is embedded in the tcpviz binary so `tcpviz wireshark install` can put it
// where Wireshark looks for it.
package wireshark

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// PluginName is the plugin's file name.
const PluginName = "tcpviz.lua"

// Plugin is the content of tcpviz.lua.
//
//go:embed tcpviz.lua
var Plugin []byte

// PluginDir returns the folder where Wireshark loads the user's own Lua
// plugins, and how it was found. Wireshark itself is asked first
// (`tshark -G folders`, "Personal Lua Plugins"), since that is the folder it
// scans whatever the platform and version; without tshark it is Wireshark's
// documented default: ~/.local/lib/wireshark/plugins (Linux, macOS; it does
// not follow XDG_DATA_HOME or XDG_CONFIG_HOME) or %APPDATA%\Wireshark\plugins.
func PluginDir(ctx context.Context) (dir, how string, err error) {
	if d, err := askTshark(ctx); err == nil {
		return d, "as tshark -G folders names it", nil
	}
	if runtime.GOOS == "windows" {
		appData := os.Getenv("APPDATA")
		if appData == "" {
			return "", "", errors.New("APPDATA is not set: name the folder with --dir")
		}
		return filepath.Join(appData, "Wireshark", "plugins"), "Wireshark's default; tshark not found", nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", "", fmt.Errorf("no home directory (%v): name the folder with --dir", err)
	}
	return filepath.Join(home, ".local", "lib", "wireshark", "plugins"), "Wireshark's default; tshark not found", nil
}

// askTshark reads the personal Lua plugin folder from `tshark -G folders`.
func askTshark(ctx context.Context) (string, error) {
	if _, err := exec.LookPath("tshark"); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tshark", "-G", "folders").Output()
	if err != nil {
		return "", fmt.Errorf("tshark -G folders: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Personal Lua Plugins" {
			if v = strings.TrimSpace(v); v != "" {
				return v, nil
			}
		}
	}
	return "", errors.New("tshark -G folders names no personal Lua plugin folder")
}

// Install writes the plugin into dir (created if missing) as tcpviz.lua,
// through a temporary file renamed into place, so Wireshark never loads a
// half-written plugin. It returns the file's path and whether an existing
// file had other content (an older version) or there was none.
func Install(dir string) (path string, changed bool, err error) {
	path = filepath.Join(dir, PluginName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, Plugin) {
		return path, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("create plugin folder: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+PluginName+".*")
	if err != nil {
		return "", false, fmt.Errorf("install plugin: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(Plugin); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("install plugin: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", false, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", false, fmt.Errorf("install plugin: %w", err)
	}
	return path, true, nil
}
