# End to end: the golden multimodal audio prompt b-audio rebuilt from the
# WAV (g4embed-audio) and run through g4prefill; logits vs the float64
# reference (golden README §5.6: max |d| <= 1e-3 at every position), and
# the greedy continuation of the reference.
. tests/cmd/lib.sh
A=$G4_DATA/audio
T=$G4_TMP/e2e
mkdir -p "$T"

le16() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
# a token stream (g4-formats(5) version 1) of the given ids
ids() {
	printf '\211G4S\r\n\032\n'; le32 1
	printf '\001\000\000\000'; le32 $#
	for i in "$@"; do le32 "$i"; done
}
fclose() {
	if [ "$(wc -c <"$2")" -ne "$(wc -c <"$3")" ]; then no "$1" "sizes differ: $2 $3"; return; fi
	od -An -v -f "$2" | tr -s ' ' '\n' | grep . >"$T/a.txt"
	od -An -v -f "$3" | tr -s ' ' '\n' | grep . >"$T/b.txt"
	d=$(paste "$T/a.txt" "$T/b.txt" | awk -v t="$4" '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d }
		END { printf "%g", m; exit !(m <= t) }') && ok "$1" || no "$1" "max |d| $d > $4"
}

# <bos><|turn>user\n  [<|audio> 33 rows <audio|>]  She wrote "café" twice.<turn|>\n<|turn>model\n
ids 2 5 353 349 342 348 7 >"$T/pre.g4s"
ids 324 327 294 339 378 366 329 357 6 7 5 354 290 342 118 7 >"$T/post.g4s"
greedy_micro_e2b_256="176 176 176 66 382 189 210 358"
greedy_micro_dense_256="215 386 130 130 214 225 322 212"
for m in micro-e2b-256 micro-dense-256; do
	M=$G4_DATA/$m-f32.gguf
	if g4embed-audio -m "$G4_DATA/mmproj-tiny-audio.gguf" --vocab "$M" \
		"$A/aud1-chirp-noise-16k-mono.wav" >"$T/aud.g4s"; then
		cat "$T/pre.g4s" "$T/aud.g4s" "$T/post.g4s" |
		g4prefill -m "$M" --kv-type f32 --logits "$T/$m.f32" -o "$T/$m.kv" &&
		fclose "b-audio-$m" "$T/$m.f32" "$A/b-audio.$m.ref.f32" 1e-3 ||
		no "b-audio-$m" "g4prefill failed"
		# the 8 greedy tokens of the reference
		want=$(eval echo "\$greedy_$(echo $m | tr - _)")
		got=$(g4decode -m "$M" -s "$T/$m.kv" --temp 0 --ids -n 8)
		[ "$got" = "$want" ] && ok "b-audio-greedy-$m" || no "b-audio-greedy-$m" "got '$got', want '$want'"
	else no "b-audio-$m" "g4embed-audio failed"; fi
done
