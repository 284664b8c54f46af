#!/bin/sh
# Regenerates the eBPF objects from their C sources and fails when the result
# differs from what is committed (needs clang, llvm (llvm-strip) and libbpf-dev).
set -eu
cd "$(dirname "$0")/.."
go generate ./ebpfcap
git diff --exit-code -- ebpfcap
untracked=$(git status --porcelain --untracked-files=all -- ebpfcap)
if [ -n "$untracked" ]; then
	echo "generated files not committed:" >&2
	echo "$untracked" >&2
	exit 1
fi
