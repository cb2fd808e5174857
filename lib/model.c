/* model.c - loading a Gemma 4 text model from GGUF (see model.h).
 *
 * Keys and tensors as in spec gemma4-text.md §3.2/§3.3.  Every tensor the
 * forward pass touches is checked here (type computable, exact shape), so
 * forward.c never meets a surprise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "model.h"
#include "repack.h"
#include "qtypes.h"

#define KEY(k) "gemma4." k

static void *track(g4_model *m, void *p)
{
	if (!p)
		return NULL;
	if (m->n_allocs == m->cap_allocs) {
		int cap = m->cap_allocs ? 2 * m->cap_allocs : 64;
		void **a = realloc(m->allocs, (size_t)cap * sizeof *a);
		if (!a) {
			free(p);
			return NULL;
		}
		m->allocs = a;
		m->cap_allocs = cap;
	}
	m->allocs[m->n_allocs++] = p;
	return p;
}

static const char *dims_str(const int64_t *ne, int n, char *buf, size_t len)
{
	size_t o = 0;
	o += snprintf(buf + o, len - o, "{");
	for (int i = 0; i < n && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)ne[i]);
	if (o < len)
		snprintf(buf + o, len - o, "}");
	return buf;
}

/* Finds a tensor and checks its shape is exactly {ne0, ne1, ne2} (trailing 1s
 * may be omitted) and its type computable.  Missing: error if required, else
 * w->data = NULL and 0. */
static int get_mat(const g4_gguf *g, g4_mat *w, const char *name,
		   int64_t ne0, int64_t ne1, int64_t ne2, int required)
{
	memset(w, 0, sizeof *w);
	const g4_gguf_tensor *t = g4_gguf_find_tensor(g, name);
	if (!t) {
		if (required)
			return g4_err("tensor '%s' is missing", name);
		return 0;
	}
	int64_t want[4] = { ne0, ne1, ne2, 1 };
	int ok = 1;
	for (int i = 0; i < 4; i++)
		if (t->ne[i] != want[i])
			ok = 0;
	if (!ok) {
		char a[96], b[96];
		int nd = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
		return g4_err("tensor '%s' has shape %s, the config wants %s", name,
			      dims_str(t->ne, (int)(t->n_dims ? t->n_dims : 1), a, sizeof a),
			      dims_str(want, nd, b, sizeof b));
	}
	if (!g4_type_supported(t->type)) {
		const char *tn = g4_type_name(t->type);
		return g4_err("tensor '%s' has type %s, which g4 cannot compute with", name,
			      tn ? tn : "?");
	}
	size_t rb = g4_row_bytes(t->type, ne0);
	if (!rb)
		return g4_err("tensor '%s': rows of %lld values do not fit %s blocks of %d",
			      name, (long long)ne0, g4_type_name(t->type), g4_type_block(t->type));
	if ((uint64_t)rb * (uint64_t)ne1 * (uint64_t)ne2 > t->nbytes)
		return g4_err("tensor '%s': data is shorter than its shape", name);
	w->data = t->data;
	w->type = t->type;
	w->ne0 = ne0;
	w->ne1 = ne1;
	w->ne2 = ne2;
	w->row_bytes = rb;
	w->mat_bytes = rb * (size_t)ne1;
	w->mapped = g->mapped;
	return 0;
}

/* A vector tensor {n} converted to a malloc'd f32 array. */
static int get_vec(g4_model *m, float **out, const char *name, int64_t n, int required)
{
	g4_mat w;
	*out = NULL;
	if (get_mat(m->gguf, &w, name, n, 1, 1, required) < 0)
		return -1;
	if (!w.data)
		return 0;
	float *v = track(m, malloc((size_t)n * sizeof *v));
	if (!v)
		return g4_err("out of memory loading '%s'", name);
	g4_dequant_row(w.type, w.data, v, n);
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return g4_err("tensor '%s' holds a non-finite value at %lld", name, (long long)i);
	*out = v;
	return 0;
}

