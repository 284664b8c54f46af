#!/usr/bin/env bash
# make-samples.sh: regenerate the captures in samples/ (as root) with the
# namespace lab (scripts/lab.sh) and scripts/labtraffic. Loss and reordering
# are random, so counts differ from run to run; the kinds of events do not.
#
#   scripts/make-samples.sh [OUTDIR]      default: samples/
#   ONLY=zero-window scripts/make-samples.sh   regenerate one sample (name without extension)
#
# Needs: iproute2, nftables, ethtool, tcpdump, tshark (dumpcap), gzip, go, and a
# kernel that runs tcpviz capture's eBPF programs (for kernel-*.pcapng).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath -m "${1:-$ROOT/samples}")
LABSH=$ROOT/scripts/lab.sh
export LAB=tvzs$$
WORK=$(mktemp -d)
BIN=$WORK/labtraffic
SNAP=128
SERVER4=10.200.2.2
SERVER6=fd00:200:2::2

[ "$(id -u)" = 0 ] || { echo "make-samples.sh: needs root" >&2; exit 1; }
mkdir -p "$OUT"
(cd "$ROOT" && go build -o "$BIN" ./internal/testutil/labtraffic && go build -o "$WORK/tcpviz" ./cmd/tcpviz)

CAPS=()
cleanup() {
	local pid
	for pid in "${CAPS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
	"$LABSH" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

lab() { "$LABSH" "$@" >/dev/null; }
# in_ns cli|rtr|srv CMD...: run CMD in a namespace. Background jobs call
# `ip netns exec` directly instead: it replaces itself with the tool, so $! is
# the tool's own PID and kill -INT reaches it.
in_ns() { ip netns exec "$LAB-$1" "${@:2}"; }

# fresh [NOOFFLOAD]: a new lab for each sample, so no state leaks between them.
fresh() {
	"$LABSH" down >/dev/null 2>&1 || true
	NOOFFLOAD=${1:-1} "$LABSH" up >/dev/null
}

# capture NS DEV FILE TOOL [ARGS...]: start a capture in the background and
# wait until it runs. TOOL is dumpcap (pcapng), tcpdump (classic pcap) or
# tcpviz (pcapng with kernel records).
capture() {
	local ns=$1 dev=$2 file=$3 tool=$4 log
	shift 4
	log=$WORK/cap.$RANDOM
	if [ "$tool" = tcpviz ]; then
		# tcpviz capture: packets plus the kernel's own records.
		"$WORK/tcpviz" capture --netns "$LAB-$ns" -i "$dev" --snaplen "$SNAP" -w "$file" "$@" 2>"$log" &
		CAPS+=($!)
		wait_for "$log" "capturing on"
	elif [ "$tool" = dumpcap ]; then
		ip netns exec "$LAB-$ns" dumpcap -q -i "$dev" -s "$SNAP" -w "$file" "$@" 2>"$log" &
		CAPS+=($!)
		wait_for "$log" "Capturing on"
	else
		ip netns exec "$LAB-$ns" tcpdump -i "$dev" -s "$SNAP" -U --immediate-mode -Z root -n -w "$file" "$@" 2>"$log" &
		CAPS+=($!)
		wait_for "$log" "listening on"
	fi
	sleep 0.2
}

wait_for() {
	local i
	for i in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "capture did not start:" >&2
	cat "$1" >&2
	exit 1
}

# stop_captures: let libpcap hand over its last ring block (dumpcap has no
# immediate mode), then stop every capture and wait for the files.
stop_captures() {
	local pid
	sleep 1.5
	for pid in "${CAPS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
	for pid in "${CAPS[@]}"; do wait "$pid" 2>/dev/null || true; done
	CAPS=()
}

# server ARGS...: start labtraffic's server in the server namespace.
server() {
	local log=$WORK/srv.$RANDOM
	ip netns exec "$LAB-srv" "$BIN" server "$@" >"$log" 2>&1 &
	SRV_PID=$!
	wait_for "$log" "listening on"
}

client() { in_ns cli "$BIN" client "$@"; }

want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }

# kernel_counters FILE...: record the client's kernel TCP counters (the
# client is the data sender in every sample) for the named sample files in
# kernel-counters.tsv. Each sample runs in a fresh namespace, so the absolute
# values are the sample's own.
KCOUNTERS="TcpActiveOpens TcpOutSegs TcpRetransSegs TcpExtTCPFastRetrans TcpExtTCPSlowStartRetrans TcpExtTCPLossProbes TcpExtTCPSynRetrans TcpExtTCPTimeouts"
kernel_counters() {
	local tsv=$OUT/kernel-counters.tsv f line c
	[ -s "$tsv" ] || printf 'file\t%s\n' "$(echo $KCOUNTERS | tr ' ' '\t')" >"$tsv"
	local snap
	snap=$(in_ns cli nstat -azs)
	for f in "$@"; do
		line=$f
		for c in $KCOUNTERS; do
			line+=$'\t'$(awk -v c="$c" '$1 == c { print $2; found = 1 } END { if (!found) print 0 }' <<<"$snap")
		done
		{ grep -v "^$f"$'\t' "$tsv" || true; echo "$line"; } >"$tsv.new"
		mv "$tsv.new" "$tsv"
	done
}

