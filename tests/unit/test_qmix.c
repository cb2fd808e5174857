/* Tests of lib/qmix: ftype names, llama-quantize's tensor order and
 * per-tensor types, against the golden micro-e2b files (tensors.json) and
 * the spec's tables for the real model shapes. */
#include <cjson/cJSON.h>

#include "t.h"
#include "err.h"
#include "qmix.h"
#include "qtypes.h"

static void test_ftype_names(void)
{
	CHECK(g4_ftype_parse("Q4_K_M") == G4_FT_Q4_K_M, "Q4_K_M");
	CHECK(g4_ftype_parse("q4_k") == G4_FT_Q4_K_M, "q4_k alias");
	CHECK(g4_ftype_parse("Q3_K") == G4_FT_Q3_K_M, "Q3_K alias");
	CHECK(g4_ftype_parse("Q5_K") == G4_FT_Q5_K_M, "Q5_K alias");
	CHECK(g4_ftype_parse("F32") == G4_FT_ALL_F32, "F32");
	CHECK(g4_ftype_parse("bf16") == G4_FT_BF16, "bf16");
	CHECK(g4_ftype_parse("15") == G4_FT_Q4_K_M, "by number");
	CHECK(g4_ftype_parse("IQ2_XXS") == -1, "IQ2_XXS is not offered");
	CHECK(g4_ftype_parse("Q4_K_X") == -1, "junk");
	CHECK(g4_ftype_parse("") == -1, "empty");
	CHECK(g4_ftype_parse("15x") == -1, "15x");
	CHECK(!strcmp(g4_ftype_name(G4_FT_Q4_K_M), "Q4_K_M"), "name");
	CHECK(g4_ftype_default_type(G4_FT_Q3_K_L) == G4_Q3_K, "default of Q3_K_L");
	CHECK(g4_ftype_default_type(G4_FT_IQ4_XS) == G4_IQ4_XS, "default of IQ4_XS");
}

static cJSON *golden;

static cJSON *model(const char *name)
{
	cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(golden, "models"), name);
	CHECK(m != NULL, "no model %s", name);
	return m;
}

static int load_tensors(cJSON *m, g4_qmix_tensor *t, int max)
{
	cJSON *ts = cJSON_GetObjectItem(m, "tensors"), *e;
	int n = 0;
	cJSON_ArrayForEach(e, ts) {
		if (n == max)
			break;
		t[n].name = cJSON_GetObjectItem(e, "name")->valuestring;
		for (int d = 0; d < 4; d++) t[n].ne[d] = 1;
		cJSON *ne = cJSON_GetObjectItem(e, "ne"), *x;
		int d = 0;
		cJSON_ArrayForEach(x, ne) t[n].ne[d++] = (int64_t)x->valuedouble;
		t[n].type = g4_type_from_name(cJSON_GetObjectItem(e, "type")->valuestring);
		n++;
	}
	return n;
}

static void check_golden(const char *name, int ftype)
{
	g4_qmix_tensor in[200], sorted[200], want[200];
	size_t order[200];
	uint32_t types[200];
	int n = load_tensors(model("micro-e2b-f32"), in, 200);
	int nw = load_tensors(model(name), want, 200);
	CHECK(n == 85 && nw == n, "%s: %d / %d tensors", name, n, nw);
	g4_qmix_order(in, (size_t)n, order);
	for (int i = 0; i < n; i++)
		sorted[i] = in[order[i]];
	g4_qmix_opts o;
	g4_qmix_opts_init(&o, ftype);
	o.n_layer = 5; o.n_head = 4; o.n_head_kv = 1; o.n_expert = 0;
	CHECK(g4_qmix_choose(&o, sorted, (size_t)n, types) == 0, "choose failed");
	int bad = 0;
	for (int i = 0; i < n && i < nw; i++) {
		if (strcmp(sorted[i].name, want[i].name)) {
			if (bad++ < 3) CHECK(0, "%s: position %d is %s, want %s", name, i, sorted[i].name, want[i].name);
		} else if (types[i] != want[i].type) {
			if (bad++ < 3) CHECK(0, "%s: %s is %s, want %s", name, want[i].name,
					     g4_type_name(types[i]), g4_type_name(want[i].type));
		}
	}
	CHECK(bad == 0, "%s: %d mismatches", name, bad);
}

