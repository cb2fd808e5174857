/* qmix.c - llama-quantize's ftypes and per-tensor type choice (see qmix.h;
 * the rules are spec gguf-and-quant.md §3.2-3.7, checked against
 * llama.cpp's src/llama-quant.cpp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "qmix.h"
#include "qtypes.h"

static const struct {
	const char *name;
	int ftype;
	int type;
} ftypes[] = {
	{ "F32", G4_FT_ALL_F32, G4_F32 },
	{ "F16", G4_FT_F16, G4_F16 },
	{ "BF16", G4_FT_BF16, G4_BF16 },
	{ "Q8_0", G4_FT_Q8_0, G4_Q8_0 },
	{ "Q4_0", G4_FT_Q4_0, G4_Q4_0 },
	{ "Q4_1", G4_FT_Q4_1, G4_Q4_1 },
	{ "Q5_0", G4_FT_Q5_0, G4_Q5_0 },
	{ "Q5_1", G4_FT_Q5_1, G4_Q5_1 },
	{ "IQ4_NL", G4_FT_IQ4_NL, G4_IQ4_NL },
	{ "IQ4_XS", G4_FT_IQ4_XS, G4_IQ4_XS },
	{ "Q2_K", G4_FT_Q2_K, G4_Q2_K },
	{ "Q2_K_S", G4_FT_Q2_K_S, G4_Q2_K },
	{ "Q3_K_S", G4_FT_Q3_K_S, G4_Q3_K },
	{ "Q3_K_M", G4_FT_Q3_K_M, G4_Q3_K },
	{ "Q3_K_L", G4_FT_Q3_K_L, G4_Q3_K },
	{ "Q4_K_S", G4_FT_Q4_K_S, G4_Q4_K },
	{ "Q4_K_M", G4_FT_Q4_K_M, G4_Q4_K },
	{ "Q5_K_S", G4_FT_Q5_K_S, G4_Q5_K },
	{ "Q5_K_M", G4_FT_Q5_K_M, G4_Q5_K },
	{ "Q6_K", G4_FT_Q6_K, G4_Q6_K },
	/* aliases, after the canonical names */
	{ "Q3_K", G4_FT_Q3_K_M, G4_Q3_K },
	{ "Q4_K", G4_FT_Q4_K_M, G4_Q4_K },
	{ "Q5_K", G4_FT_Q5_K_M, G4_Q5_K },
};
#define NFT (sizeof ftypes / sizeof ftypes[0])

int g4_ftype_parse(const char *s)
{
	if (!s || !*s)
		return -1;
	for (size_t i = 0; i < NFT; i++)
		if (!strcasecmp(s, ftypes[i].name))
			return ftypes[i].ftype;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s)
		return -1;
	for (size_t i = 0; i < NFT; i++)
		if (ftypes[i].ftype == v)
			return ftypes[i].ftype;
	return -1;
}

const char *g4_ftype_name(int ftype)
{
	for (size_t i = 0; i < NFT; i++)
		if (ftypes[i].ftype == ftype)
			return ftypes[i].name;
	return NULL;
}

int g4_ftype_default_type(int ftype)
{
	for (size_t i = 0; i < NFT; i++)
		if (ftypes[i].ftype == ftype)
			return ftypes[i].type;
	return -1;
}

const char *g4_ftype_names(void)
{
	static char buf[256];
	if (!buf[0])
		for (size_t i = 0; i < NFT; i++) {
			if (i)
				strcat(buf, " ");
			strcat(buf, ftypes[i].name);
		}
	return buf;
}

void g4_qmix_opts_init(g4_qmix_opts *o, int ftype)
{
	memset(o, 0, sizeof *o);
	o->ftype = ftype;
	o->output_type = -1;
	o->token_embd_type = -1;
}

int g4_qmix_add_tensor_type(g4_qmix_opts *o, const char *arg)
{
	const char *eq = strrchr(arg, '=');
	if (!eq || eq == arg)
		return g4_err("--tensor-type '%s': expected PATTERN=TYPE", arg);
	int t = g4_type_from_name(eq + 1);
	if (t < 0 || !g4_type_block(t))
		return g4_err("--tensor-type '%s': unknown type '%s'", arg, eq + 1);
	if (o->ntt == G4_QMIX_MAX_TT)
		return g4_err("--tensor-type: more than %d patterns", G4_QMIX_MAX_TT);
	size_t n = (size_t)(eq - arg);
	char *pat = malloc(n + 1);
	if (!pat)
		return g4_err("out of memory");
	for (size_t i = 0; i < n; i++)
		pat[i] = (char)((arg[i] >= 'A' && arg[i] <= 'Z') ? arg[i] - 'A' + 'a' : arg[i]);
	pat[n] = 0;
	int rc = regcomp(&o->tt_re[o->ntt], pat, REG_EXTENDED | REG_NOSUB);
	free(pat);
	if (rc) {
		char msg[128];
		regerror(rc, &o->tt_re[o->ntt], msg, sizeof msg);
		return g4_err("--tensor-type '%s': bad pattern: %s", arg, msg);
	}
	o->tt_type[o->ntt++] = t;
	return 0;
}

