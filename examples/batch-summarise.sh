#!/bin/sh
# batch-summarise.sh - summarise a folder of documents in parallel, with the
# system prompt prefilled once.
#
#   batch-summarise.sh [-m MODEL.gguf] [-j JOBS] [-n MAX] [-s SYSTEM] DOCDIR OUTDIR
#
# 1. The system turn is prefilled once into OUTDIR/system.kv.zst.
# 2. Every file in DOCDIR becomes a user turn ("Summarise this document:"
#    and its text), which `g4prefill -s` appends to a copy of that snapshot:
#    only the document's own tokens are run through the model.
# 3. g4decode writes the summary to OUTDIR/NAME.summary.
# Documents run JOBS at a time (xargs -P); each job gets an equal share of
# the cores (-t).  The result is the same, bit for bit, as prefilling each
# whole prompt from scratch, and does not depend on JOBS.
#
# Environment: G4_MODEL (default: the tiny test model, random weights:
# gibberish summaries), G4_DECODE_OPTS (more g4decode options, e.g.
# "--temp 0").  On many machines, run the per-document step with GNU
# parallel --sshlogin or a Slurm array instead of xargs (see the README):
# system.kv.zst is the only file every job needs.
set -e
. "$(dirname "$0")/lib.sh"
export PATH

# One document (called by xargs as: batch-summarise.sh --one FILE).
if [ "$1" = --one ]; then
	doc=$2
	name=$(basename "$doc")
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/g4sum.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	user=$({ printf 'Summarise this document:\n\n'; cat "$doc"; } | json_str)
	# The template's text for system + user; the system part is in the
	# snapshot already, so only what follows it is tokenized and run.
	printf '[{"role":"system","content":%s},{"role":"user","content":%s}]' "$G4_SYS_JSON" "$user" |
		g4tok -m "$G4_MODEL" --chat --render >"$tmp/full.txt"
	n=$(wc -c <"$G4_OUT/system.txt")
	if ! head -c "$n" "$tmp/full.txt" | cmp -s - "$G4_OUT/system.txt"; then
		echo "batch-summarise.sh: $doc: the rendered prompt does not start with the system turn" >&2
		exit 1
	fi
	tail -c +$((n + 1)) "$tmp/full.txt" | g4tok -m "$G4_MODEL" --no-bos |
		g4prefill -m "$G4_MODEL" -t "$G4_T" -s "$G4_OUT/system.kv.zst" |
		# shellcheck disable=SC2086
		g4decode -m "$G4_MODEL" -t "$G4_T" -n "$G4_MAX" $G4_DECODE_OPTS >"$tmp/summary.txt"
	mv "$tmp/summary.txt" "$G4_OUT/$name.summary"
	exit 0
fi

model=${G4_MODEL:-$root/tests/data/micro-e2b-f32.gguf}
jobs=$(nproc 2>/dev/null || echo 2) max=256
system="You summarise documents in three sentences."
usage() { echo "usage: batch-summarise.sh [-m MODEL.gguf] [-j JOBS] [-n MAX] [-s SYSTEM] DOCDIR OUTDIR" >&2; exit 2; }
while getopts m:j:n:s:h o; do
	case $o in
	m) model=$OPTARG;;
	j) jobs=$OPTARG;;
	n) max=$OPTARG;;
	s) system=$OPTARG;;
	*) usage;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
docs=$1 out=$2
[ -d "$docs" ] || { echo "batch-summarise.sh: $docs is not a directory" >&2; exit 1; }
mkdir -p "$out"
cores=$(nproc 2>/dev/null || echo 1)
t=$((cores / jobs)); [ "$t" -ge 1 ] || t=1

# 1. the system turn, once: rendered text (to cut the per-document prompts)
#    and its snapshot
G4_SYS_JSON=$(printf '%s' "$system" | json_str)
printf '[{"role":"system","content":%s}]' "$G4_SYS_JSON" |
	g4tok -m "$model" --chat --render --no-generation-prompt >"$out/system.txt"
g4tok -m "$model" --no-bos <"$out/system.txt" | g4prefill -m "$model" -t "$cores" -o "$out/system.kv.zst"

# 2, 3. every document, JOBS at a time
G4_MODEL=$model G4_OUT=$out G4_T=$t G4_MAX=$max
export G4_MODEL G4_OUT G4_T G4_MAX G4_SYS_JSON G4_DECODE_OPTS
find "$docs" -type f ! -name '.*' -print0 | sort -z |
	xargs -0 -r -P "$jobs" -n 1 sh "$here/batch-summarise.sh" --one
