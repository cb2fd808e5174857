# Pipeline tests of g4embed-audio (sourced lib.sh; run by tests/run.sh).
. tests/cmd/lib.sh
A=$G4_DATA/audio
M=$G4_DATA/mmproj-tiny-audio.gguf
T=$G4_TMP/ea
mkdir -p "$T"

# a PCM16 WAV of zeros: mkwav FILE RATE CH FRAMES
mkwav() {
	n=$(($4 * $3 * 2))
	{ printf RIFF; le32 $((36 + n)); printf 'WAVEfmt '; le32 16; le16 1; le16 "$3"; le32 "$2"
	  le32 $(($2 * $3 * 2)); le16 $(($3 * 2)); le16 16; printf data; le32 $n
	  head -c "$n" /dev/zero; } >"$1"
}
# u32 at byte offset: u32 FILE OFFSET
u32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }

expect help sh -c 'g4embed-audio --help | grep -q "^usage: g4embed-audio"'
expect version sh -c 'g4embed-audio --version | grep -q "^g4embed-audio (g4) "'
expect_fail no-args 2 g4embed-audio
expect_fail no-files 2 g4embed-audio -m "$M"
expect_fail bad-option 2 g4embed-audio --frobnicate -m "$M" "$A/aud1-chirp-noise-16k-mono.wav"
expect_fail bad-threads 2 g4embed-audio -t 0 -m "$M" "$A/aud1-chirp-noise-16k-mono.wav"

# aud1: 16 kHz mono, 33 tokens; stream = BOA, 33 x 256 block, EOA
if g4embed-audio -m "$M" --mel "$T/m1.f32" --embeddings "$T/e1.f32" \
	"$A/aud1-chirp-noise-16k-mono.wav" >"$T/s1.g4s"; then
	ok aud1-runs
	f32_close aud1-mel "$T/m1.f32" "$A/aud1.mel.f32" 1e-3
	f32_close aud1-embd "$T/e1.f32" "$A/aud1.tiny-audio.embd.f32" 1e-4
	# header 12 bytes; TOKENS [1, n=1, 256000]; EMBD [2 audio f32, rows, width]
	if [ "$(u32 "$T/s1.g4s" 20)" = 256000 ] && [ "$(u32 "$T/s1.g4s" 28)" = 33 ] &&
	   [ "$(u32 "$T/s1.g4s" 32)" = 256 ] && [ "$(u32 "$T/s1.g4s" $((36 + 33 * 1024 + 8)))" = 258883 ]; then
		ok aud1-stream
	else no aud1-stream "markers or block shape wrong"; fi
else no aud1-runs "exit $?"; fi

# a WAV through standard input gives the same rows
g4embed-audio -m "$M" --embeddings "$T/ep.f32" - <"$A/aud1-chirp-noise-16k-mono.wav" >/dev/null &&
cmp -s "$T/ep.f32" "$T/e1.f32" && ok stdin || no stdin "rows differ or failed"

# F16 model, stereo 16 kHz (aud3)
g4embed-audio -m "$G4_DATA/mmproj-tiny-audio-f16.gguf" --embeddings "$T/e3.f32" \
	"$A/aud3-am-16k-stereo.wav" >/dev/null && f32_close aud3-f16-embd "$T/e3.f32" "$A/aud3.tiny-audio-f16.embd.f32" 1e-4

# 44.1 kHz stereo (aud2): 18 rows; libsoxr differs from the golden resampler
# (scipy resample_poly) near 8 kHz, so only the shape and a loose bound
if g4embed-audio -m "$M" --embeddings "$T/e2.f32" "$A/aud2-tones-44k1-stereo.wav" >/dev/null; then
	f32_close aud2-44k1-stereo "$T/e2.f32" "$A/aud2.tiny-audio.embd.f32" 0.5
else no aud2-44k1-stereo "exit $?"; fi

# the same bytes for any thread count
g4embed-audio -t 1 -m "$M" "$A/aud1-chirp-noise-16k-mono.wav" >"$T/t1.g4s" &&
g4embed-audio -t 2 -m "$M" "$A/aud1-chirp-noise-16k-mono.wav" >"$T/t2.g4s" &&
cmp -s "$T/t1.g4s" "$T/t2.g4s" && ok threads-bitwise || no threads-bitwise "-t 1 and -t 2 differ"

# two files: two marker pairs, blocks in order; -o writes the same bytes
g4embed-audio -m "$M" -o "$T/two.g4s" "$A/aud1-chirp-noise-16k-mono.wav" "$A/aud3-am-16k-stereo.wav" &&
[ "$(wc -c <"$T/two.g4s")" -eq $((12 + 2 * 36 + (33 + 25) * 1024)) ] &&
ok two-files || no two-files "size $(wc -c <"$T/two.g4s" 2>/dev/null)"

# silence: 1 s of zeros at 8 kHz -> 25 rows; a clip shorter than one frame
mkwav "$T/sil.wav" 8000 1 8000
g4embed-audio -m "$M" --embeddings "$T/sil.f32" "$T/sil.wav" >/dev/null &&
[ "$(wc -c <"$T/sil.f32")" -eq $((25 * 1024)) ] && ok silence || no silence "wrong size"
mkwav "$T/short.wav" 16000 2 100
if g4embed-audio -m "$M" "$T/short.wav" >"$T/short.g4s" 2>"$T/short.err"; then
	[ "$(wc -c <"$T/short.g4s")" -eq 36 ] && grep -q warning "$T/short.err" &&
	ok short-clip || no short-clip "wanted BOA, EOA and a warning"
else no short-clip "exit $?"; fi

# corrupt and missing files: exit 1, one line, no output file left
printf 'RIFF\004\000\000\000WAVEjunk' >"$T/bad.wav"
expect_fail corrupt-wav 1 g4embed-audio -m "$M" "$T/bad.wav"
head -c 30 "$A/aud1-chirp-noise-16k-mono.wav" >"$T/cut.wav"
expect_fail truncated-header 1 g4embed-audio -m "$M" "$T/cut.wav"
expect_fail missing-file 1 g4embed-audio -m "$M" "$T/nope.wav"
expect_fail not-a-model 1 g4embed-audio -m "$A/aud1-chirp-noise-16k-mono.wav" "$T/sil.wav"
rm -f "$T/left.f32"
expect_fail no-partial-output 1 g4embed-audio -m "$M" --embeddings "$T/left.f32" "$T/sil.wav" "$T/bad.wav"
[ ! -e "$T/left.f32" ] && ok no-partial-file || no no-partial-file "left.f32 left behind"
# a bad second file: nothing at all on stdout
g4embed-audio -m "$M" "$T/sil.wav" "$T/bad.wav" >"$T/partial.g4s" 2>/dev/null
[ "$(wc -c <"$T/partial.g4s")" -eq 0 ] && ok no-partial-stream || no no-partial-stream "stream written"
# a vision-only mmproj is refused by name
g4embed-audio -m "$G4_DATA/mmproj-tiny-vision-e.gguf" "$T/sil.wav" 2>"$T/vis.err" >/dev/null
grep -q "not an audio mmproj" "$T/vis.err" && ok vision-mmproj || no vision-mmproj "$(cat "$T/vis.err")"
