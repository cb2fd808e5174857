/* Tests of lib/hfconv: a Hugging Face checkpoint folder written here from
 * the micro-e2b GGUF (f32, f16, bf16; one file or sharded with an index),
 * converted back: the same tensors, values and metadata; the two-step
 * equivalence (convert, then quantise) with the one-step path; clear
 * errors for malformed safetensors, missing and unknown tensors. */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "err.h"
#include "gguf.h"
#include "forward.h"
#include "hfconv.h"
#include "model.h"
#include "qtypes.h"
#include "requant.h"

static g4_gguf *G;	/* micro-e2b-f32.gguf */

/* ---- writing a checkpoint ---------------------------------------------- */

static void jstr(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
		else if (c < 0x20) fprintf(f, "\\u%04x", c);
		else fputc(c, f);
	}
	fputc('"', f);
}

static const struct { const char *gg, *hf; } lmap[] = {
	{ "attn_norm.weight", "input_layernorm.weight" },
	{ "attn_q.weight", "self_attn.q_proj.weight" },
	{ "attn_k.weight", "self_attn.k_proj.weight" },
	{ "attn_v.weight", "self_attn.v_proj.weight" },
	{ "attn_output.weight", "self_attn.o_proj.weight" },
	{ "attn_q_norm.weight", "self_attn.q_norm.weight" },
	{ "attn_k_norm.weight", "self_attn.k_norm.weight" },
	{ "post_attention_norm.weight", "post_attention_layernorm.weight" },
	{ "ffn_norm.weight", "pre_feedforward_layernorm.weight" },
	{ "ffn_gate.weight", "mlp.gate_proj.weight" },
	{ "ffn_up.weight", "mlp.up_proj.weight" },
	{ "ffn_down.weight", "mlp.down_proj.weight" },
	{ "post_ffw_norm.weight", "post_feedforward_layernorm.weight" },
	{ "layer_output_scale.weight", "layer_scalar" },
	{ "inp_gate.weight", "per_layer_input_gate.weight" },
	{ "proj.weight", "per_layer_projection.weight" },
	{ "post_norm.weight", "post_per_layer_input_norm.weight" },
	{ "ffn_gate_inp.weight", "router.proj.weight" },
	{ "ffn_gate_inp.scale", "router.scale" },
	{ "ffn_down_exps.scale", "router.per_expert_scale" },
	{ "ffn_gate_up_exps.weight", "experts.gate_up_proj" },
	{ "ffn_down_exps.weight", "experts.down_proj" },
	{ "pre_ffw_norm_2.weight", "pre_feedforward_layernorm_2.weight" },
	{ "post_ffw_norm_1.weight", "post_feedforward_layernorm_1.weight" },
	{ "post_ffw_norm_2.weight", "post_feedforward_layernorm_2.weight" },
};

static int hf_name(const char *gg, char *out, size_t n)
{
	static const struct { const char *gg, *hf; } g[] = {
		{ "token_embd.weight", "model.language_model.embed_tokens.weight" },
		{ "per_layer_token_embd.weight", "model.language_model.embed_tokens_per_layer.weight" },
		{ "per_layer_model_proj.weight", "model.language_model.per_layer_model_projection.weight" },
		{ "per_layer_proj_norm.weight", "model.language_model.per_layer_projection_norm.weight" },
		{ "output_norm.weight", "model.language_model.norm.weight" },
	};
	for (size_t i = 0; i < 5; i++)
		if (!strcmp(gg, g[i].gg)) { snprintf(out, n, "%s", g[i].hf); return 1; }
	int b, k;
	if (sscanf(gg, "blk.%d.%n", &b, &k) == 1)
		for (size_t i = 0; i < sizeof lmap / sizeof lmap[0]; i++)
			if (!strcmp(gg + k, lmap[i].gg)) {
				snprintf(out, n, "model.language_model.layers.%d.%s", b, lmap[i].hf);
				return 1;
			}
	return 0;
}

struct ent {
	char name[128];
	int64_t shape[4];
	int nd;
	const float *src;
	int64_t numel;
};

static const char *dt_name(int dt) { return dt == G4_F32 ? "F32" : dt == G4_F16 ? "F16" : "BF16"; }
static size_t dt_size(int dt) { return dt == G4_F32 ? 4 : 2; }

static void put_val(FILE *f, int dt, float v)
{
	if (dt == G4_F32) fwrite(&v, 4, 1, f);
	else {
		uint16_t h = dt == G4_F16 ? g4_f32_to_f16(v) : g4_f32_to_bf16(v);
		fwrite(&h, 2, 1, f);
	}
}

/* one safetensors file with entries e[0..n) */
static void write_st(const char *path, struct ent *e, int n, int dt)
{
	char *hdr = NULL;
	size_t hl = 0;
	FILE *h = open_memstream(&hdr, &hl);
	fprintf(h, "{\"__metadata__\":{\"format\":\"pt\"}");
	uint64_t off = 0;
	for (int i = n - 1; i >= 0; i--) {	/* reversed: the converter sorts by name */
		uint64_t nb = (uint64_t)e[i].numel * dt_size(dt);
		fprintf(h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e[i].name, dt_name(dt));
		for (int d = 0; d < e[i].nd; d++) fprintf(h, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
		fprintf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + nb));
		off += nb;
	}
	fprintf(h, "}");
	fclose(h);
	while (hl % 8) { hdr = realloc(hdr, hl + 1); hdr[hl++] = ' '; }
	FILE *f = fopen(path, "wb");
	uint64_t n64 = hl;
	fwrite(&n64, 8, 1, f);
	fwrite(hdr, 1, hl, f);
	for (int i = n - 1; i >= 0; i--)
		for (int64_t j = 0; j < e[i].numel; j++) put_val(f, dt, e[i].src[j]);
	fclose(f);
	free(hdr);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static const char config[] =
	"{\"architectures\":[\"Gemma4ForConditionalGeneration\"],\"model_type\":\"gemma4\","
	"\"text_config\":{\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":5,"
	"\"num_attention_heads\":4,\"num_key_value_heads\":1,\"head_dim\":16,\"global_head_dim\":32,"
	"\"hidden_size_per_layer_input\":32,\"num_kv_shared_layers\":2,\"use_double_wide_mlp\":true,"
	"\"sliding_window\":8,\"max_position_embeddings\":131072,\"rms_norm_eps\":1e-06,"
	"\"final_logit_softcapping\":30.0,\"vocab_size\":382,\"enable_moe_block\":false,"
	"\"layer_types\":[\"sliding_attention\",\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"full_attention\"],"
	"\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"proportional\",\"partial_rotary_factor\":0.25,"
	"\"rope_theta\":1000000.0},\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":10000.0}}},"
	"\"vision_config\":{\"hidden_size\":32}}";

