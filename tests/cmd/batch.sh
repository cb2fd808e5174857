# Many documents per stream: g4prefill over document streams and id lines,
# snapshot streams into g4decode (-b, --samples, --jsonl, -0), -o patterns,
# --score against the golden logits.  Every batched result must equal the
# same document run alone.
. tests/cmd/lib.sh
D=$G4_DATA; T=$G4_TMP
E2B=$D/micro-e2b-f32.gguf
TEXT="2 375 330 341 374 334 317 280 337 370 341 373 363 368 335 299 268 311 360 314 341 363 360 364 368 374 309 357 8 324 327 294 339 378 366 329 318 283 9 340 357 328 379 338 326 380 312 302 341 372 370 364 377 268 357 354 357"
L1="2 10 20 30"
L2="2 375 330 341 374 334 317 280 337 370 341 373 363 368 335 299 268 311 360 314 341 363 360 364 368 374 309 357 8 324 327 294 339 378 366 329 318 283 9 340 357 328 379 338 326 380 312 302 341 372 370 364 377 268 357 354 357 7 9 11 13 15 17 19 21 23 25 27 29 31 33 35 37 39"
L3="2 99"
printf '%s\n\n%s\n%s\n%s\n' "$L1" "$L2" "$L3" "$TEXT" >"$T/docs.txt"

# prefill: a stream of four documents = the four single snapshots, in order
g4prefill -m "$E2B" -o "$T/all.kv" --logits "$T/all.f32" -t 2 <"$T/docs.txt"
: >"$T/one.kv"; : >"$T/one.f32"
i=0
for l in "$L1" "$L2" "$L3" "$TEXT"; do
	echo "$l" | g4prefill -m "$E2B" -o "$T/s$i.kv" --logits "$T/l$i.f32" -t 1
	cat "$T/s$i.kv" >>"$T/one.kv"; cat "$T/l$i.f32" >>"$T/one.f32"
	i=$((i + 1))
done
cmp -s "$T/all.kv" "$T/one.kv" && ok prefill_stream_equals_singles || no prefill_stream_equals_singles "snapshot streams differ"
cmp -s "$T/all.f32" "$T/one.f32" && ok prefill_logits_equal_singles || no prefill_logits_equal_singles "logits differ"

# -o pattern: one file per document, numbered from 0
mkdir -p "$T/pat"
g4prefill -m "$E2B" -o "$T/pat/doc-%06d.kv.zst" <"$T/docs.txt"
good=1
for i in 0 1 2 3; do cmp -s "$T/pat/doc-00000$i.kv.zst" "$T/s$i.kv" || good=0; done
[ -e "$T/pat/doc-000004.kv.zst" ] && good=0
[ $good = 1 ] && ok pattern_files || no pattern_files "files differ from single runs"
for p in "$T/x.kv" "$T/%d-%d.kv" "$T/%s.kv" "$T/%5.2d"; do
	[ "$p" = "$T/x.kv" ] && continue
	echo 2 | g4prefill -m "$E2B" -o "$p" >/dev/null 2>&1; rc=$?
	[ $rc -eq 2 ] || { no pattern_refused "'$p' gave exit $rc"; good=0; }
done
[ $good = 1 ] && ok pattern_refused

# with a -s prefix: every document continues it
echo "2 5 6 7" | g4prefill -m "$E2B" -o "$T/pre.kv"
g4prefill -m "$E2B" -s "$T/pre.kv" -o "$T/pall.kv" <"$T/docs.txt"
: >"$T/pone.kv"
for l in "$L1" "$L2" "$L3" "$TEXT"; do
	echo "$l" | g4prefill -m "$E2B" -s "$T/pre.kv" >>"$T/pone.kv"
done
cmp -s "$T/pall.kv" "$T/pone.kv" && ok prefix_stream || no prefix_stream "differs from single runs"