/* --tensor-type: manual types replace the mix rules, the fallback stays */
static void test_tensor_type(void)
{
	g4_qmix_tensor in[200], s[200];
	size_t order[200];
	uint32_t types[200];
	int n = load_tensors(model("micro-e2b-f32"), in, 200);
	g4_qmix_order(in, (size_t)n, order);
	for (int i = 0; i < n; i++) s[i] = in[order[i]];
	g4_qmix_opts o;
	g4_qmix_opts_init(&o, G4_FT_Q4_K_M);
	o.n_layer = 5; o.n_head = 4; o.n_head_kv = 1;
	CHECK(g4_qmix_add_tensor_type(&o, "ATTN_V=q8_0") == 0, "add: %s", g4_errmsg());
	CHECK(g4_qmix_add_tensor_type(&o, "blk\\.[34]\\.ffn_down=Q6_K") == 0, "add: %s", g4_errmsg());
	CHECK(g4_qmix_add_tensor_type(&o, "nope") == -1, "no '='");
	CHECK(g4_qmix_add_tensor_type(&o, "x=q9_9") == -1, "bad type");
	CHECK(g4_qmix_add_tensor_type(&o, "(=q8_0") == -1, "bad regex");
	CHECK(g4_qmix_choose(&o, s, (size_t)n, types) == 0, "choose: %s", g4_errmsg());
	for (int i = 0; i < n; i++) {
		if (strstr(s[i].name, "attn_v"))
			CHECK(types[i] == G4_Q8_0, "%s: %s", s[i].name, g4_type_name(types[i]));
		if (!strcmp(s[i].name, "blk.3.ffn_down.weight"))
			CHECK(types[i] == G4_Q6_K, "blk.3.ffn_down: %s", g4_type_name(types[i]));
		if (!strcmp(s[i].name, "blk.2.ffn_down.weight"))
			CHECK(types[i] == G4_Q8_0, "blk.2.ffn_down (rule Q6_K, fallback Q8_0): %s", g4_type_name(types[i]));
		if (!strcmp(s[i].name, "blk.0.attn_q.weight"))
			CHECK(types[i] == G4_Q5_0, "attn_q: %s", g4_type_name(types[i]));
	}
	g4_qmix_opts_free(&o);
}

static void test_golden_micro_e2b(void)
{
	size_t n;
	char *s = t_slurp(t_data("quant-tensors.json"), &n);
	if (!s) return;
	char *z = realloc(s, n + 1); z[n] = 0;
	golden = cJSON_Parse(z);
	free(z);
	CHECK(golden != NULL, "bad json");
	if (!golden) return;
	check_golden("micro-e2b-Q8_0", G4_FT_Q8_0);
	check_golden("micro-e2b-Q4_0", G4_FT_Q4_0);
	check_golden("micro-e2b-Q4_K_M", G4_FT_Q4_K_M);
}

/* A Gemma 4 tensor list with real shapes.  kv_all: attn_v on every layer. */
struct model {
	g4_qmix_tensor t[2048];
	char names[2048][64];
	int n;
};

static void add(struct model *m, const char *name, int64_t a, int64_t b, int64_t c)
{
	snprintf(m->names[m->n], 64, "%s", name);
	m->t[m->n].name = m->names[m->n];
	m->t[m->n].ne[0] = a; m->t[m->n].ne[1] = b; m->t[m->n].ne[2] = c; m->t[m->n].ne[3] = 1;
	m->t[m->n].type = G4_BF16;
	m->n++;
}

