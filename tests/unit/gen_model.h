/* gen_model.h - a seeded generator of tiny random Gemma 4 text models, for
 * tests.  Writes a GGUF through lib/gguf.h's writer with the real
 * architecture's keys and tensor names (spec gemma4-text.md §3), covering
 * what the golden models do not: separate gate/up experts, an untied
 * output, F16/BF16 weights, E4B and 12B layouts, small windows.
 *
 *   gen_cfg c = GEN_DEFAULTS; c.n_layer = 6; ...
 *   gen_write("x.gguf", &c);
 */
#ifndef G4_GEN_MODEL_H
#define G4_GEN_MODEL_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "qtypes.h"

typedef struct {
	int n_layer, n_embd, n_head, n_vocab;
	const char *pattern;	/* 'S' / 'F' per layer */
	int nkv_swa, nkv_full, hd_swa, hd_full;
	int ff, double_wide, n_kv_shared, ple;
	int k_eq_v;		/* full layers have no attn_v */
	int n_expert, n_expert_used, n_ff_exp, moe_separate;
	int untied, window;
	int n_ctx;		/* gemma4.context_length; 0: 131072 */
	uint32_t wtype;		/* type of the 2-D/3-D weights: F32, F16, BF16 */
	float softcap;
	uint64_t seed;
	int break_q;		/* test: blk.1.attn_q gets one row too many */
	const int32_t *suppress;	/* tokenizer.ggml.suppress_tokens */
	int n_suppress;
} gen_cfg;

#define GEN_DEFAULTS { .n_layer = 4, .n_embd = 32, .n_head = 2, .n_vocab = 64, .pattern = "SSSF", \
	.nkv_swa = 1, .nkv_full = 1, .hd_swa = 16, .hd_full = 32, .ff = 48, .window = 8, \
	.wtype = G4_F32, .softcap = 30.0f, .seed = 1 }

typedef struct {
	char name[64];
	uint32_t type, nd;
	int64_t ne[3];
	void *data;
	size_t nbytes;
} gen_tensor;

typedef struct {
	uint64_t rng;
	gen_tensor *t;
	int n, cap;
} gen_state;

