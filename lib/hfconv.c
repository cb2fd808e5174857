/* hfconv.c - Hugging Face Gemma 4 checkpoint -> GGUF (see hfconv.h; spec
 * gguf-and-quant.md §4, gemma4-text.md §3). */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "hfconv.h"
#include "qtypes.h"
#include "safetensors.h"
#include "tokenizer.h"

#define MAX_JSON ((size_t)1 << 30)

/* ---- small helpers ----------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

static int file_exists(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	struct stat st;
	int r = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return r;
}

/* Parses DIR/NAME; NULL with a message (or, if optional and absent, NULL
 * with *absent set). */
static cJSON *load_json(const char *dir, const char *name, int optional, int *absent)
{
	if (absent)
		*absent = 0;
	if (optional && !file_exists(dir, name)) {
		if (absent)
			*absent = 1;
		return NULL;
	}
	char *p = path_join(dir, name), *buf;
	size_t n;
	if (!p) {
		g4_err("out of memory");
		return NULL;
	}
	if (g4_slurp(p, MAX_JSON, &buf, &n)) {
		free(p);
		return NULL;
	}
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
	if (!j)
		g4_err("%s: bad JSON near byte %zu", p, end ? (size_t)(end - buf) : 0);
	free(buf);
	free(p);
	return j;
}

int g4_hfconv_is_checkpoint(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && file_exists(path, "config.json");
}

/* ---- hyper-parameters ---------------------------------------------------- */

struct hp {
	cJSON *root, *text;	/* text_config (merged view: text first) */
};

static cJSON *hget(const struct hp *h, const char *k)
{
	cJSON *v = h->text ? cJSON_GetObjectItemCaseSensitive(h->text, k) : NULL;
	if (!v || cJSON_IsNull(v))
		v = cJSON_GetObjectItemCaseSensitive(h->root, k);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

/* integer hparam; -1 with a message if missing (and no default) or not an integer */
static int hint(const struct hp *h, const char *k, int64_t def, int required, int64_t *out)
{
	cJSON *v = hget(h, k);
	if (!v) {
		if (required)
			return g4_err("config.json: '%s' is missing", k);
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > 1e15)
		return g4_err("config.json: '%s' is not a non-negative integer", k);
	*out = (int64_t)v->valuedouble;
	return 0;
}

static int hnum(const struct hp *h, const char *k, double def, double *out)
{
	cJSON *v = hget(h, k);
	if (!v) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v))
		return g4_err("config.json: '%s' is not a number", k);
	*out = v->valuedouble;
	return 0;
}

struct cfg {
	int64_t L, H, F, nh, nkv, nkv_full, hd, hd_full, P, n_shared, n_exp, n_exp_used, Fe, ctx, swin;
	int has_nkv_full, double_mlp, moe, has_softcap, write_swin, has_freq_swa;
	double eps, theta, theta_swa, softcap, prf_full, prf_swa;
	int *swa;		/* L flags */
	int64_t vocab_real;	/* token count of tokenizer.json, -1 if unknown */
};

static int read_cfg(const struct hp *h, struct cfg *c)
{
	memset(c, 0, sizeof *c);
	if (hint(h, "num_hidden_layers", 0, 1, &c->L) || hint(h, "hidden_size", 0, 1, &c->H) ||
	    hint(h, "intermediate_size", 0, 1, &c->F) ||
	    hint(h, "num_attention_heads", 8, 0, &c->nh) || hint(h, "num_key_value_heads", 4, 0, &c->nkv) ||
	    hint(h, "head_dim", 256, 0, &c->hd) || hint(h, "global_head_dim", 0, 1, &c->hd_full) ||
	    hint(h, "hidden_size_per_layer_input", 0, 0, &c->P) ||
	    hint(h, "num_kv_shared_layers", 0, 1, &c->n_shared) ||
	    hint(h, "max_position_embeddings", 131072, 0, &c->ctx) ||
	    hint(h, "sliding_window", 0, 1, &c->swin))
		return -1;
	if (c->L < 1 || c->L > 4096 || c->H < 1 || c->H > (1 << 20) || c->n_shared > c->L)
		return g4_err("config.json: implausible sizes (num_hidden_layers %lld, hidden_size %lld)",
			      (long long)c->L, (long long)c->H);
	if (hget(h, "num_global_key_value_heads")) {
		if (hint(h, "num_global_key_value_heads", 0, 1, &c->nkv_full))
			return -1;
		c->has_nkv_full = 1;
	}
	cJSON *dw = hget(h, "use_double_wide_mlp");
	c->double_mlp = dw && cJSON_IsTrue(dw);
	static const char *const ne_keys[] = { "num_local_experts", "num_experts", "n_routed_experts" };
	static const char *const nu_keys[] = { "num_experts_per_tok", "num_experts_per_token", "top_k_experts" };
	c->n_exp = c->n_exp_used = -1;
	for (int i = 0; i < 3 && c->n_exp < 0; i++)
		if (hget(h, ne_keys[i]) && hint(h, ne_keys[i], 0, 1, &c->n_exp))
			return -1;
	for (int i = 0; i < 3 && c->n_exp_used < 0; i++)
		if (hget(h, nu_keys[i]) && hint(h, nu_keys[i], 0, 1, &c->n_exp_used))
			return -1;
	c->Fe = -1;
	if (hget(h, "expert_intermediate_size")) {
		if (hint(h, "expert_intermediate_size", 0, 1, &c->Fe))
			return -1;
	} else if (hget(h, "moe_intermediate_size") && hint(h, "moe_intermediate_size", 0, 1, &c->Fe))
		return -1;
	if (hnum(h, "rms_norm_eps", 1e-6, &c->eps))
		return -1;
	cJSON *sc = hget(h, "final_logit_softcapping");
	if (sc && cJSON_IsNumber(sc) && sc->valuedouble != 0) {
		c->has_softcap = 1;
		c->softcap = sc->valuedouble;
	}
	cJSON *swp = hget(h, "sliding_window_pattern");
	c->write_swin = !(swp && cJSON_IsNumber(swp) && swp->valuedouble == 1);
	/* rope parameters */
	cJSON *rp = hget(h, "rope_parameters");
	cJSON *full = rp ? cJSON_GetObjectItemCaseSensitive(rp, "full_attention") : NULL;
	cJSON *slid = rp ? cJSON_GetObjectItemCaseSensitive(rp, "sliding_attention") : NULL;
	if (!full)
		return g4_err("config.json: rope_parameters.full_attention is missing");
	cJSON *rt = cJSON_GetObjectItemCaseSensitive(full, "rope_type");
	if (!cJSON_IsString(rt) || strcmp(rt->valuestring, "proportional"))
		return g4_err("config.json: rope_parameters.full_attention.rope_type must be \"proportional\"");
	cJSON *x = cJSON_GetObjectItemCaseSensitive(full, "rope_theta");
	c->theta = cJSON_IsNumber(x) ? x->valuedouble : 1e6;
	x = cJSON_GetObjectItemCaseSensitive(full, "partial_rotary_factor");
	if (!cJSON_IsNumber(x))
		return g4_err("config.json: rope_parameters.full_attention.partial_rotary_factor is missing");
	c->prf_full = x->valuedouble;
	x = slid ? cJSON_GetObjectItemCaseSensitive(slid, "rope_theta") : NULL;
	if (cJSON_IsNumber(x)) {
		c->has_freq_swa = 1;
		c->theta_swa = x->valuedouble;
	}
	x = cJSON_GetObjectItemCaseSensitive(rp, "partial_rotary_factor");
	c->prf_swa = cJSON_IsNumber(x) ? x->valuedouble : 1.0;
	/* layer types */
	cJSON *lt = hget(h, "layer_types");
	if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != c->L)
		return g4_err("config.json: layer_types must be an array of num_hidden_layers (%lld) strings",
			      (long long)c->L);
	c->swa = calloc((size_t)c->L, sizeof *c->swa);
	if (!c->swa)
		return g4_err("out of memory");
	int i = 0;
	cJSON_ArrayForEach(x, lt) {
		if (!cJSON_IsString(x))
			return g4_err("config.json: layer_types[%d] is not a string", i);
		c->swa[i++] = !strcmp(x->valuestring, "sliding_attention");
	}
	cJSON *moe = hget(h, "enable_moe_block");
	c->moe = moe && cJSON_IsTrue(moe);
	return 0;
}

