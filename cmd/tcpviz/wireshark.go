package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/tcpviz/tcpviz/contrib/wireshark"
)

func init() {
	register(&command{
		name:    "wireshark",
		summary: "install the Wireshark plugin that shows tcpviz's kernel records and cwnd/srtt on every packet",
		usage: `  tcpviz wireshark install [--dir DIR]
  tcpviz wireshark print

  install copies the plugin (tcpviz.lua, built into this binary) into
  Wireshark's personal Lua plugins folder, as tshark -G folders names it
  (without tshark: ~/.local/lib/wireshark/plugins, or
  %APPDATA%\Wireshark\plugins on Windows), and prints the file's path. Run
  it as the user who runs Wireshark, then restart Wireshark or reload its
  Lua plugins (Analyze > Reload Lua Plugins, Ctrl+Shift+L). An existing
  tcpviz.lua is replaced. print writes the plugin to standard output.

  Fields, filters and the Wireshark versions tested: docs/wireshark.md.

Examples:
  tcpviz wireshark install
  tcpviz wireshark install --dir /usr/lib/x86_64-linux-gnu/wireshark/plugins
  tcpviz wireshark print > tcpviz.lua
  wireshark -Y 'tcpviz.pkt.snd_cwnd < 10 && tcp.analysis.retransmission' capture.pcapng
`,
		run: runWireshark,
	})
}

func runWireshark(args []string) error {
	fs := newFlags(commands["wireshark"])
	dir := fs.String("dir", "", "install into this folder instead of Wireshark's personal Lua plugins folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one subcommand: install or print")
	}
	switch fs.Arg(0) {
	case "print":
		if *dir != "" {
			return usagef("--dir applies to install only")
		}
		_, err := os.Stdout.Write(wireshark.Plugin)
		return err
	case "install":
		how := "named by --dir"
		if *dir == "" {
			d, h, err := wireshark.PluginDir(context.Background())
			if err != nil {
				return err
			}
			*dir, how = d, h
		}
		path, changed, err := wireshark.Install(*dir)
		if err != nil {
			return err
		}
		state := "installed the Wireshark plugin"
		if !changed {
			state = "the Wireshark plugin is up to date"
		}
		fmt.Fprintf(os.Stderr, "%s: %s (folder %s); restart Wireshark or reload its Lua plugins (Ctrl+Shift+L)\n", state, path, how)
		fmt.Fprintln(os.Stdout, path)
		return nil
	}
	return usagef("unknown subcommand %q: want install or print", strings.Join(fs.Args(), " "))
}