static void build(struct model *m, int L, int H, int F, int moe_fe, int nexp, int period,
		  int v_layers /* attn_v on layers < v_layers, except full layers if k_eq_v */, int k_eq_v)
{
	char b[64];
	m->n = 0;
	add(m, "token_embd.weight", H, 262144, 1);
	add(m, "output_norm.weight", H, 1, 1);
	add(m, "rope_freqs.weight", 256, 1, 1);
	for (int l = 0; l < L; l++) {
		int full = (l + 1) % period == 0;
#define A(n, x, y, z) (snprintf(b, 64, "blk.%d." n, l), add(m, b, x, y, z))
		A("attn_q.weight", H, 2048, 1);
		A("attn_norm.weight", H, 1, 1);
		if (l < v_layers && !(full && k_eq_v))
			A("attn_v.weight", H, 256, 1);
		A("attn_k.weight", H, 256, 1);
		A("attn_output.weight", 2048, H, 1);
		A("ffn_gate.weight", H, F, 1);
		A("ffn_up.weight", H, F, 1);
		A("ffn_down.weight", F, H, 1);
		if (nexp) {
			A("ffn_gate_inp.weight", H, nexp, 1);
			A("ffn_gate_up_exps.weight", H, 2 * moe_fe, nexp);
			A("ffn_down_exps.weight", moe_fe, H, nexp);
			A("ffn_down_exps.scale", nexp, 1, 1);
		}
#undef A
	}
}

static void choose(struct model *m, int ftype, int L, int nh, int nkv, int nexp, uint32_t *types)
{
	size_t order[2048];
	g4_qmix_tensor s[2048];
	g4_qmix_order(m->t, (size_t)m->n, order);
	for (int i = 0; i < m->n; i++) s[i] = m->t[order[i]];
	memcpy(m->t, s, sizeof(s[0]) * (size_t)m->n);
	g4_qmix_opts o;
	g4_qmix_opts_init(&o, ftype);
	o.n_layer = L; o.n_head = nh; o.n_head_kv = nkv; o.n_expert = nexp;
	CHECK(g4_qmix_choose(&o, m->t, (size_t)m->n, types) == 0, "choose");
}

static uint32_t type_of(struct model *m, uint32_t *types, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->t[i].name, name)) return types[i];
	CHECK(0, "no tensor %s", name);
	return 999;
}

/* "layers whose X gets T" as a set, compared with a list from the spec */
static void check_layers(struct model *m, uint32_t *types, const char *suffix, int L,
			 uint32_t want_t, const int *want, int nwant)
{
	char b[64];
	for (int l = 0; l < L; l++) {
		snprintf(b, 64, "blk.%d.%s", l, suffix);
		int present = 0;
		for (int i = 0; i < m->n; i++) if (!strcmp(m->t[i].name, b)) present = 1;
		if (!present) continue;
		int in = 0;
		for (int k = 0; k < nwant; k++) if (want[k] == l) in = 1;
		uint32_t t = type_of(m, types, b);
		CHECK((t == want_t) == in, "%s is %s", b, g4_type_name(t));
	}
}

static struct model M;

static void test_e2b_q4_k_m(void)
{
	uint32_t types[2048];
	/* E2B, attn_v on all 35 layers (spec §3.8) */
	build(&M, 35, 1536, 6144, 0, 0, 5, 35, 0);
	choose(&M, G4_FT_Q4_K_M, 35, 8, 1, 0, types);
	static const int v_all[] = { 0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34 };
	check_layers(&M, types, "attn_v.weight", 35, G4_Q6_K, v_all, 17);
	check_layers(&M, types, "ffn_down.weight", 35, G4_Q6_K, v_all, 17);
	CHECK(type_of(&M, types, "token_embd.weight") == G4_Q6_K, "token_embd");
	CHECK(type_of(&M, types, "blk.5.attn_q.weight") == G4_Q4_K, "attn_q");
	CHECK(type_of(&M, types, "blk.5.attn_norm.weight") == G4_BF16, "norm untouched");
	CHECK(type_of(&M, types, "rope_freqs.weight") == G4_BF16, "1-D untouched");
	/* attn_v only on the 15 KV-owning layers */
	build(&M, 35, 1536, 6144, 0, 0, 5, 15, 0);
	choose(&M, G4_FT_Q4_K_M, 35, 8, 1, 0, types);
	static const int v15[] = { 0, 3, 6, 9, 12, 13, 14 };
	check_layers(&M, types, "attn_v.weight", 35, G4_Q6_K, v15, 7);
	/* --pure: everything quantisable in Q4_K */
	g4_qmix_opts o;
	g4_qmix_opts_init(&o, G4_FT_Q4_K_M);
	o.n_layer = 35; o.n_head = 8; o.n_head_kv = 1; o.pure = 1;
	CHECK(g4_qmix_choose(&o, M.t, (size_t)M.n, types) == 0, "pure");
	CHECK(type_of(&M, types, "token_embd.weight") == G4_Q4_K, "pure token_embd");
	CHECK(type_of(&M, types, "blk.0.attn_v.weight") == G4_Q4_K, "pure attn_v");
	CHECK(type_of(&M, types, "blk.0.ffn_down.weight") == G4_Q4_K, "pure ffn_down");
}

