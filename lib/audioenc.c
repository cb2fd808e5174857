/* audioenc.c - the Gemma 4 audio encoder (see audioenc.h; spec
 * gemma4-audio.md §3 and §4.1).  The forward pass is written top to bottom
 * in g4_aenc_encode(); helpers above it are the primitives of spec §3.2. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "audioenc.h"
#include "err.h"
#include "kern_sgemm.h"
#include "mel.h"
#include "qtypes.h"

#define MAX_T 1000000
/* fork threads only for loops worth it: a parallel region costs a barrier,
 * and on a busy machine a barrier can cost milliseconds */
#define PAR(work) ((work) >= 32768)		/* mel frames per call: ~2.8 h; one piece is <= 2999 */

/* A linear layer: weight [out][in] (GGUF ne = [in, out]) and the clamps of
 * a ClippableLinear (±inf when absent). */
typedef struct {
	const g4_gguf_tensor *w;
	int in, out;
	float in_lo, in_hi, out_lo, out_hi;
} lin;

typedef struct {
	float *ffn_norm, *ffn_post_norm;
	lin ffn_up, ffn_down;
	float *attn_pre_norm, *attn_post_norm;
	lin q, k, v, o, k_rel;
	float *per_dim_scale;	/* already softplus'd in the GGUF */
	float *conv_pre_norm, *conv_post_norm;	/* conv_norm / norm_conv */
	lin pw1, pw2;
	float *conv_dw;		/* [H][K] */
	float *ffn2_norm, *ffn2_post_norm;
	lin ffn2_up, ffn2_down;
	float *out_norm;
} block;

struct g4_aenc {
	g4_aenc_hp hp;
	const g4_gguf *g;
	float *conv0, *norm0, *conv1, *norm1;	/* SSCP, f32 */
	lin in_proj;
	block *blk;
	lin out_proj;
	float *out_bias;
	lin embd_proj;
	float *scratch;		/* dequantised weight matrix */
	size_t scratch_n;
	float **owned;		/* every malloc'd vector, for free() */
	size_t n_owned;
};

/* ---- loading ----------------------------------------------------------- */

static const g4_gguf_tensor *find(const g4_gguf *g, const char *name, int nd, const int64_t *ne)
{
	const g4_gguf_tensor *t = g4_gguf_find_tensor(g, name);
	if (!t) {
		g4_err("tensor '%s' is missing", name);
		return NULL;
	}
	if (!g4_type_supported(t->type)) {
		g4_err("tensor '%s': type %s is not supported", name,
		       g4_type_name(t->type) ? g4_type_name(t->type) : "?");
		return NULL;
	}
	for (int i = 0; i < 4; i++) {
		int64_t want = i < nd ? ne[i] : 1;
		if (t->ne[i] != want) {
			g4_err("tensor '%s': shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld, %lld]",
			       name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
			       (long long)t->ne[3], (long long)(nd > 0 ? ne[0] : 1),
			       (long long)(nd > 1 ? ne[1] : 1), (long long)(nd > 2 ? ne[2] : 1),
			       (long long)(nd > 3 ? ne[3] : 1));
			return NULL;
		}
	}
	if (ne[0] % g4_type_block(t->type)) {
		g4_err("tensor '%s': row of %lld is not a multiple of the %s block", name,
		       (long long)ne[0], g4_type_name(t->type));
		return NULL;
	}
	return t;
}

/* A whole tensor as a malloc'd f32 array: finite values only, or (inf_ok)
 * anything but NaN. */
static float *load_vec_x(g4_aenc *e, const char *name, int nd, const int64_t *ne, int inf_ok)
{
	const g4_gguf_tensor *t = find(e->g, name, nd, ne);
	if (!t)
		return NULL;
	int64_t n = 1;
	for (int i = 0; i < nd; i++)
		n *= ne[i];
	float *v = malloc((size_t)n * sizeof *v);
	float **o = realloc(e->owned, (e->n_owned + 1) * sizeof *o);
	if (!v || !o) {
		free(v);
		if (o) e->owned = o;
		g4_err("out of memory loading '%s'", name);
		return NULL;
	}
	e->owned = o;
	e->owned[e->n_owned++] = v;
	size_t rb = g4_row_bytes(t->type, ne[0]);
	for (int64_t r = 0; r < n / ne[0]; r++)
		g4_dequant_row(t->type, (const uint8_t *)t->data + r * rb, v + r * ne[0], ne[0]);
	for (int64_t i = 0; i < n; i++)
		if (inf_ok ? isnan(v[i]) : !isfinite(v[i])) {
			g4_err("tensor '%s': element %lld is not finite", name, (long long)i);
			return NULL;
		}
	return v;
}

