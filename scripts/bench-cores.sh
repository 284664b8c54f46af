#!/usr/bin/env bash
# What a second core buys `tcpviz parse-pcap`: the same capture parsed on one
# core and on two (taskset), as one file and cut into a ring of files read as
# a directory, the runs taking turns so the machine's drift falls on each
# alike. Prints the best and the median wall time of each case and the ratio
# of one core's to two cores' (medians).
#
#   scripts/bench-cores.sh [CAPTURE]
#
# CAPTURE defaults to $TMPDIR/tcpviz-bench-lossy.pcap (scripts/bench-parse.sh
# records it). The ring is cut with editcap (BENCH_FILES files, default 8);
# output goes to tmpfs when /dev/shm exists. BENCH_RUNS=N runs per case
# (default 10); BENCH_CPUS="0 0,1" the core sets (taskset -c lists);
# BENCH_BASE=REV also measures tcpviz built at git revision REV, in the same
# turns. Before and after the runs it prints what the host gives: on a
# virtual machine two vCPUs may share a physical core (a compute loop on both
# at once then takes twice as long on one of them) or be descheduled (the
# round trip of a cache line between them reaches microseconds), and then no
# ratio of the run says anything about tcpviz.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/benchlib.sh

tmp=${TMPDIR:-/tmp}
cap=${1:-$tmp/tcpviz-bench-lossy.pcap}
[ -s "$cap" ] || { echo "bench-cores: $cap: no capture (scripts/bench-parse.sh records one)" >&2; exit 2; }
command -v editcap >/dev/null || { echo "bench-cores: editcap (wireshark-common) is needed to cut the ring" >&2; exit 2; }
runs=${BENCH_RUNS:-10}
cpus=${BENCH_CPUS:-0 0,1}

work=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "$tmp")/tcpviz-cores.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/tcpviz" ./cmd/tcpviz
bins=("$work/tcpviz")
if [ -n "${BENCH_BASE:-}" ]; then
  git worktree add --detach -q "$work/base-src" "$BENCH_BASE"
  (cd "$work/base-src" && go build -o "$work/tcpviz-base" ./cmd/tcpviz)
  git worktree remove --force "$work/base-src"
  bins+=("$work/tcpviz-base")
fi
mkdir "$work/ring"
packets=$(count_packets "$cap")
editcap -c $(( (packets + ${BENCH_FILES:-8} - 1) / ${BENCH_FILES:-8} )) "$cap" "$work/ring/ring.${cap##*.}"

# The host check: "loop" runs a compute loop and prints its milliseconds;
# without an argument it prints the round trip of a cache line between two
# threads (ns), about 100-250 ns on two real cores.
cat >"$work/hostcheck.go" <<'GO'
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

type line struct {
	v atomic.Int64
	_ [56]byte
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "loop" {
		buf := make([]byte, 16<<10)
		t := time.Now()
		for i := 0; i < 3000; i++ {
			s := sha256.Sum256(buf)
			buf[0] = s[0]
		}
		fmt.Printf("%d", time.Since(t).Milliseconds())
		return
	}
	var a, b line
	const n = 100000
	go func() {
		runtime.LockOSThread()
		for i := int64(1); i <= n; i++ {
			for a.v.Load() != i {
			}
			b.v.Store(i)
		}
	}()
	runtime.LockOSThread()
	t := time.Now()
	for i := int64(1); i <= n; i++ {
		a.v.Store(i)
		for b.v.Load() != i {
		}
	}
	fmt.Printf("%.0f", float64(time.Since(t).Nanoseconds())/n)
}
GO
(cd "$work" && GO111MODULE=off go build -o hostcheck hostcheck.go)
hostcheck() {
  local alone
  alone=$(taskset -c 0 "$work/hostcheck" loop)
  taskset -c 0 "$work/hostcheck" loop >"$work/loop0" &
  taskset -c 1 "$work/hostcheck" loop >"$work/loop1" &
  wait
  echo "host: a compute loop alone ${alone} ms, on cores 0 and 1 at once $(cat "$work/loop0") and $(cat "$work/loop1") ms;" \
    "cache line round trip $(taskset -c 0,1 "$work/hostcheck") ns"
}
hostcheck

declare -A times
for _ in $(seq "$runs"); do
  for in in "$cap" "$work/ring"; do
    for c in $cpus; do
      for b in "${bins[@]}"; do
        s=$(date +%s%N)
        taskset -c "$c" "$b" parse-pcap --in "$in" --out "$work/out" --force -q >/dev/null
        e=$(date +%s%N)
        times["$b|$in|$c"]+="$(( (e - s) / 1000 )) "
      done
    done
  done
done
hostcheck

printf '%-14s %-8s %-6s %9s %9s %7s\n' build input cores best median ratio
for b in "${bins[@]}"; do
  name=$(basename "$b")
  for in in "$cap" "$work/ring"; do
    label=file; [ "$in" = "$work/ring" ] && label=ring
    first=""
    for c in $cpus; do
      read -r best med < <(tr ' ' '\n' <<<"${times["$b|$in|$c"]}" | grep . | sort -n |
        awk '{a[NR]=$1} END{printf "%d %d\n", a[1], a[int((NR+1)/2)]}')
      ratio=""
      if [ -z "$first" ]; then first=$med; else ratio=$(awk -v a="$first" -v b="$med" 'BEGIN{printf "%.2fx", a/b}'); fi
      printf '%-14s %-8s %-6s %7.1f ms %7.1f ms %7s\n' "$name" "$label" "$c" "$(awk -v x="$best" 'BEGIN{print x/1000}')" "$(awk -v x="$med" 'BEGIN{print x/1000}')" "$ratio"
    done
  done
done
