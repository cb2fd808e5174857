# g4prefill and g4decode on the golden micro models (tests/data).
. tests/cmd/lib.sh
D=$G4_DATA; T=$G4_TMP
E2B=$D/micro-e2b-f32.gguf
TEXT="2 375 330 341 374 334 317 280 337 370 341 373 363 368 335 299 268 311 360 314 341 363 360 364 368 374 309 357 8 324 327 294 339 378 366 329 318 283 9 340 357 328 379 338 326 380 312 302 341 372 370 364 377 268 357 354 357"
GREEDY="357 228 147 78 101 291 327 327 327 321 235 366 10 263 263 153"

# max |a-b| over two float32 files; prints "inf" if the sizes differ
maxdiff() {
	a=$(wc -c <"$1"); b=$(wc -c <"$2")
	[ "$a" -eq "$b" ] || { echo inf; return; }
	od -An -v -f -w4 "$1" >"$T/md.a"; od -An -v -f -w4 "$2" >"$T/md.b"
	paste -d' ' "$T/md.a" "$T/md.b" |
		awk '{d=$1-$2; if(d<0)d=-d; if(d>m)m=d} END{printf "%.3g\n", m+0}'
}
within() { awk -v d="$1" -v b="$2" 'BEGIN{exit !(d != "inf" && d+0 <= b+0)}'; }

expect help sh -c 'g4prefill --help >/dev/null'
expect help_decode sh -c 'g4decode --help >/dev/null'
g4prefill --version | grep -q '^g4prefill (g4) ' && ok version || no version "bad --version"
expect_fail usage_no_model 2 sh -c 'echo 2 | g4prefill'
g4prefill -m "$E2B" --kv-type f8 </dev/null >/dev/null 2>&1; [ $? -eq 2 ] && ok usage_kv_type || no usage_kv_type "not exit 2"
expect_fail no_model_file 1 sh -c "echo 2 | g4prefill -m $T/none.gguf"
expect_fail q8_0_refused 1 sh -c "echo 2 | g4prefill -m $E2B --kv-type q8_0"
expect_fail bad_id 1 sh -c "echo 2 382 | g4prefill -m $E2B"

# one pass: logits within 1e-3 of the reference
echo "$TEXT" | g4prefill -m "$E2B" --kv-type f32 --logits "$T/all.f32" --logits-last "$T/last.f32" -o "$T/all.kv" -t 2
d=$(maxdiff "$T/all.f32" "$D/logits/micro-e2b/text.ref.f32")
within "$d" 1e-3 && ok logits_vs_reference || no logits_vs_reference "max |d| $d"
tail -c 1528 "$T/all.f32" | cmp -s - "$T/last.f32" && ok logits_last || no logits_last "differs from the last row"

# split over two -s steps: bitwise the same logits and snapshot
first=$(echo "$TEXT" | cut -d' ' -f1-20); rest=$(echo "$TEXT" | cut -d' ' -f21-)
echo "$first" | g4prefill -m "$E2B" --kv-type f32 --logits "$T/s1.f32" -o "$T/s1.kv" -t 1
echo "$rest" | g4prefill -m "$E2B" -s "$T/s1.kv" --logits "$T/s2.f32" -o "$T/s2.kv"
cat "$T/s1.f32" "$T/s2.f32" | cmp -s - "$T/all.f32" && ok split_logits || no split_logits "split differs from one pass"
cmp -s "$T/s2.kv" "$T/all.kv" && ok split_snapshot || no split_snapshot "snapshots differ"

# greedy continuation
got=$(g4decode -m "$E2B" -s "$T/all.kv" --temp 0 --ids -n 16)
[ "$got" = "$GREEDY" ] && ok greedy || no greedy "got '$got'"
got=$(echo "$TEXT" | g4prefill -m "$E2B" | g4decode -m "$E2B" --temp 0 --ids -n 16 -t 1)
[ "$got" = "$GREEDY" ] && ok greedy_f16_pipe || no greedy_f16_pipe "got '$got'"

# decode -o, then prefill -s goes on exactly after what was printed
g4decode -m "$E2B" -s "$T/s1.kv" --temp 0 --ids -n 5 -o "$T/d.kv" >"$T/d.ids"
echo "7 8" | g4prefill -m "$E2B" -s "$T/d.kv" --logits-last "$T/d.last" >/dev/null
(echo "$first" | tr '\n' ' '; cat "$T/d.ids" | tr '\n' ' '; echo "7 8") |
	g4prefill -m "$E2B" --kv-type f32 --logits-last "$T/one.last" >/dev/null
cmp -s "$T/d.last" "$T/one.last" && ok decode_then_prefill || no decode_then_prefill "differs from one pass"

# sampling: same seed, same output, any -t
a=$(g4decode -m "$E2B" -s "$T/all.kv" --temp 1 --seed 7 --ids -n 12 -t 1)
b=$(g4decode -m "$E2B" -s "$T/all.kv" --temp 1 --seed 7 --ids -n 12 -t 2)
[ -n "$a" ] && [ "$a" = "$b" ] && ok seed_repeatable || no seed_repeatable "'$a' vs '$b'"

