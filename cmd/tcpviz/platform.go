package main

import "runtime"

// needLinux refuses, as a usage error, a command that captures with eBPF
// when tcpviz runs elsewhere (macOS and Windows builds read files only).
func needLinux(cmd string) error {
	if runtime.GOOS == "linux" {
		return nil
	}
	return usagef("%s captures with eBPF and needs Linux; on %s read capture files with parse-pcap, flows, report, summary or monitor", cmd, runtime.GOOS)
}
