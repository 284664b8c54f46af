#!/usr/bin/env bash
# Figures for `tcpviz monitor` (docs/monitor.md):
#  - alert latency: from the write of the pcapng block that crosses a
#    threshold to the alert line, with fsnotify and with polling
#    (--poll-interval 100ms), median and 99th percentile;
#  - CPU time per appended packet while following a file that grows in
#    256 KiB chunks, beside the same pipeline reading the bytes from memory
#    (parse-pcap's cost): equal figures mean nothing is read twice;
#  - peak live heap and peak RSS while following 90 s of short connections
#    arriving 2,000 and 4,000 a second, ended by a RST or by FINs: memory
#    follows the connections alive at once, not the rate (minutes).
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

echo "== memory under connection churn (90 s of capture time, 6-8 packets per connection)"
go test ./monitor -run '^$' -bench 'BenchmarkMonitorConnChurn' -benchtime 1x -count 1 -timeout 30m |
  awk '/^BenchmarkMonitorConnChurn/ { sub(/-[0-9]+$/, "", $1); sub(/BenchmarkMonitorConnChurn\//, "", $1);
        printf "  %-18s peak heap %6s MiB   peak RSS %6s MiB\n", $1, $7, $5 }'