/* ---- metadata (convert_hf_to_gguf.py order, spec §4.7) ------------------- */

static int set_meta(g4_ggufw *w, const struct cfg *c, const char *dir, int ftype, int unified)
{
	int rc = 0;
	char name[256];
	const char *base;
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	base = dir;
	for (size_t i = 0; i < dl; i++)
		if (dir[i] == '/' && i + 1 < dl)
			base = dir + i + 1;
	snprintf(name, sizeof name, "%.*s", (int)(dir + dl - base), base);
	rc |= g4_ggufw_set_str(w, "general.architecture", "gemma4");
	rc |= g4_ggufw_set_str(w, "general.type", "model");
	/* general.sampling.* from generation_config.json */
	int absent;
	cJSON *gc = load_json(dir, "generation_config.json", 1, &absent);
	if (!gc && !absent)
		return -1;
	if (gc) {
		cJSON *v;
		if ((v = cJSON_GetObjectItemCaseSensitive(gc, "top_k")) && cJSON_IsNumber(v))
			rc |= g4_ggufw_set_i32(w, "general.sampling.top_k", (int32_t)v->valuedouble);
		if ((v = cJSON_GetObjectItemCaseSensitive(gc, "top_p")) && cJSON_IsNumber(v))
			rc |= g4_ggufw_set_f32(w, "general.sampling.top_p", (float)v->valuedouble);
		if ((v = cJSON_GetObjectItemCaseSensitive(gc, "min_p")) && cJSON_IsNumber(v))
			rc |= g4_ggufw_set_f32(w, "general.sampling.min_p", (float)v->valuedouble);
		if ((v = cJSON_GetObjectItemCaseSensitive(gc, "temperature")) && cJSON_IsNumber(v))
			rc |= g4_ggufw_set_f32(w, "general.sampling.temp", (float)v->valuedouble);
	}
	rc |= g4_ggufw_set_str(w, "general.name", name);
	rc |= g4_ggufw_set_u32(w, "gemma4.block_count", (uint32_t)c->L);
	rc |= g4_ggufw_set_u32(w, "gemma4.context_length", (uint32_t)c->ctx);
	rc |= g4_ggufw_set_u32(w, "gemma4.embedding_length", (uint32_t)c->H);
	if (c->double_mlp) {
		int32_t *ff = malloc((size_t)c->L * sizeof *ff);
		if (!ff) {
			cJSON_Delete(gc);
			return g4_err("out of memory");
		}
		for (int64_t l = 0; l < c->L; l++)
			ff[l] = (int32_t)(l < c->L - c->n_shared ? c->F : 2 * c->F);
		rc |= g4_ggufw_set_arr(w, "gemma4.feed_forward_length", G4_GGUF_INT32, (uint64_t)c->L, ff);
		free(ff);
	} else
		rc |= g4_ggufw_set_u32(w, "gemma4.feed_forward_length", (uint32_t)c->F);
	rc |= g4_ggufw_set_u32(w, "gemma4.attention.head_count", (uint32_t)c->nh);
	if (c->has_nkv_full) {
		int32_t *kv = malloc((size_t)c->L * sizeof *kv);
		if (!kv) {
			cJSON_Delete(gc);
			return g4_err("out of memory");
		}
		for (int64_t l = 0; l < c->L; l++)
			kv[l] = (int32_t)(c->swa[l] ? c->nkv : c->nkv_full);
		rc |= g4_ggufw_set_arr(w, "gemma4.attention.head_count_kv", G4_GGUF_INT32, (uint64_t)c->L, kv);
		free(kv);
	} else
		rc |= g4_ggufw_set_u32(w, "gemma4.attention.head_count_kv", (uint32_t)c->nkv);
	rc |= g4_ggufw_set_f32(w, "gemma4.rope.freq_base", (float)c->theta);
	if (c->has_freq_swa)
		rc |= g4_ggufw_set_f32(w, "gemma4.rope.freq_base_swa", (float)c->theta_swa);
	rc |= g4_ggufw_set_f32(w, "gemma4.attention.layer_norm_rms_epsilon", (float)c->eps);
	if (c->n_exp >= 0)
		rc |= g4_ggufw_set_u32(w, "gemma4.expert_count", (uint32_t)c->n_exp);
	if (c->n_exp_used >= 0)
		rc |= g4_ggufw_set_u32(w, "gemma4.expert_used_count", (uint32_t)c->n_exp_used);
	rc |= g4_ggufw_set_u32(w, "gemma4.attention.key_length", (uint32_t)c->hd_full);
	rc |= g4_ggufw_set_u32(w, "gemma4.attention.value_length", (uint32_t)c->hd_full);
	rc |= g4_ggufw_set_u32(w, "general.file_type", (uint32_t)ftype);
	if (c->has_softcap)
		rc |= g4_ggufw_set_f32(w, "gemma4.final_logit_softcapping", (float)c->softcap);
	if (c->write_swin)
		rc |= g4_ggufw_set_u32(w, "gemma4.attention.sliding_window", (uint32_t)c->swin);
	rc |= g4_ggufw_set_u32(w, "gemma4.attention.shared_kv_layers", (uint32_t)c->n_shared);
	rc |= g4_ggufw_set_u32(w, "gemma4.embedding_length_per_layer_input", (uint32_t)c->P);
	uint8_t *pat = malloc((size_t)c->L);
	if (!pat) {
		cJSON_Delete(gc);
		return g4_err("out of memory");
	}
	for (int64_t l = 0; l < c->L; l++)
		pat[l] = (uint8_t)c->swa[l];
	rc |= g4_ggufw_set_arr(w, "gemma4.attention.sliding_window_pattern", G4_GGUF_BOOL, (uint64_t)c->L, pat);
	free(pat);
	rc |= g4_ggufw_set_u32(w, "gemma4.attention.key_length_swa", (uint32_t)c->hd);
	rc |= g4_ggufw_set_u32(w, "gemma4.attention.value_length_swa", (uint32_t)c->hd);
	if (c->Fe >= 0)
		rc |= g4_ggufw_set_u32(w, "gemma4.expert_feed_forward_length", (uint32_t)c->Fe);
	rc |= g4_ggufw_set_u32(w, "gemma4.rope.dimension_count", (uint32_t)c->hd_full);
	rc |= g4_ggufw_set_u32(w, "gemma4.rope.dimension_count_swa", (uint32_t)(int64_t)((double)c->hd * c->prf_swa));
	/* the Unified model: generation_config.json suppress_tokens */
	cJSON *sup = unified && gc ? cJSON_GetObjectItemCaseSensitive(gc, "suppress_tokens") : NULL;
	if (cJSON_IsArray(sup)) {
		int n = cJSON_GetArraySize(sup), i = 0;
		int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
		cJSON *x;
		if (!ids) {
			cJSON_Delete(gc);
			return g4_err("out of memory");
		}
		cJSON_ArrayForEach(x, sup) {
			if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 2147483647.0) {
				free(ids);
				cJSON_Delete(gc);
				return g4_err("generation_config.json: suppress_tokens[%d] is not a token id", i);
			}
			ids[i++] = (int32_t)x->valuedouble;
		}
		if (n)
			rc |= g4_ggufw_set_arr(w, "tokenizer.ggml.suppress_tokens", G4_GGUF_INT32, (uint64_t)n, ids);
		free(ids);
	}
	cJSON_Delete(gc);
	rc |= g4_ggufw_set_u32(w, "general.quantization_version", 2);
	return rc ? -1 : 0;
}

