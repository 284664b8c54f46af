# Shared by the bench-*.sh scripts: side-by-side measurements of tools on one
# capture. Source it; set BENCH_RUNS (default 3) to change the repetitions.

# measure NAME PACKETS CMD...: runs CMD BENCH_RUNS times on a warm page cache
# and prints the best wall time, the CPU time (user + system) of that run,
# packets per second of wall and of CPU time, and the peak RSS. BENCH_BEFORE,
# when set, is a shell command run before each timed run and not timed
# (removing the previous run's output and flushing it, so no run pays for
# another's writeback).
measure() {
  local name=$1 packets=$2; shift 2
  for _ in $(seq "${BENCH_RUNS:-3}"); do
    measure_once "$name" "$@" || return 1
  done
  report "$name" "$packets"
}

# measure_once NAME CMD...: one timed run of CMD (after BENCH_BEFORE), kept
# for report NAME. Several tools measured in turn, run by run, meet the
# machine's drift alike (bench-parse.sh).
measure_once() {
  local name=$1; shift
  local tf
  tf=$(mktemp)
  if [ -n "${BENCH_BEFORE:-}" ]; then sh -c "$BENCH_BEFORE"; fi
  if ! /usr/bin/time -o "$tf" -f "%e %U %S %M" "$@" >/dev/null 2>"$tf.err"; then
    echo "$name: failed: $(tail -1 "$tf.err")" >&2
    rm -f "$tf" "$tf.err"
    return 1
  fi
  bench_runs[$name]+="$(cat "$tf")"$'\n'
  rm -f "$tf" "$tf.err"
}

# report NAME PACKETS: prints measure's line for the runs of NAME so far
# (the best wall time, that run's CPU and peak RSS) and forgets them.
report() {
  local name=$1 packets=$2
  printf %s "${bench_runs[$name]}" | awk -v n="$name" -v p="$packets" '
    { if (best == "" || $1 < best) { best = $1; cpu = $2 + $3; mem = $4 } }
    END { printf "%-26s %8.2f s %10.0f pkt/s   cpu %7.2f s %10.0f pkt/s   %8.1f MiB peak\n",
      n, best, (best > 0) ? p / best : 0, cpu, (cpu > 0) ? p / cpu : 0, mem / 1024 }'
  unset "bench_runs[$name]"
}

# bench_runs holds measure_once's runs by name: "wall user system rss" lines.
declare -A bench_runs

# count_packets FILE: packets in a capture (capinfos, else tcpviz's summary).
count_packets() {
  local n
  n=$(capinfos -Mc "$1" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
  echo "${n:-0}"
}

# header: the column titles for measure's lines.
header() {
  printf "%-26s %10s %14s   %11s %14s   %13s\n" tool wall "pkt/s (wall)" "cpu" "pkt/s (cpu)" "peak RSS"
}