# foreign, truncated, garbage snapshots
expect_fail foreign_snapshot 1 g4decode -m "$D/micro-e2b-Q8_0.gguf" -s "$T/all.kv" --ids
head -c 100 "$T/all.kv" >"$T/trunc.kv"
expect_fail truncated_snapshot 1 g4decode -m "$E2B" -s "$T/trunc.kv" --ids
cp "$T/all.kv" "$T/flip.kv"
printf '\125' | dd of="$T/flip.kv" bs=1 seek=3000 conv=notrunc 2>/dev/null
expect_fail bitflip_snapshot 1 g4decode -m "$E2B" -s "$T/flip.kv" --ids
echo "hello" >"$T/garbage.kv"
expect_fail garbage_snapshot 1 g4decode -m "$E2B" -s "$T/garbage.kv" --ids
expect_fail foreign_prefill 1 sh -c "echo 5 | g4prefill -m $D/micro-dense-f32.gguf -s $T/all.kv"

# two documents -> two snapshots; the second decodes like its own prefill
printf '%s\n%s\n' "$first" "$TEXT" | g4prefill -m "$E2B" -o "$T/two.kv"
got=$(g4decode -m "$E2B" -s "$T/two.kv" --temp 0 --ids -n 16 | tail -1)
[ "$got" = "$GREEDY" ] && ok two_documents || no two_documents "got '$got'"

# text output: the streaming decode equals g4tok -d of the ids, plus a newline
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 16 --raw >"$T/text.out"
{ echo "$GREEDY" | g4tok -m "$E2B" -d; echo; } >"$T/text.want"
cmp -s "$T/text.out" "$T/text.want" && ok text_output || no text_output "differs from g4tok -d"
# the default (parsed) output: no channel or tool-call markers here, so the same text
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 16 >"$T/parsed.out"
cmp -s "$T/parsed.out" "$T/text.want" && ok parsed_output || no parsed_output "differs from --raw"
# --stop: the text ends before the stop string; --ids ends with the token that completed it
printf '.\332\211D[un \n' >"$T/stop.want"
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 16 --stop wrote --raw >"$T/stop.out"
cmp -s "$T/stop.out" "$T/stop.want" && ok stop_text || no stop_text "got $(od -c <"$T/stop.out" | head -2)"
printf '.\332\211D[un\n' >"$T/stop.want"	# parsed: the answer is trimmed
g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 16 --stop wrote >"$T/stop.out"
cmp -s "$T/stop.out" "$T/stop.want" && ok stop_parsed || no stop_parsed "got $(od -c <"$T/stop.out" | head -2)"
got=$(g4decode -m "$E2B" -s "$T/all.kv" --temp 0 -n 16 --stop wrote --ids)
[ "$got" = "357 228 147 78 101 291 327" ] && ok stop_ids || no stop_ids "got '$got'"
g4decode -m "$E2B" --stop '' </dev/null >/dev/null 2>&1; [ $? -eq 2 ] && ok usage_empty_stop || no usage_empty_stop "not exit 2"

# g4decode's option ranges at their bounds (lib/cli parsers, bounds included)
for a in "--temp 0" "--temp 1000000" "--top-p 0" "--top-p 1" "--min-p 0" "--min-p 1" "--top-k 0" \
	 "--repeat-penalty 1e-9" "--repeat-last-n -1" "--repeat-last-n 0" "--freq-penalty -1000000" \
	 "--presence-penalty 1000000" "--seed 0" "--seed 18446744073709551615" "-n 0" "-b 1" "-b 4096" \
	 "--samples 1"; do
	# shellcheck disable=SC2086
	if g4decode -m "$E2B" -s "$T/all.kv" -n 1 --ids $a >/dev/null 2>"$T/b.err"; then ok "bound_ok:${a% *}=${a#* }"
	else no "bound_ok:${a% *}=${a#* }" "refused: $(head -c 200 "$T/b.err")"; fi
done
# ... and just past them: a usage error (exit 2) naming the option and value
for a in "--temp -0.1:--temp wants a number >= 0" "--temp nan:--temp wants a number >= 0" \
	 "--top-p 1.001:--top-p wants a number in 0..1" "--min-p -0.001:--min-p wants a number in 0..1" \
	 "--top-k -1:--top-k wants a count >= 0" "--top-k 2.5:--top-k wants a count >= 0" \
	 "--repeat-penalty 0:--repeat-penalty wants a number > 0" "--repeat-last-n -2:--repeat-last-n wants a count or -1" \
	 "--freq-penalty 1000001:--freq-penalty wants a number" "--seed -1:--seed wants a number >= 0" \
	 "--seed 18446744073709551616:--seed wants a number >= 0" "--seed 1e3:--seed wants a number >= 0" \
	 "-n -1:-n wants a token count" "-b 0:-b wants a count of 1..4096" "-b 4097:-b wants a count of 1..4096" \
	 "--samples 0:--samples wants a count >= 1"; do
	opt=${a%%:*}; msg=${a#*:}; o=${opt% *}; v=${opt#* }
	g4decode -m "$E2B" -s "$T/all.kv" -n 1 --ids "$o" "$v" >"$T/b.out" 2>"$T/b.err"; rc=$?
	if [ $rc -eq 2 ] && [ "$(head -1 "$T/b.err")" = "g4decode: $msg, not '$v'" ] && grep -q '^usage: g4decode' "$T/b.err" &&
	   [ ! -s "$T/b.out" ]; then ok "bound_bad:$o=$v"
	else no "bound_bad:$o=$v" "exit $rc, stderr: $(head -c 200 "$T/b.err")"; fi
done
