#!/usr/bin/env bash
# tcpviz capture beside tcpdump at the lab's top rate: a bulk TCP transfer
# between two network namespaces (through the lab's router namespace, offloads
# off so every segment is a packet), captured on the client's veth by nothing,
# by tcpdump, by tcpviz, and by both at once. For each capture it prints the
# packets written, drops, CPU seconds (user and system, start-up apart) and
# the transfer's throughput.
#
#   sudo scripts/bench-capture.sh [BYTES]     # default 1000000000
#
# BENCH_ROUNDS (default 3) repeats every configuration; the VM is noisy.
# TCPVIZ_BENCH_OFFLOAD=1 keeps TSO/GSO/GRO on (fewer, larger packets).
# Needs: root, iproute2, nftables, ethtool, tcpdump.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-capture: needs root (network namespaces, eBPF)" >&2; exit 2; }
export TCPVIZ_BENCH_BYTES=${1:-1000000000}
# The figures are printed by the benchmark itself; -v would add test logs.
go test -run '^$' -bench '^BenchmarkLabCapture$' -benchtime "${BENCH_ROUNDS:-3}x" ./internal/capture | grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok\)'