static const char moe_config[] =
	"{\"architectures\":[\"Gemma4ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":64,"
	"\"num_hidden_layers\":6,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
	"\"num_global_key_value_heads\":1,\"attention_k_eq_v\":true,\"head_dim\":16,\"global_head_dim\":32,"
	"\"num_kv_shared_layers\":0,\"sliding_window\":8,\"max_position_embeddings\":262144,"
	"\"rms_norm_eps\":1e-06,\"final_logit_softcapping\":30.0,\"enable_moe_block\":true,"
	"\"num_experts\":8,\"top_k_experts\":2,\"moe_intermediate_size\":16,"
	"\"layer_types\":[\"sliding_attention\",\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"sliding_attention\",\"full_attention\"],"
	"\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"proportional\",\"partial_rotary_factor\":0.25,"
	"\"rope_theta\":1000000.0},\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":10000.0}}}";

static const char *cfg_text = config;

static void write_tokenizer(const char *dir)
{
	char p[4096];
	g4_str *tok;
	uint64_t nt, nm;
	g4_str *mer;
	g4_gguf_get_str_arr(G, "tokenizer.ggml.tokens", &tok, &nt);
	g4_gguf_get_str_arr(G, "tokenizer.ggml.merges", &mer, &nm);
	uint32_t et;
	uint64_t n;
	const void *types;
	g4_gguf_get_arr(G, "tokenizer.ggml.token_type", &et, &n, &types);
	snprintf(p, sizeof p, "%s/tokenizer.json", dir);
	FILE *f = fopen(p, "w");
	fprintf(f, "{\"version\":\"1.0\",\"added_tokens\":[");
	int first = 1;
	for (uint64_t i = 0; i < nt; i++)
		if (g4_gguf_arr_i64(et, types, i) == 3) {
			fprintf(f, "%s{\"id\":%llu,\"content\":", first ? "" : ",", (unsigned long long)i);
			jstr(f, tok[i].ptr, tok[i].len);
			fprintf(f, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
				   "\"special\":true}");
			first = 0;
		}
	fprintf(f, "],\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{");
	for (uint64_t i = 0; i < nt; i++) {
		fprintf(f, "%s", i ? "," : "");
		jstr(f, tok[i].ptr, tok[i].len);
		fprintf(f, ":%llu", (unsigned long long)i);
	}
	fprintf(f, "},\"merges\":[");
	for (uint64_t i = 0; i < nm; i++) {
		fprintf(f, "%s", i ? "," : "");
		jstr(f, mer[i].ptr, mer[i].len);
	}
	fprintf(f, "]}}");
	fclose(f);
	free(tok);
	free(mer);
	write_file(dir, "tokenizer_config.json",
		   "{\"bos_token\":\"<bos>\",\"eos_token\":\"<eos>\",\"unk_token\":\"<unk>\",\"pad_token\":\"<pad>\","
		   "\"add_bos_token\":true,\"add_eos_token\":false}");
}

static float vis[4] = { 1, 2, 3, 4 };
static int vis_dummy = 1;	/* make_ckpt adds a vision tensor the text converter drops */

/* writes DIR from G: dtype, shards (1 or 3), drop: a GGUF name to leave
 * out, extra: an extra HF tensor name (NULL for none) */
static void make_ckpt(const char *dir, int dt, int shards, const char *drop, const char *extra)
{
	char p[4096];
	mkdir(dir, 0755);
	struct ent *e = calloc(G->n_tensors + 2, sizeof *e);
	int n = 0;
	for (uint64_t i = 0; i < G->n_tensors; i++) {
		const g4_gguf_tensor *t = &G->tensors[i];
		char gg[128];
		snprintf(gg, sizeof gg, "%.*s", (int)t->name.len, t->name.ptr);
		if (drop && !strcmp(gg, drop)) continue;
		if (!hf_name(gg, e[n].name, sizeof e[n].name)) continue;	/* rope_freqs */
		e[n].nd = (int)t->n_dims;
		for (int d = 0; d < e[n].nd; d++) e[n].shape[d] = t->ne[e[n].nd - 1 - d];
		e[n].src = t->data;
		e[n].numel = (int64_t)(t->nbytes / 4);
		n++;
	}
	/* a vision tensor: dropped by the converter */
	if (vis_dummy) {
	snprintf(e[n].name, sizeof e[n].name, "model.vision_tower.encoder.layers.0.mlp.up_proj.linear.weight");
	e[n].nd = 2; e[n].shape[0] = 2; e[n].shape[1] = 2; e[n].src = vis; e[n].numel = 4; n++;
	}
	if (extra) {
		snprintf(e[n].name, sizeof e[n].name, "%s", extra);
		e[n].nd = 1; e[n].shape[0] = 4; e[n].src = vis; e[n].numel = 4; n++;
	}
	if (shards == 1) {
		snprintf(p, sizeof p, "%s/model.safetensors", dir);
		write_st(p, e, n, dt);
	} else {
		snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
		FILE *ix = fopen(p, "w");
		fprintf(ix, "{\"metadata\":{\"total_size\":0},\"weight_map\":{");
		int per = (n + shards - 1) / shards;
		for (int s = 0; s < shards; s++) {
			int a = s * per, b = a + per < n ? a + per : n;
			char fn[64];
			snprintf(fn, sizeof fn, "model-%05d-of-%05d.safetensors", s + 1, shards);
			snprintf(p, sizeof p, "%s/%s", dir, fn);
			write_st(p, e + a, b - a, dt);
			for (int i = a; i < b; i++) fprintf(ix, "%s\"%s\":\"%s\"", i ? "," : "", e[i].name, fn);
		}
		fprintf(ix, "}}");
		fclose(ix);
	}
	write_file(dir, "config.json", cfg_text);
	write_tokenizer(dir);
	free(e);
}

static int convert(const char *dir, const char *out, int ftype)
{
	g4_requant_opts o;
	g4_requant_opts_init(&o, ftype);
	FILE *f = fopen(out, "wb");
	int rc = g4_hfconv(dir, f, &o);
	fclose(f);
	return rc;
}

static float round_dt(int dt, float v)
{
	return dt == G4_F32 ? v : dt == G4_F16 ? g4_f16_to_f32(g4_f32_to_f16(v)) : g4_bf16_to_f32(g4_f32_to_bf16(v));
}

