#!/bin/sh
# Every command in the bin directory: --help on stdout (exit 0), --version
# as "NAME (g4) VERSION", an unknown option or a missing option argument ->
# a usage line on stderr and exit 2, nothing on stdout.
. tests/cmd/lib.sh
ver=$(sed -n 's/^#define G4_VERSION "\(.*\)"/\1/p' lib/version.h)
n=0
for c in "$G4_BIN"/g4*; do
	[ -x "$c" ] && [ -f "$c" ] || continue
	name=$(basename "$c"); n=$((n + 1))
	if "$c" --help >"$G4_TMP/u.out" 2>"$G4_TMP/u.err" && grep -q "^usage: $name" "$G4_TMP/u.out" &&
	   [ ! -s "$G4_TMP/u.err" ]; then
		ok "${name}_help"
	else
		no "${name}_help" "--help: no 'usage: $name' on stdout, or exit status not 0, or stderr output"
	fi
	if [ "$("$c" --version 2>&1)" = "$name (g4) $ver" ]; then ok "${name}_version"
	else no "${name}_version" "--version printed '$("$c" --version 2>&1)'"; fi
	"$c" --no-such-option-xyz >"$G4_TMP/u.out" 2>"$G4_TMP/u.err" </dev/null; rc=$?
	if [ "$rc" -eq 2 ] && grep -q "usage: $name" "$G4_TMP/u.err" && [ ! -s "$G4_TMP/u.out" ]; then
		ok "${name}_unknown_option"
	else
		no "${name}_unknown_option" "exit $rc (want 2), stderr: $(head -c 200 "$G4_TMP/u.err")"
	fi
	"$c" -t >"$G4_TMP/u.out" 2>"$G4_TMP/u.err" </dev/null; rc=$?
	if [ "$rc" -eq 2 ] && grep -q "usage: $name" "$G4_TMP/u.err"; then
		ok "${name}_missing_argument"
	else
		no "${name}_missing_argument" "-t without a number: exit $rc (want 2)"
	fi
done
[ "$n" -gt 0 ] || no commands "no commands in $G4_BIN"