if want clean-ipv4; then
	echo "== clean-ipv4.pcapng"
	fresh
	capture srv veth-s "$OUT/clean-ipv4.pcapng" dumpcap
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 4000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters clean-ipv4.pcapng
fi

if want cubic-loss-sender || want cubic-loss-receiver; then
	echo "== cubic-loss-sender.pcapng, cubic-loss-receiver.pcapng"
	fresh
	lab rate 20mbit to-server
	lab loss 15 to-server
	capture cli veth-c "$OUT/cubic-loss-sender.pcapng" dumpcap -f tcp
	capture srv veth-s "$OUT/cubic-loss-receiver.pcapng" dumpcap -f tcp
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 4000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters cubic-loss-sender.pcapng cubic-loss-receiver.pcapng
fi

if want bbr-loss-sender; then
	echo "== bbr-loss-sender.pcapng"
	fresh
	lab rate 20mbit to-server
	lab loss 20 to-server
	capture cli veth-c "$OUT/bbr-loss-sender.pcapng" dumpcap -f tcp
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 4000000 --cc bbr
	wait "$SRV_PID"
	stop_captures
	kernel_counters bbr-loss-sender.pcapng
fi

if want ipv6-loss-sender; then
	echo "== ipv6-loss-sender.pcap"
	fresh
	lab rate 20mbit to-server
	lab loss 10 to-server
	capture cli veth-c "$OUT/ipv6-loss-sender.pcap" tcpdump
	server -l "[::]:5001" --once
	client -c "[$SERVER6]:5001" --bytes 3000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters ipv6-loss-sender.pcap
fi

if want handshake-refused; then
	echo "== handshake-refused.pcap"
	fresh
	capture cli veth-c "$OUT/handshake-refused.pcap" tcpdump tcp
	# Nothing listens on 5999: each SYN is answered by RST/ACK.
	for port in 5999 5999 6000; do
		client -c $SERVER4:$port --bytes 0 2>&1 | sed 's/^/   /' || true
	done
	stop_captures
	kernel_counters handshake-refused.pcap
fi

if want handshake-syn-retries; then
	echo "== handshake-syn-retries.pcap"
	fresh
	lab dropsyn on to-server
	capture cli veth-c "$OUT/handshake-syn-retries.pcap" tcpdump tcp
	server -l :5001
	# SYN at 0 s, retries at 1, 3 and 7 s, then the client gives up at 10 s.
	client -c $SERVER4:5001 --bytes 0 --connect-timeout 10s 2>&1 | sed 's/^/   /' || true
	stop_captures
	kernel_counters handshake-syn-retries.pcap
	kill -INT "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
fi

if want handshake-synack-lost; then
	echo "== handshake-synack-lost.pcap"
	fresh
	lab dropsyn on to-client
	# Captured at the server: the client's SYN retries and the server's
	# SYN/ACK retransmissions; the handshake never completes.
	capture srv veth-s "$OUT/handshake-synack-lost.pcap" tcpdump tcp
	server -l :5001
	client -c $SERVER4:5001 --bytes 0 --connect-timeout 6s 2>&1 | sed 's/^/   /' || true
	stop_captures
	kernel_counters handshake-synack-lost.pcap
	kill -INT "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
fi

if want rst-teardown; then
	echo "== rst-teardown.pcap"
	fresh
	capture cli veth-c "$OUT/rst-teardown.pcap" tcpdump tcp
	server -l :5001
	# 30 short connections, each aborted by the client with a RST
	# (SO_LINGER 0) right after sending 2000 bytes.
	client -c $SERVER4:5001 --bytes 2000 --conns 30 --rst >/dev/null
	stop_captures
	kernel_counters rst-teardown.pcap
	kill -INT "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
fi

if want zero-window; then
	echo "== zero-window.pcapng"
	fresh
	capture srv veth-s "$OUT/zero-window.pcapng" dumpcap -f tcp
	# A small receive buffer and a reader that stops for 4 s after 256 kB:
	# the window closes, the sender probes with backoff, then the reader
	# resumes and the window reopens.
	server -l :5001 --once --rcvbuf 32768 --pause-after 262144 --no-read-for 4s
	client -c $SERVER4:5001 --bytes 1000000
	wait "$SRV_PID"
	stop_captures
	kernel_counters zero-window.pcapng
