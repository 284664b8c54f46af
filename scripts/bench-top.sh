#!/usr/bin/env bash
# CPU cost of `tcpviz top` with many live connections, and its effect on a
# transfer's throughput. Root; loopback only. Prints one line per case.
#   scripts/bench-top.sh            # 1000 connections, 20 s per case
#   CONNS=200 SECONDS_PER_CASE=10 scripts/bench-top.sh
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${CONNS:-1000}
secs=${SECONDS_PER_CASE:-20}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/tcpviz" ./cmd/tcpviz

# conns connections on 127.0.0.1:5399, each sending 1 KiB every 100 ms.
python3 - "$conns" >"$work/load.log" 2>&1 <<'PY' &
import socket, sys, threading, time
n = int(sys.argv[1])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 5399)); srv.listen(n)
peers = []
def accept():
    for _ in range(n):
        c, _ = srv.accept(); c.setblocking(False); peers.append(c)
threading.Thread(target=accept, daemon=True).start()
cli = [socket.create_connection(("127.0.0.1", 5399)) for _ in range(n)]
print("ready", flush=True)
buf = b"x" * 1024
while True:
    for c in cli:
        c.send(buf)
    for p in list(peers):
        try:
            while p.recv(65536):
                pass
        except BlockingIOError:
            pass
    time.sleep(0.1)
PY
until grep -q ready "$work/load.log" 2>/dev/null; do sleep 0.2; done

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }   # utime+stime in clock ticks
hz=$(getconf CLK_TCK)
for interval in 1s 100ms; do
  "$work/tcpviz" top -i lo --json --interval "$interval" >/dev/null 2>&1 &
  pid=$!
  sleep 3
  c0=$(cpu $pid)
  sleep "$secs"
  c1=$(cpu $pid)
  kill $pid; wait $pid 2>/dev/null || true
  echo "top --interval $interval, $conns connections: $(echo "scale=1; 100*($c1-$c0)/$hz/$secs" | bc)% of one core"
done

# Throughput of one loopback transfer with and without top watching.
tput() { iperf3 -c 127.0.0.1 -p 5398 -t 5 -J | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))'; }
iperf3 -s -p 5398 -D --logfile "$work/iperf.log"
sleep 0.5
base=$(tput)
"$work/tcpviz" top -i lo --json --interval 100ms >/dev/null 2>&1 &
pid=$!
sleep 3
with=$(tput)
kill $pid; wait $pid 2>/dev/null || true
pkill -f 'iperf3 -s -p 5398' || true
echo "loopback iperf3: ${base} Gbit/s alone, ${with} Gbit/s with top --interval 100ms watching ($conns other connections open)"
