/* bench_genmodel - writes a Gemma 4 GGUF of real size with random weights,
 * for benchmarks (make bench caches them outside the repository).
 *
 *   build/bench/bench_genmodel e2b|moe FTYPE OUT.gguf [layers]
 *
 * e2b: the E2B text model (spec gemma4-text.md §1.1): 35 layers, width 1536,
 * per-layer embeddings, the last 20 layers sharing KV, double-wide FFN in
 * the shared layers, the full 262144 vocabulary, tied output.
 * moe: the 26B-A4B structure (width 2816, 16 heads, 8/2 KV heads, K=V on
 * full layers, a 2112-wide dense MLP beside 128 experts of 704, top 8,
 * window 1024) with fewer layers (default 6: one S S S S S F period).
 *
 * FTYPE is a llama-quantize file type (F16, BF16, Q4_0, Q8_0, Q4_K_M, ...):
 * every tensor gets the type llama-quantize would give it (lib/qmix.h), so
 * the file reads like one made by g4quant or llama-quantize.  Rows are drawn
 * from a small pool of random rows quantised once per (width, type, scale),
 * so writing a file costs little more than the disk.  The tokenizer is
 * "none" with gemma4.vocab_size set (llama.cpp then adds dummy tokens; the
 * decoder does not need one).  The file appears whole or not at all. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"
#include "gguf.h"
#include "par.h"
#include "qmix.h"
#include "qtypes.h"
#include "quantize.h"

static const char *prog = "bench_genmodel";

typedef struct {
	char name[64];
	int nd;
	int64_t ne[4];
	int kind;		/* 0 normal(0, scale); 1 norm: scale (1 + 0.1 N); 2 uniform [scale, 1]; 3 rope freqs */
	double scale;
	uint32_t type;
} tdesc;

static tdesc *T;
static int nT, capT;

