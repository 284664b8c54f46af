// Package ebpfcap loads and attaches tcpviz's eBPF capture programs: tc (tcx)
// hooks that copy TCP packet headers into a ring buffer, and BTF tracepoints
// that report the kernel's own TCP state (cwnd, srtt, retransmissions, state
// changes, resets) into a second ring buffer.
package ebpfcap

// The generated capture_{x86,arm64}_bpfel.{go,o} are committed so that building
// tcpviz never needs clang. Regenerate with `go generate ./ebpfcap` (needs
// clang, llvm-strip and libbpf-dev); scripts/check-bpf-generate.sh checks
// that the committed objects match their sources.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64,arm64 -tags linux -type pkt_hdr -type krec capture bpf/capture.c -- -I/usr/include/x86_64-linux-gnu -Ibpf -Wall -Werror
