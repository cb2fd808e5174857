#!/bin/sh
# Failure behaviour of the commands: a full disk, a reader that goes away.
# (Atomic output files under signals and full disks: test_fileio_fail.)
. tests/cmd/lib.sh
M=$G4_DATA/micro-e2b-f32.gguf

# stdout on a full disk: one clear line, exit 1.
if [ -w /dev/full ]; then
	expect_fail quant_info_dev_full 1 sh -c 'exec g4quant --info "$1" >/dev/full' sh "$M"
	if grep -q '^g4quant: writing .*stdout.*: No space left on device$' "$G4_TMP/ef.err" &&
	   [ "$(wc -l <"$G4_TMP/ef.err")" -eq 1 ]; then
		ok quant_info_dev_full_message
	else
		no quant_info_dev_full_message "got: $(cat "$G4_TMP/ef.err")"
	fi
else
	echo "SKIP quant_info_dev_full: no writable /dev/full"
fi

# The reader of a pipe is gone before the command writes: killed quietly by
# SIGPIPE (141) or a clean exit, never an error message.
quiet_pipe() {	# name, command...
	n=$1; shift
	rm -f "$G4_TMP/qp.rc"
	{ sleep 0.3; "$@" 2>"$G4_TMP/qp.err"; echo $? >"$G4_TMP/qp.rc"; } | true
	rc=$(cat "$G4_TMP/qp.rc")
	if { [ "$rc" = 0 ] || [ "$rc" = 141 ]; } && [ ! -s "$G4_TMP/qp.err" ]; then
		ok "$n"
	else
		no "$n" "exit $rc, stderr: $(head -c 300 "$G4_TMP/qp.err")"
	fi
}
quiet_pipe quant_info_closed_pipe g4quant --info "$M"
# ... and the same when the reader stops after 10 bytes.
g4quant --info "$M" 2>"$G4_TMP/head.err" | head -c 10 >"$G4_TMP/head.out"
if [ "$(wc -c <"$G4_TMP/head.out")" -eq 10 ] && [ ! -s "$G4_TMP/head.err" ]; then
	ok quant_info_head
else
	no quant_info_head "stderr: $(head -c 300 "$G4_TMP/head.err")"
fi

# ---- the other commands: stdout on a full disk, a reader gone ------------
T=$G4_DATA/tokenizer/mini-tokenizer.json.zst
V=$G4_DATA/mmproj-tiny-vision-e.gguf
A=$G4_DATA/mmproj-tiny-audio.gguf
IMG=$G4_DATA/vision/img1-gradient-64x48.png
WAV=$G4_DATA/audio/aud1-chirp-noise-16k-mono.wav
# name, command...: stdout on /dev/full -> exit 1, one "g4xxx: ..." line
# that says the disk is full.
dev_full() {
	n=$1; shift
	[ -w /dev/full ] || { echo "SKIP $n: no writable /dev/full"; return; }
	expect_fail "$n" 1 sh -c 'exec "$@" >/dev/full' sh "$@"
	if [ "$(wc -l <"$G4_TMP/ef.err")" -eq 1 ] && grep -q 'No space left on device' "$G4_TMP/ef.err"; then
		ok "${n}_message"
	else
		no "${n}_message" "got: $(head -c 300 "$G4_TMP/ef.err")"
	fi
}
printf 'Hello world, a line of text.\n' >"$G4_TMP/hello.txt"
dev_full tok_dev_full g4tok --tokenizer "$T" "$G4_TMP/hello.txt"
dev_full tok_ids_dev_full g4tok --tokenizer "$T" --ids "$G4_TMP/hello.txt"
dev_full embed_img_dev_full g4embed-img -t 1 -m "$V" --tokens 70 "$IMG"
dev_full embed_audio_dev_full g4embed-audio -t 1 -m "$A" "$WAV"
quiet_pipe tok_closed_pipe g4tok --tokenizer "$T" "$G4_TMP/hello.txt"
quiet_pipe embed_img_closed_pipe g4embed-img -t 1 -m "$V" --tokens 70 "$IMG"
quiet_pipe embed_audio_closed_pipe g4embed-audio -t 1 -m "$A" "$WAV"