static void test_31b_q3_k_m(void)
{
	uint32_t types[2048];
	/* 31B: 60 layers, SSSSSF, no attn_v on full layers; n_gqa 2 */
	build(&M, 60, 5376, 21504, 0, 0, 6, 60, 1);
	choose(&M, G4_FT_Q3_K_M, 60, 32, 16, 0, types);
	static const int v01[] = { 0, 1 };
	check_layers(&M, types, "attn_v.weight", 60, G4_Q5_K, v01, 2);
	static const int d[] = { 0, 1, 2 };	/* L/16 = 3 */
	check_layers(&M, types, "ffn_down.weight", 60, G4_Q5_K, d, 3);
	CHECK(type_of(&M, types, "blk.7.attn_v.weight") == G4_Q4_K, "attn_v ordinal 2+");
	CHECK(type_of(&M, types, "blk.9.ffn_down.weight") == G4_Q4_K, "ffn_down");
	CHECK(type_of(&M, types, "blk.9.attn_output.weight") == G4_Q4_K, "attn_output");
	CHECK(type_of(&M, types, "blk.9.attn_q.weight") == G4_Q3_K, "attn_q");
	/* Q4_K_M attn_v over 50 SWA layers (spec table) */
	choose(&M, G4_FT_Q4_K_M, 60, 32, 16, 0, types);
	static const int v50[] = { 0, 1, 2, 3, 4, 6, 9, 13, 16, 20, 24, 27, 31, 34, 38, 42, 45, 49, 51,
				   52, 54, 55, 56, 57, 58 };
	check_layers(&M, types, "attn_v.weight", 60, G4_Q6_K, v50, 25);
	/* Q2_K: n_gqa 2 -> attn_v Q3_K; ffn_down Q3_K; attn_output Q3_K */
	choose(&M, G4_FT_Q2_K, 60, 32, 16, 0, types);
	CHECK(type_of(&M, types, "blk.0.attn_v.weight") == G4_Q3_K, "Q2_K attn_v");
	CHECK(type_of(&M, types, "blk.0.ffn_down.weight") == G4_Q3_K, "Q2_K ffn_down");
	CHECK(type_of(&M, types, "blk.0.attn_output.weight") == G4_Q3_K, "Q2_K attn_output");
	CHECK(type_of(&M, types, "blk.0.ffn_up.weight") == G4_Q2_K, "Q2_K ffn_up");
}

