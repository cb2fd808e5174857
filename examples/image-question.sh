#!/bin/sh
# image-question.sh - ask a question about one or more images.
#
#   image-question.sh [-m MODEL.gguf] [-p MMPROJ.gguf] [-q QUESTION] [-n MAX] IMAGE...
#
# 1. g4tok --chat renders a user turn with an image part per IMAGE and the
#    question; each image becomes a media slot in the token stream.
# 2. g4embed-img encodes the images (PNG, JPEG) into embedding blocks.
# 3. g4prefill fills the slots with the blocks (--media) and runs the prompt.
# 4. g4decode prints the answer.
#
# Environment: G4_MODEL, G4_MMPROJ (default: the tiny test models, random
# weights: the answer is gibberish), G4_EMBED_OPTS (more g4embed-img
# options, e.g. "--tokens 560"), G4_DECODE_OPTS (e.g. "--temp 0"),
# G4_THREADS.  For real models take the GGUF and the mmproj file beside it,
# e.g. gemma-4-E4B-it-Q4_K_M.gguf and mmproj-gemma-4-E4B-it-f16.gguf.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=${here%/examples}
bin=${G4_BIN:-$root/bin}	# the build to use (make check-asan sets G4_BIN)
[ -x "$bin/g4tok" ] && PATH=$bin:$PATH
model=${G4_MODEL:-$root/tests/data/micro-e2b-256-f32.gguf}
mmproj=${G4_MMPROJ:-$root/tests/data/mmproj-tiny-vision-e.gguf}
question="Describe this image." max=256
usage() { echo "usage: image-question.sh [-m MODEL.gguf] [-p MMPROJ.gguf] [-q QUESTION] [-n MAX] IMAGE..." >&2; exit 2; }
while getopts m:p:q:n:h o; do
	case $o in
	m) model=$OPTARG;;
	p) mmproj=$OPTARG;;
	q) question=$OPTARG;;
	n) max=$OPTARG;;
	*) usage;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
t=${G4_THREADS:+-t $G4_THREADS}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/g4img.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Text (stdin) as a JSON string.
json_str() {
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/\r/\\r/g' -e 's/[[:cntrl:]]/ /g' |
		awk 'BEGIN { printf "\"" } NR > 1 { printf "\\n" } { printf "%s", $0 } END { printf "\"" }'
}

parts=""
for i in "$@"; do parts="$parts{\"type\":\"image\"},"; done
req="[{\"role\":\"user\",\"content\":[$parts{\"type\":\"text\",\"text\":$(printf '%s' "$question" | json_str)}]}]"

# shellcheck disable=SC2086
g4embed-img -m "$mmproj" --vocab "$model" $t $G4_EMBED_OPTS "$@" >"$tmp/images.g4s"
# shellcheck disable=SC2086
printf '%s' "$req" | g4tok -m "$model" --chat |
	g4prefill -m "$model" $t --media "$tmp/images.g4s" |
	g4decode -m "$model" $t -n "$max" $G4_DECODE_OPTS
