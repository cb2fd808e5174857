#!/bin/sh
# make demo: the whole pipeline on a tiny model shipped in tests/data.
set -e
cd "$(dirname "$0")/.."
M=tests/data/micro-e2b-f32.gguf
echo "== g4quant --info $M"
bin/g4quant --info "$M" | head -40
