#!/bin/sh
# Every command in the bin directory: --help on stdout (exit 0), --version
# as "NAME (g4) VERSION", an unknown option or a missing option argument
# (short and long) -> "NAME: message naming the option" and a usage line on
# stderr, exit 2, nothing on stdout.
. tests/cmd/lib.sh
# usage_error TEST WORD CMD...: exit 2, nothing on stdout, the first stderr
# line "NAME: ..." naming WORD, then a usage line
usage_error() {
	t=$1; w=$2; shift 2
	"$@" >"$G4_TMP/u.out" 2>"$G4_TMP/u.err" </dev/null; rc=$?
	first=$(head -1 "$G4_TMP/u.err")
	if [ "$rc" -eq 2 ] && [ ! -s "$G4_TMP/u.out" ] && grep -q "^usage: $name" "$G4_TMP/u.err" &&
	   case $first in "$name: "*"$w"*) true;; *) false;; esac; then
		ok "$t"
	else
		no "$t" "exit $rc (want 2), stderr: $(head -c 200 "$G4_TMP/u.err")"
	fi
}
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
	usage_error "${name}_unknown_option" --no-such-option-xyz "$c" --no-such-option-xyz
	usage_error "${name}_unknown_short_option" -Z "$c" -Z
	usage_error "${name}_missing_argument" "-t " "$c" -t
	# a long option that wants an argument, given none
	case $name in
	g4decode) long=--temp;; g4prefill) long=--kv-type;; g4embed-audio) long=--mel;;
	g4embed-img) long=--tokens;; g4quant) long=--imatrix;; g4tok) long=--tokenizer;; *) long=;;
	esac
	if [ -n "$long" ]; then usage_error "${name}_missing_argument_long" "$long " "$c" "$long"
	else no "${name}_missing_argument_long" "no long option with an argument known for $name"; fi
	# --help wins over what follows it; anything else after --version is not looked at
	if "$c" --help --no-such-option-xyz >"$G4_TMP/u.out" 2>"$G4_TMP/u.err" && grep -q "^usage: $name" "$G4_TMP/u.out" &&
	   [ ! -s "$G4_TMP/u.err" ]; then ok "${name}_help_first"
	else no "${name}_help_first" "--help then an unknown option: not the help on stdout with exit 0"; fi
done
# commands that take no operands refuse one, saying so
for name in g4decode g4prefill; do
	usage_error "${name}_operand" "unexpected argument 'extra'" "$G4_BIN/$name" -m x extra
done
[ "$n" -gt 0 ] || no commands "no commands in $G4_BIN"
