# End to end: the golden multimodal audio prompt b-audio rebuilt from the
# WAV (g4embed-audio) and run through g4prefill; logits vs the float64
# reference (golden README §5.6: max |d| <= 1e-3 at every position), and
# the greedy continuation of the reference.
. tests/cmd/lib.sh
A=$G4_DATA/audio
T=$G4_TMP/e2e
mkdir -p "$T"

# <bos><|turn>user\n  [<|audio> 33 rows <audio|>]  She wrote "café" twice.<turn|>\n<|turn>model\n
ids_stream 2 5 353 349 342 348 7 >"$T/pre.g4s"
ids_stream 324 327 294 339 378 366 329 357 6 7 5 354 290 342 118 7 >"$T/post.g4s"
greedy_micro_e2b_256="176 176 176 66 382 189 210 358"
greedy_micro_dense_256="215 386 130 130 214 225 322 212"
for m in micro-e2b-256 micro-dense-256; do
	M=$G4_DATA/$m-f32.gguf
	if g4embed-audio -m "$G4_DATA/mmproj-tiny-audio.gguf" --vocab "$M" \
		"$A/aud1-chirp-noise-16k-mono.wav" >"$T/aud.g4s"; then
		cat "$T/pre.g4s" "$T/aud.g4s" "$T/post.g4s" |
		g4prefill -m "$M" --kv-type f32 --logits "$T/$m.f32" -o "$T/$m.kv" &&
		f32_close "b-audio-$m" "$T/$m.f32" "$A/b-audio.$m.ref.f32" 1e-3 ||
		no "b-audio-$m" "g4prefill failed"
		# the 8 greedy tokens of the reference
		want=$(eval echo "\$greedy_$(echo $m | tr - _)")
		got=$(g4decode -m "$M" -s "$T/$m.kv" --temp 0 --ids -n 8)
		[ "$got" = "$want" ] && ok "b-audio-greedy-$m" || no "b-audio-greedy-$m" "got '$got', want '$want'"
	else no "b-audio-$m" "g4embed-audio failed"; fi
done