/* every tensor and key of G in out, values rounded through dt */
static void compare(const char *out, int dt, const char *what)
{
	g4_gguf *o = g4_gguf_open(out);
	CHECK(o != NULL, "%s: open: %s", what, g4_errmsg());
	if (!o) return;
	CHECK(o->n_tensors == G->n_tensors, "%s: %llu tensors, want %llu", what, (unsigned long long)o->n_tensors,
	      (unsigned long long)G->n_tensors);
	int bad = 0;
	for (uint64_t i = 0; i < G->n_tensors; i++) {
		const g4_gguf_tensor *a = &G->tensors[i];
		char nm[128];
		snprintf(nm, sizeof nm, "%.*s", (int)a->name.len, a->name.ptr);
		const g4_gguf_tensor *b = g4_gguf_find_tensor(o, nm);
		if (!b) { if (bad++ < 3) CHECK(0, "%s: no %s", what, nm); continue; }
		if (memcmp(a->ne, b->ne, sizeof a->ne)) { if (bad++ < 3) CHECK(0, "%s: %s shape", what, nm); continue; }
		int is_f32 = b->nbytes == a->nbytes;
		uint32_t want_t = is_f32 ? G4_F32 : (uint32_t)dt;
		if (b->type != want_t) { if (bad++ < 3) CHECK(0, "%s: %s is %s", what, nm, g4_type_name(b->type)); continue; }
		int64_t ne = (int64_t)(a->nbytes / 4);
		const float *x = a->data;
		for (int64_t j = 0; j < ne; j++) {
			float want = !strcmp(nm, "rope_freqs.weight") ? x[j] : round_dt(dt, x[j]);
			float got = b->type == G4_F32 ? ((const float *)b->data)[j] :
				    b->type == G4_F16 ? g4_f16_to_f32(((const uint16_t *)b->data)[j]) :
				    g4_bf16_to_f32(((const uint16_t *)b->data)[j]);
			if (memcmp(&want, &got, 4)) {
				if (bad++ < 3) CHECK(0, "%s: %s[%lld] = %g, want %g", what, nm, (long long)j, got, want);
				break;
			}
		}
	}
	/* metadata: every key of G (but the name and file type) with the same type and value */
	for (uint64_t i = 0; i < G->n_kv; i++) {
		const g4_gguf_kv *a = &G->kv[i];
		char k[128];
		snprintf(k, sizeof k, "%.*s", (int)a->key.len, a->key.ptr);
		if (!strcmp(k, "general.name") || !strcmp(k, "general.file_type")) continue;
		int64_t j = g4_gguf_find_key(o, k);
		if (j < 0) { if (bad++ < 6) CHECK(0, "%s: no key %s", what, k); continue; }
		const g4_gguf_kv *b = &o->kv[j];
		if (a->type != b->type || a->arr_type != b->arr_type || a->arr_n != b->arr_n ||
		    a->val_bytes != b->val_bytes || memcmp(a->val, b->val, a->val_bytes))
			if (bad++ < 6) CHECK(0, "%s: key %s differs", what, k);
	}
	uint32_t ft;
	CHECK(!g4_gguf_get_u32(o, "general.file_type", &ft) && ft == (dt == G4_F32 ? 0u : dt == G4_F16 ? 1u : 32u),
	      "%s: file_type", what);
	CHECK(bad == 0, "%s: %d differences", what, bad);
	g4_gguf_close(o);
}

static void test_f32_single(void)
{
	const char *d = t_tmp("hf-f32");
	make_ckpt(d, G4_F32, 1, NULL, NULL);
	write_file(d, "chat_template.jinja", "{{ bos_token }}{% for m in messages %}x{% endfor %}");
	CHECK(convert(d, t_tmp("hf-f32.gguf"), G4_FT_ALL_F32) == 0, "convert: %s", g4_errmsg());
	compare(t_tmp("hf-f32.gguf"), G4_F32, "f32");
	g4_gguf *o = g4_gguf_open(t_tmp("hf-f32.gguf"));
	g4_str s = { 0, NULL };
	CHECK(o && !g4_gguf_get_str(o, "tokenizer.chat_template", &s) && s.len == 51 &&
	      !memcmp(s.ptr, "{{ bos_token }}", 15), "chat template: %.*s", (int)s.len, s.ptr ? s.ptr : "");
	g4_gguf_close(o);
}

static void test_bf16_sharded(void)
{
	const char *d = t_tmp("hf-bf16");
	make_ckpt(d, G4_BF16, 3, NULL, NULL);
	CHECK(convert(d, t_tmp("hf-bf16.gguf"), G4_FT_BF16) == 0, "convert: %s", g4_errmsg());
	compare(t_tmp("hf-bf16.gguf"), G4_BF16, "bf16 sharded");
}

static void test_f16(void)
{
	const char *d = t_tmp("hf-f16");
	make_ckpt(d, G4_F16, 2, NULL, NULL);
	CHECK(convert(d, t_tmp("hf-f16.gguf"), G4_FT_F16) == 0, "convert: %s", g4_errmsg());
	compare(t_tmp("hf-f16.gguf"), G4_F16, "f16");
}

static int same_file(const char *a, const char *b)
{
	size_t na, nb;
	void *pa = t_slurp(a, &na), *pb = t_slurp(b, &nb);
	int r = pa && pb && na == nb && !memcmp(pa, pb, na);
	free(pa); free(pb);
	return r;
}

