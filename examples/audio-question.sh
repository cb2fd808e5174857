#!/bin/sh
# audio-question.sh - ask a question about one or more audio clips
# (Gemma 4 E2B and E4B have an audio encoder).
#
#   audio-question.sh [-m MODEL.gguf] [-p MMPROJ.gguf] [-q QUESTION] [-n MAX] AUDIO...
#
# 1. g4tok --chat renders a user turn with the question and an audio part
#    per AUDIO; each clip becomes a media slot in the token stream.
# 2. g4embed-audio encodes the clips (WAV, FLAC, OGG, MP3: anything
#    libsndfile reads; resampled to 16 kHz mono, first 30 s) into blocks.
# 3. g4prefill fills the slots with the blocks (--media) and runs the prompt.
# 4. g4decode prints the answer.
#
# Environment: G4_MODEL, G4_MMPROJ (default: the tiny test models, random
# weights: the answer is gibberish), G4_EMBED_OPTS (more g4embed-audio
# options, e.g. "--split" for clips over 30 s), G4_DECODE_OPTS (e.g.
# "--temp 0"), G4_THREADS.
set -e
. "$(dirname "$0")/lib.sh"
media_question audio g4embed-audio text-first "$root/tests/data/mmproj-tiny-audio.gguf" \
	"Transcribe this audio." "$@"