static int lmat(const g4_model *m, g4_mat *w, int l, const char *nm,
		int64_t ne0, int64_t ne1, int64_t ne2, int required)
{
	char name[96];
	snprintf(name, sizeof name, "blk.%d.%s", l, nm);
	return get_mat(m->gguf, w, name, ne0, ne1, ne2, required);
}

static int lvec(g4_model *m, float **out, int l, const char *nm, int64_t n, int required)
{
	char name[96];
	snprintf(name, sizeof name, "blk.%d.%s", l, nm);
	return get_vec(m, out, name, n, required);
}

static int opt_u32(const g4_gguf *g, const char *key, uint32_t def, uint32_t *out)
{
	if (g4_gguf_find_key(g, key) < 0) {
		*out = def;
		return 0;
	}
	return g4_gguf_get_u32(g, key, out);
}

static int opt_f32(const g4_gguf *g, const char *key, float def, float *out)
{
	if (g4_gguf_find_key(g, key) < 0) {
		*out = def;
		return 0;
	}
	return g4_gguf_get_f32(g, key, out);
}

static int layer_int(const g4_gguf *g, const char *key, int l, int64_t def,
		     int64_t lo, int64_t hi, int *out)
{
	int64_t v = def;
	if (g4_gguf_find_key(g, key) >= 0 && g4_gguf_get_layer_i64(g, key, (uint32_t)l, &v) < 0)
		return -1;
	if (v < lo || v > hi)
		return g4_err("%s: layer %d has %lld, outside %lld..%lld", key, l,
			      (long long)v, (long long)lo, (long long)hi);
	*out = (int)v;
	return 0;
}

static int find_token(const g4_gguf *g, const char *text)
{
	g4_str *toks;
	uint64_t n;
	int id = -1;
	if (g4_gguf_find_key(g, "tokenizer.ggml.tokens") < 0)
		return -1;
	if (g4_gguf_get_str_arr(g, "tokenizer.ggml.tokens", &toks, &n) < 0) {
		g4_err_clear();
		return -1;
	}
	size_t len = strlen(text);
	for (uint64_t i = 0; i < n && i < INT32_MAX; i++)
		if (toks[i].len == len && !memcmp(toks[i].ptr, text, len)) {
			id = (int)i;
			break;
		}
	free(toks);
	return id;
}