/* ---- vocabulary ------------------------------------------------------------ */

/* tokenizer.json through the tokenizer module (the same export as its own
 * vocab-only files), then the chat template: chat_template.jinja,
 * chat_template.json or tokenizer_config.json, as the converter looks. */
static int set_vocab(g4_ggufw *w, const char *dir, int64_t *n_vocab)
{
	int rc = -1, absent;
	char *tp = path_join(dir, "tokenizer.json"), *tmpl = NULL;
	g4_tokenizer *t = tp ? g4_tok_load(tp) : NULL;
	free(tp);
	if (!t)
		return -1;
	cJSON *tc = NULL, *cj = NULL;
	if (g4_tok_write_gguf(t, w))
		goto out;
	if (file_exists(dir, "chat_template.jinja")) {
		char *p = path_join(dir, "chat_template.jinja");
		size_t n;
		int r = p ? g4_slurp(p, MAX_JSON, &tmpl, &n) : -1;
		free(p);
		if (r)
			goto out;
	} else {
		cj = load_json(dir, "chat_template.json", 1, &absent);
		if (!cj && !absent)
			goto out;
		tc = load_json(dir, "tokenizer_config.json", 1, &absent);
		if (!tc && !absent)
			goto out;
		cJSON *ct = cj ? cJSON_GetObjectItemCaseSensitive(cj, "chat_template") : NULL;
		if (!cJSON_IsString(ct))
			ct = tc ? cJSON_GetObjectItemCaseSensitive(tc, "chat_template") : NULL;
		if (cJSON_IsString(ct) && ct->valuestring[0] && !(tmpl = strdup(ct->valuestring))) {
			g4_err("out of memory");
			goto out;
		}
	}
	if (tmpl && tmpl[0] && g4_ggufw_set_str(w, "tokenizer.chat_template", tmpl))
		goto out;
	*n_vocab = (int64_t)g4_tok_n_vocab(t);
	rc = 0;
out:
	free(tmpl);
	cJSON_Delete(tc);
	cJSON_Delete(cj);
	g4_tok_free(t);
	return rc;
}

/* ---- tensors ------------------------------------------------------------------ */

struct tin {
	char name[96];		/* GGUF name */
	char hf[160];		/* checkpoint name (for messages) */
	int64_t ne[4];
	uint32_t dtype;		/* G4_F32/F16/BF16 */
	const void *data;
	int mapped;
};

struct ckpt {
	g4_st *st;
	struct tin *t;
	size_t nt, cap;
	float *rope;		/* generated rope_freqs */
};

static void ckpt_free(struct ckpt *k)
{
	g4_st_close(k->st);
	free(k->t);
	free(k->rope);
}

