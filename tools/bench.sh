#!/bin/sh
# make bench: benchmarks (never part of the test suite).
#
#   sh tools/bench.sh [SECTION...]        (make bench BENCH="models")
#
# Sections (default: all of them):
#   models  E2B-shaped random-weight GGUFs (35 layers, width 1536, PLE, KV
#           sharing, 262144 vocabulary) in each of G4_BENCH_TYPES, and a
#           26B-A4B-shaped MoE (6 layers) in each of G4_BENCH_MOE_TYPES; for
#           each: prefill tok/s (G4_BENCH_P-token prompt), decode tok/s
#           (G4_BENCH_N tokens), decode as % of the read-bandwidth roofline
#           (weight bytes per token / the higher of the bandwidths measured
#           just before and just after each run; median of the runs),
#           peak RSS, snapshot size and write/read MB/s.  Median of
#           G4_BENCH_RUNS runs; the bandwidth is measured before every run.
#           With LLAMA_BENCH=/path/to/llama-bench its runs alternate with
#           g4's on the same files (-p P -n N -t THREADS) and its medians
#           are printed beside.
#   batch   on the E2B-shaped Q4_0 model: decode tokens/s summed over batches
#           of 1, 4 and 16 sequences (g4_forward_multi, G4_BENCH_N steps),
#           and documents/s prefilling 256 documents of 50 tokens, grouped
#           as g4prefill groups them and one at a time (build/bench/bench_batch).
#   micro   the component benchmarks (build/bench/bench_* other than the
#           above: vecdot, tok, sampler, snapshot, quant, vision, audio, decode).
#
# The models are made once by build/bench/bench_genmodel and cached in
# G4_BENCH_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/g4-bench, about 45 GB
# for the default types; delete it to regenerate).
# Other variables: G4_BENCH_THREADS (2), G4_BENCH_ACT (q8: 8-bit activations
# for quantised weights, as llama.cpp; f32 the exact path), G4_BENCH_LAYERS
# (fewer layers than the real model, for a quick look; both kinds).
cd "$(dirname "$0")/.." || exit 1
B=${BUILD:-build}/bench
DIR=${G4_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/g4-bench}
RUNS=${G4_BENCH_RUNS:-5}
TYPES=${G4_BENCH_TYPES-Q4_0 Q8_0 Q4_K_M F16 BF16}
MOE_TYPES=${G4_BENCH_MOE_TYPES-Q4_K_M}
TH=${G4_BENCH_THREADS:-2}
NP=${G4_BENCH_P:-512}
ND=${G4_BENCH_N:-128}
ACT=${G4_BENCH_ACT:-q8}
LAYERS=${G4_BENCH_LAYERS:-}
SECTIONS=${*:-${BENCH:-models batch micro}}
# Both engines run with the OpenMP wait policy of the environment (unset:
# libgomp's default, threads spin a little at a barrier before sleeping),
# which is fastest on an otherwise idle machine: measure on one.  On a
# machine busy with other work, OMP_WAIT_POLICY=passive is the better
# setting for both (measured with one busy core beside: decode 9.6 tok/s
# spinning vs 17.6 passive; idle: 26 vs 19).

# median of the numbers on stdin ("-" if none)
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# field NAME of a "k=v k=v" line
field() {
	tr ' ' '\n' | sed -n "s/^$1=//p"
}

# avg_ts of the llama-bench csv row whose n_prompt/n_gen match ($1 = pp|tg)
llama_ts() {
	awk -F, -v want="$1" '
		NR == 1 { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); c[$i] = i }; next }
		{ for (i = 1; i <= NF; i++) gsub(/"/, "", $i)
		  if (want == "pp" && $c["n_prompt"] > 0 && $c["n_gen"] == 0) print $c["avg_ts"]
		  if (want == "tg" && $c["n_gen"] > 0 && $c["n_prompt"] == 0) print $c["avg_ts"] }'
}

model_file() {		# kind type
	f=$DIR/$1${LAYERS:+-$LAYERS}-$(echo "$2" | tr 'A-Z' 'a-z').gguf
	if [ ! -f "$f" ]; then
		mkdir -p "$DIR" || return 1
		echo "  generating $f (once) ..." >&2
		"$B/bench_genmodel" "$1" "$2" "$f" $LAYERS >&2 || return 1
	fi
	echo "$f"
}

