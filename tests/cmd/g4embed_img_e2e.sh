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

# <bos><|turn>user\n [img1] " and" [img2] " Same? It was 3:07 a.m.<turn|>\n<|turn>model\n"
ids_stream 2 5 353 349 342 348 7 >"$T/pre.g4s"
ids_stream 283 341 >"$T/mid.g4s"
ids_stream 341 365 344 354 342 379 312 302 341 372 370 364 377 268 357 354 357 6 7 5 354 290 342 118 7 >"$T/post.g4s"
for pair in micro-e2b-256:e micro-dense-256:large; do
	m=${pair%%:*} v=${pair#*:}
	M=$G4_DATA/$m-f32.gguf
	if g4embed-img -m "$G4_DATA/mmproj-tiny-vision-$v.gguf" --vocab "$M" --tokens 70 \
		"$D/img1-gradient-64x48.png" >"$T/i1.g4s" &&
	   g4embed-img -m "$G4_DATA/mmproj-tiny-vision-$v.gguf" --vocab "$M" --tokens 70 \
		"$D/img2-palette-200x120.png" >"$T/i2.g4s"; then
		if cat "$T/pre.g4s" "$T/i1.g4s" "$T/mid.g4s" "$T/i2.g4s" "$T/post.g4s" |
			g4prefill -m "$M" --kv-type f32 --logits "$T/$m.f32" -o "$T/$m.kv"; then
			f32_close "c-two-images-$m" "$T/$m.f32" "$D/c-two-images.$m.ref.f32" 1e-3
		else no "c-two-images-$m" "g4prefill failed"; fi
	else no "c-two-images-$m" "g4embed-img failed"; fi
done

# a-image, text through g4tok: "<bos><|turn>user\n" [img1] "Why? Nobody knew!<turn|>\n<|turn>model\n".
# Both models read the E-family embeddings in the golden prompt (golden
# prompts.json), so both use mmproj-tiny-vision-e here.
for m in micro-e2b-256 micro-dense-256; do
	M=$G4_DATA/$m-f32.gguf
	printf '<|turn>user\n' | g4tok -m "$M" >"$T/a-pre.g4s" &&
	printf 'Why? Nobody knew!<turn|>\n<|turn>model\n' | g4tok -m "$M" --no-bos >"$T/a-post.g4s" &&
	g4embed-img -m "$G4_DATA/mmproj-tiny-vision-e.gguf" --vocab "$M" --tokens 70 \
		"$D/img1-gradient-64x48.png" >"$T/a-img.g4s" || { no "a-image-$m" "g4tok or g4embed-img failed"; continue; }
	if cat "$T/a-pre.g4s" "$T/a-img.g4s" "$T/a-post.g4s" |
		g4prefill -m "$M" --kv-type f32 --logits "$T/a-$m.f32" -o "$T/a-$m.kv"; then
		f32_close "a-image-$m" "$T/a-$m.f32" "$G4_DATA/multimodal/$m/a-image.ref.f32" 1e-3
	else no "a-image-$m" "g4prefill failed"; fi
done