static float *load_vec(g4_aenc *e, const char *name, int nd, const int64_t *ne)
{
	return load_vec_x(e, name, nd, ne, 0);
}

static float *vec(g4_aenc *e, const char *name, int64_t n)
{
	return load_vec(e, name, 1, (int64_t[]){ n });
}

static float scalar_or(g4_aenc *e, const char *stem, const char *sfx, float dflt, int *err)
{
	char name[256];
	snprintf(name, sizeof name, "%s.%s", stem, sfx);
	if (!g4_gguf_find_tensor(e->g, name))
		return dflt;
	float *v = load_vec_x(e, name, 1, (int64_t[]){ 1 }, 1);
	if (!v) {
		*err = 1;
		return 0;
	}
	return v[0];
}

/* name is "stem.weight"; clip bounds "stem.input_min" etc. if clip */
static int load_lin(g4_aenc *e, lin *l, const char *name, int in, int out, int clip)
{
	l->in = in;
	l->out = out;
	l->w = find(e->g, name, 2, (int64_t[]){ in, out });
	if (!l->w)
		return -1;
	l->in_lo = l->out_lo = -INFINITY;
	l->in_hi = l->out_hi = INFINITY;
	if (clip) {
		char stem[256];
		snprintf(stem, sizeof stem, "%.*s", (int)(strlen(name) - strlen(".weight")), name);
		int err = 0;
		l->in_lo = scalar_or(e, stem, "input_min", -INFINITY, &err);
		l->in_hi = scalar_or(e, stem, "input_max", INFINITY, &err);
		l->out_lo = scalar_or(e, stem, "output_min", -INFINITY, &err);
		l->out_hi = scalar_or(e, stem, "output_max", INFINITY, &err);
		if (err)
			return -1;
		if (!(l->in_lo <= l->in_hi) || !(l->out_lo <= l->out_hi))
			return g4_err("tensor '%s': clamp bounds out of order", name);
	}
	if ((size_t)in * out > e->scratch_n)
		e->scratch_n = (size_t)in * out;
	return 0;
}

static int get_dim(const g4_gguf *g, const char *key, int lo, int hi, int *out)
{
	uint32_t v;
	if (g4_gguf_get_u32(g, key, &v))
		return -1;
	if (v < (uint32_t)lo || v > (uint32_t)hi)
		return g4_err("key '%s' = %u is out of range (%d..%d)", key, v, lo, hi);
	*out = (int)v;
	return 0;
}