void g4_qmix_opts_free(g4_qmix_opts *o)
{
	for (int i = 0; i < o->ntt; i++)
		regfree(&o->tt_re[i]);
	o->ntt = 0;
}

uint32_t g4_qmix_ndims(const int64_t ne[4])
{
	for (int i = 3; i >= 1; i--)
		if (ne[i] != 1)
			return (uint32_t)i + 1;
	return 1;
}

/* N of a leading "blk.N.", or -1 */
static long blk_of(const char *s)
{
	if (strncmp(s, "blk.", 4))
		return -1;
	s += 4;
	if (*s < '0' || *s > '9')
		return -1;
	long n = 0;
	while (*s >= '0' && *s <= '9') {
		if (n > 100000000)
			return -1;
		n = n * 10 + (*s++ - '0');
	}
	return *s == '.' ? n : -1;
}

static const g4_qmix_tensor *sort_base;

static int cmp_order(const void *a, const void *b)
{
	const g4_qmix_tensor *x = &sort_base[*(const size_t *)a];
	const g4_qmix_tensor *y = &sort_base[*(const size_t *)b];
	long bx = blk_of(x->name), by = blk_of(y->name);
	if (bx != by)
		return bx < by ? -1 : 1;
	int c = strcmp(x->name, y->name);	/* strcmp compares as unsigned char */
	if (c)
		return c;
	/* stable for equal names (never in a valid file) */
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	return ia < ib ? -1 : ia > ib;
}

void g4_qmix_order(const g4_qmix_tensor *t, size_t n, size_t *order)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_base = t;
	qsort(order, n, sizeof *order, cmp_order);
	sort_base = NULL;
}

static int has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !memcmp(s + n - m, suf, m);
}

int g4_qmix_allows(const g4_qmix_opts *o, const g4_qmix_tensor *t)
{
	static const char *const never[] = {
		"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight",
		"altup", "laurel", "per_layer_model_proj", "ssm_conv1d",
		"shortconv.conv.weight", "time_mix_first.weight", "time_mix_w0.weight",
		"time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
		"time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
		"time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
		"time_mix_g2.weight", "time_mix_decay_w1.weight",
		"time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
		"attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.",
		"sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
	};
	const char *s = t->name;
	if (g4_qmix_ndims(t->ne) < 2 || !ends_with(s, "weight"))
		return 0;
	if (o->leave_output && !strcmp(s, "output.weight"))
		return 0;
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
		if (has(s, never[i]))
			return 0;
	if (!strcmp(s, "position_embd.weight") || !strcmp(s, "token_types.weight"))
		return 0;
	return 1;
}

enum cat {
	C_OTHER, C_OUTPUT, C_TOKEN_EMBD, C_QKV, C_KV_B, C_V, C_K, C_Q, C_OUT,
	C_UP, C_GATE, C_DOWN
};

static enum cat category(const char *s)
{
	if (!strcmp(s, "output.weight"))
		return C_OUTPUT;
	if (!strcmp(s, "token_embd.weight") || !strcmp(s, "per_layer_token_embd.weight"))
		return C_TOKEN_EMBD;
	if (has(s, "attn_qkv.weight")) return C_QKV;
	if (has(s, "attn_kv_b.weight")) return C_KV_B;
	if (has(s, "attn_v.weight")) return C_V;
	if (has(s, "attn_k.weight")) return C_K;
	if (has(s, "attn_q.weight")) return C_Q;
	if (has(s, "attn_output.weight")) return C_OUT;
	if (has(s, "ffn_up")) return C_UP;
	if (has(s, "ffn_gate")) return C_GATE;
	if (has(s, "ffn_down")) return C_DOWN;
	return C_OTHER;
}

static int is_attn_v(enum cat c)
{
	return c == C_V || c == C_QKV || c == C_KV_B;
}

