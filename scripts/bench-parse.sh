#!/usr/bin/env bash
# Throughput and peak memory of `tcpviz parse-pcap` beside tcptrace and tshark
# on one capture of at least 500k packets.
#
#   scripts/bench-parse.sh [CAPTURE]
#
# Without CAPTURE it records one (needs root): a bulk iperf3 transfer between
# two network namespaces joined by a veth pair (MTU 1500), captured with
# tcpdump -s 96. Only the namespaces it creates see any traffic.
set -euo pipefail
cd "$(dirname "$0")/.."

cap=${1:-}
if [ -z "$cap" ]; then
  cap=${TMPDIR:-/tmp}/tcpviz-bench-parse.pcap
  if [ ! -s "$cap" ]; then
    [ "$(id -u)" = 0 ] || { echo "bench-parse: recording a capture needs root (or pass a capture file)" >&2; exit 2; }
    a=tvbp-a-$$ b=tvbp-b-$$
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
    ip netns exec "$b" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    ip netns exec "$a" tcpdump -i va-$$ -s 96 -B 65536 -w "$cap" tcp 2>/dev/null &
    tdp=$!
    sleep 1
    ip netns exec "$a" iperf3 -c 10.231.0.2 -p 5201 -n 900M >/dev/null
    sleep 1
    kill -INT "$tdp"; wait "$tdp" || true
  fi
fi

bin=${TMPDIR:-/tmp}/tcpviz-bench
go build -o "$bin" ./cmd/tcpviz
packets=$(capinfos -Mc "$cap" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
[ -n "$packets" ] || packets=$("$bin" parse-pcap --in "$cap" --out "$(mktemp -d)" -q 2>/dev/null >/dev/null; echo 0)
echo "capture: $cap ($packets packets, $(du -h "$cap" | cut -f1))"

# Run each tool three times on a warm page cache; report the best wall time.
measure() {
  local name=$1; shift
  local best="" mem=""
  for _ in 1 2 3; do
    /usr/bin/time -o "$tf" -f "%e %M" "$@" >/dev/null 2>&1
    read -r t m <"$tf"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; mem=$m; fi
  done
  awk -v n="$name" -v t="$best" -v m="$mem" -v p="$packets" \
    'BEGIN { pps = (t > 0) ? p / t : 0; printf "%-28s %8.2f s %12.0f packets/s %8.1f MiB peak\n", n, t, pps, m / 1024 }'
}
out=$(mktemp -d)
tf=$out/time
trap 'rm -rf "$out"' EXIT
measure "tcpviz parse-pcap" "$bin" parse-pcap --in "$cap" --out "$out/run" -q
if command -v tcptrace >/dev/null; then measure "tcptrace -l" tcptrace -l "$cap"; fi
if command -v tshark >/dev/null; then measure "tshark -q -z conv,tcp" tshark -r "$cap" -q -z conv,tcp; fi