static int load_all(g4_aenc *e)
{
	const g4_gguf *g = e->g;
	g4_aenc_hp *hp = &e->hp;
	g4_str s;
	if (g4_gguf_find_key(g, "clip.audio.projector_type") < 0)
		return g4_err("not an audio mmproj (no key clip.audio.projector_type)");
	if (g4_gguf_get_str(g, "clip.audio.projector_type", &s))
		return -1;
	if (s.len != 7 || memcmp(s.ptr, "gemma4a", 7))
		return g4_err("clip.audio.projector_type is '%.*s', not 'gemma4a' (Gemma 4 E2B/E4B audio)",
			      (int)(s.len > 64 ? 64 : s.len), s.ptr);
	if (get_dim(g, "clip.audio.embedding_length", 8, 8192, &hp->hidden) ||
	    get_dim(g, "clip.audio.feed_forward_length", 8, 65536, &hp->n_ff) ||
	    get_dim(g, "clip.audio.block_count", 1, 256, &hp->n_layer) ||
	    get_dim(g, "clip.audio.attention.head_count", 1, 256, &hp->n_head) ||
	    get_dim(g, "clip.audio.projection_dim", 1, 65536, &hp->text_dim))
		return -1;
	hp->n_mel = G4_MEL_BINS;
	if (g4_gguf_find_key(g, "clip.audio.num_mel_bins") >= 0) {
		int nm = 0;
		if (get_dim(g, "clip.audio.num_mel_bins", 1, 4096, &nm))
			return -1;
		if (nm != G4_MEL_BINS)
			return g4_err("clip.audio.num_mel_bins = %d: only %d is supported", nm, G4_MEL_BINS);
	}
	if (hp->hidden % hp->n_head || (hp->hidden / hp->n_head) % 2)
		return g4_err("audio hidden size %d does not split into %d heads of even size",
			      hp->hidden, hp->n_head);
	if (hp->hidden % 2)
		return g4_err("audio hidden size %d is odd", hp->hidden);
	hp->head_dim = hp->hidden / hp->n_head;
	if (hp->head_dim > 1024)
		return g4_err("audio head size %d is too large (limit 1024)", hp->head_dim);
	/* hard-coded in both references for the released models (spec §5.1) */
	hp->chunk = 12;
	hp->context = 12;
	hp->softcap = 50.0f;
	hp->eps = 1e-6f;	/* llama.cpp ignores the GGUF key too */

	/* SSCP: the conv tensors give the channel counts */
	const g4_gguf_tensor *c0 = g4_gguf_find_tensor(g, "a.conv1d.0.weight");
	const g4_gguf_tensor *c1 = g4_gguf_find_tensor(g, "a.conv1d.1.weight");
	if (!c0 || !c1)
		return g4_err("tensor '%s' is missing", c0 ? "a.conv1d.1.weight" : "a.conv1d.0.weight");
	if (c0->ne[3] < 1 || c0->ne[3] > 4096 || c1->ne[3] < 1 || c1->ne[3] > 4096)
		return g4_err("SSCP conv channel counts %lld, %lld are out of range",
			      (long long)c0->ne[3], (long long)c1->ne[3]);
	hp->c0 = (int)c0->ne[3];
	hp->c1 = (int)c1->ne[3];
	int F2 = (hp->n_mel + 3) / 4;	/* freq 128 -> 64 -> 32 */
	if (!(e->conv0 = load_vec(e, "a.conv1d.0.weight", 4, (int64_t[]){ 3, 3, 1, hp->c0 })) ||
	    !(e->norm0 = vec(e, "a.conv1d.0.norm.weight", hp->c0)) ||
	    !(e->conv1 = load_vec(e, "a.conv1d.1.weight", 4, (int64_t[]){ 3, 3, hp->c0, hp->c1 })) ||
	    !(e->norm1 = vec(e, "a.conv1d.1.norm.weight", hp->c1)) ||
	    load_lin(e, &e->in_proj, "a.input_projection.weight", F2 * hp->c1, hp->hidden, 0))
		return -1;

	const g4_gguf_tensor *dw = g4_gguf_find_tensor(g, "a.blk.0.conv_dw.weight");
	if (!dw)
		return g4_err("tensor 'a.blk.0.conv_dw.weight' is missing");
	if (dw->ne[0] < 1 || dw->ne[0] > 64)
		return g4_err("tensor 'a.blk.0.conv_dw.weight': kernel %lld is out of range",
			      (long long)dw->ne[0]);
	hp->conv_k = (int)dw->ne[0];

	int H = hp->hidden, F = hp->n_ff;
	e->blk = calloc((size_t)hp->n_layer, sizeof *e->blk);
	if (!e->blk)
		return g4_err("out of memory");
	for (int L = 0; L < hp->n_layer; L++) {
		block *b = &e->blk[L];
		char n[128];
#define NM(x) (snprintf(n, sizeof n, "a.blk.%d." x, L), n)
		if (!(b->ffn_norm = vec(e, NM("ffn_norm.weight"), H)) ||
		    load_lin(e, &b->ffn_up, NM("ffn_up.weight"), H, F, 1) ||
		    load_lin(e, &b->ffn_down, NM("ffn_down.weight"), F, H, 1) ||
		    !(b->ffn_post_norm = vec(e, NM("ffn_post_norm.weight"), H)) ||
		    !(b->attn_pre_norm = vec(e, NM("attn_pre_norm.weight"), H)) ||
		    load_lin(e, &b->q, NM("attn_q.weight"), H, H, 1) ||
		    load_lin(e, &b->k, NM("attn_k.weight"), H, H, 1) ||
		    load_lin(e, &b->v, NM("attn_v.weight"), H, H, 1) ||
		    load_lin(e, &b->k_rel, NM("attn_k_rel.weight"), H, H, 0) ||
		    !(b->per_dim_scale = vec(e, NM("per_dim_scale.weight"), hp->head_dim)) ||
		    load_lin(e, &b->o, NM("attn_out.weight"), H, H, 1) ||
		    !(b->attn_post_norm = vec(e, NM("attn_post_norm.weight"), H)) ||
		    !(b->conv_pre_norm = vec(e, NM("conv_norm.weight"), H)) ||
		    load_lin(e, &b->pw1, NM("conv_pw1.weight"), H, 2 * H, 1) ||
		    !(b->conv_dw = load_vec(e, NM("conv_dw.weight"), 2, (int64_t[]){ hp->conv_k, H })) ||
		    !(b->conv_post_norm = vec(e, NM("norm_conv.weight"), H)) ||
		    load_lin(e, &b->pw2, NM("conv_pw2.weight"), H, H, 1) ||
		    !(b->ffn2_norm = vec(e, NM("ffn_norm_1.weight"), H)) ||
		    load_lin(e, &b->ffn2_up, NM("ffn_up_1.weight"), H, F, 1) ||
		    load_lin(e, &b->ffn2_down, NM("ffn_down_1.weight"), F, H, 1) ||
		    !(b->ffn2_post_norm = vec(e, NM("ffn_post_norm_1.weight"), H)) ||
		    !(b->out_norm = vec(e, NM("ln2.weight"), H)))
			return -1;
#undef NM
	}
	const g4_gguf_tensor *op = g4_gguf_find_tensor(g, "a.pre_encode.out.weight");
	if (!op)
		return g4_err("tensor 'a.pre_encode.out.weight' is missing");
	if (op->ne[1] < 1 || op->ne[1] > 65536)
		return g4_err("tensor 'a.pre_encode.out.weight': width %lld is out of range",
			      (long long)op->ne[1]);
	hp->out_dim = (int)op->ne[1];
	if (load_lin(e, &e->out_proj, "a.pre_encode.out.weight", H, hp->out_dim, 0) ||
	    !(e->out_bias = vec(e, "a.pre_encode.out.bias", hp->out_dim)) ||
	    load_lin(e, &e->embd_proj, "mm.a.input_projection.weight", hp->out_dim, hp->text_dim, 0))
		return -1;
	return 0;
}

