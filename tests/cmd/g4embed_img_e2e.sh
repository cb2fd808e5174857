# End to end: the golden multimodal prompt c-two-images (golden README §5)
# rebuilt from the PNGs with g4embed-img and run through g4prefill on both
# 256-wide micro models; logits against the float64 reference, max |d| <=
# 1e-3 at every position (image rows included).  micro-e2b-256 (E2B style)
# keeps image rows causal; micro-dense-256 (31B style) makes each image
# bidirectional on sliding layers: a wrong mask is off by up to 13.
. tests/cmd/lib.sh
D=$G4_DATA/vision
T=$G4_TMP/imge2e
mkdir -p "$T"

# a token stream (g4-formats(5), version 1) holding the given ids
u8() { printf "\\$(printf %03o "$1")"; }
u32() { u8 $(($1 & 255)); u8 $(($1 >> 8 & 255)); u8 $(($1 >> 16 & 255)); u8 $(($1 >> 24 & 255)); }
ids() {
	printf '\211G4S\r\n\032\n'
	u32 1
	u8 1; u8 0; u8 0; u8 0
	u32 $#
	for i in "$@"; do u32 "$i"; done
}
maxdiff() {	# name got.f32 want.f32 tolerance
	if [ "$(wc -c <"$2")" -ne "$(wc -c <"$3")" ]; then no "$1" "sizes differ"; return; fi
	od -An -v -f -w4 "$2" >"$T/a.txt"
	od -An -v -f -w4 "$3" >"$T/b.txt"
	d=$(paste "$T/a.txt" "$T/b.txt" | awk -v t="$4" '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d }
		END { printf "%g", m; exit !(m <= t) }') && ok "$1" || no "$1" "max |d| $d > $4"
}

# <bos><|turn>user\n [img1] " and" [img2] " Same? It was 3:07 a.m.<turn|>\n<|turn>model\n"
ids 2 5 353 349 342 348 7 >"$T/pre.g4s"
ids 283 341 >"$T/mid.g4s"
ids 341 365 344 354 342 379 312 302 341 372 370 364 377 268 357 354 357 6 7 5 354 290 342 118 7 >"$T/post.g4s"
for pair in micro-e2b-256:e micro-dense-256:large; do
	m=${pair%%:*} v=${pair#*:}
	M=$G4_DATA/$m-f32.gguf
	if g4embed-img -m "$G4_DATA/mmproj-tiny-vision-$v.gguf" --vocab "$M" --tokens 70 \
		"$D/img1-gradient-64x48.png" >"$T/i1.g4s" &&
	   g4embed-img -m "$G4_DATA/mmproj-tiny-vision-$v.gguf" --vocab "$M" --tokens 70 \
		"$D/img2-palette-200x120.png" >"$T/i2.g4s"; then
		if cat "$T/pre.g4s" "$T/i1.g4s" "$T/mid.g4s" "$T/i2.g4s" "$T/post.g4s" |
			g4prefill -m "$M" --kv-type f32 --logits "$T/$m.f32" -o "$T/$m.kv"; then
			maxdiff "c-two-images-$m" "$T/$m.f32" "$D/c-two-images.$m.ref.f32" 1e-3
		else no "c-two-images-$m" "g4prefill failed"; fi
	else no "c-two-images-$m" "g4embed-img failed"; fi
done
