#!/bin/sh
# The whole g4 pipeline on the golden micro-e2b model (random weights, a
# 382-token vocabulary): prompt -> g4prefill -> KV snapshot -> g4decode
# (greedy), then a check of the generated ids against the golden
# continuation computed by an independent float64 reference.
cd "$(dirname "$0")/.." || exit 1
PATH=$(pwd)/bin:$PATH
M=tests/data/micro-e2b-f32.gguf
TMP=${TMPDIR:-/tmp}/g4demo.$$
mkdir -p "$TMP" && trap 'rm -rf "$TMP"' EXIT
TEXT='Gemma 4 reads text in chunks: 512 tokens at a time, then 1,024 more.

She wrote "café" twice — and  stopped. Why? Nobody knew! It was 3:07 a.m.'
IDS="2 375 330 341 374 334 317 280 337 370 341 373 363 368 335 299 268 311 360 314 341 363 360 364 368 374 309 357 8 324 327 294 339 378 366 329 318 283 9 340 357 328 379 338 326 380 312 302 341 372 370 364 377 268 357 354 357"
GOLDEN="357 228 147 78 101 291 327 327 327 321 235 366 10 263 263 153"

if [ -x bin/g4tok ] && printf '%s' "$TEXT" | g4tok -m "$M" >"$TMP/prompt.g4s" 2>/dev/null; then
	echo "1. g4tok: the text -> a token stream ($(wc -c <"$TMP/prompt.g4s") bytes)"
else
	echo "1. the prompt as decimal ids (57 tokens; g4tok not available)"
	echo "$IDS" >"$TMP/prompt.g4s"
fi
g4prefill -m "$M" -o "$TMP/prompt.kv.zst" <"$TMP/prompt.g4s" || exit 1
echo "2. g4prefill: KV snapshot, $(wc -c <"$TMP/prompt.kv.zst") bytes (f16 K/V, zstd)"
got=$(g4decode -m "$M" -s "$TMP/prompt.kv.zst" --temp 0 --ids -n 16) || exit 1
echo "3. g4decode --temp 0: $got"
if [ -x bin/g4tok ]; then
	txt=$(echo "$got" | g4tok -m "$M" -d 2>/dev/null) && echo "   as text: $txt"
fi
echo "   golden continuation: $GOLDEN"
if [ "$got" = "$GOLDEN" ]; then
	echo "MATCH: the greedy ids equal the golden continuation"
else
	echo "MISMATCH: the greedy ids differ from the golden continuation"
	exit 1
fi