/* converting straight to Q4_K_M = converting (auto type) then quantising */
static void test_two_step(void)
{
	const char *d = t_tmp("hf-bf16");	/* from test_bf16_sharded */
	CHECK(convert(d, t_tmp("one.gguf"), G4_FT_Q4_K_M) == 0, "one step: %s", g4_errmsg());
	g4_gguf *g = g4_gguf_open(t_tmp("hf-bf16.gguf"));
	CHECK(g != NULL, "open: %s", g4_errmsg());
	if (!g) return;
	g4_requant_opts o;
	g4_requant_opts_init(&o, G4_FT_Q4_K_M);
	FILE *f = fopen(t_tmp("two.gguf"), "wb");
	CHECK(g4_requant(g, f, &o) == 0, "two step: %s", g4_errmsg());
	fclose(f);
	g4_gguf_close(g);
	CHECK(same_file(t_tmp("one.gguf"), t_tmp("two.gguf")), "one-step and two-step files differ");
	g = g4_gguf_open(t_tmp("one.gguf"));
	if (g) {
		const g4_gguf_tensor *t = g4_gguf_find_tensor(g, "per_layer_model_proj.weight");
		CHECK(t && t->type == G4_BF16, "per_layer_model_proj keeps the converter's BF16");
		t = g4_gguf_find_tensor(g, "blk.4.ffn_down.weight");
		CHECK(t && t->type == G4_Q6_K, "ffn_down 4 Q6_K");
		g4_gguf_close(g);
	}
	/* the converter's Q8_0: everything eligible Q8_0, per_layer_model_proj too */
	CHECK(convert(d, t_tmp("q8.gguf"), G4_FT_Q8_0) == 0, "q8: %s", g4_errmsg());
	g = g4_gguf_open(t_tmp("q8.gguf"));
	if (g) {
		const g4_gguf_tensor *t = g4_gguf_find_tensor(g, "per_layer_model_proj.weight");
		CHECK(t && t->type == G4_Q8_0, "converter Q8_0 per_layer_model_proj");
		t = g4_gguf_find_tensor(g, "blk.0.attn_norm.weight");
		CHECK(t && t->type == G4_F32, "norm F32");
		CHECK(!strncmp(g->tensors[0].name.ptr, "rope_freqs.weight", 17), "converter order: rope_freqs first");
		g4_gguf_close(g);
	}
}

/* the MoE micro model (Gemma4ForCausalLM names, no language_model. infix
 * is needed: the converter strips it anyway) */
static void test_moe(void)
{
	g4_gguf *save = G;
	G = g4_gguf_open(t_data("micro-moe-f32.gguf"));
	CHECK(G != NULL, "open: %s", g4_errmsg());
	if (!G) { G = save; return; }
	cfg_text = moe_config;
	const char *d = t_tmp("hf-moe");
	make_ckpt(d, G4_BF16, 2, NULL, NULL);
	CHECK(convert(d, t_tmp("hf-moe.gguf"), G4_FT_BF16) == 0, "convert: %s", g4_errmsg());
	compare(t_tmp("hf-moe.gguf"), G4_BF16, "moe bf16");
	g4_gguf *o = g4_gguf_open(t_tmp("hf-moe.gguf"));
	if (o) {
		const g4_gguf_tensor *t = g4_gguf_find_tensor(o, "blk.2.ffn_gate_inp.weight");
		CHECK(t && t->type == G4_F32, "router F32");
		t = g4_gguf_find_tensor(o, "blk.2.ffn_gate_up_exps.weight");
		CHECK(t && t->type == G4_BF16 && t->ne[2] == 8, "gate_up_exps");
		g4_gguf_close(o);
	}
	/* one step to Q4_K_M = the converter's BF16 file through requant */
	CHECK(convert(d, t_tmp("moe-one.gguf"), G4_FT_Q4_K_M) == 0, "one step: %s", g4_errmsg());
	g4_gguf *g = g4_gguf_open(t_tmp("hf-moe.gguf"));
	if (g) {
		g4_requant_opts ro;
		g4_requant_opts_init(&ro, G4_FT_Q4_K_M);
		FILE *f = fopen(t_tmp("moe-two.gguf"), "wb");
		CHECK(g4_requant(g, f, &ro) == 0, "two step: %s", g4_errmsg());
		fclose(f);
		g4_gguf_close(g);
		CHECK(same_file(t_tmp("moe-one.gguf"), t_tmp("moe-two.gguf")), "moe one-step and two-step differ");
	}
	cfg_text = config;
	g4_gguf_close(G);
	G = save;
}

/* the Unified architecture: the same text model plus suppress_tokens */
static void test_unified(void)
{
	const char *d = t_tmp("hf-uni");
	make_ckpt(d, G4_F32, 1, NULL, NULL);
	char cfg[sizeof config + 16], *p = strstr(config, "Gemma4ForConditionalGeneration");
	snprintf(cfg, sizeof cfg, "%.*sGemma4UnifiedForConditionalGeneration%s", (int)(p - config), config,
		 p + strlen("Gemma4ForConditionalGeneration"));
	write_file(d, "config.json", cfg);
	write_file(d, "generation_config.json", "{\"top_k\":64,\"top_p\":0.95,\"suppress_tokens\":[7,8,300]}");
	CHECK(convert(d, t_tmp("uni.gguf"), G4_FT_F16) == 0, "convert: %s", g4_errmsg());
	g4_gguf *g = g4_gguf_open(t_tmp("uni.gguf"));
	if (!g) { CHECK(0, "open: %s", g4_errmsg()); return; }
	uint32_t et = 0;
	uint64_t n = 0;
	const void *v;
	CHECK(!g4_gguf_get_arr(g, "tokenizer.ggml.suppress_tokens", &et, &n, &v) && et == G4_GGUF_INT32 && n == 3 &&
	      g4_gguf_arr_i64(et, v, 2) == 300, "suppress_tokens");
	int64_t k = 0;
	float tp = 0;
	CHECK(!g4_gguf_get_i64(g, "general.sampling.top_k", &k) && k == 64, "top_k");
	CHECK(!g4_gguf_get_f32(g, "general.sampling.top_p", &tp) && tp == 0.95f, "top_p");
	g4_gguf_close(g);
	g4_requant_opts o;
	g4_requant_opts_init(&o, G4_FT_F16);
	FILE *f = fopen(t_tmp("uni-mm.gguf"), "wb");
	CHECK(g4_hfconv_mmproj(d, f, &o) == -1 && strstr(g4_errmsg(), "not supported"), "unified mmproj: %s",
	      g4_errmsg());
	fclose(f);
}

