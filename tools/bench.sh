#!/bin/sh
# make bench: runs every benchmark program (build/bench/bench_*) from the
# repository root.  Not part of the test suite.
cd "$(dirname "$0")/.." || exit 1
n=0
for b in "${BUILD:-build}"/bench/bench_*; do
	[ -x "$b" ] || continue
	case $b in *.d) continue;; esac
	"$b" || echo "$(basename "$b"): failed"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || echo "no benchmarks yet"
