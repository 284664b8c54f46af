#!/usr/bin/env bash
# bench-report.sh: size and headless-Chromium render time of the dashboards
# for a large capture (default: a synthetic 500k-packet capture written with
# tcpviz's own pcapng writer; pass a capture file to use that instead).
#
#   scripts/bench-report.sh                 # synthetic, 500k packets
#   PACKETS=1000000 scripts/bench-report.sh # bigger
#   scripts/bench-report.sh big.pcapng      # a real capture
#
# Targets (docs/report.md): report.html under 15 MB, charts drawn in under 5 s;
# with PACKETS=1000000, report built in under 3 s and the connection page
# drawn in under 5 s (docs/performance.md).
# Needs: go, chromium (Debian package), GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

packets=${PACKETS:-500000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/tcpviz" ./cmd/tcpviz
capture=${1:-}
if [ -z "$capture" ]; then
	capture=$work/bench.pcapng
	TCPVIZ_SYNTH_CAPTURE=$capture TCPVIZ_SYNTH_PACKETS=$packets \
		go test -count=1 -run '^TestWriteSyntheticCapture$' ./viz >/dev/null
fi
echo "capture: $capture ($(du -h "$capture" | cut -f1))"

timefmt='%e s wall, %U s user, %M KiB max RSS'
if command -v /usr/bin/time >/dev/null; then
	/usr/bin/time -f "report: $timefmt" -o "$work/time" \
		"$work/tcpviz" report --in "$capture" --out "$work/report" >/dev/null
	cat "$work/time"
else
	time "$work/tcpviz" report --in "$capture" --out "$work/report" >/dev/null
fi
"$work/tcpviz" summary --in "$capture" | sed -n '2,8p'
for f in report.html summary.html timeline.html; do
	printf '%-14s %8.2f MB\n' "$f" "$(echo "$(stat -c %s "$work/report/$f") / 1048576" | bc -l)"
done

# Render: a warm Chromium loads the page; time from navigation to every
# chart holding a painted canvas. Load on the machine inflates it: see uptime.
uptime
# Then the page of the first detailed connection (report.html#flow=N):
# from the click to its five panels drawn, and a zoom to 2 ms.
TCPVIZ_RENDER=$work/report/report.html TCPVIZ_RENDER_FLOW=1 go test -count=1 -run '^TestRenderFile$' -v ./viz | grep -E '^render|FAIL|render_test|browser_test' || true
