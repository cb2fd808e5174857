# lib.sh - sourced by the examples (. "$(dirname "$0")/lib.sh"): sets $here
# (this folder) and $root (the source tree), puts the build's bin/ (or
# $G4_BIN: make check-asan sets it) first on PATH, and defines json_str and
# media_question.

here=$(cd "$(dirname "$0")" && pwd)
root=${here%/examples}
bin=${G4_BIN:-$root/bin}	# the build to use
[ -x "$bin/g4tok" ] && PATH=$bin:$PATH

# Text (stdin) as a JSON string: backslash, quote, tab and CR escaped, lines
# joined by \n.
json_str() {
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/\r/\\r/g' -e 's/[[:cntrl:]]/ /g' |
		awk 'BEGIN { printf "\"" } NR > 1 { printf "\\n" } { printf "%s", $0 } END { printf "\"" }'
}

# media_question KIND EMBED ORDER MMPROJ QUESTION [OPTION...] FILE...
# The body of image-question.sh and audio-question.sh: a user turn with a
# KIND part ("image", "audio") per FILE, before the question (ORDER
# "media-first") or after it ("text-first"); the command EMBED (g4embed-img,
# g4embed-audio) encodes FILE... into the blocks g4prefill --media puts into
# the slots; g4decode answers.  MMPROJ and QUESTION are the defaults of -p
# and -q.
media_question() {
	kind=$1 embed=$2 order=$3 mmproj=${G4_MMPROJ:-$4} question=$5
	shift 5
	name=$(basename "$0")
	model=${G4_MODEL:-$root/tests/data/micro-e2b-256-f32.gguf}
	max=256
	ufile=$(printf '%s' "$kind" | tr a-z A-Z)
	usage() { echo "usage: $name [-m MODEL.gguf] [-p MMPROJ.gguf] [-q QUESTION] [-n MAX] $ufile..." >&2; exit 2; }
	OPTIND=1
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
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/g4$kind.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT

	parts=""
	for f in "$@"; do parts="$parts{\"type\":\"$kind\"},"; done
	text="{\"type\":\"text\",\"text\":$(printf '%s' "$question" | json_str)}"
	if [ "$order" = text-first ]; then
		content="$text,${parts%,}"
	else
		content="$parts$text"
	fi
	req="[{\"role\":\"user\",\"content\":[$content]}]"

	# shellcheck disable=SC2086
	$embed -m "$mmproj" --vocab "$model" $t $G4_EMBED_OPTS "$@" >"$tmp/media.g4s"
	# shellcheck disable=SC2086
	printf '%s' "$req" | g4tok -m "$model" --chat |
		g4prefill -m "$model" $t --media "$tmp/media.g4s" |
		g4decode -m "$model" $t -n "$max" $G4_DECODE_OPTS
}
