#!/bin/sh
# The examples in examples/ run on the tiny models and do what they say:
#  chat.sh          three turns kept in one snapshot file; the file is bit
#                   for bit the snapshot of its token history prefilled in
#                   one pass, and that history is the template's turns
#  batch-summarise  every document summarised; the same summaries with 1 and
#                   3 jobs, and the same as prefilling each whole prompt
#  dataset.mk       snapshots, N samples each, JSON lines; make -q is happy
#                   after a run; an edited prompt reruns only its prefill and
#                   samples, new decode options only the samples
#  quantise.sh      checkpoint folder -> Q4_K_M equals convert + quantise in
#                   two steps; GGUF -> Q4_K_M equals llama-quantize's file
#  image-question   the ids generated equal those of the same prompt built
#  audio-question   by hand (markers, rows) without media slots
. tests/cmd/lib.sh
E=examples
T=$G4_TMP/examples
rm -rf "$T"; mkdir -p "$T"
M=$G4_DATA/micro-e2b-f32.gguf
M256=$G4_DATA/micro-e2b-256-f32.gguf
TMPDIR=$T; export TMPDIR

# the token history of a snapshot file, as decimal ids (g4-formats(5))
history() {
	zstd -dcq "$1" >"$T/h.raw" || return 1
	nt=$(od -An -j48 -N8 -tu8 "$T/h.raw" | tr -d ' ')
	nl=$(od -An -j56 -N4 -tu4 "$T/h.raw" | tr -d ' ')
	od -An -v -j$((80 + 32 * nl)) -N$((4 * nt)) -td4 "$T/h.raw" | tr -s ' \n' '  ' | sed 's/^ *//; s/ *$//'
}

# ---- chat.sh ------------------------------------------------------------
S=$T/talk.kv.zst
if G4_DECODE_OPTS="--temp 0" sh $E/chat.sh -n 6 -s 'Be "terse".' "$S" "Hello there" >"$T/chat.out" &&
   G4_DECODE_OPTS="--temp 0" sh $E/chat.sh -n 6 "$S" "And you?" >>"$T/chat.out" &&
   printf 'Third\n\n' | G4_DECODE_OPTS="--temp 0" sh $E/chat.sh -n 6 "$S" >>"$T/chat.out"; then
	ok chat_runs
else
	no chat_runs "chat.sh failed"
fi
if [ "$(wc -l <"$T/chat.out")" -eq 3 ]; then ok chat_three_replies
else no chat_three_replies "$(wc -l <"$T/chat.out") reply lines, wanted 3"; fi
history "$S" >"$T/hist.txt"
if g4prefill -m "$M" -o "$T/onepass.kv.zst" <"$T/hist.txt" && zstd -dcq "$T/onepass.kv.zst" | cmp -s - "$T/h.raw"; then
	ok chat_snapshot_is_one_pass
else
	no chat_snapshot_is_one_pass "the snapshot differs from its history ($(wc -w <"$T/hist.txt") ids) prefilled in one pass"
fi
txt=$(g4tok -m "$M" -d --special "$T/hist.txt")
case $txt in
'<bos><|turn>system
Be "terse".<turn|>
<|turn>user
Hello there<turn|>
<|turn>model
'*'<turn|>
<|turn>user
And you?<turn|>
<|turn>model
'*'<turn|>
<|turn>user
Third<turn|>
<|turn>model
'*'<turn|>') ok chat_history;;
*) no chat_history "the conversation in the snapshot is not the template's turns: $txt";;
esac

# ---- batch-summarise.sh -------------------------------------------------
D=$T/docs; mkdir -p "$D"
printf 'Gemma 4 reads text in chunks.\nThen "more".\n' >"$D/a.txt"
printf 'She wrote café twice\tand stopped.\n' >"$D/b.txt"
printf 'Why?\fNobody knew!\n' >"$D/c d.txt"		# a form feed: a space in the JSON
export G4_DECODE_OPTS="--temp 0"
if sh $E/batch-summarise.sh -m "$M" -j 3 -n 6 "$D" "$T/sum3" && sh $E/batch-summarise.sh -m "$M" -j 1 -n 6 "$D" "$T/sum1"; then
	ok batch_runs
else
	no batch_runs "batch-summarise.sh failed"