static int load_hparams(g4_model *m)
{
	const g4_gguf *g = m->gguf;
	g4_str arch;
	uint32_t u;

	if (g4_gguf_get_str(g, "general.architecture", &arch) < 0)
		return -1;
	if (arch.len != 6 || memcmp(arch.ptr, "gemma4", 6))
		return g4_err("general.architecture is '%.*s', not 'gemma4'",
			      (int)(arch.len > 40 ? 40 : arch.len), arch.ptr);

	if (g4_gguf_get_u32(g, KEY("block_count"), &u) < 0)
		return -1;
	if (u < 1 || u > 1024)
		return g4_err(KEY("block_count") " = %u is out of range", u);
	m->n_layer = (int)u;
	if (g4_gguf_get_u32(g, KEY("embedding_length"), &u) < 0)
		return -1;
	if (u < 1 || u > 131072)
		return g4_err(KEY("embedding_length") " = %u is out of range", u);
	m->n_embd = (int)u;
	if (g4_gguf_get_u32(g, KEY("attention.head_count"), &u) < 0)
		return -1;
	if (u < 1 || u > 4096)
		return g4_err(KEY("attention.head_count") " = %u is out of range", u);
	m->n_head = (int)u;

	uint32_t kl, vl, kls, vls;
	if (g4_gguf_get_u32(g, KEY("attention.key_length_swa"), &kls) < 0 ||
	    opt_u32(g, KEY("attention.value_length_swa"), kls, &vls) < 0 ||
	    opt_u32(g, KEY("attention.key_length"), (uint32_t)(m->n_embd / m->n_head), &kl) < 0 ||
	    opt_u32(g, KEY("attention.value_length"), kl, &vl) < 0)
		return -1;
	if (kl != vl || kls != vls)
		return g4_err("key_length and value_length differ (%u/%u, swa %u/%u)", kl, vl, kls, vls);
	if (kl < 2 || kl > 8192 || kl % 2 || kls < 2 || kls > 8192 || kls % 2)
		return g4_err("head dims %u / %u (full / sliding) are not even numbers in 2..8192", kl, kls);
	m->hd_full = (int)kl;
	m->hd_swa = (int)kls;

	uint32_t nrot, nrot_swa;
	if (opt_u32(g, KEY("rope.dimension_count"), kl, &nrot) < 0 ||
	    opt_u32(g, KEY("rope.dimension_count_swa"), kls, &nrot_swa) < 0)
		return -1;
	if (nrot > kl || nrot % 2 || nrot_swa > kls || nrot_swa % 2)
		return g4_err("rope.dimension_count %u / %u does not fit head dims %u / %u",
			      nrot, nrot_swa, kl, kls);
	float base, base_swa;
	if (opt_f32(g, KEY("rope.freq_base"), 10000.0f, &base) < 0 ||
	    opt_f32(g, KEY("rope.freq_base_swa"), 10000.0f, &base_swa) < 0)
		return -1;
	if (!(base > 1.0f) || !(base_swa > 1.0f) || !isfinite(base) || !isfinite(base_swa))
		return g4_err("rope.freq_base %g / %g is not > 1", base, base_swa);

	if (g4_gguf_get_u32(g, KEY("attention.sliding_window"), &u) < 0)
		return -1;
	if (u < 1)
		return g4_err(KEY("attention.sliding_window") " is 0");
	m->window = (int)u;
	if (g4_gguf_get_f32(g, KEY("attention.layer_norm_rms_epsilon"), &m->eps) < 0)
		return -1;
	if (!(m->eps >= 0.0f) || m->eps > 1.0f)
		return g4_err("rms epsilon %g is out of range", m->eps);
	if (opt_u32(g, KEY("attention.shared_kv_layers"), 0, &u) < 0)
		return -1;
	if (u >= (uint32_t)m->n_layer)
		return g4_err(KEY("attention.shared_kv_layers") " = %u leaves no layer with its own KV", u);
	m->n_kv_shared = (int)u;
	m->first_shared = m->n_layer - m->n_kv_shared;
	if (opt_u32(g, KEY("embedding_length_per_layer_input"), 0, &u) < 0)
		return -1;
	if (u > 65536)
		return g4_err(KEY("embedding_length_per_layer_input") " = %u is out of range", u);
	m->n_ple = (int)u;
	m->bidir_vision = m->n_ple == 0;
	if (opt_f32(g, KEY("final_logit_softcapping"), 30.0f, &m->softcap) < 0)
		return -1;
	if (!(m->softcap >= 0.0f) || !isfinite(m->softcap))
		return g4_err("final_logit_softcapping %g is invalid", m->softcap);

	uint32_t ne, nu, fe;
	if (opt_u32(g, KEY("expert_count"), 0, &ne) < 0 ||
	    opt_u32(g, KEY("expert_used_count"), 0, &nu) < 0 ||
	    opt_u32(g, KEY("expert_feed_forward_length"), 0, &fe) < 0)
		return -1;
	if (ne > 4096 || nu > ne || fe > 1u << 20)
		return g4_err("expert_count %u / expert_used_count %u / expert_feed_forward_length %u are inconsistent",
			      ne, nu, fe);
	m->n_expert = (int)ne;
	m->n_expert_used = (int)nu;
	m->n_ff_exp = (int)fe;
	int64_t ctx = 0;
	if (g4_gguf_find_key(g, KEY("context_length")) >= 0 &&
	    g4_gguf_get_i64(g, KEY("context_length"), &ctx) < 0)
		return -1;
	m->n_ctx_train = ctx;

	m->layers = track(m, calloc((size_t)m->n_layer, sizeof *m->layers));
	if (!m->layers)
		return g4_err("out of memory");
	int64_t pat = 0;
	if (g4_gguf_find_key(g, KEY("attention.sliding_window_pattern")) < 0)
		return g4_err("key '" KEY("attention.sliding_window_pattern") "' is missing");
	for (int l = 0; l < m->n_layer; l++) {
		g4_layer *L = &m->layers[l];
		if (g4_gguf_get_layer_i64(g, KEY("attention.sliding_window_pattern"), (uint32_t)l, &pat) < 0)
			return -1;
		L->swa = pat != 0;
		L->hd = L->swa ? m->hd_swa : m->hd_full;
		L->n_rot = (int)(L->swa ? nrot_swa : nrot);
		L->rope_base = L->swa ? base_swa : base;
		if (layer_int(g, KEY("attention.head_count_kv"), l, m->n_head, 1, m->n_head, &L->nkv) < 0 ||
		    layer_int(g, KEY("feed_forward_length"), l, 0, 0, 1 << 22, &L->ff) < 0)
			return -1;
		if (m->n_head % L->nkv)
			return g4_err("layer %d: %d query heads are not a multiple of %d KV heads",
				      l, m->n_head, L->nkv);
		L->has_kv = l < m->first_shared;
	}
	/* KV source: the last KV-owning layer of the same type (spec §1.2). */
	int slot = 0;
	for (int l = 0; l < m->n_layer; l++) {
		g4_layer *L = &m->layers[l];
		if (L->has_kv) {
			L->kv_src = l;
			L->kv_slot = slot++;
			continue;
		}
		L->kv_src = -1;
		for (int j = m->first_shared - 1; j >= 0; j--)
			if (m->layers[j].swa == L->swa) {
				L->kv_src = j;
				break;
			}
		if (L->kv_src < 0)
			return g4_err("layer %d shares KV but no earlier %s layer owns KV", l,
				      L->swa ? "sliding" : "full");
		const g4_layer *S = &m->layers[L->kv_src];
		if (S->hd != L->hd || S->nkv != L->nkv)
			return g4_err("layer %d shares the KV of layer %d but their KV heads differ", l, L->kv_src);
		L->kv_slot = S->kv_slot;
	}
	m->n_layer_kv = slot;
	m->bos_id = 2;
	m->eos_id = 1;
	if (g4_gguf_find_key(g, "tokenizer.ggml.bos_token_id") >= 0 &&
	    g4_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u) == 0)
		m->bos_id = (int)u;
	if (g4_gguf_find_key(g, "tokenizer.ggml.eos_token_id") >= 0 &&
	    g4_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u) == 0)
		m->eos_id = (int)u;
	m->eot_id = find_token(g, "<turn|>");
	g4_err_clear();
	if (g4_gguf_find_key(g, "tokenizer.ggml.suppress_tokens") >= 0) {
		uint32_t et;
		uint64_t n;
		const void *data;
		if (g4_gguf_get_arr(g, "tokenizer.ggml.suppress_tokens", &et, &n, &data) < 0)
			return -1;
		if (n > (1u << 24))
			return g4_err("tokenizer.ggml.suppress_tokens has %llu entries", (unsigned long long)n);
		m->suppress = track(m, malloc((n ? n : 1) * sizeof *m->suppress));
		if (!m->suppress)
			return g4_err("out of memory");
		for (uint64_t i = 0; i < n; i++) {
			int64_t v = g4_gguf_arr_i64(et, data, i);
			if (v < 0 || v > INT32_MAX)
				return g4_err("tokenizer.ggml.suppress_tokens[%llu] = %lld is not a token id",
					      (unsigned long long)i, (long long)v);
			m->suppress[i] = (int32_t)v;
		}
		m->n_suppress = (int)n;
	}
	return 0;
}