# empty documents in a token stream (a boundary with nothing before it)
printf 'hello world' >"$T/a.txt"; : >"$T/e.txt"; printf 'one two' >"$T/b.txt"
g4tok -m "$E2B" --no-bos "$T/a.txt" "$T/e.txt" "$T/b.txt" | g4prefill -m "$E2B" | g4decode -m "$E2B" --temp 0 -n 4 --jsonl >"$T/empty.jsonl"
sed -n 2p "$T/empty.jsonl" | grep -q '"doc": 1, "text": "", "ids": \[\], "n_tokens": 0, "finish": "empty"' &&
	[ "$(wc -l <"$T/empty.jsonl")" -eq 3 ] && ok empty_document || no empty_document "$(cat "$T/empty.jsonl")"

# decode: any -b and -t gives what each snapshot gives alone
: >"$T/single.ids"
for i in 0 1 2 3; do g4decode -m "$E2B" -s "$T/s$i.kv" --temp 0.9 --seed 5 --ids -n 12 >>"$T/single.ids"; done
good=1
for bt in "1 1" "2 2" "3 1" "16 2"; do
	set -- $bt
	g4decode -m "$E2B" -s "$T/all.kv" --temp 0.9 --seed 5 --ids -n 12 -b $1 -t $2 >"$T/b.ids"
	cmp -s "$T/b.ids" "$T/single.ids" || { no batch_decode_ids "-b $1 -t $2 differs"; good=0; }
done
[ $good = 1 ] && ok batch_decode_ids
# snapshots after generation too
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 --ids -n 6 -b 4 -o "$T/after.kv" >/dev/null
: >"$T/after1.kv"
for i in 0 1 2 3; do g4decode -m "$E2B" -s "$T/s$i.kv" --temp 0 --ids -n 6 -o "$T/a1.kv" >/dev/null; cat "$T/a1.kv" >>"$T/after1.kv"; done
cmp -s "$T/after.kv" "$T/after1.kv" && ok batch_decode_snapshots || no batch_decode_snapshots "differ from single runs"

# text: a blank line between documents; -0: NUL after each
: >"$T/single.txt"; n=0
for i in 0 1 2 3; do
	[ $n -gt 0 ] && echo >>"$T/single.txt"
	g4decode -m "$E2B" -s "$T/s$i.kv" --temp 0 -n 8 >>"$T/single.txt"; n=1
done
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 8 -b 3 >"$T/b.txt"
cmp -s "$T/b.txt" "$T/single.txt" && ok batch_text || no batch_text "differs from single runs"
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 8 -b 3 -0 >"$T/z.txt"
[ "$(tr -cd '\000' <"$T/z.txt" | wc -c)" -eq 4 ] && [ "$(tail -c 1 "$T/z.txt" | od -An -c | tr -d ' ')" = '\0' ] &&
	ok nul_separated || no nul_separated "not four NUL-terminated documents"

# --samples K: sample j is the single run with seed + j
g4decode -m "$E2B" -s "$T/all.kv" --temp 1 --seed 10 --samples 3 --ids -n 8 -b 5 >"$T/k.ids"
: >"$T/k1.ids"
for i in 0 1 2 3; do for j in 0 1 2; do
	g4decode -m "$E2B" -s "$T/s$i.kv" --temp 1 --seed $((10 + j)) --ids -n 8 >>"$T/k1.ids"
done; done
cmp -s "$T/k.ids" "$T/k1.ids" && ok samples || no samples "differ from single runs with seed+j"

# --jsonl: one valid object per document, fields as documented
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 6 --jsonl -b 2 --stop 'zz' >"$T/o.jsonl"
[ "$(wc -l <"$T/o.jsonl")" -eq 4 ] && ok jsonl_lines || no jsonl_lines "not 4 lines"
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import json, sys
for i, l in enumerate(open(sys.argv[1])):
    o = json.loads(l)
    assert list(o) == ["doc", "text", "ids", "n_tokens", "finish"], list(o)
    assert o["doc"] == i and o["n_tokens"] == len(o["ids"]) and o["finish"] in ("eos", "stop", "length")
    assert isinstance(o["text"], str)
' "$T/o.jsonl" && ok jsonl_valid || no jsonl_valid "bad JSON lines"
else
	grep -c '^{"doc": [0-9]*, "text": ".*", "ids": \[[0-9, ]*\], "n_tokens": [0-9]*, "finish": "[a-z]*"}$' "$T/o.jsonl" |
		grep -qx 4 && ok jsonl_valid || no jsonl_valid "bad JSON lines"
