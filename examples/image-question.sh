#!/bin/sh
# image-question.sh - ask a question about one or more images.
#
#   image-question.sh [-m MODEL.gguf] [-p MMPROJ.gguf] [-q QUESTION] [-n MAX] IMAGE...
#
# 1. g4tok --chat renders a user turn with an image part per IMAGE and the
#    question; each image becomes a media slot in the token stream.
# 2. g4embed-img encodes the images (PNG, JPEG) into embedding blocks.
# 3. g4prefill fills the slots with the blocks (--media) and runs the prompt.
# 4. g4decode prints the answer.
#
# Environment: G4_MODEL, G4_MMPROJ (default: the tiny test models, random
# weights: the answer is gibberish), G4_EMBED_OPTS (more g4embed-img
# options, e.g. "--tokens 560"), G4_DECODE_OPTS (e.g. "--temp 0"),
# G4_THREADS.  For real models take the GGUF and the mmproj file beside it,
# e.g. gemma-4-E4B-it-Q4_K_M.gguf and mmproj-gemma-4-E4B-it-f16.gguf.
set -e
. "$(dirname "$0")/lib.sh"
media_question image g4embed-img media-first "$root/tests/data/mmproj-tiny-vision-e.gguf" \
	"Describe this image." "$@"
