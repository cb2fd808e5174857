#!/bin/sh
# quantise.sh - a Hugging Face checkpoint folder (or a GGUF) -> a Q4_K_M
# GGUF that g4 and llama.cpp both load, then a quick check that it runs.
#
#   quantise.sh [-q TYPE] [--mmproj MMPROJ.gguf] IN OUT.gguf
#
# IN is Google's checkpoint as downloaded from Hugging Face (a folder with
# config.json, model*.safetensors and tokenizer.json, e.g.
# `hf download google/gemma-4-E2B-it --local-dir gemma-4-E2B-it`) or a
# GGUF (F32, F16 or BF16 as convert_hf_to_gguf.py writes it).  TYPE is
# Q4_K_M unless -q says otherwise (g4quant --help lists the types).  With
# --mmproj (checkpoint folders only) the vision and audio towers are written
# too, as the mmproj file g4embed-img and g4embed-audio read.
#
# One step, no intermediate F16/BF16 file: the result is byte for byte the
# file that convert_hf_to_gguf.py followed by llama-quantize would make.
# Memory stays at a few tens of megabytes whatever the model's size.
#
# Default IN and OUT: the tiny test checkpoint and ./micro-e2b-Q4_K_M.gguf.
# Environment: G4_THREADS.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=${here%/examples}
bin=${G4_BIN:-$root/bin}	# the build to use (make check-asan sets G4_BIN)
[ -x "$bin/g4quant" ] && PATH=$bin:$PATH
type=Q4_K_M mmproj=""
usage() { echo "usage: quantise.sh [-q TYPE] [--mmproj MMPROJ.gguf] IN OUT.gguf" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-q) [ $# -ge 2 ] || usage; type=$2; shift 2;;
	--mmproj) [ $# -ge 2 ] || usage; mmproj=$2; shift 2;;
	-h|--help) usage;;
	-*) usage;;
	*) break;;
	esac
done
case $# in
0) in=$root/tests/data/hf-micro-e2b-bf16 out=micro-e2b-$type.gguf;;
2) in=$1 out=$2;;
*) usage;;
esac
t=${G4_THREADS:+-t $G4_THREADS}

# 1. convert and quantise (a progress line on a terminal)
# shellcheck disable=SC2086
g4quant $t ${mmproj:+--mmproj "$mmproj"} "$in" "$out" "$type"

# 2. what the file holds: the tensor types and sizes
g4quant --info "$out" | sed -n '/^total:/,$p'

# 3. it loads and runs: three greedy tokens after <bos>
# shellcheck disable=SC2086
echo 2 | g4prefill -m "$out" $t | g4decode -m "$out" $t --temp 0 --ids -n 3 >/dev/null
echo "quantise.sh: $out ($type) loads and decodes"
