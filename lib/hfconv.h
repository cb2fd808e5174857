/* hfconv.h - Hugging Face Gemma 4 checkpoint folder -> GGUF, as llama.cpp's
 * convert_hf_to_gguf.py (+ llama-quantize) would make it.
 *
 * Architectures: Gemma4ForConditionalGeneration, Gemma4ForCausalLM,
 * Gemma4UnifiedForConditionalGeneration (text model only; its mmproj
 * projectors are not supported).  Not: the assistant (MTP) models.
 *
 * The folder holds config.json, model.safetensors or sharded
 * model-XXXXX-of-YYYYY.safetensors with model.safetensors.index.json,
 * tokenizer.json, tokenizer_config.json and optionally chat_template.jinja
 * and generation_config.json.
 *
 * Output (spec gguf-and-quant.md §4): arch gemma4, llama.cpp's tensor names,
 * metadata keys, key order and types; rope_freqs generated; norms stored as
 * in the checkpoint (no +1); norms, 1-D tensors, the router and non-.weight
 * tensors F32.
 *   - TYPE F32, F16, BF16, Q8_0: the file convert_hf_to_gguf.py --outtype
 *     TYPE writes (its order and its per-tensor types).
 *   - any other TYPE: the file llama-quantize TYPE makes from the
 *     converter's default (--outtype auto) output; so the bytes equal the
 *     two-step llama.cpp pipeline, without the intermediate file.
 * Every checkpoint tensor is read once, a chunk of rows at a time, from
 * the mapped shards: peak memory stays a few chunks whatever the model size. */
#ifndef G4_HFCONV_H
#define G4_HFCONV_H
#include <stdio.h>

#include "requant.h"

/* 1 if path is a folder with a config.json. */
int g4_hfconv_is_checkpoint(const char *path);

/* Text model -> out.  o->mix.ftype is the TYPE. */
int g4_hfconv(const char *dir, FILE *out, const g4_requant_opts *o);

/* Vision and/or audio towers -> an mmproj GGUF (arch clip). */
int g4_hfconv_mmproj(const char *dir, FILE *out, const g4_requant_opts *o);

#endif