static void test_26b_fallback(void)
{
	uint32_t types[2048];
	/* 26B-A4B: F = 2112 and Fe = 704 are not multiples of 256 */
	build(&M, 30, 2816, 2112, 704, 128, 6, 30, 1);
	choose(&M, G4_FT_Q4_K_M, 30, 16, 8, 128, types);
	static const int mb[] = { 0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29 };
	check_layers(&M, types, "ffn_down.weight", 30, G4_Q8_0, mb, 14);
	check_layers(&M, types, "ffn_down_exps.weight", 30, G4_Q8_0, mb, 14);
	CHECK(type_of(&M, types, "blk.3.ffn_down.weight") == G4_Q5_0, "Q4_K -> Q5_0");
	CHECK(type_of(&M, types, "blk.3.ffn_gate_up_exps.weight") == G4_Q4_K, "gate_up_exps");
	CHECK(type_of(&M, types, "blk.3.ffn_gate_inp.weight") == G4_BF16, "router untouched");
	CHECK(type_of(&M, types, "blk.3.ffn_down_exps.scale") == G4_BF16, "scale untouched");
	choose(&M, G4_FT_Q5_K_S, 30, 16, 8, 128, types);
	CHECK(type_of(&M, types, "blk.3.ffn_down.weight") == G4_Q5_1, "Q5_K -> Q5_1");
	choose(&M, G4_FT_IQ4_XS, 30, 16, 8, 128, types);
	CHECK(type_of(&M, types, "blk.3.ffn_down_exps.weight") == G4_IQ4_NL, "IQ4_XS -> IQ4_NL");
	CHECK(type_of(&M, types, "blk.0.ffn_down_exps.weight") == G4_Q5_1, "IQ4_XS layer<L/8: Q5_K -> Q5_1");
	CHECK(type_of(&M, types, "blk.3.attn_v.weight") == G4_IQ4_XS, "IQ4_XS attn_v with n_gqa 2");
	/* F16: no mix rules */
	choose(&M, G4_FT_F16, 30, 16, 8, 128, types);
	CHECK(type_of(&M, types, "token_embd.weight") == G4_F16, "F16 token_embd");
	CHECK(type_of(&M, types, "blk.3.ffn_down.weight") == G4_F16, "F16 ffn_down");
	CHECK(type_of(&M, types, "blk.3.attn_norm.weight") == G4_BF16, "F16 norm untouched");
}

static void test_order(void)
{
	g4_qmix_tensor t[6] = {
		{ "blk.10.attn_q.weight", {1, 1, 1, 1}, 0 },
		{ "blk.2.attn_q.weight", {1, 1, 1, 1}, 0 },
		{ "blk.2.attn_k_norm.weight", {1, 1, 1, 1}, 0 },
		{ "blk.2.attn_k.weight", {1, 1, 1, 1}, 0 },
		{ "token_embd.weight", {1, 1, 1, 1}, 0 },
		{ "blkx.weight", {1, 1, 1, 1}, 0 },
	};
	size_t o[6];
	g4_qmix_order(t, 6, o);
	static const size_t want[6] = { 5, 4, 3, 2, 1, 0 };
	for (int i = 0; i < 6; i++)
		CHECK(o[i] == want[i], "position %d: %s", i, t[o[i]].name);
	int64_t ne[4] = { 64, 1, 1, 1 };
	CHECK(g4_qmix_ndims(ne) == 1, "ndims 1");
	ne[2] = 3;
	CHECK(g4_qmix_ndims(ne) == 3, "ndims 3");
}

static void test_requires_imatrix(void)
{
	CHECK(g4_qmix_requires_imatrix("blk.0.attn_q.weight", G4_Q2_K, G4_FT_Q2_K_S), "Q2_K in Q2_K_S");
	CHECK(!g4_qmix_requires_imatrix("blk.0.attn_q.weight", G4_Q2_K, G4_FT_Q2_K), "Q2_K in Q2_K");
	CHECK(!g4_qmix_requires_imatrix("token_embd.weight", G4_Q2_K, G4_FT_Q2_K_S), "token_embd");
	CHECK(g4_qmix_requires_imatrix("blk.0.attn_q.weight", G4_IQ2_XXS, G4_FT_IQ2_XXS), "IQ2_XXS");
}

int main(void)
{
	RUN(test_ftype_names);
	RUN(test_order);
	RUN(test_golden_micro_e2b);
	RUN(test_tensor_type);
	RUN(test_e2b_q4_k_m);
	RUN(test_31b_q3_k_m);
	RUN(test_26b_fallback);
	RUN(test_requires_imatrix);
	cJSON_Delete(golden);
	return t_done();
}