fi
i=0; good=1
while read -r line; do
	want=$(g4decode -m "$E2B" -s "$T/s$i.kv" --temp 0 -n 6 --ids)
	got=$(echo "$line" | sed 's/.*"ids": \[\([^]]*\)\].*/\1/' | tr -d ',')
	[ "$got" = "$want" ] || good=0
	i=$((i + 1))
done <"$T/o.jsonl"
[ $good = 1 ] && ok jsonl_ids || no jsonl_ids "ids differ from single runs"

# --score: the log-softmax of the golden float64 logits
echo "$TEXT" | g4prefill -m "$E2B" --kv-type f32 --score --per-token >"$T/score.json"
[ "$(wc -l <"$T/score.json")" -eq 1 ] && ok score_one_line || no score_one_line "$(cat "$T/score.json")"
od -An -v -f -w1528 "$D/logits/micro-e2b/text.ref.f32" >"$T/ref.rows"
echo "$TEXT" | awk -v scf="$T/score.json" '
	NR == 1 { n = split($0, tok, " "); next }
	{ r = NR - 1; if (r >= n) next; mx = -1e30
	  for (i = 1; i <= NF; i++) if ($i + 0 > mx) mx = $i + 0
	  s = 0; for (i = 1; i <= NF; i++) s += exp($i - mx)
	  lp[r] = $(tok[r + 1] + 1) - mx - log(s); L += lp[r] }
	END {
	  getline line < scf
	  if (line !~ /"n_tokens": 57,/) { print "bad n_tokens: " line; exit 1 }
	  sub(/.*"logprob": /, "", line); got = line + 0
	  if ((got - L) > 0.02 || (L - got) > 0.02) { print "logprob " got " vs " L; exit 1 }
	  line2 = line; sub(/.*"ppl": /, "", line2); ppl = line2 + 0; want = exp(-L / 56)
	  if ((ppl - want) / want > 1e-3 || (want - ppl) / want > 1e-3) { print "ppl " ppl " vs " want; exit 1 }
	  sub(/.*"per_token": \[/, "", line); sub(/\].*/, "", line)
	  k = split(line, pt, ", "); if (k != 56) { print k " per-token values"; exit 1 }
	  for (i = 1; i <= 56; i++) { d = pt[i] - lp[i]; if (d < 0) d = -d; if (d > 2e-3) { print "token " i ": " pt[i] " vs " lp[i]; exit 1 } }
	}' - "$T/ref.rows" >"$T/score.why" && ok score_vs_reference || no score_vs_reference "$(cat "$T/score.why")"
g4prefill -m "$E2B" --score <"$T/docs.txt" >"$T/scores.json"
g4prefill -m "$E2B" --score -o "$T/sc.kv" <"$T/docs.txt" >"$T/scores2.json"
[ "$(wc -l <"$T/scores.json")" -eq 4 ] && cmp -s "$T/scores.json" "$T/scores2.json" && cmp -s "$T/sc.kv" "$T/all.kv" &&
	sed -n 4p "$T/scores.json" | grep -q '^{"doc": 3, "n_tokens": 57,' && ok score_stream || no score_stream "$(cat "$T/scores.json")"

# a stream of many tiny documents through the pipeline, order kept
awk 'BEGIN { for (i = 0; i < 300; i++) print 2, (i % 300) + 10 }' |
	g4prefill -m "$E2B" | g4decode -m "$E2B" --temp 0 --ids -n 2 -b 8 >"$T/many.ids"
[ "$(wc -l <"$T/many.ids")" -eq 300 ] && [ "$(sed -n 137p "$T/many.ids")" = "$(echo "2 146" | g4prefill -m "$E2B" | g4decode -m "$E2B" --temp 0 --ids -n 2)" ] &&
	ok many_documents || no many_documents "count or order"

expect_fail bad_samples 2 g4decode -m "$E2B" --samples 0
expect_fail bad_batch 2 g4decode -m "$E2B" -b 0
expect_fail ids_and_jsonl 2 g4decode -m "$E2B" --ids --jsonl
