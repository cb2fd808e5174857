# Pipeline tests of g4embed-img: options, errors, golden pixels and
# embeddings through the command, no partial output files.
. tests/cmd/lib.sh
D=$G4_DATA/vision
T=$G4_TMP/embimg
mkdir -p "$T"
M=$G4_DATA/mmproj-tiny-vision-e.gguf

g4embed-img --help >"$T/help.out" && grep -q "^usage: g4embed-img" "$T/help.out" && ok help || no help "--help"
g4embed-img --version | grep -q '^g4embed-img (g4) ' && ok version || no version "bad --version line"
expect_fail no_model 2 g4embed-img "$D/img1-gradient-64x48.png"
expect_fail no_image 2 g4embed-img -m "$M"
expect_fail bad_budget 2 g4embed-img -m "$M" --tokens 100 "$D/img1-gradient-64x48.png"
expect_fail bad_option 2 g4embed-img -m "$M" --frobnicate "$D/img1-gradient-64x48.png"
expect_fail bad_threads 2 g4embed-img -m "$M" -t 0 "$D/img1-gradient-64x48.png"

# not an image, truncated image, missing file, a model that is not an mmproj
printf 'GIF89a not really' >"$T/x.gif"
expect_fail not_image 1 g4embed-img -m "$M" --tokens 70 "$T/x.gif"
head -c 500 "$D/img3-gray-alpha-500x340.png" >"$T/cut.png"
expect_fail truncated 1 g4embed-img -m "$M" --tokens 70 "$T/cut.png"
expect_fail missing 1 g4embed-img -m "$M" "$T/nonexistent.png"
expect_fail bad_model 1 g4embed-img -m "$D/img1-gradient-64x48.png" "$D/img1-gradient-64x48.png"

# an error after the first image leaves no --embeddings / --pixels file
rm -f "$T/e.f32" "$T/p.f32"
g4embed-img -m "$M" --tokens 70 --embeddings "$T/e.f32" --pixels "$T/p.f32" \
	"$D/img1-gradient-64x48.png" "$T/cut.png" >"$T/s.out" 2>/dev/null
if [ $? -eq 1 ] && [ ! -e "$T/e.f32" ] && [ ! -e "$T/p.f32" ]; then ok no_partial_files
else no no_partial_files "exit status or leftover output files"; fi

# golden pixels (exact) and embeddings (max |diff| <= 1e-4)
maxdiff() {	# a.f32 b.f32 -> max |a-b|, or "size" if the sizes differ
	[ "$(wc -c <"$1")" -eq "$(wc -c <"$2")" ] || { echo size; return; }
	od -An -v -f -w4 "$1" >"$T/a.txt"
	od -An -v -f -w4 "$2" >"$T/b.txt"
	paste "$T/a.txt" "$T/b.txt" |
		awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g\n", m }'
}
if g4embed-img -m "$M" -t 2 --tokens 70 --pixels "$T/p.f32" --embeddings "$T/e.f32" \
	"$D/img1-gradient-64x48.png" >"$T/s.out"; then
	sum=$(sha256sum <"$T/p.f32" | cut -d' ' -f1)
	[ "$sum" = 38c8e77263041e1722648b63c40f71e873262e38ef729257e32f453379058aaa ] &&
		ok golden_pixels || no golden_pixels "sha256 $sum"
	d=$(maxdiff "$T/e.f32" "$D/img1.tiny-vision-e.embd.f32")
	awk -v d="$d" 'BEGIN { exit !(d != "size" && d + 0 <= 1e-4) }' &&
		ok golden_embeddings || no golden_embeddings "max |diff| $d"
	# the stream: header + BOI + block of 63x256 f32 + EOI, so at least the rows
	[ "$(wc -c <"$T/s.out")" -gt $((63 * 256 * 4)) ] && ok stream_size || no stream_size "stream too short"
else
	no golden_pixels "g4embed-img failed"
fi

# several images in one run: rows of both, in order
if g4embed-img -m "$G4_DATA/mmproj-tiny-vision-large.gguf" --tokens 70 --embeddings "$T/e2.f32" \
	"$D/img1-gradient-64x48.png" "$D/img2-palette-200x120.png" >"$T/s2.out"; then
	head -c $((63 * 256 * 4)) "$T/e2.f32" >"$T/e2a.f32"
	tail -c $((60 * 256 * 4)) "$T/e2.f32" >"$T/e2b.f32"
	da=$(maxdiff "$T/e2a.f32" "$D/img1.tiny-vision-large.embd.f32")
	db=$(maxdiff "$T/e2b.f32" "$D/img2.tiny-vision-large.embd.f32")
	[ "$(wc -c <"$T/e2.f32")" -eq $((123 * 256 * 4)) ] &&
	awk -v a="$da" -v b="$db" 'BEGIN { exit !(a + 0 <= 1e-4 && b + 0 <= 1e-4) }' &&
		ok two_images || no two_images "max |diff| $da, $db"
else
	no two_images "g4embed-img failed"
fi

# --vocab: marker ids from a text model's vocabulary; one without them is an error
expect_fail vocab_without_markers 1 g4embed-img -m "$M" --vocab "$G4_DATA/micro-e2b-f32.gguf" \
	--tokens 70 "$D/img1-gradient-64x48.png"
if g4embed-img -m "$M" --vocab "$G4_DATA/micro-e2b-256-f32.gguf" --tokens 70 \
	"$D/img1-gradient-64x48.png" >"$T/v.out" && g4embed-img -m "$M" --tokens 70 \
	"$D/img1-gradient-64x48.png" >"$T/nv.out"; then
	[ "$(wc -c <"$T/v.out")" -eq "$(wc -c <"$T/nv.out")" ] && ! cmp -s "$T/v.out" "$T/nv.out" &&
		ok vocab_ids || no vocab_ids "same stream with and without --vocab"
else
	no vocab_ids "g4embed-img failed"
fi

# video: 10 frames in a directory, 4 sampled at floor(i*10/4) = 0 2 5 7,
# labelled MM:SS at 0.1 frames per second (0, 20, 50, 70 s), frames joined
# by one space; the default of 32 frames needs at least 32
V=$T/frames
mkdir -p "$V"
for i in 0 1 2 3 4 5 6 7 8 9; do cp "$D/img1-gradient-64x48.png" "$V/f$i.png"; done
V256=$G4_DATA/micro-e2b-256-f32.gguf
expect_fail video_needs_vocab 2 g4embed-img -m "$M" --video "$V"
expect_fail video_too_few 1 g4embed-img -m "$M" --video --vocab "$V256" "$V"
if g4embed-img -m "$M" --video --vocab "$V256" --frames 4 --fps 0.1 --embeddings "$T/ve.f32" \
	"$V" >"$T/v.g4s" && g4tok -m "$V256" -d --special "$T/v.g4s" >"$T/v.txt"; then
	want='00:00 <|image><|image|><image|> 00:20 <|image><|image|><image|> 00:50 <|image><|image|><image|> 01:10 <|image><|image|><image|>'
	[ "$(cat "$T/v.txt")" = "$want" ] && ok video_labels || no video_labels "got: $(head -c 200 "$T/v.txt")"
	# 4 frames of 63 rows (budget 70) each
	[ "$(wc -c <"$T/ve.f32")" -eq $((4 * 63 * 256 * 4)) ] && ok video_rows || no video_rows "wrong row count"
else
	no video_labels "g4embed-img --video failed"
fi
