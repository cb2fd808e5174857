/* audioenc.h - the Gemma 4 (E2B/E4B) audio encoder: log-mel features to
 * soft-token embeddings in the text model's width (spec gemma4-audio.md §3-4).
 *
 *   mel [T][128] --SSCP (2 x conv3x3/2 + LayerNorm + ReLU, Linear)--> [N][H]
 *     --conformer blocks (½FFN, chunked local rel-pos attention, GLU +
 *       causal depthwise conv, ½FFN, RMSNorm)--> [N][H]
 *     --Linear + bias--> [N][O] --RMSNorm (no weight), Linear--> [N][Dt]
 *   N = ceil(T / 4): 25 tokens per second.
 *
 * Weights come from a llama.cpp mmproj GGUF (projector "gemma4a", tensors
 * a.* and mm.a.*): per_dim_scale is stored already softplus'd, and the
 * conv-module norms are stored crosswise (a.blk.L.conv_norm is the module's
 * pre-norm, a.blk.L.norm_conv the norm after the depthwise conv).  Weights
 * of any type libg4 reads are used from the mapping (F32) or dequantised a
 * matrix at a time to f32; activations and sums are f32.  Results are
 * bitwise the same for any thread count.
 *
 *   g4_gguf *g = g4_gguf_open(path);
 *   g4_aenc *e = g4_aenc_load(g);     (g must stay open while e is used)
 *   float *rows; size_t n;
 *   g4_aenc_embed_wave(e, x, n_samples, 0, &rows, &n, NULL, NULL);
 */
#ifndef G4_AUDIOENC_H
#define G4_AUDIOENC_H
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct {
	int n_mel;		/* 128 */
	int hidden;		/* H: 1024 real, 64 tiny */
	int n_head, head_dim;
	int n_layer, n_ff;
	int c0, c1;		/* SSCP conv channels */
	int conv_k;		/* depthwise kernel (5) */
	int out_dim;		/* O: tower output width (1536) */
	int text_dim;		/* Dt: projection into the text model */
	int chunk, context;	/* attention: 12 keys (self + 11 back) */
	float softcap;		/* 50 */
	float eps;		/* 1e-6 */
} g4_aenc_hp;

typedef struct g4_aenc g4_aenc;

/* Validates metadata and every tensor (names, shapes, types); NULL with a
 * message naming the key or tensor otherwise. */
g4_aenc *g4_aenc_load(const g4_gguf *g);
void g4_aenc_free(g4_aenc *e);
const g4_aenc_hp *g4_aenc_hparams(const g4_aenc *e);

/* Soft tokens for T mel frames: ceil(ceil(T / 2) / 2). */
size_t g4_aenc_tokens(size_t T);

/* Optional intermediates of encode() (each NULL or room for N rows). */
typedef struct {
	float *sscp;		/* [N][H] after the SSCP input projection */
	int layer;		/* which block's output goes to layer_out */
	float *layer_out;	/* [N][H] */
	float *tower;		/* [N][O] after the output projection */
} g4_aenc_trace;

/* mel [T][n_mel] -> out [g4_aenc_tokens(T)][text_dim].  T = 0 gives no rows.
 * -1 with a message on error (memory, absurd T). */
int g4_aenc_encode(g4_aenc *e, const float *mel, size_t T, float *out, g4_aenc_trace *tr);

/* Whole clip of 16 kHz mono samples: log-mel and encoder for each 30 s
 * piece (audio.h: split = 0 keeps the first 30 s, 1 encodes every piece on
 * its own), the rows of all pieces concatenated into *rows (malloc'd,
 * [*n_rows][text_dim], NULL when 0 rows).  mel, if not NULL, receives the
 * log-mel features of all pieces (malloc'd [*n_frames][128]). */
int g4_aenc_embed_wave(g4_aenc *e, const float *x, size_t n, int split,
		       float **rows, size_t *n_rows, float **mel, size_t *n_frames);

/* The audio markers: Gemma 4's ids by default (an mmproj has no
 * vocabulary); g4_audio_marker_ids() looks the strings "<|audio>" and
 * "<audio|>" up in a text model's tokenizer.ggml.tokens instead. */
#define G4_AUDIO_BOA_ID 256000
#define G4_AUDIO_EOA_ID 258883
int g4_audio_marker_ids(const g4_gguf *vocab, int32_t *boa, int32_t *eoa);

#endif