fi

if want keepalive; then
	echo "== keepalive.pcap"
	fresh
	capture cli veth-c "$OUT/keepalive.pcap" tcpdump tcp
	server -l :5001 --once
	# 1000 bytes, then 5.5 s idle with keep-alives every second.
	client -c $SERVER4:5001 --bytes 1000 --keepalive 1s --idle 5500ms
	wait "$SRV_PID"
	stop_captures
	kernel_counters keepalive.pcap
fi

if want reorder-receiver || want reorder-sender; then
	echo "== reorder-receiver.pcapng, reorder-sender.pcapng"
	fresh
	# 2 % of the data segments go through a second htb class (300 Mbit/s)
	# beside the normal one (1 Gbit/s): when the normal class has a queue,
	# the marked segment overtakes it, so the receiver sees a few segments
	# out of order while the sender retransmits nothing (the sender-side
	# capture proves it).
	RATE=${REORDER_RATE:-1gbit} SLOWRATE=${REORDER_SLOWRATE:-300mbit} "$LABSH" reorder "${REORDER_PERMILLE:-20}" to-server >/dev/null 2>&1
	capture srv veth-s "$OUT/reorder-receiver.pcapng" dumpcap -f tcp
	capture cli veth-c "$OUT/reorder-sender.pcapng" dumpcap -f tcp
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 3000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters reorder-receiver.pcapng reorder-sender.pcapng
fi

if want any-sll2; then
	echo "== any-sll2.pcap"
	fresh
	lab rate 20mbit to-server
	lab loss 10 to-server
	# -i any: Linux cooked capture v2 (link type 276), classic pcap.
	capture cli any "$OUT/any-sll2.pcap" tcpdump
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 1500000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters any-sll2.pcap
fi

if want reno-loss-receiver; then
	echo "== reno-loss-receiver.pcap.gz"
	fresh
	lab rate 20mbit to-server
	lab loss 15 to-server
	capture srv veth-s "$WORK/reno-loss-receiver.pcap" tcpdump tcp
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 3000000 --cc reno
	wait "$SRV_PID"
	stop_captures
	kernel_counters reno-loss-receiver.pcap.gz
	gzip -9 -n -c "$WORK/reno-loss-receiver.pcap" >"$OUT/reno-loss-receiver.pcap.gz"
fi

if want loss-both-nano; then
	echo "== loss-both-nano.pcap"
	fresh
	# Loss on the data path and on the ACK path, nanosecond timestamps.
	lab rate 20mbit to-server
	lab loss 15 to-server
	lab loss 30 to-client
	capture cli veth-c "$OUT/loss-both-nano.pcap" tcpdump --time-stamp-precision nano tcp
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 1500000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters loss-both-nano.pcap
fi

if want tso-loss-sender; then
	echo "== tso-loss-sender.pcapng"
	# Offloads on, as on a real host: the sender's capture shows TSO
	# super-segments (up to 64 kB, origlen > MTU) while the wire carries
	# MSS-sized segments. The router segments (TSO/GSO off on veth-rs) and
	# the loss happens in the server namespace, so single segments are
	# lost, not whole super-segments.
	fresh 0
	in_ns rtr ethtool -K veth-rs tso off gso off >/dev/null
	lab rate 20mbit to-server
	in_ns srv nft -f - <<-EOF
		table inet tvz_loss {
			chain input {
				type filter hook input priority filter; policy accept;
				meta l4proto tcp numgen random mod 1000 < 15 counter drop
			}
		}
	EOF
	capture cli veth-c "$OUT/tso-loss-sender.pcapng" dumpcap -f tcp
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 4000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters tso-loss-sender.pcapng
fi

if want kernel-cubic-loss-sender; then
	echo "== kernel-cubic-loss-sender.pcapng"
	fresh
	# tcpviz's own capture: the packets and the sender's kernel records
	# (cwnd/srtt probes, retransmissions, state changes, resets). One lossy
	# CUBIC transfer, then two short connections aborted with RST.
	lab rate 20mbit to-server
	lab loss 15 to-server
	capture cli veth-c "$OUT/kernel-cubic-loss-sender.pcapng" tcpviz
	server -l :5001
	client -c $SERVER4:5001 --bytes 1500000 --cc cubic
	client -c $SERVER4:5001 --bytes 2000 --conns 2 --rst
	stop_captures
	kill "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	kernel_counters kernel-cubic-loss-sender.pcapng
fi

