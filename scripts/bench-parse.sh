#!/usr/bin/env bash
# Throughput and peak memory of `tcpviz parse-pcap` (detectors on, every event
# written) beside `tcptrace -l` and tshark, on two captures of about 1.5M
# packets each: a clean bulk transfer and an event-heavy one (random loss at
# the receiver, so a large share of the packets are duplicate ACKs,
# retransmissions and RTT samples).
#
#   scripts/bench-parse.sh [CLEAN_CAPTURE LOSSY_CAPTURE]
#
# Without captures it records them (needs root): a bulk iperf3 transfer
# between two network namespaces joined by a veth pair (MTU 1500, offloads
# off), captured at the sender with tcpdump -s 96; the lossy one drops
# BENCH_LOSS/1000 (default 80) of the TCP packets entering the receiver with
# nftables. Only the namespaces it creates see any traffic. The captures are
# kept in $TMPDIR (tcpviz-bench-clean.pcap, tcpviz-bench-lossy.pcap) for the
# next run. BENCH_RUNS=N repeats each tool (best wall time kept), the
# tools taking turns run by run;
# BENCH_TSHARK=0 skips tshark (tens of seconds per capture);
# BENCH_BASE=REV also measures tcpviz built at git revision REV, in the same
# run (before/after figures on a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/benchlib.sh

tmp=${TMPDIR:-/tmp}
clean=${1:-$tmp/tcpviz-bench-clean.pcap}
lossy=${2:-$tmp/tcpviz-bench-lossy.pcap}
bytes=${BENCH_BYTES:-1400M}

record() { # record FILE LOSS_PER_MILLE
  local cap=$1 loss=$2
  [ "$(id -u)" = 0 ] || { echo "bench-parse: recording a capture needs root (or pass two capture files)" >&2; exit 2; }
  local a=tvbp-a-$$ b=tvbp-b-$$
  cleanup() { ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; }
  trap cleanup EXIT
  ip netns add "$a"; ip netns add "$b"
  ip link add va-$$ netns "$a" type veth peer name vb-$$ netns "$b"
  ip -n "$a" addr add 10.231.0.1/24 dev va-$$; ip -n "$b" addr add 10.231.0.2/24 dev vb-$$
  ip -n "$a" link set va-$$ up; ip -n "$b" link set vb-$$ up
  ip -n "$a" link set lo up; ip -n "$b" link set lo up
  # Segments of one MTU each, as on a real NIC after segmentation.
  ip netns exec "$a" ethtool -K va-$$ tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$b" ethtool -K vb-$$ tso off gso off gro off >/dev/null 2>&1 || true
  if [ "$loss" -gt 0 ]; then
    ip netns exec "$b" nft -f - <<NFT
table inet tvbp_loss {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport 5201 numgen random mod 1000 < $loss drop
  }
}
NFT
  fi
  ip netns exec "$b" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  ip netns exec "$a" tcpdump -i va-$$ -s 96 -B 65536 -w "$cap.tmp" tcp 2>/dev/null &
  local tdp=$!
  sleep 1
  ip netns exec "$a" iperf3 -c 10.231.0.2 -p 5201 -n "$bytes" >/dev/null
  sleep 1
  kill -INT "$tdp"; wait "$tdp" || true
  mv "$cap.tmp" "$cap"
  cleanup
  trap - EXIT
}
[ -s "$clean" ] || record "$clean" 0
[ -s "$lossy" ] || record "$lossy" "${BENCH_LOSS:-80}"

bin=$tmp/tcpviz-bench
go build -o "$bin" ./cmd/tcpviz
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -n "${BENCH_BASE:-}" ]; then
  git worktree add --detach -q "$out/base-src" "$BENCH_BASE"
  (cd "$out/base-src" && go build -o "$out/tcpviz-base" ./cmd/tcpviz)
  git worktree remove --force "$out/base-src"
fi

for cap in "$clean" "$lossy"; do
  packets=$(count_packets "$cap")
  rm -rf "$out/probe"
  "$bin" parse-pcap --in "$cap" --out "$out/probe" -q >/dev/null
  evpk=$(python3 -c "import json,sys; s=json.load(open('$out/probe/summary.json')); e=sum(s['events'].values()); print(f\"{e} events, {100*e/max(1,s['packets']):.1f} % of packets\")")
  echo
  echo "capture: $cap ($packets packets, $(du -h "$cap" | cut -f1), $evpk)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  header
  i=0
  # Every tool starts with the previous run's output removed and flushed.
  export BENCH_BEFORE="rm -rf '$out/run'; sync"
  # The tools take turns, run by run, so that the machine's drift (over 10 %
  # between identical runs on a shared VM) falls on each alike.
  for _ in $(seq "${BENCH_RUNS:-3}"); do
    measure_once "tcpviz parse-pcap" "$bin" parse-pcap --in "$cap" --out "$out/run" -q
    if [ -n "${BENCH_BASE:-}" ]; then
      measure_once "tcpviz @${BENCH_BASE}" "$out/tcpviz-base" parse-pcap --in "$cap" --out "$out/run" -q
    fi
    if command -v tcptrace >/dev/null; then measure_once "tcptrace -l" tcptrace -l "$cap"; fi
  done
  report "tcpviz parse-pcap" "$packets"
  if [ -n "${BENCH_BASE:-}" ]; then report "tcpviz @${BENCH_BASE}" "$packets"; fi
  if command -v tcptrace >/dev/null; then report "tcptrace -l" "$packets"; fi
  if [ "${BENCH_TSHARK:-1}" != 0 ] && command -v tshark >/dev/null; then
    BENCH_RUNS=1 measure "tshark -q -z conv,tcp" "$packets" tshark -r "$cap" -q -z conv,tcp
  fi
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
