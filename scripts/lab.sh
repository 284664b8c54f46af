#!/usr/bin/env bash
# lab.sh: the tcpviz network-namespace lab for humans (same topology as the Go
# test helper internal/lab):
#
#   $LAB-cli  veth-c 10.200.1.2  fd00:200:1::2
#      |
#   $LAB-rtr  veth-rc 10.200.1.1 fd00:200:1::1 | veth-rs 10.200.2.1 fd00:200:2::1   (forwarding)
#      |
#   $LAB-srv  veth-s 10.200.2.2  fd00:200:2::2
#
# Usage (as root; LAB names the lab, default "tvzlab"):
#   lab.sh up                      build the lab (NOOFFLOAD=1: TSO/GSO/GRO off on all veths)
#   lab.sh down                    delete it
#   lab.sh loss N [SIDE]           drop N/1000 of the TCP packets forwarded towards SIDE (0 = off)
#   lab.sh rate R [SIDE]           tbf bottleneck (e.g. 20mbit) on the router towards SIDE ("off" removes it)
#   lab.sh reorder N [SIDE]        send N/1000 of the TCP packets through a second htb class (reordering;
#                                  RATE=1gbit SLOWRATE=300mbit by default)
#   lab.sh dropsyn on|off [SIDE]   drop segments with SYN set towards SIDE (to-server: SYNs, to-client: SYN-ACKs)
#   lab.sh rule add 'NFT RULE'     append a raw nftables rule to the router's forward chain
#   lab.sh rule clear              remove the raw rules
#   lab.sh status                  qdiscs and nftables counters in the router
#   lab.sh shell [cli|rtr|srv]     interactive shell inside a namespace (default cli)
#   lab.sh exec cli|rtr|srv CMD..  run a command inside a namespace
# SIDE is to-server, to-client or both (default both).
set -euo pipefail

LAB=${LAB:-tvzlab}
CLI=$LAB-cli RTR=$LAB-rtr SRV=$LAB-srv
STATE=/run/tcpviz-lab/$LAB
TABLE=tcpviz_lab

die() { echo "lab.sh: $*" >&2; exit 1; }
ns_of() {
	case $1 in
	cli) echo "$CLI" ;;
	rtr) echo "$RTR" ;;
	srv) echo "$SRV" ;;
	*) die "unknown namespace '$1' (cli, rtr or srv)" ;;
	esac
}
sides_of() {
	case ${1:-both} in
	to-server) echo to-server ;;
	to-client) echo to-client ;;
	both) echo to-server to-client ;;
	*) die "unknown side '$1' (to-server, to-client or both)" ;;
	esac
}
dev_of() { if [ "$1" = to-client ]; then echo veth-rc; else echo veth-rs; fi; }
need_lab() { [ -e "/run/netns/$RTR" ] || die "lab $LAB is not up (run: lab.sh up)"; }

# sample N: the nft match for N/1000 of the packets at random (numgen's bound
# must stay below 1000, so 1000 means every packet).
sample() { if [ "$1" -ge 1000 ]; then echo ""; else echo "numgen random mod 1000 < $1 "; fi; }

# apply_filter rebuilds the router's nftables table from the state files.
apply_filter() {
	local s dev n rules=""
	for s in to-server to-client; do
		dev=$(dev_of "$s")
		rules+="    oifname \"$dev\" meta l4proto tcp counter comment \"tcp-$s\""$'\n'
	done
	for s in to-server to-client; do
		dev=$(dev_of "$s")
		if [ "$(cat "$STATE/dropsyn-$s" 2>/dev/null || echo off)" = on ]; then
			rules+="    oifname \"$dev\" tcp flags & syn == syn counter drop comment \"drop-syn-$s\""$'\n'
		fi
	done
	for s in to-server to-client; do
		dev=$(dev_of "$s")
		n=$(cat "$STATE/loss-$s" 2>/dev/null || echo 0)
		if [ "$n" -gt 0 ]; then
			rules+="    oifname \"$dev\" meta l4proto tcp $(sample "$n")counter drop comment \"loss-$s\""$'\n'
		fi
	done
	for s in to-server to-client; do
		dev=$(dev_of "$s")
		n=$(cat "$STATE/reorder-$s" 2>/dev/null || echo 0)
		if [ "$n" -gt 0 ]; then
			rules+="    oifname \"$dev\" meta l4proto tcp $(sample "$n")meta priority set 1:20 counter comment \"reorder-$s\""$'\n'
		fi
	done
	if [ -s "$STATE/extra" ]; then
		n=0
		while IFS= read -r line; do
			rules+="    $line comment \"extra-$n\""$'\n'
			n=$((n + 1))
		done <"$STATE/extra"
	fi
	ip netns exec "$RTR" nft -f - <<EOF
add table inet $TABLE
delete table inet $TABLE
table inet $TABLE {
  chain forward {
    type filter hook forward priority filter; policy accept;
$rules  }
}
EOF
}

clear_root() { ip netns exec "$RTR" tc qdisc del dev "$1" root 2>/dev/null || true; }