fi
unset G4_DECODE_OPTS
n=0 bad=""
for f in "$D"/*; do
	b=$(basename "$f")
	[ -f "$T/sum3/$b.summary" ] && cmp -s "$T/sum3/$b.summary" "$T/sum1/$b.summary" || bad="$bad $b"
	n=$((n + 1))
done
if [ -z "$bad" ] && [ "$n" -eq 3 ]; then ok batch_jobs_agree; else no batch_jobs_agree "missing or different with -j 1 / -j 3:$bad"; fi
# the reference: each whole prompt prefilled from scratch
bad=""
for b in a.txt "c d.txt"; do
	body=$(sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/$(printf '\f')/ /g" "$D/$b" | awk '{ printf "%s\\n", $0 }')
	printf '[{"role":"system","content":"You summarise documents in three sentences."},{"role":"user","content":"Summarise this document:\\n\\n%s"}]' \
		"${body%\\n}" | g4tok -m "$M" --chat | g4prefill -m "$M" | g4decode -m "$M" -n 6 --temp 0 >"$T/ref.txt"
	cmp -s "$T/ref.txt" "$T/sum3/$b.summary" || bad="$bad $b"
done
if [ -z "$bad" ]; then ok batch_equals_whole_prompt; else no batch_equals_whole_prompt "differs from a one-pass prefill:$bad"; fi

# ---- dataset.mk -----------------------------------------------------------
P=$T/prompts; mkdir -p "$P"
printf 'Write a haiku about "caches".\n' >"$P/haiku.txt"
printf 'List three\tprimes.\nThen stop.\n' >"$P/primes.txt"
printf 'Why?\n' >"$P/why.txt"
mk() { make --no-print-directory -f $E/dataset.mk MODEL="$M" PROMPTS="$P" OUT="$T/ds" N=2 "$@"; }
if mk -j2 DECODE="-n 4" >"$T/mk1.log" 2>&1; then ok dataset_runs; else no dataset_runs "make failed: $(tail -2 "$T/mk1.log")"; fi
lines=$(grep -c '^{"prompt":"[a-z]*","seed":[12],"text":"\([^"\\]\|\\.\)*"}$' "$T/ds/dataset.jsonl" 2>/dev/null)
if [ "$lines" = 6 ] && [ "$(wc -l <"$T/ds/dataset.jsonl")" -eq 6 ] && [ -s "$T/ds/why.kv.zst" ] &&
   ! LC_ALL=C grep -q "$(printf '[\001-\037]')" "$T/ds/dataset.jsonl"; then
	ok dataset_jsonl
else
	no dataset_jsonl "dataset.jsonl: $lines well-formed lines of $(wc -l <"$T/ds/dataset.jsonl" 2>/dev/null)"
fi
if mk -q DECODE="-n 4"; then ok dataset_up_to_date; else no dataset_up_to_date "make -q: work left after a full run"; fi
printf 'Why not?\n' >"$P/why.txt"
mk -j2 DECODE="-n 4" >"$T/mk2.log" 2>&1
np=$(grep -c 'g4prefill' "$T/mk2.log") nd=$(grep -c 'g4decode' "$T/mk2.log")
if [ "$np" -eq 1 ] && [ "$nd" -eq 2 ] && grep -q 'why\.kv\.zst' "$T/mk2.log"; then ok dataset_reruns_changed
else no dataset_reruns_changed "after editing one prompt: $np prefills (want 1), $nd decodes (want 2)"; fi
mk -j2 DECODE="-n 5" >"$T/mk3.log" 2>&1
np=$(grep -c 'g4prefill' "$T/mk3.log") nd=$(grep -c 'g4decode' "$T/mk3.log")
if [ "$np" -eq 0 ] && [ "$nd" -eq 6 ]; then ok dataset_new_decode_opts
else no dataset_new_decode_opts "after changing DECODE: $np prefills (want 0), $nd decodes (want 6)"; fi
cp "$M" "$T/other-model.gguf" && touch -r "$M" "$T/other-model.gguf"	# another name, an old time stamp
make --no-print-directory -f $E/dataset.mk MODEL="$T/other-model.gguf" PROMPTS="$P" OUT="$T/ds" N=2 DECODE="-n 5" >"$T/mk4.log" 2>&1
np=$(grep -c 'g4prefill' "$T/mk4.log") nd=$(grep -c 'g4decode' "$T/mk4.log")
if [ "$np" -eq 3 ] && [ "$nd" -eq 6 ]; then ok dataset_new_model
else no dataset_new_model "after changing MODEL: $np prefills (want 3), $nd decodes (want 6)"; fi

# ---- quantise.sh ----------------------------------------------------------
if (cd "$T" && sh "$G4_ROOT/$E/quantise.sh" >"$T/q1.log" 2>&1) && [ -f "$T/micro-e2b-Q4_K_M.gguf" ] &&
   grep -q 'loads and decodes' "$T/q1.log"; then
	ok quantise_checkpoint
else
	no quantise_checkpoint "quantise.sh on the checkpoint folder: $(tail -2 "$T/q1.log")"
fi
g4quant -q "$G4_DATA/hf-micro-e2b-bf16" "$T/bf16.gguf" BF16 && g4quant -q "$T/bf16.gguf" "$T/two.gguf" Q4_K_M
if cmp -s "$T/two.gguf" "$T/micro-e2b-Q4_K_M.gguf"; then ok quantise_one_step_is_two_steps
else no quantise_one_step_is_two_steps "checkpoint -> Q4_K_M differs from checkpoint -> BF16 -> Q4_K_M"; fi
if sh $E/quantise.sh "$M" "$T/q.gguf" >"$T/q2.log" 2>&1 && cmp -s "$T/q.gguf" "$G4_DATA/micro-e2b-Q4_K_M.gguf"; then
	ok quantise_gguf
else
	no quantise_gguf "GGUF -> Q4_K_M differs from llama-quantize's file: $(tail -2 "$T/q2.log")"
fi

# ---- image-question.sh and audio-question.sh ------------------------------
# The reference prompt: the chat ids with the placeholder replaced by the
# encoder's stream (<|image> rows <image|>), no slots.
by_hand() {	# placeholder-string embed-stream chat-request -> ids
	ph=$(printf '%s' "$1" | g4tok -m "$M256" --no-bos --ids)
	all=$(printf '%s' "$3" | g4tok -m "$M256" --chat --ids)
	pre=${all%% "$ph" *} post=${all#* "$ph" }
	# shellcheck disable=SC2086
	{ ids_stream $pre; cat "$2"; ids_stream $post; } |
		g4prefill -m "$M256" | g4decode -m "$M256" -n 6 --temp 0 --ids
}
IMG=$G4_DATA/vision/img1-gradient-64x48.png
got=$(G4_EMBED_OPTS="--tokens 70" G4_DECODE_OPTS="--temp 0 --ids" sh $E/image-question.sh -n 6 -q "What is it?" "$IMG")
g4embed-img -m "$G4_DATA/mmproj-tiny-vision-e.gguf" --vocab "$M256" --tokens 70 "$IMG" >"$T/img.g4s"
want=$(by_hand '<|image|>' "$T/img.g4s" '[{"role":"user","content":[{"type":"image"},{"type":"text","text":"What is it?"}]}]')
if [ -n "$got" ] && [ "$got" = "$want" ] && [ "$(echo "$got" | wc -w)" -ge 1 ]; then ok image_question
else no image_question "ids '$got', by hand '$want'"; fi

AUD=$G4_DATA/audio/aud1-chirp-noise-16k-mono.wav
got=$(G4_DECODE_OPTS="--temp 0 --ids" sh $E/audio-question.sh -n 6 -q "Transcribe:" "$AUD")
g4embed-audio -m "$G4_DATA/mmproj-tiny-audio.gguf" --vocab "$M256" "$AUD" >"$T/aud.g4s"
want=$(by_hand '<|audio|>' "$T/aud.g4s" '[{"role":"user","content":[{"type":"text","text":"Transcribe:"},{"type":"audio"}]}]')
if [ -n "$got" ] && [ "$got" = "$want" ]; then ok audio_question
else no audio_question "ids '$got', by hand '$want'"; fi

# a missing image: a clear error, status 1
if sh $E/image-question.sh "$T/no-such.png" >/dev/null 2>"$T/err"; then no image_missing "exit 0"
elif grep -q '^g4embed-img: ' "$T/err"; then ok image_missing
else no image_missing "no 'g4embed-img: ...' message: $(head -c 200 "$T/err")"; fi
