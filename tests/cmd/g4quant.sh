# g4quant: the golden quantised micro models byte for byte, usage and
# errors, no partial output.
. tests/cmd/lib.sh
T=$G4_TMP/g4quant; mkdir -p "$T"
D=$G4_DATA

for ty in Q8_0 Q4_0 Q4_K_M; do
	rm -f "$T/out.gguf"
	if g4quant -q -t 2 "$D/micro-e2b-f32.gguf" "$T/out.gguf" $ty 2>"$T/err" &&
	   cmp -s "$T/out.gguf" "$D/micro-e2b-$ty.gguf"; then ok "golden_$ty"
	else no "golden_$ty" "output differs from llama-quantize's ($(head -c 200 "$T/err"))"; fi
done

# aliases and numbers mean the same mix
g4quant -q "$D/micro-e2b-f32.gguf" "$T/a.gguf" q4_k 2>/dev/null
g4quant -q "$D/micro-e2b-f32.gguf" "$T/b.gguf" 15 2>/dev/null
if cmp -s "$T/a.gguf" "$D/micro-e2b-Q4_K_M.gguf" && cmp -s "$T/b.gguf" "$D/micro-e2b-Q4_K_M.gguf"; then
	ok alias_q4_k; else no alias_q4_k "Q4_K / 15 differ from Q4_K_M"; fi

# to stdout
if g4quant -q "$D/micro-e2b-f32.gguf" - Q8_0 2>/dev/null | cmp -s - "$D/micro-e2b-Q8_0.gguf"; then
	ok stdout; else no stdout "output on stdout differs"; fi

# --pure: every quantisable tensor Q4_K or its fallback, none Q8_0/Q6_K
g4quant -q --pure "$D/micro-e2b-f32.gguf" "$T/pure.gguf" Q4_K_M 2>/dev/null
if g4quant --info "$T/pure.gguf" >"$T/pure.txt" 2>&1 && ! grep -qi 'q8_0\|q6_k' "$T/pure.txt" &&
   grep -qi 'q5_0' "$T/pure.txt"; then ok pure; else no pure "unexpected types with --pure"; fi

expect help sh -c 'g4quant --help | grep -q "usage: g4quant"'
expect version sh -c 'g4quant --version | grep -q "^g4quant (g4) "'
expect_fail no_args 2 g4quant
expect_fail bad_type 2 g4quant "$D/micro-e2b-f32.gguf" "$T/x.gguf" Q9_9
expect_fail bad_option 2 g4quant --frobnicate "$D/micro-e2b-f32.gguf" "$T/x.gguf" Q8_0
expect_fail missing_input 1 g4quant "$T/nonexistent.gguf" "$T/x.gguf" Q8_0
expect_fail bad_imatrix 1 g4quant --imatrix "$T/nonexistent.dat" "$D/micro-e2b-f32.gguf" "$T/x.gguf" Q8_0
expect_fail requant_refused 1 g4quant "$D/micro-e2b-Q8_0.gguf" "$T/x.gguf" Q4_0
if [ -e "$T/x.gguf" ]; then no no_partial "a failed run left $T/x.gguf"; else ok no_partial; fi

# a truncated input is refused, nothing written
head -c 100000 "$D/micro-e2b-f32.gguf" >"$T/trunc.gguf"
expect_fail truncated 1 g4quant "$T/trunc.gguf" "$T/y.gguf" Q8_0
if [ -e "$T/y.gguf" ]; then no no_partial_trunc "left $T/y.gguf"; else ok no_partial_trunc; fi

# checkpoint folders: a folder without config.json, --mmproj with a GGUF input
mkdir -p "$T/empty-ckpt"
expect_fail ckpt_no_config 1 g4quant "$T/empty-ckpt" "$T/z.gguf" Q8_0
expect_fail mmproj_needs_folder 2 g4quant --mmproj "$T/mm.gguf" "$D/micro-e2b-f32.gguf" "$T/z.gguf" Q8_0
if [ -e "$T/z.gguf" ] || [ -e "$T/mm.gguf" ]; then no no_partial_ckpt "left a file"; else ok no_partial_ckpt; fi

# --tensor-type: attn_v forced to q8_0, the rest as Q4_K_M
g4quant -q --tensor-type 'attn_v=q8_0' "$D/micro-e2b-f32.gguf" "$T/tt.gguf" Q4_K_M 2>/dev/null
if g4quant --info "$T/tt.gguf" 2>/dev/null | grep 'attn_v.weight' | grep -qv 'q8_0'; then
	no tensor_type "an attn_v is not q8_0"
elif ! g4quant --info "$T/tt.gguf" 2>/dev/null | grep 'blk.0.attn_q.weight' | grep -q 'q5_0'; then
	no tensor_type "attn_q changed"
else ok tensor_type; fi
expect_fail tensor_type_bad 2 g4quant --tensor-type 'attn_v' "$D/micro-e2b-f32.gguf" "$T/tt2.gguf" Q4_K_M

# errors name the file they are about: a failed write the output (and says
# what failed), a bad tensor the input
IN=$D/micro-e2b-f32.gguf
err_is() {	# name, the one stderr line wanted (after expect_fail)
	if [ "$(cat "$G4_TMP/ef.err")" = "$2" ]; then ok "$1"
	else no "$1" "stderr '$(head -c 300 "$G4_TMP/ef.err")', wanted '$2'"; fi
}
expect_fail out_dev_full 1 g4quant -q "$IN" /dev/full Q8_0
err_is out_dev_full_names_output "g4quant: writing /dev/full: No space left on device"
expect_fail out_stdout_full 1 sh -c 'exec g4quant -q "$1" - Q8_0 >/dev/full' sh "$IN"
err_is out_stdout_full_names_stdout "g4quant: writing <stdout>: No space left on device"
expect_fail out_ckpt_dev_full 1 g4quant -q "$D/hf-micro-e2b-bf16" /dev/full Q8_0
err_is out_ckpt_dev_full_names_output "g4quant: writing /dev/full: No space left on device"
expect_fail out_ckpt_dev_full_mix 1 g4quant -q "$D/hf-micro-e2b-bf16" /dev/full Q4_K_M
err_is out_ckpt_dev_full_mix_names_output "g4quant: writing /dev/full: No space left on device"
expect_fail out_missing_dir 1 g4quant -q "$IN" "$T/no-such-dir/x.gguf" Q8_0
err_is out_missing_dir_names_output "g4quant: cannot create a file beside $T/no-such-dir/x.gguf: No such file or directory"
expect_fail out_is_dir 1 g4quant -q "$IN" "$T" Q8_0
err_is out_is_dir_names_output "g4quant: cannot open $T for writing: Is a directory"
expect_fail requant_names_input 1 g4quant -q "$D/micro-e2b-Q8_0.gguf" "$T/x.gguf" Q4_0
err_is requant_names_input_msg "g4quant: $D/micro-e2b-Q8_0.gguf: tensor 'blk.0.attn_k.weight': requantizing from type q8_0 is disabled (use --allow-requantize)"
expect_fail tensor_type_file_missing 1 g4quant --tensor-type-file "$T/none.txt" "$IN" "$T/x.gguf" Q8_0
err_is tensor_type_file_missing_msg "g4quant: cannot open $T/none.txt: No such file or directory"
