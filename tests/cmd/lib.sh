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
