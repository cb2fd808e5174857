# Sourced by pipeline tests (tests/cmd/*.sh).  Run from the repo root by
# tests/run.sh with G4_BIN, G4_DATA and G4_TMP set.
#   ok NAME                 -> PASS NAME
#   no NAME WHY             -> FAIL NAME: WHY
#   expect NAME CMD...      -> PASS if CMD exits 0
#   expect_fail NAME STATUS CMD... -> PASS if CMD exits with STATUS and prints one
#                              line "g4xxx: ..." on stderr
: "${G4_BIN:=bin}" "${G4_DATA:=tests/data}" "${G4_TMP:=/tmp}"
PATH=$G4_BIN:$PATH; export PATH
ok() { echo "PASS $1"; }
no() { echo "FAIL $1: $2"; }
expect() { n=$1; shift; if "$@"; then ok "$n"; else no "$n" "command failed: $*"; fi; }
expect_fail() {
	n=$1; want=$2; shift 2
	"$@" >"$G4_TMP/ef.out" 2>"$G4_TMP/ef.err"; rc=$?
	if [ "$rc" -ne "$want" ]; then no "$n" "exit $rc, wanted $want: $*"; return; fi
	if [ "$(wc -l <"$G4_TMP/ef.err")" -lt 1 ] || ! grep -q '^g4[a-z-]*: ' "$G4_TMP/ef.err"; then
		no "$n" "no 'g4xxx: ...' error line on stderr"; return; fi
	ok "$n"
}
#   le16 N, le32 N          -> N as 2 or 4 little-endian bytes on stdout
#   ids_stream ID...        -> a token stream (g4-formats(5) version 1) of the ids
#   f32_close NAME A B TOL  -> PASS if the float32 files A and B have the same
#                              size and max |a - b| <= TOL (temp files in $T)
le16() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
ids_stream() {
	printf '\211G4S\r\n\032\n'; le32 1
	printf '\001\000\000\000'; le32 $#
	for i in "$@"; do le32 "$i"; done
}
f32_close() {
	if [ "$(wc -c <"$2")" -ne "$(wc -c <"$3")" ]; then no "$1" "sizes differ: $2 $3"; return; fi
	od -An -v -f -w4 "$2" >"${T:-$G4_TMP}/f32a.txt"
	od -An -v -f -w4 "$3" >"${T:-$G4_TMP}/f32b.txt"
	d=$(paste "${T:-$G4_TMP}/f32a.txt" "${T:-$G4_TMP}/f32b.txt" | awk -v t="$4" '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d }
		END { printf "%g", m; exit !(m <= t) }') && ok "$1" || no "$1" "max |d| $d > $4"
}
