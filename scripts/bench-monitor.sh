#!/usr/bin/env bash
# Figures for `tcpviz monitor` (docs/monitor.md):
#  - alert latency: from the write of the pcapng block that crosses a
#    threshold to the alert line, with fsnotify and with polling
#    (--poll-interval 100ms), median and 99th percentile;
#  - CPU time per appended packet while following a file that grows in
#    256 KiB chunks, beside the same pipeline reading the bytes from memory
#    (parse-pcap's cost): equal figures mean nothing is read twice.
#
#   scripts/bench-monitor.sh [ROUNDS]    # latency rounds, default 300
#
# Needs no root and no network: everything happens in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-300}

echo "== alert latency ($rounds alerts each)"
go test ./monitor -run '^$' -bench 'BenchmarkAlertLatency' -benchtime "${rounds}x" -count 1 |
  awk '/^BenchmarkAlertLatency/ { sub(/-[0-9]+$/, "", $1); sub(/BenchmarkAlertLatency\//, "", $1);
        printf "  %-9s median %7s ms   p99 %7s ms\n", $1, $5, $7 }'

echo "== CPU per appended packet (200,000-packet bulk transfer with retransmissions, 5 runs)"
go test ./monitor -run '^$' -bench 'BenchmarkMonitorAppend' -benchtime 5x -count 1 |
  awk '/^BenchmarkMonitorAppend/ { sub(/-[0-9]+$/, "", $1); sub(/BenchmarkMonitorAppend\//, "", $1);
        printf "  %-8s %6s ns CPU per packet = %s s CPU per million packets\n", $1, $5, $7 }'