bench_one() {		# kind type
	f=$(model_file "$1" "$2") || { echo "$1 $2: generating the model failed"; return; }
	tmp=${TMPDIR:-/tmp}/g4bench.$$
	: > "$tmp.g4"; : > "$tmp.bw"; : > "$tmp.bwm"; : > "$tmp.lpp"; : > "$tmp.ltg"; : > "$tmp.roof"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		"$B/bench_bw" -t "$TH" 1024 3 | field read_gbps >> "$tmp.bw"
		"$B/bench_model" "$f" -t "$TH" -p "$NP" -n "$ND" --act "$ACT" >> "$tmp.g4" ||
			echo "$1 $2: bench_model failed" >&2
		# this run's decode against the higher of the bandwidths measured
		# just before and just after it (the VM's bandwidth changes from
		# minute to minute)
		b0=$(tail -n 1 "$tmp.bw")
		b1=$("$B/bench_bw" -t "$TH" 1024 3 | field read_gbps)
		bm=$(echo "$b0 $b1" | awk '{ print ($1 > $2 ? $1 : $2) }')
		echo "$bm" >> "$tmp.bwm"
		tail -n 1 "$tmp.g4" | awk -v b="$bm" '{ t = w = ""; for (i = 1; i <= NF; i++) {
			if ($i ~ /^decode_tps=/) { t = $i; sub(/.*=/, "", t) }
			if ($i ~ /^weight_mb_per_token=/) { w = $i; sub(/.*=/, "", w) } }
			if (t != "" && w != "" && b > 0) printf "%.1f\n", 100 * t * w / 1000 / b }' >> "$tmp.roof"
		if [ -n "$LLAMA_BENCH" ]; then
			"$LLAMA_BENCH" -m "$f" -p "$NP" -n "$ND" -t "$TH" -r 1 -o csv > "$tmp.csv" 2>/dev/null ||
				echo "$1 $2: llama-bench failed" >&2
			llama_ts pp < "$tmp.csv" >> "$tmp.lpp"
			llama_ts tg < "$tmp.csv" >> "$tmp.ltg"
		fi
		i=$((i + 1))
	done
	bw=$(median < "$tmp.bwm")	# the bandwidths the rooflines used
	pp=$(field prefill_tps < "$tmp.g4" | median)
	tg=$(field decode_tps < "$tmp.g4" | median)
	wmb=$(field weight_mb_per_token < "$tmp.g4" | median)
	rss=$(field rss_mb < "$tmp.g4" | median)
	smb=$(field snap_mb < "$tmp.g4" | median)
	sw=$(field snap_w_mbps < "$tmp.g4" | median)
	sr=$(field snap_r_mbps < "$tmp.g4" | median)
	ppc=$(awk -v n="$NP" '{ for (i = 1; i <= NF; i++) if ($i ~ /^prefill_cpu_s=/) { sub(/.*=/, "", $i); if ($i > 0) printf "%.2f\n", n / $i } }' "$tmp.g4" | median)
	tgc=$(awk -v n="$ND" '{ for (i = 1; i <= NF; i++) if ($i ~ /^decode_cpu_s=/) { sub(/.*=/, "", $i); if ($i > 0) printf "%.2f\n", n / $i } }' "$tmp.g4" | median)
	roof=$(median < "$tmp.roof" | awk '{ print $1 == "-" ? "-" : sprintf("%.0f%%", $1) }')
	lpp=-; ltg=-
	if [ -n "$LLAMA_BENCH" ]; then
		lpp=$(median < "$tmp.lpp"); ltg=$(median < "$tmp.ltg")
	fi
	printf '%-6s %-7s %8s %8s %6s %8s %8s %8s %6s %7s %7s %7s %7s %8s %8s\n' "$1" "$2" "$pp" "$tg" "$roof" \
		"$ppc" "$tgc" "$wmb" "$bw" "$rss" "$smb" "$sw" "$sr" "$lpp" "$ltg"
	rm -f "$tmp.g4" "$tmp.bw" "$tmp.bwm" "$tmp.lpp" "$tmp.ltg" "$tmp.roof" "$tmp.csv"
}

section_models() {
	for p in bench_genmodel bench_model bench_bw; do
		[ -x "$B/$p" ] || { echo "models: $B/$p missing (make all)"; return; }
	done
	echo "== models: $TH threads, prompt $NP, decode $ND, --act $ACT, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, median of $RUNS runs ($(date -u '+%F %H:%M UTC'))"
	echo "   cpu: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores;" \
		"roofline = decode tok/s x weight MB/token / read GB/s (the higher of 2-thread reads before and after each run; median of the runs' ratios)"
	echo "   pp/cpu-s, tg/cpu-s: tokens per CPU second of all threads (how fast the code is when the machine is busy)"
	printf '%-6s %-7s %8s %8s %6s %8s %8s %8s %6s %7s %7s %7s %7s %8s %8s\n' model type "pp t/s" "tg t/s" roof \
		"pp/cpu-s" "tg/cpu-s" "wMB/tok" "GB/s" "RSS MB" "snap MB" "snapMB/s" "snapR/s" "llama-pp" "llama-tg"
	for t in $TYPES; do bench_one e2b "$t"; done
	for t in $MOE_TYPES; do bench_one moe "$t"; done
}

section_micro() {
	echo "== micro"
	for b in "$B"/bench_*; do
		[ -x "$b" ] || continue
		case $b in
		*.d | */bench_genmodel | */bench_model | */bench_bw | */bench_batch) continue ;;
		esac
		"$b" || echo "$(basename "$b"): failed"
	done
}

section_batch() {
	[ -x "$B/bench_batch" ] || { echo "batch: $B/bench_batch missing (make all)"; return; }
	f=$(model_file e2b Q4_0) || { echo "batch: generating the model failed"; return; }
	echo "== batch: e2b${LAYERS:+ ($LAYERS layers)} Q4_0, $TH threads, --act $ACT, $ND steps; 256 documents of 50 tokens ($(date -u '+%F %H:%M UTC'))"
	"$B/bench_batch" "$f" -t "$TH" -n "$ND" --act "$ACT" || echo "batch: bench_batch failed"
}

for s in $SECTIONS; do
	case $s in
	models) section_models ;;
	batch) section_batch ;;
	micro) section_micro ;;
	*) echo "bench.sh: unknown section '$s' (models, batch, micro)" >&2; exit 2 ;;
	esac
done
