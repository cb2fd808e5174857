#!/bin/sh
# g4quant --info: the metadata and tensor table of a GGUF; errors and usage.
. tests/cmd/lib.sh
out=$G4_TMP/info.out

if g4quant --info "$G4_DATA/micro-e2b-Q4_K_M.gguf" >"$out" 2>"$G4_TMP/info.err" &&
   grep -q '^85 tensors:' "$out" &&
   grep -Eq '^fingerprint [0-9a-f]{64}$' "$out" &&
   grep -Eq ' token_embd\.weight +q8_0 +\[64, 382\] +25976$' "$out" &&
   grep -Eq ' blk\.4\.ffn_down\.weight +q6_K ' "$out" &&
   grep -Eq '^  general\.file_type +u32 +15$' "$out" &&
   grep -Eq '^  tokenizer\.ggml\.tokens +string\[382\] +\["<pad>", "<eos>", "<bos>", ' "$out" &&
   grep -Eq '^total: 85 tensors, 355749 elements' "$out" &&
   [ ! -s "$G4_TMP/info.err" ]; then
	ok info_lists_tensors
else
	no info_lists_tensors "unexpected output (see $out)"
fi

if g4quant -t 1 --info "$G4_DATA/micro-e2b-f32.gguf" | grep -q '^fingerprint 720d84bd180c202043597c2fa4ccbb4aea48983676d613dbafeadca83aa13e60$'; then
	ok info_fingerprint
else
	no info_fingerprint "fingerprint of micro-e2b-f32 differs from the pinned one"
fi

if g4quant -t 1 --info "$G4_DATA/mmproj-tiny-audio-f16.gguf" | grep -q ' f16 '; then
	ok info_mmproj
else
	no info_mmproj "no f16 tensor listed"
fi

head -c 1000 "$G4_DATA/micro-e2b-f32.gguf" >"$G4_TMP/cut.gguf"
expect_fail info_truncated 1 g4quant --info "$G4_TMP/cut.gguf"
if grep -q '^g4quant: .*cut\.gguf: .*cannot fit in a file of 1000 bytes' "$G4_TMP/ef.err" && [ "$(wc -l <"$G4_TMP/ef.err")" -eq 1 ]; then
	ok info_truncated_message
else
	no info_truncated_message "got: $(cat "$G4_TMP/ef.err")"
fi
head -c 100000 "$G4_DATA/micro-e2b-f32.gguf" >"$G4_TMP/cut2.gguf"
expect_fail info_data_cut 1 g4quant --info "$G4_TMP/cut2.gguf"
if grep -q "^g4quant: .*cut2\.gguf: tensor '.*': data .* runs past the end of the file (100000 bytes)" "$G4_TMP/ef.err"; then
	ok info_data_cut_message
else
	no info_data_cut_message "got: $(cat "$G4_TMP/ef.err")"
fi
printf 'not a gguf file at all' >"$G4_TMP/junk.gguf"
expect_fail info_junk 1 g4quant --info "$G4_TMP/junk.gguf"
expect_fail info_missing 1 g4quant --info "$G4_TMP/does-not-exist.gguf"
expect_fail info_no_args 2 g4quant
expect_fail info_bad_option 2 g4quant --frobnicate
expect_fail info_no_file 2 g4quant --info
expect_fail info_bad_threads 2 g4quant -t zero --info "$G4_DATA/micro-e2b-f32.gguf"
expect help sh -c 'g4quant --help >/dev/null'
if g4quant --help | grep -q -- '--info' && g4quant --version | grep -q '^g4quant (g4) '; then
	ok help_version
else
	no help_version "--help or --version output"
fi
