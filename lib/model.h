/* model.h - a Gemma 4 text model loaded from GGUF (spec: gemma4-text.md).
 *
 * g4_model_load maps the file (weights stay in the mapping, nothing is
 * dequantised), reads every hyper-parameter of spec §3.2, derives the
 * per-layer facts of §1.2 (head dim, KV heads, FFN width, KV ownership and
 * KV source, MoE) and checks the type and shape of every tensor it will use
 * against them; a mismatch is an error naming the tensor.  Small vectors
 * (norm weights, scales) are converted to f32 arrays at load time.
 *
 *   g4_model *m = g4_model_load("micro-e2b-f32.gguf");
 *   if (!m) g4_die("g4prefill");
 *   ... g4_forward(...) (forward.h) ...
 *   g4_model_free(m);
 */
#ifndef G4_MODEL_H
#define G4_MODEL_H
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

/* A weight matrix in place: rows of ne0 values of `type`, row_bytes apart;
 * 3-D tensors (experts) are ne2 matrices of ne1 rows, mat_bytes apart. */
typedef struct {
	const uint8_t *data;	/* NULL: absent */
	uint32_t type;
	int64_t ne0, ne1, ne2;
	size_t row_bytes, mat_bytes;
	int mapped;		/* data lies in a file mapping (madvise may drop it) */
	struct g4_rp *rp;	/* the kernels' copy (lib/repack.h), made on first use */
} g4_mat;

typedef struct {
	int swa;		/* 1 sliding-window layer, 0 full attention */
	int hd, nkv, ff;	/* head dim, KV heads, dense FFN width */
	int has_kv;		/* computes its own K/V */
	int kv_src;		/* layer whose KV cache it reads (itself if has_kv) */
	int kv_slot;		/* index among KV-owning layers (of kv_src) */
	int moe;		/* MoE branch present */
	int n_rot;		/* rotated dims */
	float rope_base;

	float *attn_norm, *q_norm, *k_norm, *post_attn_norm;
	float *ffn_norm, *post_ffw_norm;
	float layer_scale;	/* 1 if absent */
	g4_mat wq, wk, wv, wo;	/* wv.data NULL: V = raw K (K=V layers) */
	g4_mat gate, up, down;

	/* PLE */
	g4_mat inp_gate, proj;
	float *ple_post_norm;

	/* MoE */
	g4_mat router;		/* [E, H] */
	float *router_scale;	/* [H] */
	float *expert_scale;	/* [E] */
	g4_mat gate_up_exps;	/* fused [E, 2Fe, H], or data NULL */
	g4_mat gate_exps, up_exps;	/* separate [E, Fe, H] */
	g4_mat down_exps;	/* [E, H, Fe] */
	float *pre_ffw_norm_2, *post_ffw_norm_1, *post_ffw_norm_2;
} g4_layer;

typedef struct g4_model {
	g4_gguf *gguf;
	uint8_t fingerprint[32];

	int n_layer, n_embd, n_head, n_vocab;
	int hd_swa, hd_full;
	int n_ple;		/* P: per-layer embedding width, 0 = none */
	int n_kv_shared, first_shared;
	int n_layer_kv;		/* layers that own KV */
	int window;		/* sliding window W */
	int n_expert, n_expert_used, n_ff_exp;
	int bidir_vision;	/* image blocks bidirectional on sliding layers (no PLE) */
	int64_t n_ctx_train;
	float eps, softcap;	/* softcap 0: none */
	float *rope_freqs;	/* hd_full/2 frequency factors, or NULL */
	int n_rope_freqs;
	int bos_id, eos_id, eot_id;	/* eot: <turn|> or -1 */
	int32_t *suppress;	/* tokenizer.ggml.suppress_tokens (12B): never sampled */
	int n_suppress;

	g4_mat tok_embd, output;	/* output.data == tok_embd.data when tied */
	float *output_norm;
	g4_mat ple_embd;	/* [V, L*P] */
	g4_mat ple_proj;	/* [L*P, H] */
	float *ple_proj_norm;	/* [P] */

	g4_layer *layers;
	void **allocs;		/* every float* above */
	int n_allocs, cap_allocs;
} g4_model;

/* Loads and validates; NULL with a message naming the key or tensor. */
g4_model *g4_model_load(const char *path);
/* The same over an open GGUF; the model takes ownership of g (also on failure). */
g4_model *g4_model_from_gguf(g4_gguf *g);
void g4_model_free(g4_model *m);

/* The weight matrices a forward pass multiplies by: g4_model_mat(m, i) for
 * i < g4_model_mats(m) (absent ones have data NULL). */
int g4_model_mats(const g4_model *m);
g4_mat *g4_model_mat(g4_model *m, int i);

/* One row of a weight matrix (matrix `mat` of a 3-D tensor). */
static inline const uint8_t *g4_mat_row(const g4_mat *w, int64_t mat, int64_t row)
{
	return w->data + (size_t)mat * w->mat_bytes + (size_t)row * w->row_bytes;
}

/* Size of the KV row (values) of layer l: nkv*hd. */
static inline int g4_model_kv_width(const g4_model *m, int l)
{
	return m->layers[l].nkv * m->layers[l].hd;
}

#endif