static uint64_t gen_next(gen_state *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double gen_unif(gen_state *g)
{
	return ((gen_next(g) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double gen_normal(gen_state *g)
{
	double u = gen_unif(g), v = gen_unif(g);
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* kind: 0 normal(0, scale), 1 norm weight 1 + 0.1 N times scale, 2 uniform [lo=scale, 1] */
static void gen_add(gen_state *g, const char *name, uint32_t type, int nd, int64_t ne0, int64_t ne1,
		    int64_t ne2, int kind, double scale)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->t = realloc(g->t, (size_t)g->cap * sizeof *g->t);
	}
	gen_tensor *t = &g->t[g->n++];
	snprintf(t->name, sizeof t->name, "%s", name);
	t->type = type;
	t->nd = (uint32_t)nd;
	t->ne[0] = ne0;
	t->ne[1] = ne1;
	t->ne[2] = ne2;
	size_t n = (size_t)(ne0 * ne1 * ne2);
	t->nbytes = n * (type == G4_F32 ? 4 : 2);
	t->data = malloc(t->nbytes);
	for (size_t i = 0; i < n; i++) {
		double x = kind == 0 ? scale * gen_normal(g)
			 : kind == 1 ? scale * (1.0 + 0.1 * gen_normal(g))
			 : scale + (1.0 - scale) * gen_unif(g);
		float f = (float)x;
		if (type == G4_F32) {
			memcpy((char *)t->data + 4 * i, &f, 4);
		} else {
			uint16_t h = type == G4_F16 ? g4_f32_to_f16(f) : g4_f32_to_bf16(f);
			memcpy((char *)t->data + 2 * i, &h, 2);
		}
	}
}

static void gen_addf(gen_state *g, const char *name, const float *v, int64_t n)
{
	gen_add(g, name, G4_F32, 1, n, 1, 1, 0, 0.0);
	memcpy(g->t[g->n - 1].data, v, (size_t)n * 4);
}

static int gen_write(const char *path, const gen_cfg *c)
{
	gen_state g = { .rng = c->seed * 0x2545f4914f6cdd1dull + 7 };
	g4_ggufw *w = g4_ggufw_new();
	const int L = c->n_layer, H = c->n_embd, V = c->n_vocab, first_shared = L - c->n_kv_shared;
	const uint32_t wt = c->wtype;
	char nm[96];
	int32_t ff[64], kvh[64];
	uint8_t pat[64];
	for (int l = 0; l < L; l++) {
		int swa = c->pattern[l] == 'S';
		pat[l] = (uint8_t)swa;
		kvh[l] = swa ? c->nkv_swa : c->nkv_full;
		ff[l] = c->ff * (c->double_wide && l >= first_shared ? 2 : 1);
	}
	g4_ggufw_set_str(w, "general.architecture", "gemma4");
	g4_ggufw_set_str(w, "general.name", "gen");
	g4_ggufw_set_u32(w, "gemma4.block_count", (uint32_t)L);
	g4_ggufw_set_u32(w, "gemma4.context_length", c->n_ctx ? (uint32_t)c->n_ctx : 131072);
	g4_ggufw_set_u32(w, "gemma4.embedding_length", (uint32_t)H);
	g4_ggufw_set_arr(w, "gemma4.feed_forward_length", G4_GGUF_INT32, (uint64_t)L, ff);
	g4_ggufw_set_u32(w, "gemma4.attention.head_count", (uint32_t)c->n_head);
	g4_ggufw_set_arr(w, "gemma4.attention.head_count_kv", G4_GGUF_INT32, (uint64_t)L, kvh);
	g4_ggufw_set_u32(w, "gemma4.attention.key_length", (uint32_t)c->hd_full);
	g4_ggufw_set_u32(w, "gemma4.attention.value_length", (uint32_t)c->hd_full);
	g4_ggufw_set_u32(w, "gemma4.attention.key_length_swa", (uint32_t)c->hd_swa);
	g4_ggufw_set_u32(w, "gemma4.attention.value_length_swa", (uint32_t)c->hd_swa);
	g4_ggufw_set_u32(w, "gemma4.rope.dimension_count", (uint32_t)c->hd_full);
	g4_ggufw_set_u32(w, "gemma4.rope.dimension_count_swa", (uint32_t)c->hd_swa);
	g4_ggufw_set_f32(w, "gemma4.rope.freq_base", 1e6f);
	g4_ggufw_set_f32(w, "gemma4.rope.freq_base_swa", 1e4f);
	g4_ggufw_set_u32(w, "gemma4.attention.sliding_window", (uint32_t)c->window);
	g4_ggufw_set_arr(w, "gemma4.attention.sliding_window_pattern", G4_GGUF_BOOL, (uint64_t)L, pat);
	g4_ggufw_set_f32(w, "gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
	g4_ggufw_set_u32(w, "gemma4.attention.shared_kv_layers", (uint32_t)c->n_kv_shared);
	g4_ggufw_set_u32(w, "gemma4.embedding_length_per_layer_input", (uint32_t)c->ple);
	if (c->softcap > 0)
		g4_ggufw_set_f32(w, "gemma4.final_logit_softcapping", c->softcap);
	if (c->n_expert) {
		g4_ggufw_set_u32(w, "gemma4.expert_count", (uint32_t)c->n_expert);
		g4_ggufw_set_u32(w, "gemma4.expert_used_count", (uint32_t)c->n_expert_used);
		g4_ggufw_set_u32(w, "gemma4.expert_feed_forward_length", (uint32_t)c->n_ff_exp);
	}
	g4_ggufw_set_u32(w, "tokenizer.ggml.bos_token_id", 2);
	g4_ggufw_set_u32(w, "tokenizer.ggml.eos_token_id", 1);
	if (c->n_suppress)
		g4_ggufw_set_arr(w, "tokenizer.ggml.suppress_tokens", G4_GGUF_INT32, (uint64_t)c->n_suppress,
				 c->suppress);

	gen_add(&g, "token_embd.weight", wt, 2, H, V, 1, 0, 2.5 / sqrt(H));
	if (c->untied)
		gen_add(&g, "output.weight", wt, 2, H, V, 1, 0, 1.0 / sqrt(H));
	gen_add(&g, "output_norm.weight", G4_F32, 1, H, 1, 1, 1, 1.0);
	float rf[512];
	for (int i = 0; i < c->hd_full / 2; i++)
		rf[i] = i < c->hd_full / 8 ? 1.0f : 1e30f;
	gen_addf(&g, "rope_freqs.weight", rf, c->hd_full / 2);
	if (c->ple) {
		gen_add(&g, "per_layer_token_embd.weight", wt, 2, (int64_t)L * c->ple, V, 1, 0, 1.0);
		gen_add(&g, "per_layer_model_proj.weight", wt, 2, H, (int64_t)L * c->ple, 1, 0, 1.0 / sqrt(H));
		gen_add(&g, "per_layer_proj_norm.weight", G4_F32, 1, c->ple, 1, 1, 1, 1.0);
	}
	for (int l = 0; l < L; l++) {
		int swa = pat[l], hd = swa ? c->hd_swa : c->hd_full, nkv = kvh[l], F = ff[l];
		double qk = sqrt(2.0) / pow(hd, 0.25);
#define T(s) (snprintf(nm, sizeof nm, "blk.%d." s, l), nm)
		gen_add(&g, T("attn_norm.weight"), G4_F32, 1, H, 1, 1, 1, 1.0);
		gen_add(&g, T("attn_q.weight"), wt, 2, H, c->n_head * hd + (c->break_q && l == 1), 1, 0,
			1.0 / sqrt(H));
		if (l < first_shared) {
			gen_add(&g, T("attn_k.weight"), wt, 2, H, nkv * hd, 1, 0, 1.0 / sqrt(H));
			if (!(c->k_eq_v && !swa))
				gen_add(&g, T("attn_v.weight"), wt, 2, H, nkv * hd, 1, 0, 1.0 / sqrt(H));
			gen_add(&g, T("attn_k_norm.weight"), G4_F32, 1, hd, 1, 1, 1, qk);
		}
		gen_add(&g, T("attn_q_norm.weight"), G4_F32, 1, hd, 1, 1, 1, qk);
		gen_add(&g, T("attn_output.weight"), wt, 2, c->n_head * hd, H, 1, 0, 1.0 / sqrt(c->n_head * hd));
		gen_add(&g, T("post_attention_norm.weight"), G4_F32, 1, H, 1, 1, 1, 3.0);
		gen_add(&g, T("ffn_norm.weight"), G4_F32, 1, H, 1, 1, 1, 1.0);
		gen_add(&g, T("ffn_gate.weight"), wt, 2, H, F, 1, 0, 1.0 / sqrt(H));
		gen_add(&g, T("ffn_up.weight"), wt, 2, H, F, 1, 0, 1.0 / sqrt(H));
		gen_add(&g, T("ffn_down.weight"), wt, 2, F, H, 1, 0, 1.0 / sqrt(F));
		gen_add(&g, T("post_ffw_norm.weight"), G4_F32, 1, H, 1, 1, 1, 3.0);
		gen_add(&g, T("layer_output_scale.weight"), G4_F32, 1, 1, 1, 1, 2, 0.6);
		if (c->ple) {
			gen_add(&g, T("inp_gate.weight"), wt, 2, H, c->ple, 1, 0, 1.0 / sqrt(H));
			gen_add(&g, T("proj.weight"), wt, 2, c->ple, H, 1, 0, 1.0 / sqrt(c->ple));
			gen_add(&g, T("post_norm.weight"), G4_F32, 1, H, 1, 1, 1, 3.0);
		}
		if (c->n_expert) {
			int E = c->n_expert, Fe = c->n_ff_exp;
			gen_add(&g, T("ffn_gate_inp.weight"), G4_F32, 2, H, E, 1, 0, 1.0);
			gen_add(&g, T("ffn_gate_inp.scale"), G4_F32, 1, H, 1, 1, 1, 1.0);
			if (c->moe_separate) {
				gen_add(&g, T("ffn_gate_exps.weight"), wt, 3, H, Fe, E, 0, 1.0 / sqrt(H));
				gen_add(&g, T("ffn_up_exps.weight"), wt, 3, H, Fe, E, 0, 1.0 / sqrt(H));
			} else {
				gen_add(&g, T("ffn_gate_up_exps.weight"), wt, 3, H, 2 * Fe, E, 0, 1.0 / sqrt(H));
			}
			gen_add(&g, T("ffn_down_exps.weight"), wt, 3, Fe, H, E, 0, 1.0 / sqrt(Fe));
			gen_add(&g, T("ffn_down_exps.scale"), G4_F32, 1, E, 1, 1, 2, 0.5);
			gen_add(&g, T("pre_ffw_norm_2.weight"), G4_F32, 1, H, 1, 1, 1, 1.0);
			gen_add(&g, T("post_ffw_norm_1.weight"), G4_F32, 1, H, 1, 1, 1, 1.0);
			gen_add(&g, T("post_ffw_norm_2.weight"), G4_F32, 1, H, 1, 1, 1, 1.0);
		}
#undef T
	}
	int rc = 0;
	for (int i = 0; i < g.n; i++)
		rc |= g4_ggufw_add_tensor(w, g.t[i].name, g.t[i].type, g.t[i].nd, g.t[i].ne);
	FILE *f = fopen(path, "wb");
	if (!f)
		rc = -1;
	if (f && !rc) {
		rc |= g4_ggufw_write_header(w, f);
		for (int i = 0; i < g.n && !rc; i++)
			rc |= g4_ggufw_write_data(w, f, g.t[i].data, g.t[i].nbytes);
		rc |= g4_ggufw_finish(w, f);
	}
	if (f && fclose(f))
		rc = -1;
	for (int i = 0; i < g.n; i++)
		free(g.t[i].data);
	free(g.t);
	g4_ggufw_free(w);
	return rc ? -1 : 0;
}

#endif