g4_aenc *g4_aenc_load(const g4_gguf *g)
{
	g4_aenc *e = calloc(1, sizeof *e);
	if (!e) {
		g4_err("out of memory");
		return NULL;
	}
	e->g = g;
	if (load_all(e)) {
		/* name the file unless the GGUF reader already did */
		if (g->path && strncmp(g4_errmsg(), g->path, strlen(g->path)))
			g4_err_ctx("%s: ", g->path);
		g4_aenc_free(e);
		return NULL;
	}
	return e;
}

void g4_aenc_free(g4_aenc *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_owned; i++)
		free(e->owned[i]);
	free(e->owned);
	free(e->blk);
	free(e->scratch);
	free(e);
}

const g4_aenc_hp *g4_aenc_hparams(const g4_aenc *e) { return &e->hp; }

size_t g4_aenc_tokens(size_t T)
{
	size_t t1 = (T + 1) / 2;
	return (t1 + 1) / 2;
}

/* ---- primitives (spec §3.2) ------------------------------------------- */

static inline float clampf(float x, float lo, float hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float siluf(float x) { return x * sigmoidf(x); }

/* The weight as f32 rows: the mapping for F32, else dequantised into the
 * encoder's scratch buffer (valid until the next call). */
static const float *weight_f32(g4_aenc *e, const lin *l)
{
	const g4_gguf_tensor *t = l->w;
	if (t->type == G4_F32)
		return t->data;
	size_t rb = g4_row_bytes(t->type, l->in);
	float *s = e->scratch;
	#pragma omp parallel for schedule(static) if (PAR((size_t)l->out * l->in))
	for (int r = 0; r < l->out; r++)
		g4_dequant_row(t->type, (const uint8_t *)t->data + (size_t)r * rb,
			       s + (size_t)r * l->in, l->in);
	return s;
}

/* y[N][out] = clamp(clamp(x, in) · Wᵀ, out); x itself is not changed. */
static int linear(g4_aenc *e, const lin *l, const float *x, int N, float *y)
{
	float *xc = NULL;
	if (l->in_lo > -INFINITY || l->in_hi < INFINITY) {
		xc = malloc((size_t)N * l->in * sizeof *xc);
		if (!xc)
			return g4_err("audio encoder: out of memory");
		#pragma omp parallel for schedule(static) if (PAR((size_t)N * l->in))
		for (size_t i = 0; i < (size_t)N * l->in; i++)
			xc[i] = clampf(x[i], l->in_lo, l->in_hi);
		x = xc;
	}
	const float *w = weight_f32(e, l);
	g4_sgemm_nt_par(N, l->out, l->in, x, l->in, w, l->in, y, l->out);
	if (l->out_lo > -INFINITY || l->out_hi < INFINITY) {
		#pragma omp parallel for schedule(static) if (PAR((size_t)N * l->out))
		for (size_t i = 0; i < (size_t)N * l->out; i++)
			y[i] = clampf(y[i], l->out_lo, l->out_hi);
	}
	free(xc);
	return 0;
}

/* y = x · (mean(x²) + eps)^-½ · g (g NULL: no weight), row by row; y may be x */
static void rmsnorm(const float *x, float *y, const float *g, int N, int d, float eps)
{
	#pragma omp parallel for schedule(static) if (PAR((size_t)N * d))
	for (int i = 0; i < N; i++) {
		const float *a = x + (size_t)i * d;
		float *b = y + (size_t)i * d;
		double ss = 0;
		for (int j = 0; j < d; j++)
			ss += (double)a[j] * a[j];
		float r = (float)(1.0 / sqrt(ss / d + eps));
		for (int j = 0; j < d; j++)
			b[j] = g ? a[j] * r * g[j] : a[j] * r;
	}
}

/* LayerNorm over c values (no bias) then ReLU, in place */
static void layernorm_relu(float *x, const float *g, int c, float eps)
{
	double m = 0, v = 0;
	for (int j = 0; j < c; j++)
		m += x[j];
	m /= c;
	for (int j = 0; j < c; j++)
		v += (x[j] - m) * (x[j] - m);
	v /= c;
	double r = 1.0 / sqrt(v + eps);
	for (int j = 0; j < c; j++) {
		float y = (float)((x[j] - m) * r) * g[j];
		x[j] = y > 0 ? y : 0;
	}
}

/* ---- sub-sampling front end (spec §3.3) -------------------------------- */

/* mel [T][M] -> x [N][H] */
static int sscp(g4_aenc *e, const float *mel, int T, float *x)
{
	const g4_aenc_hp *hp = &e->hp;
	int M = hp->n_mel, C0 = hp->c0, C1 = hp->c1;
	int T1 = (T + 1) / 2, F1 = (M + 1) / 2;
	int N = (T1 + 1) / 2, F2 = (F1 + 1) / 2;
	int K1 = C0 * 9;
	float *y0 = malloc((size_t)T1 * F1 * C0 * sizeof *y0);	/* [T1][F1][C0] */
	float *y1 = malloc((size_t)N * F2 * C1 * sizeof *y1);	/* [N][F2][C1] */
	int fail = !y0 || !y1;
	/* layer 0: conv 1 -> C0, 3x3, stride 2, pad 1; LayerNorm; ReLU */
	if (!fail) {
		#pragma omp parallel for schedule(static) if (PAR((size_t)T1 * F1 * C0))
		for (int t = 0; t < T1; t++)
			for (int f = 0; f < F1; f++) {
				float p[9];
				for (int r = 0; r < 3; r++)
					for (int c = 0; c < 3; c++) {
						int ti = 2 * t - 1 + r, fi = 2 * f - 1 + c;
						p[r * 3 + c] = (ti >= 0 && ti < T && fi >= 0 && fi < M)
							       ? mel[(size_t)ti * M + fi] : 0.0f;
					}
				float *o = y0 + ((size_t)t * F1 + f) * C0;
				for (int ch = 0; ch < C0; ch++) {
					const float *w = e->conv0 + ch * 9;
					double s = 0;
					for (int j = 0; j < 9; j++)
						s += (double)w[j] * p[j];
					o[ch] = (float)s;
				}
				layernorm_relu(o, e->norm0, C0, hp->eps);
			}
	}
	/* layer 1: conv C0 -> C1 as a product of patch rows (ci, kt, kf)
	 * with the weight rows [C1][C0][3][3] */
	if (!fail) {
		#pragma omp parallel if (PAR((size_t)N * F2 * K1))
		{
			float *col = malloc((size_t)F2 * K1 * sizeof *col);
			if (!col) {
				#pragma omp atomic write
				fail = 1;
			}
			#pragma omp for schedule(static)
			for (int t = 0; t < N; t++) {
				if (!col)
					continue;
				for (int f = 0; f < F2; f++) {
					float *p = col + (size_t)f * K1;
					for (int ci = 0; ci < C0; ci++)
						for (int r = 0; r < 3; r++)
							for (int c = 0; c < 3; c++) {
								int ti = 2 * t - 1 + r, fi = 2 * f - 1 + c;
								p[ci * 9 + r * 3 + c] =
									(ti >= 0 && ti < T1 && fi >= 0 && fi < F1)
									? y0[((size_t)ti * F1 + fi) * C0 + ci] : 0.0f;
							}
				}
				float *o = y1 + (size_t)t * F2 * C1;
				g4_sgemm_nt(F2, C1, K1, col, K1, e->conv1, K1, o, C1);
				for (int f = 0; f < F2; f++)
					layernorm_relu(o + (size_t)f * C1, e->norm1, C1, hp->eps);
			}
			free(col);
		}
	}
	/* flatten [N][F2·C1] (channel fastest) and project */
	if (!fail && linear(e, &e->in_proj, y1, N, x))
		fail = 2;
	free(y0);
	free(y1);
	return fail == 2 ? -1 : fail ? g4_err("audio encoder: out of memory") : 0;
}

/* ---- chunked local attention with relative positions (spec §3.5) ------ */

static int attention(g4_aenc *e, const block *b, float *h, int N, float *out)
{
	const g4_aenc_hp *hp = &e->hp;
	int H = hp->hidden, NH = hp->n_head, D = hp->head_dim, W = hp->context;
	size_t NHs = (size_t)N * H;
	float *q = malloc(NHs * sizeof *q), *k = malloc(NHs * sizeof *k);
	float *v = malloc(NHs * sizeof *v), *o = malloc(NHs * sizeof *o);
	float *pe = malloc((size_t)W * H * sizeof *pe), *rel = malloc((size_t)W * H * sizeof *rel);
	if (!q || !k || !v || !o || !pe || !rel) {
		free(q); free(k); free(v); free(o); free(pe); free(rel);
		return g4_err("audio encoder: out of memory");
	}
	if (linear(e, &b->q, h, N, q) || linear(e, &b->k, h, N, k) || linear(e, &b->v, h, N, v)) {
		free(q); free(k); free(v); free(o); free(pe); free(rel);
		return -1;
	}
	/* q · D^-½ / ln 2 · softplus(pds) (GGUF holds softplus(pds));
	 * k · softplus(1) / ln 2 */
	float qs[1024];
	double base = 1.0 / sqrt((double)D) / log(2.0);
	for (int d = 0; d < D && d < 1024; d++)
		qs[d] = (float)(base * b->per_dim_scale[d]);
	float ks = (float)(log1p(exp(1.0)) / log(2.0));
	#pragma omp parallel for schedule(static) if (PAR((size_t)N * H))
	for (int t = 0; t < N; t++)
		for (int j = 0; j < H; j++) {
			q[(size_t)t * H + j] *= qs[j % D];
			k[(size_t)t * H + j] *= ks;
		}
	/* relative-position rows for distances 0..W-1:
	 * PE(d) = [sin(d·inv[i]) | cos(d·inv[i])], inv[i] = 1e4^(-i/(H/2-1)) */
	int half = H / 2;
	for (int d = 0; d < W; d++)
		for (int i = 0; i < half; i++) {
			double inv = half > 1 ? exp(-(double)i * log(1e4) / (half - 1)) : 1.0;
			pe[(size_t)d * H + i] = (float)sin(d * inv);
			pe[(size_t)d * H + half + i] = (float)cos(d * inv);
		}
	if (linear(e, &b->k_rel, pe, W, rel)) {
		free(q); free(k); free(v); free(o); free(pe); free(rel);
		return -1;
	}
	/* each query t sees keys t-W+1 .. t; logits soft-capped at ±cap */
	float cap = hp->softcap;
	#pragma omp parallel for schedule(static) if (PAR((size_t)N * H * W))
	for (int t = 0; t < N; t++) {
		int s0 = t - W + 1 < 0 ? 0 : t - W + 1;
		for (int n = 0; n < NH; n++) {
			const float *qt = q + (size_t)t * H + n * D;
			float l[64], mx = -INFINITY;
			for (int s = s0; s <= t; s++) {
				const float *ks_ = k + (size_t)s * H + n * D;
				const float *r = rel + (size_t)(t - s) * H + n * D;
				float a = 0, c = 0;
				for (int d = 0; d < D; d++) {
					a += qt[d] * ks_[d];
					c += qt[d] * r[d];
				}
				float z = a + c;
				z = cap * tanhf(z / cap);
				l[s - s0] = z;
				if (z > mx) mx = z;
			}
			float sum = 0;
			for (int s = s0; s <= t; s++) {
				l[s - s0] = expf(l[s - s0] - mx);
				sum += l[s - s0];
			}
			float *ot = o + (size_t)t * H + n * D;
			for (int d = 0; d < D; d++)
				ot[d] = 0;
			for (int s = s0; s <= t; s++) {
				float p = l[s - s0] / sum;
				const float *vs = v + (size_t)s * H + n * D;
				for (int d = 0; d < D; d++)
					ot[d] += p * vs[d];
			}
		}
	}
	int rc = linear(e, &b->o, o, N, out);
	free(q); free(k); free(v); free(o); free(pe); free(rel);
	return rc;
}

/* ---- the encoder ------------------------------------------------------ */

/* x += scale · post_norm(down(silu(up(pre_norm(x))))) */
static int ffn(g4_aenc *e, float *x, int N, const float *pre, const lin *up, const lin *down,
		const float *post, float *h, float *u)
{
	const g4_aenc_hp *hp = &e->hp;
	int H = hp->hidden, F = up->out;
	rmsnorm(x, h, pre, N, H, hp->eps);
	if (linear(e, up, h, N, u))
		return -1;
	#pragma omp parallel for schedule(static) if (PAR((size_t)N * F))
	for (size_t i = 0; i < (size_t)N * F; i++)
		u[i] = siluf(u[i]);
	if (linear(e, down, u, N, h))
		return -1;
	rmsnorm(h, h, post, N, H, hp->eps);
	#pragma omp parallel for schedule(static) if (PAR((size_t)N * H))
	for (size_t i = 0; i < (size_t)N * H; i++)
		x[i] += 0.5f * h[i];
	return 0;
}

int g4_aenc_encode(g4_aenc *e, const float *mel, size_t T_, float *out, g4_aenc_trace *tr)
{
	const g4_aenc_hp *hp = &e->hp;
	if (T_ == 0)
		return 0;
	if (T_ > MAX_T)
		return g4_err("audio encoder: %zu mel frames is too many (limit %d)", T_, MAX_T);
	int T = (int)T_, N = (int)g4_aenc_tokens(T_), H = hp->hidden, K = hp->conv_k;
	int F = hp->n_ff > 2 * H ? hp->n_ff : 2 * H;
	if (!e->scratch) {
		e->scratch = malloc(e->scratch_n * sizeof *e->scratch);
		if (!e->scratch)
			return g4_err("audio encoder: out of memory");
	}
	size_t wide = (size_t)N * (F > hp->out_dim ? F : hp->out_dim);
	float *x = malloc((size_t)N * H * sizeof *x);
	float *h = malloc((size_t)N * H * sizeof *h);
	float *u = malloc(wide * sizeof *u);
	float *a = malloc((size_t)N * H * sizeof *a);
	int rc = 0;
	if (!x || !h || !u || !a) {
		rc = g4_err("audio encoder: out of memory (%d tokens)", N);
		goto done;
	}
	if (sscp(e, mel, T, x))
		goto fail;
	if (tr && tr->sscp)
		memcpy(tr->sscp, x, (size_t)N * H * sizeof *x);

	for (int L = 0; L < hp->n_layer; L++) {
		const block *b = &e->blk[L];
		/* (a) half-step FFN */
		if (ffn(e, x, N, b->ffn_norm, &b->ffn_up, &b->ffn_down, b->ffn_post_norm, h, u))
			goto fail;
		/* (b) self-attention */
		rmsnorm(x, h, b->attn_pre_norm, N, H, hp->eps);
		if (attention(e, b, h, N, a))
			goto fail;
		rmsnorm(a, a, b->attn_post_norm, N, H, hp->eps);
		#pragma omp parallel for schedule(static) if (PAR((size_t)N * H))
		for (size_t i = 0; i < (size_t)N * H; i++)
			x[i] += a[i];
		/* (c) convolution module: GLU, causal depthwise conv, norm, SiLU */
		rmsnorm(x, h, b->conv_pre_norm, N, H, hp->eps);
		if (linear(e, &b->pw1, h, N, u))	/* [N][2H] */
			goto fail;
		#pragma omp parallel for schedule(static) if (PAR((size_t)N * H * K))
		for (int t = 0; t < N; t++)
			for (int c = 0; c < H; c++) {
				const float *r = u + (size_t)t * 2 * H;
				h[(size_t)t * H + c] = r[c] * sigmoidf(r[H + c]);
			}
		#pragma omp parallel for schedule(static) if (PAR((size_t)N * H))
		for (int t = 0; t < N; t++)
			for (int c = 0; c < H; c++) {
				const float *w = b->conv_dw + (size_t)c * K;
				float s = 0;
				for (int j = 0; j < K; j++) {
					int ti = t - (K - 1) + j;
					if (ti >= 0)
						s += w[j] * h[(size_t)ti * H + c];
				}
				a[(size_t)t * H + c] = s;
			}
		rmsnorm(a, a, b->conv_post_norm, N, H, hp->eps);
		#pragma omp parallel for schedule(static) if (PAR((size_t)N * H))
		for (size_t i = 0; i < (size_t)N * H; i++)
			a[i] = siluf(a[i]);
		if (linear(e, &b->pw2, a, N, h))
			goto fail;
		#pragma omp parallel for schedule(static) if (PAR((size_t)N * H))
		for (size_t i = 0; i < (size_t)N * H; i++)
			x[i] += h[i];
		/* (d) second half-step FFN; (e) block output norm */
		if (ffn(e, x, N, b->ffn2_norm, &b->ffn2_up, &b->ffn2_down, b->ffn2_post_norm, h, u))
			goto fail;
		rmsnorm(x, x, b->out_norm, N, H, hp->eps);
		if (tr && tr->layer_out && tr->layer == L)
			memcpy(tr->layer_out, x, (size_t)N * H * sizeof *x);
	}

	/* output projection with bias -> [N][O] */
	int O = hp->out_dim;
	if (linear(e, &e->out_proj, x, N, u))
		goto fail;
	#pragma omp parallel for schedule(static) if (PAR((size_t)N * O))
	for (int t = 0; t < N; t++)
		for (int j = 0; j < O; j++)
			u[(size_t)t * O + j] += e->out_bias[j];
	if (tr && tr->tower)
		memcpy(tr->tower, u, (size_t)N * O * sizeof *u);
	/* embedder: RMSNorm without weight, Linear into the text width */
	rmsnorm(u, u, NULL, N, O, hp->eps);
	if (linear(e, &e->embd_proj, u, N, out))
		goto fail;
	for (size_t i = 0; i < (size_t)N * hp->text_dim; i++)
		if (!isfinite(out[i])) {
			rc = g4_err("audio encoder: soft token %zu is not finite (overflow in the model?)",
				    i / hp->text_dim);
			goto done;
		}
done:
	free(x); free(h); free(u); free(a);
	return rc;
fail:
	rc = -1;
	goto done;
}

int g4_aenc_embed_wave(g4_aenc *e, const float *x, size_t n, int split,
		       float **rows, size_t *n_rows, float **mel, size_t *n_frames)
{
	int Dt = e->hp.text_dim;
	size_t np = g4_audio_n_pieces(n, split), tot_rows = 0, tot_frames = 0;
	*rows = NULL;
	*n_rows = 0;
	if (mel) {
		*mel = NULL;
		*n_frames = 0;
	}
	for (size_t i = 0; i < np; i++) {
		size_t T = g4_mel_frames(g4_audio_piece_len(n, split, i));
		tot_frames += T;
		tot_rows += g4_aenc_tokens(T);
	}
	float *R = tot_rows ? malloc(tot_rows * Dt * sizeof *R) : NULL;
	float *Mf = mel && tot_frames ? malloc(tot_frames * G4_MEL_BINS * sizeof *Mf) : NULL;
	float *f = NULL;
	if ((tot_rows && !R) || (mel && tot_frames && !Mf)) {
		free(R);
		free(Mf);
		return g4_err("audio encoder: out of memory (%zu rows)", tot_rows);
	}
	size_t r = 0, fr = 0;
	for (size_t i = 0; i < np; i++) {
		size_t len = g4_audio_piece_len(n, split, i);
		size_t T = g4_mel_frames(len);
		if (!T)
			continue;
		f = Mf ? Mf + fr * G4_MEL_BINS : malloc(T * G4_MEL_BINS * sizeof *f);
		if (!f || g4_mel(x + i * (size_t)G4_AUDIO_MAX_SAMPLES, len, f) ||
		    g4_aenc_encode(e, f, T, R + r * Dt, NULL)) {
			if (!f)
				g4_err("audio encoder: out of memory");
			if (!Mf)
				free(f);
			free(R);
			free(Mf);
			return -1;
		}
		if (!Mf)
			free(f);
		r += g4_aenc_tokens(T);
		fr += T;
	}
	*rows = R;
	*n_rows = tot_rows;
	if (mel) {
		*mel = Mf;
		*n_frames = tot_frames;
	}
	return 0;
}

int g4_audio_marker_ids(const g4_gguf *vocab, int32_t *boa, int32_t *eoa)
{
	g4_str *tok;
	uint64_t n;
	if (g4_gguf_get_str_arr(vocab, "tokenizer.ggml.tokens", &tok, &n))
		return g4_err_ctx("vocabulary: ");
	int64_t b = -1, e = -1;
	for (uint64_t i = 0; i < n && i < INT32_MAX; i++) {
		if (tok[i].len == 8 && !memcmp(tok[i].ptr, "<|audio>", 8))
			b = (int64_t)i;
		else if (tok[i].len == 8 && !memcmp(tok[i].ptr, "<audio|>", 8))
			e = (int64_t)i;
	}
	free(tok);
	if (b < 0 || e < 0)
		return g4_err("vocabulary has no '%s' token", b < 0 ? "<|audio>" : "<audio|>");
	*boa = (int32_t)b;
	*eoa = (int32_t)e;
	return 0;
}