static void test_errors(void)
{
	const char *d = t_tmp("hf-miss");
	make_ckpt(d, G4_F32, 1, "blk.1.attn_q.weight", NULL);
	CHECK(convert(d, t_tmp("x.gguf"), G4_FT_F16) == -1 && strstr(g4_errmsg(), "blk.1.attn_q.weight"),
	      "missing tensor: %s", g4_errmsg());
	d = t_tmp("hf-extra");
	make_ckpt(d, G4_F32, 1, NULL, "model.language_model.layers.0.frob.weight");
	CHECK(convert(d, t_tmp("x.gguf"), G4_FT_F16) == -1 && strstr(g4_errmsg(), "frob"),
	      "unknown tensor: %s", g4_errmsg());
	/* a header length past the end of the file */
	d = t_tmp("hf-bad");
	make_ckpt(d, G4_F32, 1, NULL, NULL);
	char p[4096];
	snprintf(p, sizeof p, "%s/model.safetensors", d);
	FILE *f = fopen(p, "r+b");
	uint64_t big = 1ull << 40;
	fwrite(&big, 8, 1, f);
	fclose(f);
	CHECK(convert(d, t_tmp("x.gguf"), G4_FT_F16) == -1 && strstr(g4_errmsg(), "model.safetensors"),
	      "bad header: %s", g4_errmsg());
	/* bad JSON in the header */
	make_ckpt(d, G4_F32, 1, NULL, NULL);
	f = fopen(p, "r+b");
	fseek(f, 9, SEEK_SET);
	fputc('#', f);
	fclose(f);
	CHECK(convert(d, t_tmp("x.gguf"), G4_FT_F16) == -1 && strstr(g4_errmsg(), "model.safetensors"),
	      "bad json: %s", g4_errmsg());
	/* no config.json */
	snprintf(p, sizeof p, "%s/config.json", d);
	unlink(p);
	CHECK(convert(d, t_tmp("x.gguf"), G4_FT_F16) == -1 && strstr(g4_errmsg(), "config.json"),
	      "no config: %s", g4_errmsg());
}

/* ---- mmproj: the golden vision and audio towers back to HF and again ---- */

static const struct { const char *gg, *hf; } mm_rev[] = {
	{ "v.patch_embd.weight", "model.vision_tower.patch_embedder.input_proj.weight" },
	{ "v.position_embd.weight", "model.vision_tower.patch_embedder.position_embedding_table" },
	{ "mm.input_projection.weight", "model.embed_vision.embedding_projection.weight" },
	{ "a.conv1d.0.weight", "model.audio_tower.subsample_conv_projection.layer0.conv.weight" },
	{ "a.conv1d.0.norm.weight", "model.audio_tower.subsample_conv_projection.layer0.norm.weight" },
	{ "a.conv1d.1.weight", "model.audio_tower.subsample_conv_projection.layer1.conv.weight" },
	{ "a.conv1d.1.norm.weight", "model.audio_tower.subsample_conv_projection.layer1.norm.weight" },
	{ "a.input_projection.weight", "model.audio_tower.subsample_conv_projection.input_proj_linear.weight" },
	{ "a.pre_encode.out.weight", "model.audio_tower.output_proj.weight" },
	{ "a.pre_encode.out.bias", "model.audio_tower.output_proj.bias" },
	{ "mm.a.input_projection.weight", "model.embed_audio.embedding_projection.weight" },
};
/* per-layer: GGUF stem, HF stem, 1 if a clippable linear */
static const struct { const char *gg, *hf; int lin; } mm_lrev[] = {
	{ "v:ln1.weight", "input_layernorm.weight", 0 }, { "v:ln2.weight", "pre_feedforward_layernorm.weight", 0 },
	{ "v:attn_post_norm.weight", "post_attention_layernorm.weight", 0 },
	{ "v:ffn_post_norm.weight", "post_feedforward_layernorm.weight", 0 },
	{ "v:attn_q_norm.weight", "self_attn.q_norm.weight", 0 }, { "v:attn_k_norm.weight", "self_attn.k_norm.weight", 0 },
	{ "v:attn_q", "self_attn.q_proj", 1 }, { "v:attn_k", "self_attn.k_proj", 1 }, { "v:attn_v", "self_attn.v_proj", 1 },
	{ "v:attn_out", "self_attn.o_proj", 1 }, { "v:ffn_gate", "mlp.gate_proj", 1 }, { "v:ffn_up", "mlp.up_proj", 1 },
	{ "v:ffn_down", "mlp.down_proj", 1 },
	{ "a:ffn_norm.weight", "feed_forward1.pre_layer_norm.weight", 0 },
	{ "a:ffn_post_norm.weight", "feed_forward1.post_layer_norm.weight", 0 },
	{ "a:attn_pre_norm.weight", "norm_pre_attn.weight", 0 }, { "a:attn_post_norm.weight", "norm_post_attn.weight", 0 },
	{ "a:conv_norm.weight", "lconv1d.pre_layer_norm.weight", 0 }, { "a:norm_conv.weight", "lconv1d.conv_norm.weight", 0 },
	{ "a:ffn_norm_1.weight", "feed_forward2.pre_layer_norm.weight", 0 },
	{ "a:ffn_post_norm_1.weight", "feed_forward2.post_layer_norm.weight", 0 },
	{ "a:ln2.weight", "norm_out.weight", 0 },
	{ "a:ffn_up", "feed_forward1.ffw_layer_1", 1 }, { "a:ffn_down", "feed_forward1.ffw_layer_2", 1 },
	{ "a:attn_q", "self_attn.q_proj", 1 }, { "a:attn_k", "self_attn.k_proj", 1 }, { "a:attn_v", "self_attn.v_proj", 1 },
	{ "a:attn_out", "self_attn.post", 1 }, { "a:conv_pw1", "lconv1d.linear_start", 1 },
	{ "a:conv_pw2", "lconv1d.linear_end", 1 }, { "a:ffn_up_1", "feed_forward2.ffw_layer_1", 1 },
	{ "a:ffn_down_1", "feed_forward2.ffw_layer_2", 1 },
	{ "a:attn_k_rel.weight", "self_attn.relative_k_proj.weight", 0 },
	{ "a:per_dim_scale.weight", "self_attn.per_dim_scale", 0 },
	{ "a:conv_dw.weight", "lconv1d.depthwise_conv1d.weight", 0 },
};

static int mm_hf_name(const char *gg, char *out, size_t n)
{
	for (size_t i = 0; i < sizeof mm_rev / sizeof mm_rev[0]; i++)
		if (!strcmp(gg, mm_rev[i].gg)) { snprintf(out, n, "%s", mm_rev[i].hf); return 1; }
	int b, k;
	char tw = gg[0];
	if (sscanf(gg + 1, ".blk.%d.%n", &b, &k) != 1) return 0;
	const char *rest = gg + 1 + k;
	for (size_t i = 0; i < sizeof mm_lrev / sizeof mm_lrev[0]; i++) {
		if (mm_lrev[i].gg[0] != tw) continue;
		const char *g = mm_lrev[i].gg + 2;
		size_t gl = strlen(g);
		if (strncmp(rest, g, gl)) continue;
		const char *pre = tw == 'v' ? "model.vision_tower.encoder.layers" : "model.audio_tower.layers";
		if (!rest[gl]) { snprintf(out, n, "%s.%d.%s", pre, b, mm_lrev[i].hf); return 1; }
		if (mm_lrev[i].lin && rest[gl] == '.') {
			const char *suf = rest + gl;
			snprintf(out, n, "%s.%d.%s%s", pre, b, mm_lrev[i].hf, !strcmp(suf, ".weight") ? ".linear.weight" : suf);
			return 1;
		}
	}
	return 0;
}

