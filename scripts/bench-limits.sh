#!/usr/bin/env bash
# What the limits analysis adds to `tcpviz parse-pcap` (budget: at most 10 %
# of its CPU and wall time), as a user runs it: whole processes, with
# TCPVIZ_LIMITS=false and true, alternating (off-on, then on-off) so a change
# of the machine's load hits both alike. For each capture it prints the CPU
# time (user + system) and wall time of each setting (least, median, most of
# BENCH_PAIRS runs, default 8) and what the analysis added within each pair
# (least, median, most): a gap is shown when the pairs' spread is smaller
# than it.
#
#   scripts/bench-limits.sh [CAPTURE...]
#
# Without captures it takes those bench-parse.sh and BenchmarkLimits leave in
# $TMPDIR: tcpviz-bench-clean.pcap, tcpviz-bench-lossy.pcap,
# tcpviz-bench-short-200000.pcap, tcpviz-bench-scan-300000.pcap. Output goes
# to BENCH_OUT (default a directory under /dev/shm when it exists, so the
# disk's writeback stays out), removed before each run, outside the timing.
# TCPVIZ=PATH measures that binary instead of building ./cmd/tcpviz.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=${TMPDIR:-/tmp}
pairs=${BENCH_PAIRS:-8}
if [ $# -eq 0 ]; then
  for c in clean lossy short-200000 scan-300000; do
    [ -f "$tmp/tcpviz-bench-$c.pcap" ] && set -- "$@" "$tmp/tcpviz-bench-$c.pcap"
  done
  [ $# -gt 0 ] || { echo "bench-limits: no captures given and none in $tmp (run scripts/bench-parse.sh)" >&2; exit 2; }
fi
base=/tmp
[ -d /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/tcpviz-bench-limits.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=${BENCH_OUT:-$work/out}
bin=${TCPVIZ:-}
if [ -z "$bin" ]; then
  bin=$work/tcpviz
  go build -o "$bin" ./cmd/tcpviz
fi

for in in "$@"; do
  times=$work/times
  : >"$times"
  for i in $(seq "$pairs"); do
    order="false true"
    [ $((i % 2)) = 0 ] && order="true false"
    for on in $order; do
      rm -rf "$out"
      TCPVIZ_LIMITS=$on /usr/bin/time -a -o "$times" -f "$i $on %e %U %S" \
        "$bin" parse-pcap -q --in "$in" --out "$out" >/dev/null
    done
  done
  rm -rf "$out"
  echo "$(basename "$in"), $pairs alternating pairs:"
  awk '
    function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
    function med(a, n) { return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
    function line(name, a, n, unit) { sort(a, n); printf "  %-22s least %7.3f%s  median %7.3f%s  most %7.3f%s\n", name, a[1], unit, med(a, n), unit, a[n], unit }
    { k = ($2 == "true"); w[$1, k] = $3; c[$1, k] = $4 + $5; n = ($1 > n) ? $1 : n }
    END {
      for (i = 1; i <= n; i++) { cw0[i] = c[i, 0]; cw1[i] = c[i, 1]; ww0[i] = w[i, 0]; ww1[i] = w[i, 1]
        dc[i] = 100 * (c[i, 1] / c[i, 0] - 1); dw[i] = (w[i, 0] > 0) ? 100 * (w[i, 1] / w[i, 0] - 1) : 0 }
      line("cpu, limits off", cw0, n, " s"); line("cpu, limits on", cw1, n, " s")
      line("cpu added in a pair", dc, n, " %")
      line("wall, limits off", ww0, n, " s"); line("wall, limits on", ww1, n, " s")
      line("wall added in a pair", dw, n, " %")
    }' "$times"
done
