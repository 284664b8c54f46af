// Package wireshark carries tcpviz's Wireshark plugin, tcpviz.lua, which
// decodes the kernel records of tcpviz captures (docs/pcapng-kernel-blocks.md)
// and copies the kernel's congestion state onto every TCP packet. The plugin
// is embedded in the tcpviz binary so `tcpviz wireshark install` can put it
// where Wireshark looks for it.
package wireshark

import (
	_ "embed"
)

// PluginName is the plugin's file name.
const PluginName = "tcpviz.lua"

// Plugin is the content of tcpviz.lua.
//
//go:embed tcpviz.lua
var Plugin []byte
