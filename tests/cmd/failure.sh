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
