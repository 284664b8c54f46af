#!/usr/bin/env bash
# Fetches captures made by others, for TestThirdPartyCapturesMatchTshark
# (internal/sessionfiles), into DIR and prints the value to give
# TCPVIZ_THIRDPARTY_DIRS:
#   - the test captures of tcpdump and Wireshark, from Debian's source
#     packages (apt-get source with lists of its own, so the machine's apt
#     configuration is left alone);
#   - gopacket's test captures, from the Go module cache (a dependency).
# Usage: export TCPVIZ_THIRDPARTY_DIRS=$(scripts/thirdparty-captures.sh /tmp/tcpviz-thirdparty)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/thirdparty-captures.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

if [ ! -d "$dir/tcpdump" ] || [ ! -d "$dir/wireshark" ]; then
  apt=$(mktemp -d)
  trap 'rm -rf "$apt"' EXIT
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources" "$apt/src"
  cat >"$apt/sources/debian-src.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/sources"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
  apt-get "${opts[@]}" -qq update >&2
  (cd "$apt/src" && apt-get "${opts[@]}" -qq source --download-only tcpdump wireshark >&2)
  mkdir -p "$dir/tcpdump" "$dir/wireshark"
  tar -xzf "$apt"/src/tcpdump_*.orig.tar.gz -C "$dir/tcpdump" --strip-components=2 --wildcards \
    '*/tests/*.pcap' '*/tests/*.pcapng'
  tar -xjf "$apt"/src/wireshark_*.orig.tar.* -C "$dir/wireshark" --strip-components=3 --wildcards \
    '*/test/captures/*'
fi

gp=$(go list -m -f '{{.Dir}}' github.com/gopacket/gopacket)
mkdir -p "$dir/gopacket"
for f in "$gp"/layers/testdata/*.pcap* "$gp"/pcap/*.pcap "$gp"/pcapgo/tests/*.pcapng "$gp"/pcapgo/tests/le/*.pcapng; do
  [ -f "$f" ] && cp -f "$f" "$dir/gopacket/"
done
chmod -R u+w "$dir/gopacket"

echo "$dir/tcpdump:$dir/wireshark:$dir/gopacket"