static void add_mm(g4_gguf *g, struct ent *e, int *n, float **own)
{
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const g4_gguf_tensor *t = &g->tensors[i];
		char gg[128];
		snprintf(gg, sizeof gg, "%.*s", (int)t->name.len, t->name.ptr);
		struct ent *x = &e[*n];
		CHECK(mm_hf_name(gg, x->name, sizeof x->name), "no HF name for %s", gg);
		x->nd = (int)t->n_dims;
		for (int d = 0; d < x->nd; d++) x->shape[d] = t->ne[x->nd - 1 - d];
		x->src = t->data;
		x->numel = (int64_t)(t->nbytes / 4);
		if (strstr(gg, "put_m")) x->nd = 0;	/* clip bounds are 0-d in HF */
		if (!strcmp(gg, "a.blk.0.conv_dw.weight") || !strcmp(gg, "a.blk.1.conv_dw.weight")) {
			x->nd = 3; x->shape[0] = t->ne[1]; x->shape[1] = 1; x->shape[2] = t->ne[0];
		}
		if (strstr(gg, "per_dim_scale")) {	/* HF holds the value before softplus */
			float *v = malloc(t->nbytes);
			for (int64_t j = 0; j < x->numel; j++) v[j] = logf(expm1f(((const float *)t->data)[j]));
			x->src = *own++ = v;
		}
		if (!strcmp(gg, "v.patch_embd.weight")) {	/* [D][3][p][p] -> [D][p*p*3] */
			int64_t p = t->ne[0], D = t->ne[3];
			float *v = malloc(t->nbytes);
			const float *s = t->data;
			for (int64_t o = 0; o < D; o++)
				for (int64_t ch = 0; ch < 3; ch++)
					for (int64_t r = 0; r < p; r++)
						for (int64_t c = 0; c < p; c++)
							v[o * 3 * p * p + (r * p + c) * 3 + ch] = s[((o * 3 + ch) * p + r) * p + c];
			x->nd = 2; x->shape[0] = D; x->shape[1] = 3 * p * p;
			x->src = *own++ = v;
		}
		(*n)++;
	}
}

static void compare_mm(const char *out, g4_gguf *want, const char *what)
{
	g4_gguf *o = g4_gguf_open(out);
	CHECK(o != NULL, "%s: open: %s", what, g4_errmsg());
	if (!o) return;
	int bad = 0;
	for (uint64_t i = 0; i < want->n_tensors; i++) {
		const g4_gguf_tensor *a = &want->tensors[i];
		char nm[128];
		snprintf(nm, sizeof nm, "%.*s", (int)a->name.len, a->name.ptr);
		const g4_gguf_tensor *b = g4_gguf_find_tensor(o, nm);
		if (!b || b->type != G4_F32 || memcmp(a->ne, b->ne, sizeof a->ne)) {
			if (bad++ < 3) CHECK(0, "%s: %s missing or of another type/shape", what, nm);
			continue;
		}
		const float *x = a->data, *y = b->data;
		int soft = strstr(nm, "per_dim_scale") != NULL;
		for (uint64_t j = 0; j < a->nbytes / 4; j++)
			if (soft ? fabsf(x[j] - y[j]) > 1e-6f * fabsf(x[j]) : memcmp(&x[j], &y[j], 4) != 0) {
				if (bad++ < 3) CHECK(0, "%s: %s[%llu] = %g, want %g", what, nm, (unsigned long long)j, y[j], x[j]);
				break;
			}
	}
	for (uint64_t i = 0; i < want->n_kv; i++) {
		const g4_gguf_kv *a = &want->kv[i];
		char k[128];
		snprintf(k, sizeof k, "%.*s", (int)a->key.len, a->key.ptr);
		if (!strcmp(k, "general.name")) continue;
		int64_t j = g4_gguf_find_key(o, k);
		if (j < 0) { if (bad++ < 6) CHECK(0, "%s: no key %s", what, k); continue; }
		const g4_gguf_kv *b = &o->kv[j];
		if (a->type != b->type || a->val_bytes != b->val_bytes || memcmp(a->val, b->val, a->val_bytes))
			if (bad++ < 6) CHECK(0, "%s: key %s differs", what, k);
	}
	CHECK(bad == 0, "%s: %d differences", what, bad);
	g4_gguf_close(o);
}

static void test_mmproj(void)
{
	g4_gguf *v = g4_gguf_open(t_data("mmproj-tiny-vision-e.gguf"));
	g4_gguf *a = g4_gguf_open(t_data("mmproj-tiny-audio.gguf"));
	CHECK(v && a, "open goldens: %s", g4_errmsg());
	if (!v || !a) { g4_gguf_close(v); g4_gguf_close(a); return; }
	const char *d = t_tmp("hf-mm");
	mkdir(d, 0755);
	struct ent *e = calloc(v->n_tensors + a->n_tensors + 1, sizeof *e);
	float *own[8] = { 0 };
	int n = 0;
	add_mm(v, e, &n, own);
	add_mm(a, e, &n, own + 1);
	/* a text tensor: not part of the mmproj */
	snprintf(e[n].name, sizeof e[n].name, "model.language_model.norm.weight");
	e[n].nd = 1; e[n].shape[0] = 4; e[n].src = vis; e[n].numel = 4; n++;
	char p[4096];
	snprintf(p, sizeof p, "%s/model.safetensors", d);
	write_st(p, e, n, G4_F32);
	write_file(d, "config.json",
		   "{\"architectures\":[\"Gemma4ForConditionalGeneration\"],\"text_config\":{\"hidden_size\":256},"
		   "\"vision_config\":{\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":2,"
		   "\"num_attention_heads\":4,\"patch_size\":16},"
		   "\"audio_config\":{\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4}}");
	write_file(d, "preprocessor_config.json", "{\"image_mean\":[0,0,0],\"image_std\":[1,1,1]}");
	g4_requant_opts o;
	g4_requant_opts_init(&o, G4_FT_ALL_F32);
	FILE *f = fopen(t_tmp("mm.gguf"), "wb");
	CHECK(g4_hfconv_mmproj(d, f, &o) == 0, "mmproj: %s", g4_errmsg());
	fclose(f);
	compare_mm(t_tmp("mm.gguf"), v, "vision");
	compare_mm(t_tmp("mm.gguf"), a, "audio");
	/* F16: matrices F16, patch embedding F16, norms / 1-D / conv weights F32 */
	g4_requant_opts_init(&o, G4_FT_F16);
	f = fopen(t_tmp("mm16.gguf"), "wb");
	CHECK(g4_hfconv_mmproj(d, f, &o) == 0, "mmproj f16: %s", g4_errmsg());
	fclose(f);
	g4_gguf *q = g4_gguf_open(t_tmp("mm16.gguf"));
	if (q) {
		static const struct { const char *n; uint32_t t; } w[] = {
			{ "v.patch_embd.weight", G4_F16 }, { "v.position_embd.weight", G4_F32 },
			{ "v.blk.0.attn_q.weight", G4_F16 }, { "v.blk.0.ln1.weight", G4_F32 },
			{ "v.blk.0.attn_q.input_max", G4_F32 }, { "a.conv1d.0.weight", G4_F32 },
			{ "a.input_projection.weight", G4_F32 }, { "a.blk.0.conv_dw.weight", G4_F32 },
			{ "a.blk.0.conv_pw1.weight", G4_F16 }, { "mm.a.input_projection.weight", G4_F16 },
			{ "a.pre_encode.out.bias", G4_F32 },
		};
		for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
			const g4_gguf_tensor *t = g4_gguf_find_tensor(q, w[i].n);
			CHECK(t && t->type == w[i].t, "f16: %s is %s", w[i].n, t ? g4_type_name(t->type) : "missing");
		}
		g4_gguf_close(q);
	}
	for (int i = 0; i < 8; i++) free(own[i]);
	free(e);
	g4_gguf_close(v);
	g4_gguf_close(a);
}