static int load_tensors(g4_model *m)
{
	const g4_gguf *g = m->gguf;
	const int64_t H = m->n_embd, L = m->n_layer, P = m->n_ple;
	const g4_gguf_tensor *te = g4_gguf_find_tensor(g, "token_embd.weight");
	if (!te)
		return g4_err("tensor 'token_embd.weight' is missing");
	if (te->ne[1] < 1 || te->ne[1] > (1 << 24))
		return g4_err("tensor 'token_embd.weight': vocabulary of %lld is out of range",
			      (long long)te->ne[1]);
	m->n_vocab = (int)te->ne[1];
	const int64_t V = m->n_vocab;
	if (get_mat(g, &m->tok_embd, "token_embd.weight", H, V, 1, 1) < 0 ||
	    get_mat(g, &m->output, "output.weight", H, V, 1, 0) < 0 ||
	    get_vec(m, &m->output_norm, "output_norm.weight", H, 1) < 0)
		return -1;
	if (!m->output.data)
		m->output = m->tok_embd;
	if (g4_gguf_find_tensor(g, "rope_freqs.weight")) {
		m->n_rope_freqs = m->hd_full / 2;
		if (get_vec(m, &m->rope_freqs, "rope_freqs.weight", m->n_rope_freqs, 1) < 0)
			return -1;
		for (int i = 0; i < m->n_rope_freqs; i++)
			if (!(m->rope_freqs[i] > 0.0f))
				return g4_err("rope_freqs.weight[%d] = %g is not positive", i, m->rope_freqs[i]);
	}
	if (P > 0) {
		if (get_mat(g, &m->ple_embd, "per_layer_token_embd.weight", L * P, V, 1, 1) < 0 ||
		    get_mat(g, &m->ple_proj, "per_layer_model_proj.weight", H, L * P, 1, 1) < 0 ||
		    get_vec(m, &m->ple_proj_norm, "per_layer_proj_norm.weight", P, 1) < 0)
			return -1;
	}
	for (int l = 0; l < m->n_layer; l++) {
		g4_layer *Y = &m->layers[l];
		const int64_t hd = Y->hd, q = (int64_t)m->n_head * hd, kv = (int64_t)Y->nkv * hd;
		const int64_t F = Y->ff;
		if (lvec(m, &Y->attn_norm, l, "attn_norm.weight", H, 1) < 0 ||
		    lmat(m, &Y->wq, l, "attn_q.weight", H, q, 1, 1) < 0 ||
		    lmat(m, &Y->wo, l, "attn_output.weight", q, H, 1, 1) < 0 ||
		    lvec(m, &Y->q_norm, l, "attn_q_norm.weight", hd, 1) < 0 ||
		    lvec(m, &Y->post_attn_norm, l, "post_attention_norm.weight", H, 1) < 0 ||
		    lvec(m, &Y->ffn_norm, l, "ffn_norm.weight", H, 1) < 0 ||
		    lvec(m, &Y->post_ffw_norm, l, "post_ffw_norm.weight", H, 1) < 0)
			return -1;
		if (Y->has_kv &&
		    (lmat(m, &Y->wk, l, "attn_k.weight", H, kv, 1, 1) < 0 ||
		     lmat(m, &Y->wv, l, "attn_v.weight", H, kv, 1, 0) < 0 ||
		     lvec(m, &Y->k_norm, l, "attn_k_norm.weight", hd, 1) < 0))
			return -1;
		if (F < 1)
			return g4_err("layer %d: feed_forward_length is 0", l);
		if (lmat(m, &Y->gate, l, "ffn_gate.weight", H, F, 1, 1) < 0 ||
		    lmat(m, &Y->up, l, "ffn_up.weight", H, F, 1, 1) < 0 ||
		    lmat(m, &Y->down, l, "ffn_down.weight", F, H, 1, 1) < 0)
			return -1;
		float *ls;
		if (lvec(m, &ls, l, "layer_output_scale.weight", 1, 0) < 0)
			return -1;
		Y->layer_scale = ls ? ls[0] : 1.0f;
		if (P > 0 &&
		    (lmat(m, &Y->inp_gate, l, "inp_gate.weight", H, P, 1, 1) < 0 ||
		     lmat(m, &Y->proj, l, "proj.weight", P, H, 1, 1) < 0 ||
		     lvec(m, &Y->ple_post_norm, l, "post_norm.weight", H, 1) < 0))
			return -1;
		char nm[96];
		snprintf(nm, sizeof nm, "blk.%d.ffn_gate_inp.weight", l);
		Y->moe = g4_gguf_find_tensor(g, nm) != NULL;
		if (!Y->moe)
			continue;
		const int64_t E = m->n_expert, Fe = m->n_ff_exp;
		if (E < 1 || m->n_expert_used < 1 || Fe < 1)
			return g4_err("layer %d has MoE tensors but expert_count / expert_used_count / "
				      "expert_feed_forward_length are not set", l);
		if (lmat(m, &Y->router, l, "ffn_gate_inp.weight", H, E, 1, 1) < 0 ||
		    lvec(m, &Y->router_scale, l, "ffn_gate_inp.scale", H, 1) < 0 ||
		    lvec(m, &Y->expert_scale, l, "ffn_down_exps.scale", E, 1) < 0 ||
		    lmat(m, &Y->gate_up_exps, l, "ffn_gate_up_exps.weight", H, 2 * Fe, E, 0) < 0 ||
		    lmat(m, &Y->down_exps, l, "ffn_down_exps.weight", Fe, H, E, 1) < 0 ||
		    lvec(m, &Y->pre_ffw_norm_2, l, "pre_ffw_norm_2.weight", H, 1) < 0 ||
		    lvec(m, &Y->post_ffw_norm_1, l, "post_ffw_norm_1.weight", H, 1) < 0 ||
		    lvec(m, &Y->post_ffw_norm_2, l, "post_ffw_norm_2.weight", H, 1) < 0)
			return -1;
		if (!Y->gate_up_exps.data &&
		    (lmat(m, &Y->gate_exps, l, "ffn_gate_exps.weight", H, Fe, E, 1) < 0 ||
		     lmat(m, &Y->up_exps, l, "ffn_up_exps.weight", H, Fe, E, 1) < 0))
			return g4_err_ctx("layer %d: neither ffn_gate_up_exps nor ffn_gate_exps/ffn_up_exps: ", l);
	}
	return 0;
}

