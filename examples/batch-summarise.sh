#!/bin/sh
# batch-summarise.sh - summarise a folder of documents in one pipeline, with
# the system prompt prefilled once.
#
#   batch-summarise.sh [-m MODEL.gguf] [-j BATCH] [-n MAX] [-s SYSTEM] DOCDIR OUTDIR
#
# 1. The system turn is prefilled once into OUTDIR/system.kv.zst.
# 2. Every file in DOCDIR becomes a user turn ("Summarise this document:"
#    and its text), rendered in parallel with xargs -P; all of them go as one token stream (a document each)
#    through one `g4prefill -s`, which continues the system snapshot for
#    every document: only the documents' own tokens are run.
# 3. One g4decode decodes BATCH sequences together (each weight is read once
#    per step for all of them) and prints the summaries in order, NUL after
#    each; they are written to OUTDIR/NAME.summary.
# The result is the same, bit for bit, as prefilling each whole prompt from
# scratch and decoding it alone, and does not depend on BATCH.
#
# Environment: G4_MODEL (default: the tiny test model, random weights:
# gibberish summaries), G4_DECODE_OPTS (more g4decode options, e.g.
# "--temp 0").  To spread the work over many machines, split DOCDIR and run
# this per part with GNU parallel --sshlogin or a Slurm array (see the
# README): system.kv.zst is the only file every job needs.
set -e
. "$(dirname "$0")/lib.sh"
export PATH

# Numbering, in name order (called by xargs as: batch-summarise.sh --number
# FILE): the document's path in $G4_TMP/NNNNNN.path, its name in NNNNNN.name.
if [ "$1" = --number ]; then
	i=$(cat "$G4_TMP/count")
	k=$(printf '%06d' "$i")
	printf '%s' "$2" >"$G4_TMP/$k.path"
	basename "$2" >"$G4_TMP/$k.name"
	echo $((i + 1)) >"$G4_TMP/count"
	exit 0
fi
# One document's user turn, after the system turn, as text in
# $G4_TMP/NNNNNN.txt (called by xargs -P as: batch-summarise.sh --render
# NNNNNN; the documents are rendered in parallel).
if [ "$1" = --render ]; then
	k=$2
	doc=$(cat "$G4_TMP/$k.path")
	user=$({ printf 'Summarise this document:\n\n'; cat "$doc"; } | json_str)
	# The template's text for system + user; the system part is in the
	# snapshot already, so only what follows it is tokenized and run.
	printf '[{"role":"system","content":%s},{"role":"user","content":%s}]' "$G4_SYS_JSON" "$user" |
		g4tok -m "$G4_MODEL" --chat --render >"$G4_TMP/full.$k"
	n=$(wc -c <"$G4_OUT/system.txt")
	if ! head -c "$n" "$G4_TMP/full.$k" | cmp -s - "$G4_OUT/system.txt"; then
		echo "batch-summarise.sh: $doc: the rendered prompt does not start with the system turn" >&2
		exit 1
	fi
	tail -c +$((n + 1)) "$G4_TMP/full.$k" >"$G4_TMP/$k.txt.tmp"
	mv "$G4_TMP/$k.txt.tmp" "$G4_TMP/$k.txt"
	exit 0
fi
# One summary (called by xargs as: batch-summarise.sh --save TEXT), in the
# order of the documents.
if [ "$1" = --save ]; then
	i=$(cat "$G4_TMP/saved")
	name=$(cat "$G4_TMP/$(printf '%06d' "$i").name")
	printf '%s\n' "$2" >"$G4_OUT/$name.summary.tmp"
	mv "$G4_OUT/$name.summary.tmp" "$G4_OUT/$name.summary"
	echo $((i + 1)) >"$G4_TMP/saved"
	exit 0
fi

model=${G4_MODEL:-$root/tests/data/micro-e2b-f32.gguf}
batch=16 max=256
system="You summarise documents in three sentences."
usage() { echo "usage: batch-summarise.sh [-m MODEL.gguf] [-j BATCH] [-n MAX] [-s SYSTEM] DOCDIR OUTDIR" >&2; exit 2; }
while getopts m:j:n:s:h o; do
	case $o in
	m) model=$OPTARG;;
	j) batch=$OPTARG;;
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

# 1. the system turn, once: rendered text (to cut the per-document prompts)
#    and its snapshot
G4_SYS_JSON=$(printf '%s' "$system" | json_str)
printf '[{"role":"system","content":%s}]' "$G4_SYS_JSON" |
	g4tok -m "$model" --chat --render --no-generation-prompt >"$out/system.txt"
g4tok -m "$model" --no-bos <"$out/system.txt" | g4prefill -m "$model" -t "$cores" -o "$out/system.kv.zst"

# 2. every document's user turn, in name order, as one token stream
G4_TMP=$(mktemp -d "${TMPDIR:-/tmp}/g4sum.XXXXXX")
trap 'rm -rf "$G4_TMP"' EXIT
echo 0 >"$G4_TMP/count"; echo 0 >"$G4_TMP/saved"
G4_MODEL=$model G4_OUT=$out
export G4_MODEL G4_OUT G4_TMP G4_SYS_JSON
find "$docs" -type f ! -name '.*' -print0 | sort -z |
	xargs -0 -r -n 1 sh "$here/batch-summarise.sh" --number
[ "$(cat "$G4_TMP/count")" -gt 0 ] || exit 0
(cd "$G4_TMP" && ls -- *.path) | sed 's/[.]path$//' |
	xargs -r -n 1 -P "$cores" sh "$here/batch-summarise.sh" --render

# 3. one pipeline: every document continues the system snapshot; BATCH
#    sequences decode together; summaries come out in order, NUL-separated
g4tok -m "$model" --no-bos "$G4_TMP"/[0-9]*.txt |
	g4prefill -m "$model" -t "$cores" -s "$out/system.kv.zst" |
	# shellcheck disable=SC2086
	g4decode -m "$model" -t "$cores" -b "$batch" -n "$max" -0 $G4_DECODE_OPTS |
	xargs -0 -r -n 1 sh "$here/batch-summarise.sh" --save
[ "$(cat "$G4_TMP/saved")" -eq "$(cat "$G4_TMP/count")" ] || {
	echo "batch-summarise.sh: $(cat "$G4_TMP/saved") summaries for $(cat "$G4_TMP/count") documents" >&2
	exit 1
}
