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
  local tf best="" cpu="" mem="" t u s m
  tf=$(mktemp)
  for _ in $(seq "${BENCH_RUNS:-3}"); do
    if [ -n "${BENCH_BEFORE:-}" ]; then sh -c "$BENCH_BEFORE"; fi
    if ! /usr/bin/time -o "$tf" -f "%e %U %S %M" "$@" >/dev/null 2>"$tf.err"; then
      echo "$name: failed: $(tail -1 "$tf.err")" >&2
      rm -f "$tf" "$tf.err"
      return 1
    fi
    read -r t u s m <"$tf"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
      best=$t mem=$m cpu=$(awk "BEGIN{print $u + $s}")
    fi
  done
  rm -f "$tf" "$tf.err"
  awk -v n="$name" -v t="$best" -v c="$cpu" -v m="$mem" -v p="$packets" 'BEGIN {
    printf "%-26s %8.2f s %10.0f pkt/s   cpu %7.2f s %10.0f pkt/s   %8.1f MiB peak\n",
      n, t, (t > 0) ? p / t : 0, c, (c > 0) ? p / c : 0, m / 1024 }'
}

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