static int starts(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static int ends(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !memcmp(s + n - m, suf, m);
}

/* the converter's TextModel filter: tensors of the other modalities */
static int other_modality(const char *s)
{
	static const char *const pre[] = { "mlp", "vit.", "vpm.", "siglip2.", "conformer.", "merger.",
		"resampler.", "sound_encoder.", "sound_projection.", "speech_embeddings." };
	static const char *const in[] = { "visual.", "vision.", "audio.", "talker.", "vision_", "audio_",
		"token2wav.", "code2wav.", "projector.", "pre_mm_projector_norm", "image_newline",
		"view_seperator", "patch_embed", "patch_embedding", "patch_merger.", "patch_merge_mlp.",
		"model.connector." };
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
		if (starts(s, pre[i]))
			return 1;
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
		if (strstr(s, in[i]))
			return 1;
	return 0;
}

static const struct { const char *hf, *gg; } layer_map[] = {
	{ "input_layernorm.weight", "attn_norm.weight" },
	{ "self_attn.q_proj.weight", "attn_q.weight" },
	{ "self_attn.k_proj.weight", "attn_k.weight" },
	{ "self_attn.v_proj.weight", "attn_v.weight" },
	{ "self_attn.o_proj.weight", "attn_output.weight" },
	{ "self_attn.q_norm.weight", "attn_q_norm.weight" },
	{ "self_attn.k_norm.weight", "attn_k_norm.weight" },
	{ "post_attention_layernorm.weight", "post_attention_norm.weight" },
	{ "pre_feedforward_layernorm.weight", "ffn_norm.weight" },
	{ "mlp.gate_proj.weight", "ffn_gate.weight" },
	{ "mlp.up_proj.weight", "ffn_up.weight" },
	{ "mlp.down_proj.weight", "ffn_down.weight" },
	{ "post_feedforward_layernorm.weight", "post_ffw_norm.weight" },
	{ "layer_scalar.weight", "layer_output_scale.weight" },
	{ "per_layer_input_gate.weight", "inp_gate.weight" },
	{ "per_layer_projection.weight", "proj.weight" },
	{ "post_per_layer_input_norm.weight", "post_norm.weight" },
	{ "router.proj.weight", "ffn_gate_inp.weight" },
	{ "router.scale", "ffn_gate_inp.scale" },
	{ "router.per_expert_scale", "ffn_down_exps.scale" },
	{ "experts.gate_up_proj.weight", "ffn_gate_up_exps.weight" },
	{ "experts.down_proj.weight", "ffn_down_exps.weight" },
	{ "pre_feedforward_layernorm_2.weight", "pre_ffw_norm_2.weight" },
	{ "post_feedforward_layernorm_1.weight", "post_ffw_norm_1.weight" },
	{ "post_feedforward_layernorm_2.weight", "post_ffw_norm_2.weight" },
};

static const struct { const char *hf, *gg; } global_map[] = {
	{ "model.embed_tokens.weight", "token_embd.weight" },
	{ "model.embed_tokens_per_layer.weight", "per_layer_token_embd.weight" },
	{ "model.per_layer_model_projection.weight", "per_layer_model_proj.weight" },
	{ "model.per_layer_projection_norm.weight", "per_layer_proj_norm.weight" },
	{ "model.norm.weight", "output_norm.weight" },
	{ "lm_head.weight", "output.weight" },
};

/* HF name -> GGUF name; 0 = dropped (other modality), 1 = mapped, -1 error */
static int map_name(const char *hf, int64_t L, char *out, size_t outn)
{
	char s[256];
	if (strlen(hf) >= 200)
		return g4_err("tensor name '%.60s...' is too long", hf);
	snprintf(s, sizeof s, "%s", hf);
	if (ends(s, "per_dim_scale") || ends(s, "layer_scalar"))
		strcat(s, ".weight");
	if (strstr(s, ".experts.") && !ends(s, ".weight") && !ends(s, ".weight_scale") &&
	    !ends(s, ".weight_scale_2") && !ends(s, ".input_scale"))
		strcat(s, ".weight");
	if (other_modality(s))
		return 0;
	/* remove every "language_model." */
	char *p;
	while ((p = strstr(s, "language_model.")))
		memmove(p, p + 15, strlen(p + 15) + 1);
	for (size_t i = 0; i < sizeof global_map / sizeof global_map[0]; i++)
		if (!strcmp(s, global_map[i].hf)) {
			snprintf(out, outn, "%s", global_map[i].gg);
			return 1;
		}
	if (starts(s, "model.layers.")) {
		const char *q = s + 13;
		char *end;
		long b = strtol(q, &end, 10);
		if (end != q && *end == '.' && b >= 0 && b < L) {
			for (size_t i = 0; i < sizeof layer_map / sizeof layer_map[0]; i++)
				if (!strcmp(end + 1, layer_map[i].hf)) {
					snprintf(out, outn, "blk.%ld.%s", b, layer_map[i].gg);
					return 1;
				}
		}
	}
	return g4_err("cannot map tensor '%s' to a GGUF name", hf);
}

static int add_tin(struct ckpt *k, const struct tin *t)
{
	if (k->nt == k->cap) {
		size_t nc = k->cap ? 2 * k->cap : 256;
		struct tin *p = realloc(k->t, nc * sizeof *p);
		if (!p)
			return g4_err("out of memory");
		k->t = p;
		k->cap = nc;
	}
	k->t[k->nt++] = *t;
	return 0;
}

static int open_ckpt(const char *dir, const struct cfg *c, struct ckpt *k)
{
	memset(k, 0, sizeof *k);
	k->st = g4_st_open_dir(dir);
	if (!k->st)
		return -1;
	/* generated first: rope_freqs */
	int64_t half = c->hd_full / 2, nrot = (int64_t)((double)c->hd_full * c->prf_full / 2);
	if (half < 1 || nrot > half || nrot < 0)
		return g4_err("config.json: bad global_head_dim %lld or partial_rotary_factor",
			      (long long)c->hd_full);
	k->rope = malloc((size_t)half * sizeof *k->rope);
	if (!k->rope)
		return g4_err("out of memory");
	for (int64_t i = 0; i < half; i++)
		k->rope[i] = i < nrot ? 1.0f : 1e30f;
	struct tin rt = { .name = "rope_freqs.weight", .hf = "(generated)", .ne = { half, 1, 1, 1 },
			  .dtype = G4_F32, .data = k->rope };
	if (add_tin(k, &rt))
		return -1;
	/* then the checkpoint's tensors in the converter's order */
	size_t n = g4_st_count(k->st);
	for (size_t i = 0; i < n; i++) {
		const g4_st_tensor *x = g4_st_tensor_at(k->st, i);
		const char *shard = g4_st_shard_path(k->st, x->shard);
		struct tin t = { 0 };
		int r = map_name(x->name, c->L, t.name, sizeof t.name);
		if (r < 0)
			return g4_err_ctx("%s: ", shard);
		if (r == 0)
			continue;
		snprintf(t.hf, sizeof t.hf, "%s", x->name);
		if (x->n_dims > 4)
			return g4_err("%s: tensor '%s' has %u dimensions", shard, x->name, x->n_dims);
		for (int d = 0; d < 4; d++)
			t.ne[d] = 1;
		for (uint32_t d = 0; d < x->n_dims; d++)
			t.ne[d] = x->shape[x->n_dims - 1 - d];
		for (int d = 0; d < 4; d++)
			if (t.ne[d] < 1)
				return g4_err("%s: tensor '%s' is empty", shard, x->name);
		switch (x->dtype) {
		case G4_ST_F32: t.dtype = G4_F32; break;
		case G4_ST_F16: t.dtype = G4_F16; break;
		case G4_ST_BF16: t.dtype = G4_BF16; break;
		default:
			return g4_err("%s: tensor '%s' has dtype %s; only F32, F16 and BF16 are converted",
				      shard, x->name, g4_st_dtype_name(x->dtype));
		}
		t.data = x->data;
		t.mapped = 1;
		for (size_t j = 0; j < k->nt; j++)
			if (!strcmp(k->t[j].name, t.name))
				return g4_err("tensors '%s' and '%s' both map to %s", k->t[j].hf, t.hf, t.name);
		if (add_tin(k, &t))
			return -1;
	}
	return 0;
}

static struct tin *find(struct ckpt *k, const char *name)
{
	for (size_t i = 0; i < k->nt; i++)
		if (!strcmp(k->t[i].name, name))
			return &k->t[i];
	return NULL;
}

/* The expected tensor set and shapes (gemma4-text.md §3.3); a clear error
 * for anything missing or misshapen. */
static int check_tensors(struct ckpt *k, const struct cfg *c, int64_t n_vocab)
{
	char b[96];
#define NEED(nm, a0, a1, a2) do { if (need(k, nm, a0, a1, a2)) return -1; } while (0)
	struct tin *te = find(k, "token_embd.weight");
	if (!te)
		return g4_err("checkpoint has no model.embed_tokens.weight");
	/* the converter keeps the first n_vocab rows */
	if (n_vocab > 0 && te->ne[1] > n_vocab)
		te->ne[1] = n_vocab;
	if (n_vocab > 0 && te->ne[1] != n_vocab)
		return g4_err("embed_tokens has %lld rows, the tokenizer %lld tokens", (long long)te->ne[1],
			      (long long)n_vocab);
	int64_t V = te->ne[1];
	int64_t LP = c->L * c->P;
	if (0) {
	}
	struct {
		const char *n;
		int64_t a0, a1, a2;
	} g[] = {
		{ "token_embd.weight", c->H, V, 1 },
		{ "output_norm.weight", c->H, 1, 1 },
		{ "per_layer_token_embd.weight", LP, V, 1 },
		{ "per_layer_model_proj.weight", c->H, LP, 1 },
		{ "per_layer_proj_norm.weight", c->P, 1, 1 },
	};
	for (size_t i = 0; i < (c->P ? 5u : 2u); i++) {
		struct tin *t = find(k, g[i].n);
		if (!t)
			return g4_err("checkpoint lacks the tensor for %s", g[i].n);
		if (t->ne[0] != g[i].a0 || t->ne[1] != g[i].a1 || t->ne[2] != g[i].a2)
			return g4_err("tensor '%s' (%s) has shape {%lld, %lld, %lld}, expected {%lld, %lld, %lld}",
				      t->hf, t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
				      (long long)g[i].a0, (long long)g[i].a1, (long long)g[i].a2);
	}
	for (int64_t l = 0; l < c->L; l++) {
		int64_t hd = c->swa[l] ? c->hd : c->hd_full;
		int64_t ff = c->double_mlp && l >= c->L - c->n_shared ? 2 * c->F : c->F;
		static const char *const always[] = { "attn_norm.weight", "attn_q.weight", "attn_output.weight",
			"attn_q_norm.weight", "post_attention_norm.weight", "ffn_norm.weight", "ffn_gate.weight",
			"ffn_up.weight", "ffn_down.weight", "post_ffw_norm.weight" };
		int64_t shp[][2] = { { c->H, 1 }, { c->H, c->nh * hd }, { c->nh * hd, c->H }, { hd, 1 },
				     { c->H, 1 }, { c->H, 1 }, { c->H, ff }, { c->H, ff }, { ff, c->H },
				     { c->H, 1 } };
		for (int i = 0; i < 10; i++) {
			snprintf(b, sizeof b, "blk.%lld.%s", (long long)l, always[i]);
			struct tin *t = find(k, b);
			if (!t)
				return g4_err("checkpoint lacks layer %lld's tensor for %s", (long long)l, b);
			if (t->ne[0] != shp[i][0] || t->ne[1] != shp[i][1] || t->ne[2] != 1)
				return g4_err("tensor '%s' (%s) has shape {%lld, %lld, %lld}, expected {%lld, %lld}",
					      t->hf, b, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
					      (long long)shp[i][0], (long long)shp[i][1]);
		}
		if (l < c->L - c->n_shared) {
			snprintf(b, sizeof b, "blk.%lld.attn_k.weight", (long long)l);
			if (!find(k, b))
				return g4_err("checkpoint lacks layer %lld's tensor for %s", (long long)l, b);
		}
		if (c->P) {
			static const char *const ple[] = { "inp_gate.weight", "proj.weight", "post_norm.weight" };
			for (int i = 0; i < 3; i++) {
				snprintf(b, sizeof b, "blk.%lld.%s", (long long)l, ple[i]);
				if (!find(k, b))
					return g4_err("checkpoint lacks layer %lld's tensor for %s", (long long)l, b);
			}
		}
		if (c->moe) {
			static const char *const moe[] = { "ffn_gate_inp.weight", "ffn_gate_inp.scale",
				"ffn_gate_up_exps.weight", "ffn_down_exps.weight", "ffn_down_exps.scale",
				"pre_ffw_norm_2.weight", "post_ffw_norm_1.weight", "post_ffw_norm_2.weight" };
			for (int i = 0; i < 8; i++) {
				snprintf(b, sizeof b, "blk.%lld.%s", (long long)l, moe[i]);
				if (!find(k, b))
					return g4_err("checkpoint lacks layer %lld's tensor for %s", (long long)l, b);
			}
		}
	}
#undef NEED
	return 0;
}

/* The converter's type for a tensor (§4.6) given its outtype. */
static uint32_t conv_type(const struct tin *t, uint32_t out)
{
	if (g4_qmix_ndims(t->ne) <= 1 || ends(t->name, "_norm.weight") || strstr(t->name, "ffn_gate_inp.weight") ||
	    !ends(t->name, ".weight"))
		return G4_F32;
	if (out == G4_Q8_0 && t->ne[0] % 32)
		return G4_F16;
	return out;
}

int g4_hfconv(const char *dir, FILE *out, const g4_requant_opts *o)
{
	struct hp h = { 0 };
	struct cfg c = { 0 };
	struct ckpt k = { 0 };
	g4_ggufw *w = NULL;
	g4_qsrc *src = NULL;
	uint32_t *types = NULL;
	int rc = -1;
	int ft = o->mix.ftype;
	h.root = load_json(dir, "config.json", 0, NULL);
	if (!h.root)
		goto out;
	if (!cJSON_IsObject(h.root)) {
		g4_err("%s/config.json: not a JSON object", dir);
		goto out;
	}
	cJSON *arch = cJSON_GetObjectItemCaseSensitive(h.root, "architectures");
	cJSON *a0 = cJSON_IsArray(arch) ? cJSON_GetArrayItem(arch, 0) : NULL;
	if (!cJSON_IsString(a0) || (strcmp(a0->valuestring, "Gemma4ForConditionalGeneration") &&
				    strcmp(a0->valuestring, "Gemma4ForCausalLM") &&
				    strcmp(a0->valuestring, "Gemma4UnifiedForConditionalGeneration"))) {
		g4_err("%s/config.json: architectures[0] must be Gemma4ForConditionalGeneration, "
		       "Gemma4ForCausalLM or Gemma4UnifiedForConditionalGeneration", dir);
		goto out;
	}
	int unified = !strcmp(a0->valuestring, "Gemma4UnifiedForConditionalGeneration");
	h.text = cJSON_GetObjectItemCaseSensitive(h.root, "text_config");
	if (h.text && !cJSON_IsObject(h.text))
		h.text = NULL;
	if (read_cfg(&h, &c)) {
		g4_err_ctx("%s: ", dir);
		goto out;
	}
	if (open_ckpt(dir, &c, &k)) {
		g4_err_ctx("%s: ", dir);
		goto out;
	}
	/* the converter's outtype: TYPE itself for F32/F16/BF16/Q8_0, else auto */
	int emulate = ft == G4_FT_ALL_F32 || ft == G4_FT_F16 || ft == G4_FT_BF16 || ft == G4_FT_Q8_0;
	uint32_t outtype = 0;
	int conv_ft = ft;
	if (emulate)
		outtype = (uint32_t)g4_ftype_default_type(ft);
	else {
		/* the first tensor of 2+ dims stored as bf16 or f16 decides; F16 if none */
		outtype = G4_F16;
		for (size_t i = 0; i < k.nt; i++)
			if (g4_qmix_ndims(k.t[i].ne) >= 2 && k.t[i].dtype != G4_F32) {
				outtype = k.t[i].dtype;
				break;
			}
		conv_ft = outtype == G4_BF16 ? G4_FT_BF16 : G4_FT_F16;
	}
	w = g4_ggufw_new();
	if (!w) {
		g4_err("out of memory");
		goto out;
	}
	int64_t nv = -1;
	if (set_meta(w, &c, dir, conv_ft, unified) || set_vocab(w, dir, &nv))
		goto out;
	if (check_tensors(&k, &c, nv)) {
		g4_err_ctx("%s: ", dir);
		goto out;
	}
	src = calloc(k.nt, sizeof *src);
	types = calloc(k.nt, sizeof *types);
	if (!src || !types) {
		g4_err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < k.nt; i++) {
		uint32_t ct = conv_type(&k.t[i], outtype);
		src[i].name = k.t[i].name;
		memcpy(src[i].ne, k.t[i].ne, sizeof src[i].ne);
		src[i].src_type = k.t[i].dtype;
		src[i].data = k.t[i].data;
		src[i].mapped = k.t[i].mapped;
		/* the bytes the converter would have stored (Q8_0 from the f32 values) */
		src[i].type = ct == G4_Q8_0 ? G4_F32 : ct;
		types[i] = ct;
	}
	g4_requant_opts ro = *o;
	ro.in_name = dir;	/* the input's errors name dir, write errors the output */
	if (emulate)
		rc = g4_qwrite(w, k.nt, src, types, NULL, &ro, out);
	else {
		ro.mix.n_layer = c.L;
		ro.mix.n_head = c.nh;
		ro.mix.n_head_kv = c.swa[0] || !c.has_nkv_full ? c.nkv : c.nkv_full;
		ro.mix.n_expert = c.n_exp > 0 ? c.n_exp : 0;
		rc = g4_requant_srcs(w, k.nt, src, &ro, out);
	}
out:
	free(src);
	free(types);
	g4_ggufw_free(w);
	ckpt_free(&k);
	free(c.swa);
	cJSON_Delete(h.root);
	return rc;
}


/* ---- mmproj: vision and audio towers (spec gguf-and-quant.md §4.9,
 * gemma4-vision.md §6, gemma4-audio.md §5) ------------------------------- */

static const struct { const char *hf, *gg; } vis_layer[] = {
	{ "input_layernorm.weight", "ln1.weight" },
	{ "self_attn.q_proj", "attn_q" },
	{ "self_attn.k_proj", "attn_k" },
	{ "self_attn.v_proj", "attn_v" },
	{ "self_attn.o_proj", "attn_out" },
	{ "self_attn.q_norm.weight", "attn_q_norm.weight" },
	{ "self_attn.k_norm.weight", "attn_k_norm.weight" },
	{ "post_attention_layernorm.weight", "attn_post_norm.weight" },
	{ "pre_feedforward_layernorm.weight", "ln2.weight" },
	{ "mlp.gate_proj", "ffn_gate" },
	{ "mlp.up_proj", "ffn_up" },
	{ "mlp.down_proj", "ffn_down" },
	{ "post_feedforward_layernorm.weight", "ffn_post_norm.weight" },
	{ "layer_scalar", "out_scale.weight" },
};

static const struct { const char *hf, *gg; } aud_layer[] = {
	{ "feed_forward1.pre_layer_norm.weight", "ffn_norm.weight" },
	{ "feed_forward1.ffw_layer_1", "ffn_up" },
	{ "feed_forward1.ffw_layer_2", "ffn_down" },
	{ "feed_forward1.post_layer_norm.weight", "ffn_post_norm.weight" },
	{ "norm_pre_attn.weight", "attn_pre_norm.weight" },
	{ "self_attn.q_proj", "attn_q" },
	{ "self_attn.k_proj", "attn_k" },
	{ "self_attn.v_proj", "attn_v" },
	{ "self_attn.relative_k_proj.weight", "attn_k_rel.weight" },
	{ "self_attn.per_dim_scale", "per_dim_scale.weight" },
	{ "self_attn.per_dim_key_scale", "per_dim_k_scale.weight" },
	{ "self_attn.post", "attn_out" },
	{ "norm_post_attn.weight", "attn_post_norm.weight" },
	{ "lconv1d.pre_layer_norm.weight", "conv_norm.weight" },
	{ "lconv1d.linear_start", "conv_pw1" },
	{ "lconv1d.depthwise_conv1d.weight", "conv_dw.weight" },
	{ "lconv1d.conv_norm.weight", "norm_conv.weight" },
	{ "lconv1d.linear_end", "conv_pw2" },
	{ "feed_forward2.pre_layer_norm.weight", "ffn_norm_1.weight" },
	{ "feed_forward2.ffw_layer_1", "ffn_up_1" },
	{ "feed_forward2.ffw_layer_2", "ffn_down_1" },
	{ "feed_forward2.post_layer_norm.weight", "ffn_post_norm_1.weight" },
	{ "norm_out.weight", "ln2.weight" },
};

static const struct { const char *hf, *gg; } mm_global[] = {
	{ "model.vision_tower.patch_embedder.input_proj.weight", "v.patch_embd.weight" },
	{ "model.vision_tower.patch_embedder.position_embedding_table", "v.position_embd.weight" },
	{ "model.vision_tower.std_bias", "v.std_bias" },
	{ "model.vision_tower.std_scale", "v.std_scale" },
	{ "model.embed_vision.embedding_projection.weight", "mm.input_projection.weight" },
	{ "model.audio_tower.subsample_conv_projection.layer0.conv.weight", "a.conv1d.0.weight" },
	{ "model.audio_tower.subsample_conv_projection.layer0.norm.weight", "a.conv1d.0.norm.weight" },
	{ "model.audio_tower.subsample_conv_projection.layer1.conv.weight", "a.conv1d.1.weight" },
	{ "model.audio_tower.subsample_conv_projection.layer1.norm.weight", "a.conv1d.1.norm.weight" },
	{ "model.audio_tower.subsample_conv_projection.input_proj_linear.weight", "a.input_projection.weight" },
	{ "model.audio_tower.output_proj.weight", "a.pre_encode.out.weight" },
	{ "model.audio_tower.output_proj.bias", "a.pre_encode.out.bias" },
	{ "model.embed_audio.embedding_projection.weight", "mm.a.input_projection.weight" },
};

/* a linear's suffix: ".linear.weight" -> ".weight", clip bounds kept */
static int linear_suffix(const char *rest, const char **suf)
{
	static const char *const s[] = { ".linear.weight", ".weight", ".input_min", ".input_max",
					 ".output_min", ".output_max" };
	for (int i = 0; i < 6; i++)
		if (!strcmp(rest, s[i])) {
			*suf = i == 0 ? ".weight" : s[i];
			return 1;
		}
	return 0;
}

/* HF name of a vision/audio tensor -> GGUF; 0 = not a tower tensor, 1 = mapped */
static int map_mm_name(const char *hf, char *out, size_t n)
{
	if (strstr(hf, "language_model."))
		return 0;
	for (size_t i = 0; i < sizeof mm_global / sizeof mm_global[0]; i++)
		if (!strcmp(hf, mm_global[i].hf)) {
			snprintf(out, n, "%s", mm_global[i].gg);
			return 1;
		}
	const char *pre[2] = { "model.vision_tower.encoder.layers.", "model.audio_tower.layers." };
	for (int v = 0; v < 2; v++) {
		if (!starts(hf, pre[v]))
			continue;
		char *end;
		long b = strtol(hf + strlen(pre[v]), &end, 10);
		if (end == hf + strlen(pre[v]) || *end != '.' || b < 0 || b > 100000)
			break;
		const char *rest = end + 1;
		size_t nm = v == 0 ? sizeof vis_layer / sizeof vis_layer[0] : sizeof aud_layer / sizeof aud_layer[0];
		for (size_t i = 0; i < nm; i++) {
			const char *h = v == 0 ? vis_layer[i].hf : aud_layer[i].hf;
			const char *g = v == 0 ? vis_layer[i].gg : aud_layer[i].gg;
			size_t hl = strlen(h);
			if (strncmp(rest, h, hl))
				continue;
			if (!rest[hl]) {
				snprintf(out, n, "%s.blk.%ld.%s", v == 0 ? "v" : "a", b, g);
				return 1;
			}
			const char *suf;
			if (!strchr(g, '.') && linear_suffix(rest + hl, &suf)) {
				snprintf(out, n, "%s.blk.%ld.%s%s", v == 0 ? "v" : "a", b, g, suf);
				return 1;
			}
		}
		break;
	}
	if (starts(hf, "model.vision_tower.") || starts(hf, "model.audio_tower.") ||
	    starts(hf, "model.embed_vision.") || starts(hf, "model.embed_audio."))
		return g4_err("cannot map tensor '%s' to a GGUF name", hf);
	return 0;
}

struct mmt {
	struct tin t;
	char hf[160];
	float *own;		/* transformed data (patch embedding, softplus) */
};

static int json_f32_arr(cJSON *a, float *out, int n)
{
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
		return -1;
	int i = 0;
	cJSON *x;
	cJSON_ArrayForEach(x, a) {
		if (!cJSON_IsNumber(x))
			return -1;
		out[i++] = (float)x->valuedouble;
	}
	return 0;
}

static int mm_meta(g4_ggufw *w, const char *dir, cJSON *root, int ftype, int vis, int aud)
{
	int e = 0;
	struct hp t = { root, cJSON_GetObjectItemCaseSensitive(root, "text_config") }, v = { 0 }, a = { 0 };
	int64_t ht, x;
	if (hint(&t, "hidden_size", 0, 1, &ht))
		return -1;
	e |= g4_ggufw_set_str(w, "general.architecture", "clip");
	e |= g4_ggufw_set_str(w, "general.type", "mmproj");
	char name[256];
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	const char *base = dir;
	for (size_t i = 0; i < dl; i++)
		if (dir[i] == '/' && i + 1 < dl)
			base = dir + i + 1;
	snprintf(name, sizeof name, "%.*s", (int)(dir + dl - base), base);
	e |= g4_ggufw_set_str(w, "general.name", name);
	e |= g4_ggufw_set_u32(w, "general.file_type", (uint32_t)ftype);
	float mean[3] = { 0.5f, 0.5f, 0.5f }, std[3] = { 0.5f, 0.5f, 0.5f };
	if (vis) {
		v.root = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
		/* image_mean / image_std: preprocessor_config.json, then processor_config.json */
		int found = 0, absent;
		static const char *const pc[] = { "preprocessor_config.json", "processor_config.json" };
		for (int i = 0; i < 2; i++) {
			cJSON *j = load_json(dir, pc[i], 1, &absent);
			if (!j && !absent)
				return -1;
			if (!j)
				continue;
			cJSON *src = j, *ip = cJSON_GetObjectItemCaseSensitive(j, "image_processor");
			for (int k = 0; k < 2; k++) {
				cJSON *o = k == 0 ? src : ip;
				if (!cJSON_IsObject(o))
					continue;
				cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "image_mean");
				cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "image_std");
				if (m && s) {
					if (json_f32_arr(m, mean, 3) || json_f32_arr(s, std, 3)) {
						cJSON_Delete(j);
						return g4_err("%s: image_mean / image_std must be 3 numbers", pc[i]);
					}
					found = 1;
				}
			}
			cJSON_Delete(j);
		}
		if (!found)
			return g4_err("%s: no image_mean / image_std (preprocessor_config.json or "
				      "processor_config.json)", dir);
		e |= g4_ggufw_set_bool(w, "clip.has_vision_encoder", 1);
		e |= g4_ggufw_set_u32(w, "clip.vision.projection_dim", (uint32_t)ht);
		e |= g4_ggufw_set_u32(w, "clip.vision.image_size", 224);
		static const char *const k[] = { "patch_size", "hidden_size", "intermediate_size",
			"num_hidden_layers", "num_attention_heads" };
		static const char *const g[] = { "clip.vision.patch_size", "clip.vision.embedding_length",
			"clip.vision.feed_forward_length", "clip.vision.block_count",
			"clip.vision.attention.head_count" };
		for (int i = 0; i < 5; i++) {
			if (hint(&v, k[i], 0, 1, &x))
				return g4_err_ctx("vision_config: ");
			e |= g4_ggufw_set_u32(w, g[i], (uint32_t)x);
		}
		e |= g4_ggufw_set_arr(w, "clip.vision.image_mean", G4_GGUF_FLOAT32, 3, mean);
		e |= g4_ggufw_set_arr(w, "clip.vision.image_std", G4_GGUF_FLOAT32, 3, std);
	}
	if (aud) {
		a.root = cJSON_GetObjectItemCaseSensitive(root, "audio_config");
		int64_t hs, nl, nh;
		if (hint(&a, "hidden_size", 0, 1, &hs) || hint(&a, "num_hidden_layers", 0, 1, &nl) ||
		    hint(&a, "num_attention_heads", 0, 1, &nh))
			return g4_err_ctx("audio_config: ");
		e |= g4_ggufw_set_bool(w, "clip.has_audio_encoder", 1);
		e |= g4_ggufw_set_u32(w, "clip.audio.projection_dim", (uint32_t)ht);
		e |= g4_ggufw_set_u32(w, "clip.audio.embedding_length", (uint32_t)hs);
		e |= g4_ggufw_set_u32(w, "clip.audio.feed_forward_length", (uint32_t)(4 * hs));
		e |= g4_ggufw_set_u32(w, "clip.audio.block_count", (uint32_t)nl);
		e |= g4_ggufw_set_u32(w, "clip.audio.attention.head_count", (uint32_t)nh);
	}
	double eps = 1e-6;
	if (vis) {
		e |= g4_ggufw_set_str(w, "clip.vision.projector_type", "gemma4v");
		if (hnum(&v, "layer_norm_eps", 1e-6, &eps))
			return -1;
		e |= g4_ggufw_set_f32(w, "clip.vision.attention.layer_norm_epsilon", (float)eps);
	}
	if (aud) {
		e |= g4_ggufw_set_str(w, "clip.audio.projector_type", "gemma4a");
		if (hint(&a, "input_feat_size", 128, 0, &x) || hnum(&a, "layer_norm_eps", 1e-6, &eps))
			return -1;
		e |= g4_ggufw_set_u32(w, "clip.audio.num_mel_bins", (uint32_t)x);
		e |= g4_ggufw_set_f32(w, "clip.audio.attention.layer_norm_epsilon", (float)eps);
	}
	e |= g4_ggufw_set_u32(w, "general.quantization_version", 2);
	return e ? -1 : 0;
}