if want seq-wrap-sender || want seq-wrap-receiver; then
	echo "== seq-wrap-sender.pcap, seq-wrap-receiver.pcapng"
	fresh
	# 4.4 GB cross the 2^32 sequence space once whatever the ISN. Only
	# segments within 2 MB of the wrap (by seq or ack) are captured, plus
	# 256 kB after each quarter of the space (wide enough to catch ACKs too,
	# so no gap between captured sequence or ACK numbers exceeds 2^31,
	# which would make "ahead" and "behind" ambiguous), plus SYN/FIN/RST. Loss (2 %) applies only near the wrap,
	# so retransmissions and SACK blocks straddle it.
	near_wrap='tcp[4:4] > 0xffe00000 or tcp[4:4] < 0x00200000 or tcp[8:4] > 0xffe00000 or tcp[8:4] < 0x00200000'
	near_wrap+=' or tcp[4:4] & 0x3fffffff < 0x40000 or tcp[8:4] & 0x3fffffff < 0x40000'
	near_wrap+=' or tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0'
	lab rule add 'oifname "veth-rs" tcp sequence > 0xffe00000 numgen random mod 1000 < 20 counter drop'
	lab rule add 'oifname "veth-rs" tcp sequence < 0x00200000 numgen random mod 1000 < 20 counter drop'
	capture cli veth-c "$OUT/seq-wrap-sender.pcap" tcpdump "$near_wrap"
	capture srv veth-s "$OUT/seq-wrap-receiver.pcapng" dumpcap -f "$near_wrap"
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 4400000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters seq-wrap-sender.pcap seq-wrap-receiver.pcapng
fi

# More captures made with tcpviz itself, at the sender (the client), with
# cwnd/srtt samples every 10 ms so the dashboards' kernel overlay is dense.
if want kernel-lossy-bulk; then
	echo "== kernel-lossy-bulk.pcapng"
	fresh
	lab rate 20mbit to-server
	lab loss 15 to-server
	rm -f "$OUT/kernel-lossy-bulk.pcapng"
	capture cli veth-c "$OUT/kernel-lossy-bulk.pcapng" tcpviz --sample-interval 10ms
	server -l :5001 --once
	client -c $SERVER4:5001 --bytes 2000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters kernel-lossy-bulk.pcapng
fi

if want kernel-rwnd-limited; then
	echo "== kernel-rwnd-limited.pcapng"
	fresh
	# A receiver with a small buffer that reads slowly: the sender waits on
	# the receive window, not on the network.
	rm -f "$OUT/kernel-rwnd-limited.pcapng"
	capture cli veth-c "$OUT/kernel-rwnd-limited.pcapng" tcpviz --sample-interval 10ms
	server -l :5001 --once --rcvbuf 16384 --read-size 4096 --read-delay 2ms
	client -c $SERVER4:5001 --bytes 1000000 --cc cubic
	wait "$SRV_PID"
	stop_captures
	kernel_counters kernel-rwnd-limited.pcapng
fi

if want kernel-web; then
	echo "== kernel-web.pcapng"
	fresh
	# Short exchanges like page loads: 12 connections of 3-60 kB through a
	# 20 Mbit/s bottleneck with a little loss.
	lab rate 20mbit to-server
	lab loss 10 to-server
	rm -f "$OUT/kernel-web.pcapng"
	capture cli veth-c "$OUT/kernel-web.pcapng" tcpviz --sample-interval 10ms
	server -l :5001
	for b in 3000 60000 12000 40000 5000 25000; do
		client -c $SERVER4:5001 --bytes $b --cc cubic --conns 2 >/dev/null
	done
	stop_captures
	kill -INT "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	kernel_counters kernel-web.pcapng
fi

chmod 644 "$OUT"/*.pcap* 2>/dev/null || true

# tshark-counts.tsv: per file, the number of frames and of frames carrying
# each tcp.analysis flag (tshark 4.0), the figures samples/README.md quotes.
FLAGS="retransmission fast_retransmission spurious_retransmission out_of_order lost_segment ack_lost_segment duplicate_ack zero_window zero_window_probe window_full window_update keep_alive"
{
	printf 'file\tframes'
	for fl in $FLAGS; do printf '\t%s' "$fl"; done
	printf '\n'
	for f in "$OUT"/*.pcap "$OUT"/*.pcapng "$OUT"/*.pcap.gz; do
		[ -e "$f" ] || continue
		args=()
		for fl in $FLAGS; do args+=(-e "tcp.analysis.$fl"); done
		tshark -r "$f" -T fields -E occurrence=f -E separator=, "${args[@]}" 2>/dev/null |
			awk -F, -v n_flags="$(echo $FLAGS | wc -w)" -v name="$(basename "$f")" '
				{ frames++; for (i = 1; i <= NF; i++) if ($i != "") c[i]++ }
				END { printf "%s\t%d", name, frames; for (i = 1; i <= n_flags; i++) printf "\t%d", c[i]; printf "\n" }'
	done
} >"$OUT/tshark-counts.tsv"
column -t "$OUT/tshark-counts.tsv"
ls -l "$OUT"
