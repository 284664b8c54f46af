#!/usr/bin/env bash
# Writes cmd/tcpviz/default.pgo, the CPU profile `go build` uses to optimise
# the tcpviz binary (profile-guided optimisation: hot calls inlined, hot
# blocks laid out first). It profiles parse-pcap's whole path
# (BenchmarkParseFile) on the captures the performance targets name, in
# proportion to their run time, and merges the profiles:
#
#   scripts/pgo-profile.sh            # the bench captures in $TMPDIR
#   scripts/pgo-profile.sh A.pcap ... # or these
#
# The bench captures are those of scripts/bench-parse.sh (an event-heavy
# and a clean bulk transfer; recording them needs root) and
# scripts/bench-conns.sh (a port scan and short connections; no root).
# Run it again after large changes to the hot path: a stale profile still
# builds, it only optimises less.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=${TMPDIR:-/tmp}
caps=("$@")
if [ ${#caps[@]} = 0 ]; then
  [ -s "$tmp/tcpviz-bench-lossy.pcap" ] && [ -s "$tmp/tcpviz-bench-clean.pcap" ] ||
    BENCH_RUNS=1 BENCH_TSHARK=0 scripts/bench-parse.sh >/dev/null
  [ -s "$tmp/tcpviz-bench-short-200000.pcap" ] && [ -s "$tmp/tcpviz-bench-scan-300000.pcap" ] ||
    BENCH_RUNS=1 BENCH_TSHARK=0 BENCH_TCPTRACE=0 scripts/bench-conns.sh >/dev/null
  caps=("$tmp/tcpviz-bench-lossy.pcap" "$tmp/tcpviz-bench-clean.pcap"
    "$tmp/tcpviz-bench-short-200000.pcap" "$tmp/tcpviz-bench-scan-300000.pcap")
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/sessionfiles.test" ./internal/sessionfiles
profiles=()
for i in "${!caps[@]}"; do
  p="$work/$i.pprof"
  TCPVIZ_BENCH_PCAP=${caps[$i]} "$work/sessionfiles.test" -test.run '^$' \
    -test.bench '^BenchmarkParseFile$' -test.benchtime 3x -test.cpuprofile "$p" >/dev/null
  profiles+=("$p")
done
go tool pprof -proto "${profiles[@]}" >"$work/merged.pprof" 2>/dev/null
mv "$work/merged.pprof" cmd/tcpviz/default.pgo
echo "cmd/tcpviz/default.pgo: $(wc -c <cmd/tcpviz/default.pgo) bytes from ${#caps[@]} captures"