/* the converter's type for a tower tensor (base rules + Gemma4VisionAudioModel) */
static uint32_t mm_type(const struct mmt *m, uint32_t out, int ftype)
{
	const char *hf = m->hf, *nm = m->t.name;
	int force = -1;
	int audio = strstr(hf, "audio_tower") || strstr(hf, "embed_audio");
	if (audio && (strstr(hf, ".conv") || (strstr(hf, "_conv") && strstr(hf, ".weight"))))
		force = G4_F32;
	else if (strstr(hf, "position_embedding_table"))
		force = G4_F32;
	else if (strstr(nm, ".patch_embd.weight"))
		force = ftype == G4_FT_F16 ? G4_F16 : G4_F32;
	if (g4_qmix_ndims(m->t.ne) <= 1 || ends(nm, "_norm.weight"))
		return G4_F32;
	if (force >= 0)
		return (uint32_t)force;
	if (!strcmp(nm, "v.position_embd.weight") || !ends(nm, ".weight"))
		return G4_F32;
	if (out == G4_Q8_0 && m->t.ne[0] % 32)
		return G4_F16;
	return out;
}

static int find_mm(const struct mmt *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].t.name, name))
			return 1;
	return 0;
}

static float st_val(uint32_t dt, const uint8_t *p, int64_t i)
{
	if (dt == G4_F32) {
		float f;
		memcpy(&f, p + 4 * i, 4);
		return f;
	}
	uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
	return dt == G4_F16 ? g4_f16_to_f32(h) : g4_bf16_to_f32(h);
}

