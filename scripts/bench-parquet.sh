#!/usr/bin/env bash
# Parquet against JSONL (docs/performance.md): parse-pcap's time and the
# output's size with JSONL only, with --parquet beside it, and with one row
# per packet in both (--packets / --parquet-packets); then DuckDB's time for
# the documented group-by queries on the Parquet tables.
#
#   scripts/bench-parquet.sh [CAPTURE]
#
# Default capture: the event-heavy one scripts/bench-parse.sh records
# ($TMPDIR/tcpviz-bench-lossy.pcap, about 1.5M packets; needs root to record).
# BENCH_RUNS=N repeats each run (best wall time kept).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/benchlib.sh

tmp=${TMPDIR:-/tmp}
cap=${1:-$tmp/tcpviz-bench-lossy.pcap}
if [ ! -s "$cap" ]; then
  scripts/bench-parse.sh >/dev/null # records the captures
fi
bin=$tmp/tcpviz-bench
go build -o "$bin" ./cmd/tcpviz
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
packets=$(count_packets "$cap")
echo "capture: $cap ($packets packets, $(du -h "$cap" | cut -f1))"
header
measure "jsonl" "$packets" sh -c "rm -rf '$out/j'; exec '$bin' parse-pcap -q --in '$cap' --out '$out/j'"
measure "jsonl + parquet" "$packets" sh -c "rm -rf '$out/jp' '$out/pq'; exec '$bin' parse-pcap -q --in '$cap' --out '$out/jp' --parquet '$out/pq'"
measure "jsonl+packets" "$packets" sh -c "rm -rf '$out/jk'; exec '$bin' parse-pcap -q --packets --in '$cap' --out '$out/jk'"
measure "jsonl+packets + parquet" "$packets" sh -c "rm -rf '$out/jkp' '$out/pqk'; exec '$bin' parse-pcap -q --packets --in '$cap' --out '$out/jkp' --parquet '$out/pqk' --parquet-packets"
measure "export (jsonl->parquet)" "$packets" sh -c "rm -rf '$out/ex'; exec '$bin' export -q --packets --out '$out/ex' '$out/jk'"

size() { du -sb "$@" | awk '{s += $1} END {printf "%.1f MB", s / 1e6}'; }
rows() { wc -l <"$1" | tr -d ' '; }
echo
echo "sizes:"
echo "  events.jsonl + flows.jsonl:                 $(size "$out/j/events.jsonl" "$out/j/flows.jsonl") ($(rows "$out/j/events.jsonl") event lines)"
echo "  parquet events + flows + kernel:            $(size "$out/pq")"
echo "  events.jsonl with packets + flows.jsonl:    $(size "$out/jk/events.jsonl" "$out/jk/flows.jsonl") ($(rows "$out/jk/events.jsonl") lines)"
echo "  parquet with the packets table:             $(size "$out/pqk")"
for t in events flows packets; do
  echo "    table=$t: $(size "$out/pqk/table=$t")"
done

if [ -n "${TCPVIZ_DUCKDB_NODE:-}" ] || [ -d "${XDG_CACHE_HOME:-$HOME/.cache}/tcpviz/duckdb-node/node_modules/@duckdb/node-api" ]; then
  echo
  echo "DuckDB on the Parquet tables (go test ./internal/parquetout -bench DuckDB):"
  TCPVIZ_BENCH_PARQUET="$out/pqk" go test ./internal/parquetout -run '^$' -bench BenchmarkDuckDBQueries -benchtime 3x -count 1 |
    awk '/^BenchmarkDuckDB/ { sub(/-[0-9]+$/, "", $1); printf "  %-40s %8.0f ms\n", $1, $3 / 1e6 }'
fi
