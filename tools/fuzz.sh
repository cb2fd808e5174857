#!/bin/sh
# make fuzz: runs every libFuzzer target built in BUILD/fuzz/ for SECONDS
# each, from its seed corpus tests/fuzz/corpus/NAME/ (plus what earlier runs
# found, kept in BUILD/corpus/NAME/), with tests/fuzz/NAME.dict when there is
# one.  Crashes, leaks, sanitizer reports, timeouts (30 s) and allocations over
# 2 GB are failures; the reproducer is saved in BUILD/crash/.  Prints one
# line per target (executions, coverage, CPU seconds used) and exits 1 if any
# target failed.
# Usage: sh tools/fuzz.sh BUILD SECONDS [NAME]
cd "$(dirname "$0")/.." || exit 1
B=${1:-build-fuzz}; S=${2:-60}; only=$3
mkdir -p "$B/crash" "$B/log"
bad=0
# CPU seconds (user + system) used by this shell's finished children so far,
# in $cpu (times must not run in a subshell, which has no children)
cpu() { times >"$B/log/.times.$$"; cpu=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.0f", t }' "$B/log/.times.$$"); rm -f "$B/log/.times.$$"; }
for f in "$B"/fuzz/fuzz_*; do
	case $f in *.d) continue;; esac
	[ -x "$f" ] || continue
	name=$(basename "$f"); name=${name#fuzz_}
	[ -n "$only" ] && [ "$only" != "$name" ] && continue
	mkdir -p "$B/corpus/$name"
	dict=""; [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	log=$B/log/$name.log
	# the inputs that once failed first (clang sees UB that gcc's UBSan misses)
	if [ -d "tests/fuzz/regress/$name" ] && ! "$f" tests/fuzz/regress/"$name"/* >"$log" 2>&1; then
		echo "fuzz $name: FAILED on a regression input in tests/fuzz/regress/$name; see $log"
		bad=1
		continue
	fi
	cpu; c0=$cpu
	"$f" -max_total_time="$S" -timeout=30 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$B/crash/$name-" $dict \
		"$B/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	cpu; c1=$cpu
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz $name: ${S}s, $((c1 - c0)) CPU s, ${execs:-?} executions, $cov"
	else
		echo "fuzz $name: FAILED after ${execs:-?} executions (exit $rc); see $log"
		grep -m3 -E 'ERROR|runtime error|Test unit written' "$log" | sed 's/^/  /'
		bad=1
	fi
done
exit $bad