/* bin/g4quant on a folder with the text model and both towers: the text
 * GGUF and, with --mmproj, the towers; a failure leaves neither file */
static int run(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5, const char *a6)
{
	const char *bin = getenv("G4_BIN");
	char exe[4096];
	snprintf(exe, sizeof exe, "%s/g4quant", bin ? bin : "bin");
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(exe, exe, a1, a2, a3, a4, a5, a6, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_command(void)
{
	g4_gguf *v = g4_gguf_open(t_data("mmproj-tiny-vision-e.gguf"));
	g4_gguf *a = g4_gguf_open(t_data("mmproj-tiny-audio.gguf"));
	if (!v || !a) { CHECK(0, "open"); g4_gguf_close(v); g4_gguf_close(a); return; }
	const char *d = t_tmp("hf-all");
	vis_dummy = 0;
	make_ckpt(d, G4_BF16, 1, NULL, NULL);
	vis_dummy = 1;
	struct ent *e = calloc(v->n_tensors + a->n_tensors, sizeof *e);
	float *own[8] = { 0 };
	int n = 0;
	add_mm(v, e, &n, own);
	add_mm(a, e, &n, own + 1);
	char p[4096];
	snprintf(p, sizeof p, "%s/model-towers.safetensors", d);
	write_st(p, e, n, G4_BF16);
	write_file(d, "preprocessor_config.json", "{\"image_mean\":[0,0,0],\"image_std\":[1,1,1]}");
	/* the micro text config plus the two towers */
	char cfg[sizeof config + 512];
	snprintf(cfg, sizeof cfg, "%.*s,\"vision_config\":{\"hidden_size\":64,\"intermediate_size\":128,"
		 "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"patch_size\":16},"
		 "\"audio_config\":{\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4}}",
		 (int)(strstr(config, ",\"vision_config\"") - config), config);
	write_file(d, "config.json", cfg);
	char out[4096], mm[4096];
	snprintf(out, sizeof out, "%s", t_tmp("all-q4.gguf"));
	snprintf(mm, sizeof mm, "%s", t_tmp("all-mmproj.gguf"));
	CHECK(run("-q", "--mmproj", mm, d, out, "Q4_K_M") == 0, "g4quant --mmproj failed");
	g4_gguf *t = g4_gguf_open(out), *m = g4_gguf_open(mm);
	CHECK(t && t->n_tensors == 85, "text model: %s", t ? "wrong tensor count" : g4_errmsg());
	CHECK(m && m->n_tensors == v->n_tensors + a->n_tensors, "mmproj: %s", m ? "wrong tensor count" : g4_errmsg());
	if (m) {
		const g4_gguf_tensor *x = g4_gguf_find_tensor(m, "v.blk.0.attn_q.weight");
		CHECK(x && x->type == G4_BF16, "mmproj of a bf16 checkpoint: BF16 matrices");
		x = g4_gguf_find_tensor(m, "v.patch_embd.weight");
		CHECK(x && x->type == G4_F32, "patch_embd F32 unless F16");
	}
	g4_gguf_close(t);
	g4_gguf_close(m);
	unlink(out);
	unlink(mm);
	/* a text-model failure leaves no mmproj either */
	snprintf(p, sizeof p, "%s/tokenizer.json", d);
	unlink(p);
	CHECK(run("-q", "--mmproj", mm, d, out, "Q8_0") == 1, "no tokenizer: exit 1");
	CHECK(access(mm, F_OK) && access(out, F_OK), "a failed run left a file");
	for (int i = 0; i < 8; i++) free(own[i]);
	free(e);
	g4_gguf_close(v);
	g4_gguf_close(a);
}

/* The decoder on a converted checkpoint gives the logits of the weights
 * loaded directly: bit for bit for an f32 checkpoint (the same weights),
 * and BF16 vs F32 files made from one bf16 checkpoint agree closely. */
static int logits_of(const char *path, const int32_t *ids, int n, float *out)
{
	g4_model *m = g4_model_load(path);
	CHECK(m != NULL, "load %s: %s", path, g4_errmsg());
	if (!m) return -1;
	g4_seq *s = g4_seq_new(m, G4_F32);
	g4_batch b = { .n = n, .ids = ids };
	int rc = s ? g4_forward(s, &b, out) : -1;
	CHECK(rc >= 0, "forward %s: %s", path, g4_errmsg());
	g4_seq_free(s);
	g4_model_free(m);
	return rc < 0 ? -1 : 0;
}

static void test_logits(void)
{
	static const int32_t ids[] = { 2, 36, 120, 7, 8, 9, 200, 381, 10, 44, 45, 46, 300, 301, 5, 6 };
	const int n = 16, V = 382;
	float *a = malloc(sizeof(float) * n * V), *b = malloc(sizeof(float) * n * V);
	/* hf-f32.gguf: made by test_f32_single from the f32 checkpoint */
	if (!logits_of(t_data("micro-e2b-f32.gguf"), ids, n, a) && !logits_of(t_tmp("hf-f32.gguf"), ids, n, b))
		CHECK(!memcmp(a, b, sizeof(float) * n * V), "converted f32 checkpoint: logits differ");
	/* the MoE checkpoint (bf16): F32 and BF16 conversions */
	const char *d = t_tmp("hf-moe");
	CHECK(convert(d, t_tmp("moe-f32.gguf"), G4_FT_ALL_F32) == 0, "convert: %s", g4_errmsg());
	if (!logits_of(t_tmp("moe-f32.gguf"), ids, n, a) && !logits_of(t_tmp("hf-moe.gguf"), ids, n, b)) {
		float md = 0;
		for (int i = 0; i < n * V; i++) md = fmaxf(md, fabsf(a[i] - b[i]));
		CHECK(md < 1e-3f, "moe: BF16 vs F32 file of one checkpoint: max |diff| %g", md);
	}
	free(a);
	free(b);
}

/* Peak memory of bin/g4quant converting a 2-layer checkpoint with large
 * matrices (~270 MB of f32 zeros, a sparse file) to Q8_0. */
static void test_peak_memory(void)
{
	const char *d = t_tmp("hf-big");
	mkdir(d, 0755);
	const int64_t H = 1024, F = 8192, nh = 4, hd = 256, hdf = 512, V = 382;
	struct { char name[128]; int64_t a, b; } t[64];
	int n = 0;
#define T(nm, x, y) (snprintf(t[n].name, sizeof t[n].name, "%s", nm), t[n].a = (x), t[n].b = (y), n++)
	T("model.embed_tokens.weight", V, H);
	T("model.norm.weight", H, 0);
	for (int l = 0; l < 2; l++) {
		int64_t h = l ? hdf : hd;
		char b[128];
#define L(nm, x, y) (snprintf(b, sizeof b, "model.layers.%d.%s", l, nm), T(b, x, y))
		L("input_layernorm.weight", H, 0);
		L("self_attn.q_proj.weight", nh * h, H);
		L("self_attn.k_proj.weight", h, H);
		L("self_attn.v_proj.weight", h, H);
		L("self_attn.o_proj.weight", H, nh * h);
		L("self_attn.q_norm.weight", h, 0);
		L("self_attn.k_norm.weight", h, 0);
		L("post_attention_layernorm.weight", H, 0);
		L("pre_feedforward_layernorm.weight", H, 0);
		L("mlp.gate_proj.weight", F, H);
		L("mlp.up_proj.weight", F, H);
		L("mlp.down_proj.weight", H, F);
		L("post_feedforward_layernorm.weight", H, 0);
#undef L
	}
#undef T
	char *hdr = NULL;
	size_t hl = 0;
	FILE *h = open_memstream(&hdr, &hl);
	uint64_t off = 0;
	fprintf(h, "{");
	for (int i = 0; i < n; i++) {
		uint64_t nb = (uint64_t)t[i].a * (uint64_t)(t[i].b ? t[i].b : 1) * 4;
		if (t[i].b)
			fprintf(h, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],\"data_offsets\":[%llu,%llu]}",
				i ? "," : "", t[i].name, (long long)t[i].a, (long long)t[i].b,
				(unsigned long long)off, (unsigned long long)(off + nb));
		else
			fprintf(h, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[%llu,%llu]}",
				i ? "," : "", t[i].name, (long long)t[i].a, (unsigned long long)off,
				(unsigned long long)(off + nb));
		off += nb;
	}
	fprintf(h, "}");
	fclose(h);
	char p[4096];
	snprintf(p, sizeof p, "%s/model.safetensors", d);
	FILE *f = fopen(p, "wb");
	uint64_t n64 = hl;
	fwrite(&n64, 8, 1, f);
	fwrite(hdr, 1, hl, f);
	fclose(f);
	free(hdr);
	CHECK(truncate(p, (off_t)(8 + hl + off)) == 0, "truncate");
	write_file(d, "config.json",
		   "{\"architectures\":[\"Gemma4ForCausalLM\"],\"hidden_size\":1024,\"intermediate_size\":8192,"
		   "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":1,\"head_dim\":256,"
		   "\"global_head_dim\":512,\"num_kv_shared_layers\":0,\"sliding_window\":8,"
		   "\"layer_types\":[\"sliding_attention\",\"full_attention\"],"
		   "\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"proportional\",\"partial_rotary_factor\":0.25,"
		   "\"rope_theta\":1000000.0},\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":10000.0}}}");
	write_tokenizer(d);
	const char *bin = getenv("G4_BIN");
	char exe[4096], out[4096];
	snprintf(exe, sizeof exe, "%s/g4quant", bin ? bin : "bin");
	snprintf(out, sizeof out, "%s", t_tmp("big-q8.gguf"));
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(exe, exe, "-q", d, out, "Q8_0", (char *)NULL);
		_exit(127);
	}
	int st;
	struct rusage ru;
	CHECK(wait4(pid, &st, 0, &ru) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "g4quant failed (%d)", st);
	CHECK(ru.ru_maxrss < 64 * 1024, "peak RSS %ld KiB for a %llu MiB checkpoint", ru.ru_maxrss,
	      (unsigned long long)(off >> 20));
	printf("  (peak RSS %ld KiB converting a %llu MiB checkpoint)\n", ru.ru_maxrss, (unsigned long long)(off >> 20));
	g4_gguf *g = g4_gguf_open(out);
	CHECK(g && g4_gguf_find_tensor(g, "blk.1.ffn_down.weight") &&
	      g4_gguf_find_tensor(g, "blk.1.ffn_down.weight")->type == G4_Q8_0, "output");
	g4_gguf_close(g);
	unlink(out);
	unlink(p);
}

int main(void)
{
	G = g4_gguf_open(t_data("micro-e2b-f32.gguf"));
	if (!G) { printf("FAIL open: %s\n", g4_errmsg()); return 1; }
	RUN(test_f32_single);
	RUN(test_bf16_sharded);
	RUN(test_f16);
	RUN(test_two_step);
	RUN(test_moe);
	RUN(test_logits);
	RUN(test_unified);
	RUN(test_errors);
	RUN(test_mmproj);
	RUN(test_command);
	RUN(test_peak_memory);
	g4_gguf_close(G);
	return t_done();
}
