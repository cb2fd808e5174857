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