cmd_up() {
	[ "$(id -u)" = 0 ] || die "needs root"
	[ -e "/run/netns/$RTR" ] && die "lab $LAB is already up (lab.sh down first)"
	mkdir -p "$STATE"
	ip netns add "$CLI"
	ip netns add "$RTR"
	ip netns add "$SRV"
	ip -n "$RTR" link add veth-rc type veth peer name veth-c netns "$CLI"
	ip -n "$RTR" link add veth-rs type veth peer name veth-s netns "$SRV"
	ip -n "$CLI" addr add 10.200.1.2/24 dev veth-c
	ip -n "$CLI" addr add fd00:200:1::2/64 dev veth-c nodad
	ip -n "$RTR" addr add 10.200.1.1/24 dev veth-rc
	ip -n "$RTR" addr add fd00:200:1::1/64 dev veth-rc nodad
	ip -n "$RTR" addr add 10.200.2.1/24 dev veth-rs
	ip -n "$RTR" addr add fd00:200:2::1/64 dev veth-rs nodad
	ip -n "$SRV" addr add 10.200.2.2/24 dev veth-s
	ip -n "$SRV" addr add fd00:200:2::2/64 dev veth-s nodad
	for ns in "$CLI" "$RTR" "$SRV"; do ip -n "$ns" link set lo up; done
	ip -n "$CLI" link set veth-c up
	ip -n "$RTR" link set veth-rc up
	ip -n "$RTR" link set veth-rs up
	ip -n "$SRV" link set veth-s up
	ip -n "$CLI" route add default via 10.200.1.1
	ip -n "$CLI" -6 route add default via fd00:200:1::1
	ip -n "$SRV" route add default via 10.200.2.1
	ip -n "$SRV" -6 route add default via fd00:200:2::1
	ip netns exec "$RTR" sysctl -q -w net.ipv4.ip_forward=1
	ip netns exec "$RTR" sysctl -q -w net.ipv6.conf.all.forwarding=1
	if [ "${NOOFFLOAD:-0}" = 1 ]; then
		ip netns exec "$CLI" ethtool -K veth-c tso off gso off gro off
		ip netns exec "$RTR" ethtool -K veth-rc tso off gso off gro off
		ip netns exec "$RTR" ethtool -K veth-rs tso off gso off gro off
		ip netns exec "$SRV" ethtool -K veth-s tso off gso off gro off
	fi
	apply_filter
	echo "lab $LAB up: client $CLI (10.200.1.2, fd00:200:1::2), router $RTR, server $SRV (10.200.2.2, fd00:200:2::2)"
}

cmd_down() {
	local ns
	for ns in "$CLI" "$RTR" "$SRV"; do
		if [ -e "/run/netns/$ns" ]; then
			# Processes still inside keep the namespace alive: end them.
			ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
			ip netns del "$ns"
		fi
	done
	rm -rf "$STATE"
	echo "lab $LAB down"
}

cmd_loss() {
	need_lab
	local n=${1:?loss needs N (permille)} s
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -le 1000 ] || die "loss: N must be 0..1000 (permille)"
	for s in $(sides_of "${2:-both}"); do echo "$n" >"$STATE/loss-$s"; done
	apply_filter
}

cmd_dropsyn() {
	need_lab
	local on=${1:?dropsyn needs on or off} s
	[ "$on" = on ] || [ "$on" = off ] || die "dropsyn: on or off"
	for s in $(sides_of "${2:-both}"); do echo "$on" >"$STATE/dropsyn-$s"; done
	apply_filter
}

cmd_rate() {
	need_lab
	local r=${1:?rate needs a tc rate like 20mbit, or off} s dev
	for s in $(sides_of "${2:-both}"); do
		dev=$(dev_of "$s")
		clear_root "$dev"
		if [ "$r" != off ]; then
			ip netns exec "$RTR" tc qdisc add dev "$dev" root tbf rate "$r" burst "${BURST:-32kb}" latency "${LATENCY:-50ms}"
		fi
	done
}

cmd_reorder() {
	need_lab
	local n=${1:?reorder needs N (permille)} s dev
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -le 1000 ] || die "reorder: N must be 0..1000 (permille)"
	local rate=${RATE:-1gbit} slow=${SLOWRATE:-300mbit}
	for s in $(sides_of "${2:-both}"); do
		dev=$(dev_of "$s")
		clear_root "$dev"
		echo "$n" >"$STATE/reorder-$s"
		[ "$n" -gt 0 ] || continue
		ip netns exec "$RTR" tc qdisc add dev "$dev" root handle 1: htb default 10
		ip netns exec "$RTR" tc class add dev "$dev" parent 1: classid 1:1 htb rate "$rate"
		ip netns exec "$RTR" tc class add dev "$dev" parent 1:1 classid 1:10 htb rate "$rate" prio 0
		ip netns exec "$RTR" tc class add dev "$dev" parent 1:1 classid 1:20 htb rate "$slow" ceil "$slow" \
			burst 1600 cburst 1600 prio 1
	done
	apply_filter
}

cmd_rule() {
	need_lab
	case ${1:-} in
	add) echo "${2:?rule add needs the rule text}" >>"$STATE/extra" ;;
	clear) rm -f "$STATE/extra" ;;
	*) die "rule add 'RULE' | rule clear" ;;
	esac
	apply_filter
}

cmd_status() {
	need_lab
	local dev
	for dev in veth-rc veth-rs; do
		echo "== $dev"
		ip netns exec "$RTR" tc -s qdisc show dev "$dev"
	done
	echo "== nftables"
	ip netns exec "$RTR" nft list table inet "$TABLE"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
loss) shift; cmd_loss "$@" ;;
dropsyn) shift; cmd_dropsyn "$@" ;;
rate) shift; cmd_rate "$@" ;;
reorder) shift; cmd_reorder "$@" ;;
rule) shift; cmd_rule "$@" ;;
status) cmd_status ;;
shell)
	need_lab
	exec ip netns exec "$(ns_of "${2:-cli}")" "${SHELL:-/bin/bash}"
	;;
exec)
	need_lab
	ns=$(ns_of "${2:?exec needs cli, rtr or srv}")
	shift 2
	exec ip netns exec "$ns" "$@"
	;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