static int more_bits(long i, long n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int is_quantized(int t)
{
	return !(t == G4_F32 || t == G4_F16 || t == G4_BF16 || t == G4_F64 ||
		 t == G4_I8 || t == G4_I16 || t == G4_I32 || t == G4_I64);
}

struct state {
	const g4_qmix_opts *o;
	long n_attn_wv, i_attn_wv;
	long n_ffn, i_down, i_gate, i_up;
	int tied;
	long n_gqa;
};

/* the layer an FFN rule uses: a running counter, or for MoE models the
 * block number in the name */
static int ffn_layer(const struct state *st, long counter, const char *name, long *layer)
{
	if (st->o->n_expert > 1) {
		long b = blk_of(name);
		if (b < 0)
			return g4_err("tensor '%s': cannot tell its layer", name);
		if (b >= st->n_ffn)
			return g4_err("tensor '%s': layer %ld is not below block_count %ld", name, b, st->n_ffn);
		*layer = b;
	} else
		*layer = counter;
	return 0;
}

#define FT(x) (f == G4_FT_##x)

static int mix_rule(struct state *st, const g4_qmix_tensor *t, enum cat c, int nt, int *out)
{
	const g4_qmix_opts *o = st->o;
	int f = o->ftype;
	long gqa = st->n_gqa, nexp = o->n_expert, i, n = st->n_ffn;

	if (c == C_OUTPUT || (st->tied && c == C_TOKEN_EMBD)) {
		if (o->output_type >= 0)
			nt = o->output_type;
		else if (FT(MXFP4_MOE))
			nt = G4_Q8_0;
		else if (t->ne[0] % g4_type_block(nt))
			nt = G4_Q8_0;
		else if (FT(IQ2_XXS) || FT(IQ2_XS) || FT(IQ3_XXS) || FT(IQ1_S) ||
			 FT(IQ2_S) || FT(IQ2_M) || FT(IQ1_M))
			nt = G4_Q5_K;
		else if (nt != G4_Q8_0)
			nt = G4_Q6_K;
	} else if (FT(MXFP4_MOE)) {
		nt = t->ne[2] > 1 ? G4_MXFP4 : G4_Q8_0;
	} else if (c == C_TOKEN_EMBD) {
		if (o->token_embd_type >= 0)
			nt = o->token_embd_type;
		else if (FT(IQ2_XXS) || FT(IQ2_XS) || FT(IQ1_S) || FT(IQ1_M))
			nt = G4_Q2_K;
		else if (FT(IQ2_S) || FT(IQ2_M) || FT(IQ3_XXS))
			nt = G4_IQ3_S;
		else if (FT(TQ1_0) || FT(TQ2_0) || FT(Q2_0))
			nt = G4_Q4_K;
	} else if (FT(IQ2_XXS) || FT(IQ2_XS) || FT(IQ1_S) || FT(IQ2_S) || FT(IQ2_M) || FT(IQ1_M)) {
		if (is_attn_v(c)) {
			if (gqa >= 4 || nexp >= 4)
				nt = G4_Q4_K;
			else
				nt = FT(IQ2_S) || FT(IQ2_M) ? G4_IQ3_S : G4_Q2_K;
			st->i_attn_wv++;
		} else if (nexp == 8 && c == C_K) {
			nt = G4_Q4_K;
		} else if (c == C_DOWN) {
			if (st->i_down < n / 8)
				nt = FT(IQ2_S) || FT(IQ2_M) ? G4_IQ3_S : G4_Q2_K;
			st->i_down++;
		} else if (c == C_OUT) {
			if (nexp == 8)
				nt = G4_Q5_K;
			else if (FT(IQ1_S) || FT(IQ1_M))
				nt = G4_IQ2_XXS;
			else if (FT(IQ2_S) || FT(IQ2_M))
				nt = G4_IQ3_S;
		}
	} else if (is_attn_v(c)) {
		long iv = st->i_attn_wv, nv = st->n_attn_wv;
		if (FT(Q2_K))
			nt = gqa >= 4 ? G4_Q4_K : G4_Q3_K;
		else if (FT(Q2_K_S) && gqa >= 4)
			nt = G4_Q4_K;
		else if (FT(IQ3_XXS))
			nt = gqa >= 4 ? G4_Q4_K : !o->has_imatrix ? G4_IQ3_S : G4_IQ3_XXS;
		else if ((FT(IQ3_XS) || FT(IQ3_S)) && gqa >= 4)
			nt = G4_Q4_K;
		else if (FT(IQ3_M))
			nt = G4_Q4_K;
		else if (FT(Q3_K_M))
			nt = iv < 2 ? G4_Q5_K : G4_Q4_K;
		else if (FT(Q3_K_L))
			nt = G4_Q5_K;
		else if ((FT(IQ4_NL) || FT(IQ4_XS)) && gqa >= 4)
			nt = G4_Q5_K;
		else if ((FT(Q4_K_M) || FT(Q5_K_M)) && more_bits(iv, nv))
			nt = G4_Q6_K;
		else if (FT(Q4_K_S) && iv < 4)
			nt = G4_Q5_K;
		/* (llama.cpp's LLaMA-70B special case does not apply to gemma4) */
		if (nexp == 8)
			nt = G4_Q8_0;
		st->i_attn_wv++;
	} else if (c == C_K) {
		if (nexp == 8)
			nt = G4_Q8_0;
		else if (FT(IQ3_XS))
			nt = G4_IQ3_XXS;
		else if (FT(IQ3_XXS))
			nt = G4_IQ2_S;
	} else if (c == C_Q) {
		if (FT(IQ3_XS))
			nt = G4_IQ3_XXS;
		else if (FT(IQ3_XXS))
			nt = G4_IQ2_S;
	} else if (c == C_DOWN) {
		if (ffn_layer(st, st->i_down, t->name, &i))
			return -1;
		if (FT(Q2_K))
			nt = G4_Q3_K;
		else if (FT(Q2_K_S)) {
			if (i < n / 8)
				nt = G4_Q4_K;
		} else if (FT(IQ3_XXS) && !o->has_imatrix)
			nt = i < n / 8 ? G4_Q4_K : G4_Q3_K;
		else if (FT(Q3_K_M))
			nt = i < n / 16 ? G4_Q5_K : G4_Q4_K;
		else if (FT(IQ3_M) && (i < n / 8 || (nexp == 8 && more_bits(i, n))))
			nt = G4_Q4_K;
		else if (FT(Q3_K_L))
			nt = G4_Q5_K;
		else if (FT(Q4_K_M)) {
			if (more_bits(i, n))
				nt = G4_Q6_K;
		} else if (i < n / 8 && (FT(IQ4_NL) || FT(IQ4_XS)) && !o->has_imatrix)
			nt = G4_Q5_K;
		else if (FT(Q5_K_M) && more_bits(i, n))
			nt = G4_Q6_K;
		else if (FT(Q4_K_S) && i < n / 8)
			nt = G4_Q5_K;
		else if ((FT(Q4_0) || FT(Q5_0)) && o->has_imatrix && i < n / 8)
			nt = FT(Q4_0) ? G4_Q4_1 : G4_Q5_1;
		st->i_down++;
	} else if (c == C_OUT) {
		if (nexp == 8) {
			if (FT(Q2_K) || FT(IQ3_XS) || FT(IQ3_XXS) || FT(Q3_K_S) || FT(Q3_K_M) ||
			    FT(IQ4_NL) || FT(Q4_K_S) || FT(Q4_K_M) || FT(IQ3_S) || FT(IQ3_M) ||
			    FT(IQ4_XS))
				nt = G4_Q5_K;
		} else {
			if (FT(Q2_K)) nt = G4_Q3_K;
			else if (FT(IQ3_XXS)) nt = G4_IQ3_S;
			else if (FT(Q3_K_M)) nt = G4_Q4_K;
			else if (FT(Q3_K_L)) nt = G4_Q5_K;
			else if (FT(IQ3_M)) nt = G4_Q4_K;
		}
	} else if (c == C_QKV) {
		/* unreachable: attn_qkv is attn_v-like and handled above (as upstream) */
	} else if (c == C_GATE || c == C_UP) {
		long *ctr = c == C_GATE ? &st->i_gate : &st->i_up;
		if (ffn_layer(st, *ctr, t->name, &i))
			return -1;
		if (FT(IQ3_XS) && i >= n / 8 && i < 7 * n / 8)
			nt = G4_IQ3_XXS;
		(*ctr)++;
	}
	*out = nt;
	return 0;
}

static int fallback(const g4_qmix_tensor *t, int nt, int *out)
{
	int64_t nc = t->ne[0];
	if (nc % g4_type_block(nt) == 0) {
		*out = nt;
		return 0;
	}
	int r;
	switch (nt) {
	case G4_IQ1_S: case G4_IQ1_M: case G4_IQ2_XXS: case G4_IQ2_XS: case G4_IQ2_S:
	case G4_IQ3_XXS: case G4_IQ3_S: case G4_IQ4_XS:
		r = G4_IQ4_NL; break;
	case G4_Q2_0: case G4_Q2_K: case G4_Q3_K: case G4_TQ1_0: case G4_TQ2_0:
		r = G4_Q4_0; break;
	case G4_Q4_K: r = G4_Q5_0; break;
	case G4_Q5_K: r = G4_Q5_1; break;
	case G4_Q6_K: r = G4_Q8_0; break;
	default:
		return g4_err("tensor '%s': %lld columns do not fit type %s and it has no fallback",
			      t->name, (long long)nc, g4_type_name(nt));
	}
	if (nc % g4_type_block(r))
		r = G4_F16;
	*out = r;
	return 0;
}

int g4_qmix_choose(const g4_qmix_opts *o, const g4_qmix_tensor *t, size_t n, uint32_t *types)
{
	int def = g4_ftype_default_type(o->ftype);
	if (def < 0) {
		/* the rules know more ftypes than the table g4quant offers */
		switch (o->ftype) {
		case G4_FT_IQ2_XXS: def = G4_IQ2_XXS; break;
		case G4_FT_IQ2_XS: def = G4_IQ2_XS; break;
		case G4_FT_IQ2_S: def = G4_IQ2_XS; break;
		case G4_FT_IQ2_M: def = G4_IQ2_S; break;
		case G4_FT_IQ3_XXS: def = G4_IQ3_XXS; break;
		case G4_FT_IQ3_XS: case G4_FT_IQ3_S: case G4_FT_IQ3_M: def = G4_IQ3_S; break;
		case G4_FT_IQ1_S: def = G4_IQ1_S; break;
		case G4_FT_IQ1_M: def = G4_IQ1_M; break;
		case G4_FT_TQ1_0: def = G4_TQ1_0; break;
		case G4_FT_TQ2_0: def = G4_TQ2_0; break;
		case G4_FT_MXFP4_MOE: def = G4_MXFP4; break;
		case G4_FT_Q1_0: def = G4_Q1_0; break;
		case G4_FT_Q2_0: def = G4_Q2_0; break;
		default: return g4_err("unknown file type %d", o->ftype);
		}
	}
	struct state st = { .o = o, .tied = 1 };
	st.n_ffn = (long)o->n_layer;
	st.n_gqa = o->n_head_kv > 0 ? (long)(o->n_head / o->n_head_kv) : 0;
	for (size_t k = 0; k < n; k++) {
		enum cat c = category(t[k].name);
		if (is_attn_v(c))
			st.n_attn_wv++;
		if (c == C_OUTPUT)
			st.tied = 0;
	}
	for (size_t k = 0; k < n; k++) {
		const g4_qmix_tensor *x = &t[k];
		int nt = def;
		if (!g4_qmix_allows(o, x)) {
			types[k] = x->type;
			continue;
		}
		enum cat c = category(x->name);
		if (o->token_embd_type >= 0 && c == C_TOKEN_EMBD) {
			types[k] = (uint32_t)o->token_embd_type;
			continue;
		}
		if (o->output_type >= 0 && c == C_OUTPUT) {
			types[k] = (uint32_t)o->output_type;
			continue;
		}
		if (is_quantized(def)) {
			int manual = 0;
			for (int i = 0; i < o->ntt && !manual; i++)
				if (!regexec(&o->tt_re[i], x->name, 0, NULL, 0)) {
					nt = o->tt_type[i];
					manual = 1;
				}
			if (!manual && !o->pure && mix_rule(&st, x, c, nt, &nt))
				return -1;
			if (fallback(x, nt, &nt))
				return -1;
		}
		types[k] = (uint32_t)nt;
	}
	return 0;
}

int g4_qmix_requires_imatrix(const char *name, uint32_t type, int ftype)
{
	if (!strcmp(name, "token_embd.weight") || !strcmp(name, "per_layer_token_embd.weight") ||
	    !strcmp(name, "output.weight"))
		return 0;
	switch (type) {
	case G4_IQ3_XXS: case G4_IQ2_XXS: case G4_IQ2_XS: case G4_IQ2_S:
	case G4_IQ1_M: case G4_IQ1_S:
		return 1;
	case G4_Q2_K:
		return ftype == G4_FT_Q2_K_S;
	default:
		return 0;
	}
}
