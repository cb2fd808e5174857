#!/bin/sh
# chat.sh - a multi-turn conversation kept in a KV snapshot file.
#
#   chat.sh [-m MODEL.gguf] [-s SYSTEM] [-n MAX] STATE.kv.zst [MESSAGE]
#
# Each call is one turn: MESSAGE (or, without it, each line of standard
# input, one turn per line) is rendered with the model's chat template,
# appended to the conversation in STATE with `g4prefill -s`, and the reply is
# generated with `g4decode -o`, which writes the conversation back to STATE.
# Only the new turn is run through the model: the earlier turns are already
# in the snapshot.  A STATE that does not exist starts a new conversation
# (with the system prompt SYSTEM, if given).  The reply is printed on
# standard output.
#
#   chat.sh talk.kv.zst "What is a KV cache?"
#   chat.sh talk.kv.zst "And why keep it in a file?"
#   chat.sh talk.kv.zst < questions.txt
#
# Environment: G4_MODEL (the model; default the tiny test model, whose
# random weights answer gibberish), G4_DECODE_OPTS (more g4decode options,
# e.g. "--temp 0" or "--seed 7"), G4_THREADS.  Every turn ends closed in the
# snapshot: if the reply stopped at MAX tokens rather than at <turn|>,
# <turn|> is appended, as the template would write it.
set -e
. "$(dirname "$0")/lib.sh"
model=${G4_MODEL:-$root/tests/data/micro-e2b-f32.gguf}
system="" max=256
usage() { echo "usage: chat.sh [-m MODEL.gguf] [-s SYSTEM] [-n MAX] STATE.kv.zst [MESSAGE]" >&2; exit 2; }
while getopts m:s:n:h o; do
	case $o in
	m) model=$OPTARG;;
	s) system=$OPTARG;;
	n) max=$OPTARG;;
	*) usage;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] && [ $# -le 2 ] || usage
state=$1
t=${G4_THREADS:+-t $G4_THREADS}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/g4chat.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

eot=$(printf '<turn|>' | g4tok -m "$model" --no-bos --ids)

turn() {	# the user's message
	msg=$(printf '%s' "$1" | json_str)
	if [ ! -f "$state" ]; then
		# a new conversation: the whole prompt, <bos> and system turn included
		if [ -n "$system" ]; then
			req="[{\"role\":\"system\",\"content\":$(printf '%s' "$system" | json_str)},{\"role\":\"user\",\"content\":$msg}]"
		else
			req="[{\"role\":\"user\",\"content\":$msg}]"
		fi
		printf '%s' "$req" | g4tok -m "$model" --chat >"$tmp/turn.g4s"
		g4prefill -m "$model" $t -o "$tmp/prompt.kv.zst" <"$tmp/turn.g4s"
	else
		# the next turn: the template's text for it, without its <bos>,
		# after the newline that follows the previous <turn|>
		printf '%s' "[{\"role\":\"user\",\"content\":$msg}]" |
			g4tok -m "$model" --chat --render >"$tmp/turn.txt"
		{ printf '\n'; sed '1s/^<bos>//' "$tmp/turn.txt"; } |
			g4tok -m "$model" --no-bos >"$tmp/turn.g4s"
		g4prefill -m "$model" $t -s "$state" -o "$tmp/prompt.kv.zst" <"$tmp/turn.g4s"
	fi
	# shellcheck disable=SC2086
	# (-o writes the file whole or not at all: STATE is never half written)
	g4decode -m "$model" $t -n "$max" --ids $G4_DECODE_OPTS -s "$tmp/prompt.kv.zst" \
		-o "$state" >"$tmp/reply.ids"
	last=$(tr ' ' '\n' <"$tmp/reply.ids" | sed '/^$/d' | tail -n 1)
	if [ "$last" != "$eot" ]; then
		echo "$eot" | g4prefill -m "$model" $t -s "$state" -o "$state"
	fi
	g4tok -m "$model" -d "$tmp/reply.ids"
	echo
}

if [ $# -eq 2 ]; then
	turn "$2"
else
	while IFS= read -r line; do
		if [ -n "$line" ]; then turn "$line"; fi
	done
fi
