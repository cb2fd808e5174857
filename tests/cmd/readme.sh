#!/bin/sh
# The README's worked examples run as written: every command line that
# starts with "  $ " (with its continuation lines after a trailing | or \)
# is run, in order, in one shell with set -e, in a scratch directory where
# bin/ and tests/ are those of this tree.  The examples for real models
# (without "$ ") are templates and are not run.
. tests/cmd/lib.sh
T=$G4_TMP/readme
rm -rf "$T"; mkdir -p "$T"
ln -s "$G4_BIN" "$T/bin"
ln -s "$G4_ROOT/tests" "$T/tests"
ln -s "$G4_ROOT/examples" "$T/examples"

awk '
	cont { sub(/^ +/, "      "); print; cont = /[|\\] *(#.*)?$/; next }
	/^  \$ / { sub(/^  \$ /, ""); print; cont = /[|\\] *(#.*)?$/ }
' README >"$T/commands.sh"
n=$(grep -c '^[^ ]' "$T/commands.sh")
if [ "$n" -ge 25 ]; then ok readme_commands_found
else no readme_commands_found "only $n commands with '\$ ' in README"; fi

if (cd "$T" && sh -e ./commands.sh) >"$T/out" 2>"$T/err"; then
	ok readme_examples_run
else
	no readme_examples_run "a README example failed: $(tail -n 2 "$T/err" | tr '\n' ' ')"
fi
missing=""
for f in q.g4s q.kv.zst ids.kv.zst doc.kv.zst q1.kv.zst q2.kv.zst more.kv.zst iq.g4s img.g4s aq.g4s aud.g4s \
	 micro-Q4_K_M.gguf micro-Q8_0.gguf; do
	[ -s "$T/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then ok readme_outputs; else no readme_outputs "not written:$missing"; fi
if grep -q '^2 9259\|^2 82 342 118 118 346 274 346 348 118 350$' "$T/out"; then ok readme_ids
else no readme_ids "the ids of 'Hello world' are not in the output"; fi