static void add(const char *name, int nd, int64_t ne0, int64_t ne1, int64_t ne2, int kind, double scale)
{
	if (nT == capT) {
		capT = capT ? 2 * capT : 256;
		T = realloc(T, (size_t)capT * sizeof *T);
		if (!T)
			g4_die(prog);
	}
	tdesc *t = &T[nT++];
	snprintf(t->name, sizeof t->name, "%s", name);
	t->nd = nd;
	t->ne[0] = ne0;
	t->ne[1] = ne1;
	t->ne[2] = ne2;
	t->ne[3] = 1;
	t->kind = kind;
	t->scale = scale;
	t->type = G4_F32;
}

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
	*s = mix(*s);
	return ((*s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal(uint64_t *s)
{
	double u = unif(s), v = unif(s);
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* A pool of POOL random rows of one (width, type, scale), already in the type. */
#define POOL 256
typedef struct {
	int64_t ne0;
	uint32_t type;
	double scale;
	size_t row_bytes;
	uint8_t *rows;
} pool;

static pool pools[64];
static int npools;

static const pool *get_pool(int64_t ne0, uint32_t type, double scale)
{
	for (int i = 0; i < npools; i++)
		if (pools[i].ne0 == ne0 && pools[i].type == type && pools[i].scale == scale)
			return &pools[i];
	if (npools == 64) {
		g4_err("too many row pools");
		g4_die(prog);
	}
	pool *p = &pools[npools++];
	p->ne0 = ne0;
	p->type = type;
	p->scale = scale;
	p->row_bytes = g4_row_bytes(type, ne0);
	float *f = malloc((size_t)ne0 * POOL * sizeof *f);
	p->rows = malloc(p->row_bytes * POOL);
	if (!f || !p->rows) {
		g4_err("out of memory (row pool of %lld values)", (long long)ne0);
		g4_die(prog);
	}
	uint64_t s = mix((uint64_t)ne0 * 1000003u + type * 7919u + (uint64_t)(scale * 1e6));
	for (int64_t i = 0; i < ne0 * POOL; i++)
		f[i] = (float)(scale * normal(&s));
	if (!g4_quantize(type, f, p->rows, POOL, ne0, NULL))
		g4_die(prog);
	free(f);
	return p;
}

static int write_tensor(g4_ggufw *w, FILE *f, const tdesc *t, int ti)
{
	int64_t nrows = t->ne[1] * t->ne[2] * t->ne[3];
	if (t->nd == 1 && t->kind != 0) {
		float *v = malloc((size_t)t->ne[0] * sizeof *v);
		if (!v)
			return g4_err("out of memory");
		uint64_t s = mix(0x5eed + (uint64_t)ti);
		for (int64_t i = 0; i < t->ne[0]; i++)
			v[i] = t->kind == 1 ? (float)(t->scale * (1.0 + 0.1 * normal(&s)))
			     : t->kind == 2 ? (float)(t->scale + (1.0 - t->scale) * unif(&s))
			     : i < t->ne[0] / 4 ? 1.0f : 1e30f;
		int rc = g4_ggufw_write_data(w, f, v, (uint64_t)t->ne[0] * 4);
		free(v);
		return rc;
	}
	const pool *p = get_pool(t->ne[0], t->type, t->scale);
	enum { CHUNK = 1024 };
	uint8_t *buf = malloc(p->row_bytes * CHUNK);
	if (!buf)
		return g4_err("out of memory");
	int rc = 0;
	for (int64_t r0 = 0; r0 < nrows && !rc; r0 += CHUNK) {
		int64_t n = nrows - r0 < CHUNK ? nrows - r0 : CHUNK;
		for (int64_t r = 0; r < n; r++) {
			uint64_t k = mix(((uint64_t)ti << 40) ^ (uint64_t)(r0 + r)) % POOL;
			memcpy(buf + r * p->row_bytes, p->rows + k * p->row_bytes, p->row_bytes);
		}
		rc = g4_ggufw_write_data_part(w, f, buf, (uint64_t)n * p->row_bytes, r0 + n == nrows);
	}
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: bench_genmodel e2b|moe FTYPE OUT.gguf [layers]\n");
		return 0;
	}
	if (argc < 4 || argc > 5 || (strcmp(argv[1], "e2b") && strcmp(argv[1], "moe"))) {
		fprintf(stderr, "usage: bench_genmodel e2b|moe FTYPE OUT.gguf [layers]\n");
		return 2;
	}
	int moe = !strcmp(argv[1], "moe");
	int ft = g4_ftype_parse(argv[2]);
	if (ft < 0) {
		fprintf(stderr, "bench_genmodel: unknown file type %s\n", argv[2]);
		return 2;
	}
	const int V = 262144;
	int L = moe ? 6 : 35, H = moe ? 2816 : 1536, NH = moe ? 16 : 8;
	int kv_swa = moe ? 8 : 1, kv_full = moe ? 2 : 1, hd_swa = 256, hd_full = 512;
	int ff = moe ? 2112 : 6144, P = moe ? 0 : 256, W = moe ? 1024 : 512, period = moe ? 6 : 5;
	int E = 128, K = 8, Fe = 704;
	if (argc == 5)
		L = atoi(argv[4]);
	if (L < 1 || L > 64) {
		fprintf(stderr, "bench_genmodel: layers 1..64\n");
		return 2;
	}
	int n_shared = moe ? 0 : (L * 20) / 35, first_shared = L - n_shared;
	int32_t ffs[64], kvh[64];
	uint8_t pat[64];
	for (int l = 0; l < L; l++) {
		int swa = (l + 1) % period != 0 && l != L - 1;
		pat[l] = (uint8_t)swa;
		kvh[l] = swa ? kv_swa : kv_full;
		ffs[l] = ff * (!moe && l >= first_shared ? 2 : 1);
	}

	g4_ggufw *w = g4_ggufw_new();
	if (!w)
		g4_die(prog);
	g4_ggufw_set_str(w, "general.architecture", "gemma4");
	g4_ggufw_set_str(w, "general.name", moe ? "bench-26b-a4b-shaped" : "bench-e2b-shaped");
	g4_ggufw_set_u32(w, "general.file_type", (uint32_t)ft);
	g4_ggufw_set_u32(w, "gemma4.block_count", (uint32_t)L);
	g4_ggufw_set_u32(w, "gemma4.context_length", 131072);
	g4_ggufw_set_u32(w, "gemma4.embedding_length", (uint32_t)H);
	g4_ggufw_set_u32(w, "gemma4.vocab_size", (uint32_t)V);
	if (moe)
		g4_ggufw_set_u32(w, "gemma4.feed_forward_length", (uint32_t)ff);
	else
		g4_ggufw_set_arr(w, "gemma4.feed_forward_length", G4_GGUF_INT32, (uint64_t)L, ffs);
	g4_ggufw_set_u32(w, "gemma4.attention.head_count", (uint32_t)NH);
	g4_ggufw_set_arr(w, "gemma4.attention.head_count_kv", G4_GGUF_INT32, (uint64_t)L, kvh);
	g4_ggufw_set_u32(w, "gemma4.attention.key_length", (uint32_t)hd_full);
	g4_ggufw_set_u32(w, "gemma4.attention.value_length", (uint32_t)hd_full);
	g4_ggufw_set_u32(w, "gemma4.attention.key_length_swa", (uint32_t)hd_swa);
	g4_ggufw_set_u32(w, "gemma4.attention.value_length_swa", (uint32_t)hd_swa);
	g4_ggufw_set_u32(w, "gemma4.rope.dimension_count", (uint32_t)hd_full);
	g4_ggufw_set_u32(w, "gemma4.rope.dimension_count_swa", (uint32_t)hd_swa);
	g4_ggufw_set_f32(w, "gemma4.rope.freq_base", 1e6f);
	g4_ggufw_set_f32(w, "gemma4.rope.freq_base_swa", 1e4f);
	g4_ggufw_set_u32(w, "gemma4.attention.sliding_window", (uint32_t)W);
	g4_ggufw_set_arr(w, "gemma4.attention.sliding_window_pattern", G4_GGUF_BOOL, (uint64_t)L, pat);
	g4_ggufw_set_f32(w, "gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
	g4_ggufw_set_u32(w, "gemma4.attention.shared_kv_layers", (uint32_t)n_shared);
	g4_ggufw_set_u32(w, "gemma4.embedding_length_per_layer_input", (uint32_t)P);
	g4_ggufw_set_f32(w, "gemma4.final_logit_softcapping", 30.0f);
	if (moe) {
		g4_ggufw_set_u32(w, "gemma4.expert_count", (uint32_t)E);
		g4_ggufw_set_u32(w, "gemma4.expert_used_count", (uint32_t)K);
		g4_ggufw_set_u32(w, "gemma4.expert_feed_forward_length", (uint32_t)Fe);
	}
	g4_ggufw_set_str(w, "tokenizer.ggml.model", "none");
	g4_ggufw_set_u32(w, "tokenizer.ggml.bos_token_id", 2);
	g4_ggufw_set_u32(w, "tokenizer.ggml.eos_token_id", 1);

	char nm[96];
	add("token_embd.weight", 2, H, V, 1, 0, 2.5 / sqrt(H));
	add("output_norm.weight", 1, H, 1, 1, 1, 1.0);
	add("rope_freqs.weight", 1, hd_full / 2, 1, 1, 3, 0);
	if (P) {
		add("per_layer_token_embd.weight", 2, (int64_t)L * P, V, 1, 0, 1.0);
		add("per_layer_model_proj.weight", 2, H, (int64_t)L * P, 1, 0, 1.0 / sqrt(H));
		add("per_layer_proj_norm.weight", 1, P, 1, 1, 1, 1.0);
	}
	for (int l = 0; l < L; l++) {
		int swa = pat[l], hd = swa ? hd_swa : hd_full, nkv = kvh[l], F = ffs[l];
		double qk = sqrt(2.0) / pow(hd, 0.25);
#define N(s) (snprintf(nm, sizeof nm, "blk.%d." s, l), nm)
		add(N("attn_norm.weight"), 1, H, 1, 1, 1, 1.0);
		add(N("attn_q.weight"), 2, H, (int64_t)NH * hd, 1, 0, 1.0 / sqrt(H));
		if (l < first_shared) {
			add(N("attn_k.weight"), 2, H, (int64_t)nkv * hd, 1, 0, 1.0 / sqrt(H));
			if (!(moe && !swa))
				add(N("attn_v.weight"), 2, H, (int64_t)nkv * hd, 1, 0, 1.0 / sqrt(H));
			add(N("attn_k_norm.weight"), 1, hd, 1, 1, 1, qk);
		}
		add(N("attn_q_norm.weight"), 1, hd, 1, 1, 1, qk);
		add(N("attn_output.weight"), 2, (int64_t)NH * hd, H, 1, 0, 1.0 / sqrt((double)NH * hd));
		add(N("post_attention_norm.weight"), 1, H, 1, 1, 1, 3.0);
		add(N("ffn_norm.weight"), 1, H, 1, 1, 1, 1.0);
		add(N("ffn_gate.weight"), 2, H, F, 1, 0, 1.0 / sqrt(H));
		add(N("ffn_up.weight"), 2, H, F, 1, 0, 1.0 / sqrt(H));
		add(N("ffn_down.weight"), 2, F, H, 1, 0, 1.0 / sqrt(F));
		add(N("post_ffw_norm.weight"), 1, H, 1, 1, 1, 3.0);
		add(N("layer_output_scale.weight"), 1, 1, 1, 1, 2, 0.6);
		if (P) {
			add(N("inp_gate.weight"), 2, H, P, 1, 0, 1.0 / sqrt(H));
			add(N("proj.weight"), 2, P, H, 1, 0, 1.0 / sqrt(P));
			add(N("post_norm.weight"), 1, H, 1, 1, 1, 3.0);
		}
		if (moe) {
			add(N("ffn_gate_inp.weight"), 2, H, E, 1, 0, 1.0);
			add(N("ffn_gate_inp.scale"), 1, H, 1, 1, 1, 1.0);
			add(N("ffn_gate_up_exps.weight"), 3, H, 2 * Fe, E, 0, 1.0 / sqrt(H));
			add(N("ffn_down_exps.weight"), 3, Fe, H, E, 0, 1.0 / sqrt(Fe));
			add(N("ffn_down_exps.scale"), 1, E, 1, 1, 2, 0.5);
			add(N("pre_ffw_norm_2.weight"), 1, H, 1, 1, 1, 1.0);
			add(N("post_ffw_norm_1.weight"), 1, H, 1, 1, 1, 1.0);
			add(N("post_ffw_norm_2.weight"), 1, H, 1, 1, 1, 1.0);
		}
#undef N
	}

	/* llama-quantize's order and type choice */
	g4_qmix_tensor *qt = calloc((size_t)nT, sizeof *qt);
	size_t *order = calloc((size_t)nT, sizeof *order);
	g4_qmix_tensor *sorted = calloc((size_t)nT, sizeof *sorted);
	uint32_t *types = calloc((size_t)nT, sizeof *types);
	if (!qt || !order || !sorted || !types)
		g4_die(prog);
	for (int i = 0; i < nT; i++) {
		qt[i].name = T[i].name;
		memcpy(qt[i].ne, T[i].ne, sizeof qt[i].ne);
		qt[i].type = G4_F32;
	}
	g4_qmix_order(qt, (size_t)nT, order);
	for (int i = 0; i < nT; i++)
		sorted[i] = qt[order[i]];
	g4_qmix_opts o;
	g4_qmix_opts_init(&o, ft);
	o.n_layer = L;
	o.n_head = NH;
	o.n_head_kv = kv_swa;
	o.n_expert = moe ? E : 0;
	if (g4_qmix_choose(&o, sorted, (size_t)nT, types))
		g4_die(prog);
	g4_qmix_opts_free(&o);
	for (int i = 0; i < nT; i++)
		T[order[i]].type = types[i];

	for (int i = 0; i < nT; i++) {
		const tdesc *t = &T[order[i]];
		if (g4_ggufw_add_tensor(w, t->name, t->type, (uint32_t)t->nd, t->ne))
			g4_die(prog);
	}
	g4_out *out = g4_out_open(argv[3]);
	if (!out)
		g4_die(prog);
	FILE *f = g4_out_file(out);
	if (g4_ggufw_write_header(w, f))
		g4_die(prog);
	for (int i = 0; i < nT; i++)
		if (write_tensor(w, f, &T[order[i]], (int)order[i]))
			g4_die(prog);
	if (g4_ggufw_finish(w, f) || g4_out_commit(out))
		g4_die(prog);
	g4_ggufw_free(w);
	for (int i = 0; i < npools; i++)
		free(pools[i].rows);
	free(qt);
	free(order);
	free(sorted);
	free(types);
	free(T);
	return 0;
}