int g4_hfconv_mmproj(const char *dir, FILE *out, const g4_requant_opts *o)
{
	int rc = -1, ft = o->mix.ftype;
	cJSON *root = load_json(dir, "config.json", 0, NULL);
	g4_st *st = NULL;
	struct mmt *m = NULL;
	size_t nm = 0;
	g4_ggufw *w = NULL;
	g4_qsrc *src = NULL;
	uint32_t *types = NULL;
	if (!root)
		goto out;
	cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
	cJSON *a0 = cJSON_IsArray(arch) ? cJSON_GetArrayItem(arch, 0) : NULL;
	if (cJSON_IsString(a0) && strstr(a0->valuestring, "Unified")) {
		g4_err("%s: --mmproj of %s (projectors gemma4uv/gemma4ua) is not supported", dir, a0->valuestring);
		goto out;
	}
	cJSON *vc = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
	cJSON *ac = cJSON_GetObjectItemCaseSensitive(root, "audio_config");
	int vis = cJSON_IsObject(vc) && vc->child, aud = cJSON_IsObject(ac) && ac->child;
	if (!vis && !aud) {
		g4_err("%s/config.json: no vision_config or audio_config: nothing for --mmproj", dir);
		goto out;
	}
	st = g4_st_open_dir(dir);
	if (!st)
		goto out;
	size_t n = g4_st_count(st);
	m = calloc(n ? n : 1, sizeof *m);
	if (!m) {
		g4_err("out of memory");
		goto out;
	}
	int first_dt = -1;
	for (size_t i = 0; i < n; i++) {
		const g4_st_tensor *x = g4_st_tensor_at(st, i);
		const char *shard = g4_st_shard_path(st, x->shard);
		struct mmt *t = &m[nm];
		int r = map_mm_name(x->name, t->t.name, sizeof t->t.name);
		if (r < 0) {
			g4_err_ctx("%s: ", shard);
			goto out;
		}
		if (r == 0)
			continue;
		int is_v = t->t.name[0] == 'v' || !strcmp(t->t.name, "mm.input_projection.weight");
		if ((is_v && !vis) || (!is_v && !aud))
			continue;
		snprintf(t->hf, sizeof t->hf, "%s", x->name);
		uint32_t dt;
		switch (x->dtype) {
		case G4_ST_F32: dt = G4_F32; break;
		case G4_ST_F16: dt = G4_F16; break;
		case G4_ST_BF16: dt = G4_BF16; break;
		default:
			g4_err("%s: tensor '%s' has dtype %s; only F32, F16 and BF16 are converted", shard, x->name,
			       g4_st_dtype_name(x->dtype));
			goto out;
		}
		if (first_dt < 0 && x->n_dims >= 2 && dt != G4_F32)
			first_dt = (int)dt;
		/* shape: 0-d -> [1]; depthwise conv [C,1,K] -> [C,K] */
		int64_t sh[G4_ST_MAX_DIMS];
		uint32_t nd = x->n_dims;
		memcpy(sh, x->shape, sizeof sh);
		if (nd == 0) {
			nd = 1;
			sh[0] = 1;
		}
		if (strstr(x->name, "lconv1d.depthwise_conv1d") && ends(x->name, ".weight")) {
			if (nd != 3 || sh[1] != 1) {
				g4_err("%s: tensor '%s' should be [C, 1, K]", shard, x->name);
				goto out;
			}
			sh[1] = sh[2];
			nd = 2;
		}
		if (nd > 4) {
			g4_err("%s: tensor '%s' has %u dimensions", shard, x->name, nd);
			goto out;
		}
		for (int d = 0; d < 4; d++)
			t->t.ne[d] = 1;
		for (uint32_t d = 0; d < nd; d++)
			t->t.ne[d] = sh[nd - 1 - d];
		t->t.dtype = dt;
		t->t.data = x->data;
		t->t.mapped = 1;
		int64_t numel = (int64_t)x->numel;
		if (!strcmp(t->t.name, "v.patch_embd.weight")) {
			/* [D, p*p*3] in (row, col, channel) order -> [D, 3, p, p] */
			int64_t D = x->n_dims == 2 ? x->shape[0] : 0, k = x->n_dims == 2 ? x->shape[1] : 0;
			int64_t p = 1;
			while ((p + 1) * (p + 1) * 3 <= k)
				p++;
			if (x->n_dims != 2 || p * p * 3 != k) {
				g4_err("%s: tensor '%s' should be [D, 3*p*p]", shard, x->name);
				goto out;
			}
			t->own = malloc((size_t)numel * sizeof(float));
			if (!t->own) {
				g4_err("out of memory");
				goto out;
			}
			for (int64_t oo = 0; oo < D; oo++)
				for (int64_t ch = 0; ch < 3; ch++)
					for (int64_t r = 0; r < p; r++)
						for (int64_t c = 0; c < p; c++)
							t->own[((oo * 3 + ch) * p + r) * p + c] =
								st_val(dt, x->data, oo * k + (r * p + c) * 3 + ch);
			t->t.ne[0] = p;
			t->t.ne[1] = p;
			t->t.ne[2] = 3;
			t->t.ne[3] = D;
		} else if (ends(t->t.name, "per_dim_scale.weight") || ends(t->t.name, "per_dim_k_scale.weight")) {
			t->own = malloc((size_t)numel * sizeof(float));
			if (!t->own) {
				g4_err("out of memory");
				goto out;
			}
			for (int64_t j = 0; j < numel; j++) {
				float v = st_val(dt, x->data, j);
				t->own[j] = v > 20.0f ? v : log1pf(expf(v));	/* torch softplus */
			}
		}
		if (t->own) {
			t->t.dtype = G4_F32;
			t->t.data = t->own;
			t->t.mapped = 0;
		}
		for (size_t j = 0; j < nm; j++)
			if (!strcmp(m[j].t.name, t->t.name)) {
				g4_err("tensors '%s' and '%s' both map to %s", m[j].hf, t->hf, t->t.name);
				goto out;
			}
		nm++;
	}
	if (!nm) {
		g4_err("%s: the checkpoint has no vision or audio tensors", dir);
		goto out;
	}
	if (vis && !find_mm(m, nm, "v.patch_embd.weight")) {
		g4_err("%s: no model.vision_tower.patch_embedder.input_proj.weight", dir);
		goto out;
	}
	if (aud && !find_mm(m, nm, "a.input_projection.weight")) {
		g4_err("%s: no model.audio_tower.subsample_conv_projection.input_proj_linear.weight", dir);
		goto out;
	}
	int conv = ft == G4_FT_ALL_F32 || ft == G4_FT_F16 || ft == G4_FT_BF16 || ft == G4_FT_Q8_0;
	int mft = conv ? ft : first_dt == G4_BF16 ? G4_FT_BF16 : G4_FT_F16;
	uint32_t outtype = (uint32_t)g4_ftype_default_type(mft);
	w = g4_ggufw_new();
	src = calloc(nm, sizeof *src);
	types = calloc(nm, sizeof *types);
	if (!w || !src || !types) {
		g4_err("out of memory");
		goto out;
	}
	if (mm_meta(w, dir, root, mft, vis, aud)) {
		g4_err_ctx("%s: ", dir);
		goto out;
	}
	for (size_t i = 0; i < nm; i++) {
		uint32_t ct = mm_type(&m[i], outtype, mft);
		src[i].name = m[i].t.name;
		memcpy(src[i].ne, m[i].t.ne, sizeof src[i].ne);
		src[i].src_type = m[i].t.dtype;
		src[i].data = m[i].t.data;
		src[i].mapped = m[i].t.mapped;
		src[i].type = ct == G4_Q8_0 ? G4_F32 : ct;
		types[i] = ct;
	}
	g4_requant_opts ro = *o;
	ro.in_name = dir;	/* the input's errors name dir, write errors the output */
	rc = g4_qwrite(w, nm, src, types, NULL, &ro, out);
out:
	if (m)
		for (size_t i = 0; i < nm; i++)
			free(m[i].own);
	free(m);
	free(src);
	free(types);
	g4_ggufw_free(w);
	g4_st_close(st);
	cJSON_Delete(root);
	return rc;
}