g4_model *g4_model_from_gguf(g4_gguf *g)
{
	g4_model *m = calloc(1, sizeof *m);
	if (!m) {
		g4_gguf_close(g);
		g4_err("out of memory");
		return NULL;
	}
	m->gguf = g;
	g4_gguf_fingerprint(g, m->fingerprint);
	if (load_hparams(m) < 0 || load_tensors(m) < 0) {
		g4_model_free(m);
		return NULL;
	}
	return m;
}

g4_model *g4_model_load(const char *path)
{
	g4_gguf *g = g4_gguf_open(path);
	if (!g)
		return NULL;
	g4_model *m = g4_model_from_gguf(g);
	if (!m)
		g4_err_ctx("%s: ", path);
	return m;
}

enum { MATS_TOP = 2, MATS_LAYER = 14 };

int g4_model_mats(const g4_model *m)
{
	return m->layers ? MATS_TOP + MATS_LAYER * m->n_layer : MATS_TOP;
}

g4_mat *g4_model_mat(g4_model *m, int i)
{
	if (i < MATS_TOP)
		return i == 0 ? &m->output : &m->ple_proj;
	g4_layer *L = &m->layers[(i - MATS_TOP) / MATS_LAYER];
	g4_mat *ms[MATS_LAYER] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down,
				   &L->inp_gate, &L->proj, &L->router, &L->gate_up_exps, &L->gate_exps,
				   &L->up_exps, &L->down_exps };
	return ms[(i - MATS_TOP) % MATS_LAYER];
}

void g4_model_free(g4_model *m)
{
	if (!m)
		return;
	for (int i = 0, n = g4_model_mats(m); i < n; i++)
		g4_rp_release(g4_model_mat(m, i));
	for (int i = 0; i < m->n_allocs; i++)
		free(m->allocs[i]);
	free(m->allocs);
	g4_gguf_close(m->gguf);
	free(m);
}