# A side file pending while stdout's reader goes away (SIGPIPE): the side
# file must not appear, nor its temporary.
D=$G4_TMP/sidefile; rm -rf "$D"; mkdir -p "$D"
quiet_pipe embed_img_pipe_side_file g4embed-img -t 1 -m "$V" --tokens 70 --embeddings "$D/e.f32" "$IMG"
if [ -z "$(ls -A "$D")" ]; then ok embed_img_pipe_no_partial; else no embed_img_pipe_no_partial "left: $(ls -A "$D")"; fi

# g4quant writing a GGUF: the file outgrows `ulimit -f` (SIGXFSZ kills), or
# the "disk" is full (SIGXFSZ ignored: EFBIG): nothing at the destination.
D=$G4_TMP/quantout; rm -rf "$D"; mkdir -p "$D"
sh -c 'ulimit -f 200; exec g4quant -q -t 1 "$1" "$2" Q8_0' sh "$M" "$D/out.gguf" 2>"$G4_TMP/q.err"; rc=$?
if [ "$rc" -ne 0 ] && [ -z "$(ls -A "$D")" ]; then ok quant_killed_by_file_limit
else no quant_killed_by_file_limit "exit $rc, left: $(ls -A "$D")"; fi
expect_fail quant_file_too_large 1 sh -c 'trap "" XFSZ; ulimit -f 200; exec g4quant -q -t 1 "$1" "$2" Q8_0' sh "$M" "$D/out.gguf"
if [ -z "$(ls -A "$D")" ] && grep -q 'writing.*File too large' "$G4_TMP/ef.err"; then ok quant_file_too_large_clean
else no quant_file_too_large_clean "left: $(ls -A "$D"); stderr: $(head -c 300 "$G4_TMP/ef.err")"; fi

# ---- g4prefill / g4decode -------------------------------------------------
TEXT="2 375 330 341 374 334 317 280 337 370 341 373 363 368 335 299 268 311 360 314 341 363 360 364 368 374 309 357"
D=$G4_TMP/snaps; rm -rf "$D"; mkdir -p "$D"
echo "$TEXT" | g4prefill -t 1 -m "$M" -o "$G4_TMP/base.kv" 2>/dev/null
dev_full prefill_dev_full sh -c 'echo "$1" | exec g4prefill -t 1 -m "$2"' sh "$TEXT" "$M"
dev_full decode_dev_full g4decode -t 1 -m "$M" -s "$G4_TMP/base.kv" --temp 0 -n 8 --ids
quiet_pipe decode_closed_pipe g4decode -t 1 -m "$M" -s "$G4_TMP/base.kv" --temp 0 -n 8
# The issue's example: the reader stops after 10 bytes of a long answer.
g4decode -t 1 -m "$M" -s "$G4_TMP/base.kv" --temp 0 -n 200 --raw 2>"$G4_TMP/head.err" | head -c 10 >/dev/null
if [ ! -s "$G4_TMP/head.err" ]; then ok decode_head; else no decode_head "stderr: $(head -c 300 "$G4_TMP/head.err")"; fi
# ... with a snapshot pending (-o): it must not appear half-written.
quiet_pipe decode_pipe_snapshot g4decode -t 1 -m "$M" -s "$G4_TMP/base.kv" --temp 0 -n 8 -o "$D/after.kv"
if [ -z "$(ls -A "$D")" ]; then ok decode_pipe_no_partial; else no decode_pipe_no_partial "left: $(ls -A "$D")"; fi

# A snapshot that outgrows `ulimit -f` (killed by SIGXFSZ), or a full disk
# (EFBIG): nothing at the destination.
echo "$TEXT" | sh -c 'ulimit -f 4; exec g4prefill -t 1 -m "$1" --kv-type f32 -o "$2"' sh "$M" "$D/x.kv" 2>/dev/null; rc=$?
if [ "$rc" -ne 0 ] && [ -z "$(ls -A "$D")" ]; then ok prefill_killed_by_file_limit
else no prefill_killed_by_file_limit "exit $rc, left: $(ls -A "$D")"; fi
expect_fail prefill_file_too_large 1 sh -c 'echo "$3" | { trap "" XFSZ; ulimit -f 4; exec g4prefill -t 1 -m "$1" --kv-type f32 -o "$2"; }' sh "$M" "$D/x.kv" "$TEXT"
if [ -z "$(ls -A "$D")" ] && grep -q 'File too large' "$G4_TMP/ef.err"; then ok prefill_file_too_large_clean
else no prefill_file_too_large_clean "left: $(ls -A "$D"); stderr: $(head -c 300 "$G4_TMP/ef.err")"; fi

