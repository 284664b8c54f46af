#!/usr/bin/env bash
# Throughput and peak memory of `tcpviz parse-pcap` (detectors on, every event
# written) beside `tcptrace -n -l` and tshark on the two connection-heavy
# shapes: a port scan (BENCH_SCAN SYNs nobody answers, default 300,000, one
# every 10 µs) and short complete connections (BENCH_SHORT of them, default
# 200,000, 8 packets each, a new one every 50 µs). The captures are
# synthetic Ethernet/IPv4 pcaps written by internal/testutil/capgen/gencap
# into $TMPDIR and reused by the next run. No root needed.
#
#   scripts/bench-conns.sh
#
# BENCH_RUNS=N repeats each tool (best wall time kept); BENCH_TSHARK=0 skips
# tshark; BENCH_TCPTRACE=0 skips tcptrace (minutes and gigabytes here).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/benchlib.sh

tmp=${TMPDIR:-/tmp}
scan=$tmp/tcpviz-bench-scan-${BENCH_SCAN:-300000}.pcap
short=$tmp/tcpviz-bench-short-${BENCH_SHORT:-200000}.pcap
[ -s "$scan" ] || go run ./internal/testutil/capgen/gencap -shape scan -n "${BENCH_SCAN:-300000}" -o "$scan"
[ -s "$short" ] || go run ./internal/testutil/capgen/gencap -shape short -n "${BENCH_SHORT:-200000}" -o "$short"

bin=$tmp/tcpviz-bench
go build -o "$bin" ./cmd/tcpviz
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for cap in "$scan" "$short"; do
  packets=$(count_packets "$cap")
  echo
  echo "capture: $cap ($packets packets, $(du -h "$cap" | cut -f1))"
  header
  # Every tool starts with the previous run's output removed and flushed.
  export BENCH_BEFORE="rm -rf '$out/run'; sync"
  measure "tcpviz parse-pcap" "$packets" "$bin" parse-pcap --in "$cap" --out "$out/run" -q
  if [ "${BENCH_TCPTRACE:-1}" != 0 ] && command -v tcptrace >/dev/null; then
    measure "tcptrace -n -l" "$packets" tcptrace -n -l "$cap"
  fi
  if [ "${BENCH_TSHARK:-1}" != 0 ] && command -v tshark >/dev/null; then
    BENCH_RUNS=1 measure "tshark -q -z conv,tcp" "$packets" tshark -r "$cap" -q -z conv,tcp
  fi
done
