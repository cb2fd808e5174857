#!/bin/sh
# Runs every unit test binary (build/tests/test_*) and every pipeline test
# (tests/cmd/*.sh).  Each prints one line per case, "PASS name" or
# "FAIL name: why"; a program that exits non-zero without a FAIL line counts
# as one failure.  The last line is "N passed, N failed".
# Usage: sh tests/run.sh [FILTER]   (FILTER: substring of test file names)
# BUILD and G4_BIN choose the build (make check-asan: build-asan, bin-asan).
# With G4_SAN_LOG set (a directory sanitizers write their log_path files
# into), every report there after a test is a failure of that test.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
G4_ROOT=$(pwd); export G4_ROOT
G4_BIN=${G4_BIN:-$G4_ROOT/bin}; export G4_BIN
G4_DATA=$G4_ROOT/tests/data; export G4_DATA
G4_TMP=$G4_ROOT/tests/tmp; export G4_TMP
rm -rf "$G4_TMP"; mkdir -p "$G4_TMP"
pass=0; fail=0
log=$G4_TMP/run.log
one() {	# name, command...
	name=$1; shift
	"$@" >"$log" 2>&1; rc=$?
	p=$(grep -c '^PASS' "$log"); f=$(grep -c '^FAIL' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc" >>"$log"; f=1
	fi
	if [ -n "$G4_SAN_LOG" ]; then
		for r in "$G4_SAN_LOG"/*; do
			[ -f "$r" ] || continue
			echo "FAIL $name: sanitizer report $(basename "$r"): $(grep -m1 -E 'ERROR|runtime error' "$r")" >>"$log"
			f=$((f + 1)); mv "$r" "$G4_SAN_LOG/../san-$name-$(basename "$r")"
		done
	fi
	grep -v '^PASS' "$log" | grep -E '^(FAIL|SKIP|  )' | sed "s|^|$name: |"
	echo "$name: $p passed, $f failed"
	pass=$((pass + p)); fail=$((fail + f))
}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case $t in *.d) continue;; esac
	[ -n "$1" ] && case $t in *"$1"*) ;; *) continue;; esac
	one "$(basename "$t")" "$t"
done
for s in tests/cmd/*.sh; do
	[ -f "$s" ] || continue
	case $s in */lib.sh) continue;; esac
	[ -n "$1" ] && case $s in *"$1"*) ;; *) continue;; esac
	one "$(basename "$s" .sh)" sh "$s"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