# SIGTERM while g4prefill waits for the rest of its prompt with the output
# open: no snapshot, no temporary.
rm -rf "$D"; mkdir -p "$D"
mkfifo "$G4_TMP/prompt.fifo"
g4prefill -t 1 -m "$M" -o "$D/term.kv" <"$G4_TMP/prompt.fifo" 2>/dev/null &
pid=$!
exec 7>"$G4_TMP/prompt.fifo"
echo "2 375 330" >&7
i=0; while [ $i -lt 50 ] && [ -z "$(ls -A "$D")" ]; do sleep 0.1; i=$((i + 1)); done
seen=$(ls -A "$D")
kill -TERM "$pid"; wait "$pid"; rc=$?
exec 7>&-
rm -f "$G4_TMP/prompt.fifo"
if [ "$rc" -eq 143 ] && [ -z "$(ls -A "$D")" ]; then
	ok prefill_sigterm_no_partial
	[ -n "$seen" ] || echo "SKIP prefill_sigterm_mid_write: g4prefill had not opened its output yet"
else
	no prefill_sigterm_no_partial "exit $rc, left: $(ls -A "$D")"
fi

# Damaged snapshots: a flipped bit anywhere -> one clear error line.
size=$(wc -c <"$G4_TMP/base.kv")
for at in 20 60 $((size / 2)) $((size - 3)); do
	cp "$G4_TMP/base.kv" "$G4_TMP/flip.kv"
	b=$(od -An -tu1 -j "$at" -N1 "$G4_TMP/flip.kv" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 16)))" | dd of="$G4_TMP/flip.kv" bs=1 seek="$at" conv=notrunc 2>/dev/null
	expect_fail "decode_bit_flip_at_$at" 1 g4decode -t 1 -m "$M" -s "$G4_TMP/flip.kv" --temp 0 -n 2 --ids
done

# ---- GGUFs that claim more than they hold: refused, quickly, one line ----
le() {	# bytes value: little-endian as printf escapes
	n=$1 v=$2 s=""
	while [ "$n" -gt 0 ]; do s="$s\\$(printf '%03o' $((v & 255)))"; v=$((v >> 8)); n=$((n - 1)); done
	printf '%s' "$s"
}
gguf() {	# file n_tensors n_kv [tensor: name n_dims ne... type offset]
	f=$1 nt=$2 nk=$3; shift 3
	body="GGUF$(le 4 3)$(le 8 "$nt")$(le 8 "$nk")"
	if [ $# -gt 0 ]; then
		name=$1 nd=$2; shift 2
		body="$body$(le 8 ${#name})$name$(le 4 "$nd")"
		i=0; while [ $i -lt "$nd" ]; do body="$body$(le 8 "$1")"; shift; i=$((i + 1)); done
		body="$body$(le 4 "$1")$(le 8 "$2")"
	fi
	printf "$body" >"$f"
	head -c 64 /dev/zero >>"$f"
}
gguf "$G4_TMP/kv.gguf" 0 $((1 << 40))
expect_fail gguf_2e40_keys 1 g4quant --info "$G4_TMP/kv.gguf"
gguf "$G4_TMP/tn.gguf" $((1 << 50)) 0
expect_fail gguf_2e50_tensors 1 g4quant --info "$G4_TMP/tn.gguf"
gguf "$G4_TMP/big.gguf" 1 0 t 2 $((1 << 31)) $((1 << 31)) 0 0
expect_fail gguf_2e64_bytes 1 g4quant --info "$G4_TMP/big.gguf"
gguf "$G4_TMP/tb.gguf" 1 0 t 4 1024 1024 1024 1024 0 0
expect_fail gguf_4tb_tensor 1 g4quant --info "$G4_TMP/tb.gguf"
grep -q 'past the end\|cannot fit\|too\|more than' "$G4_TMP/ef.err" && ok gguf_4tb_tensor_message ||
	no gguf_4tb_tensor_message "got: $(cat "$G4_TMP/ef.err")"
gguf "$G4_TMP/off.gguf" 1 0 t 1 8 0 $((1 << 60))
expect_fail gguf_offset_past_end 1 g4quant --info "$G4_TMP/off.gguf"
for f in kv tn big tb off; do
	expect_fail "prefill_refuses_$f" 1 sh -c 'echo 2 | exec g4prefill -t 1 -m "$1"' sh "$G4_TMP/$f.gguf"
done
