/* vision_model.c - the Gemma 4 vision encoder and projector (see vision.h).
 *
 * The forward pass, for n = gh*gw patches (spec/gemma4-vision.md §3):
 *
 *   E = W_patch (2x - 1) + T[0][col] + T[1][row]
 *   L times:  a = rms(E) ; q,k,v = Wq a, Wk a, Wv a      (clamped on E2B/E4B)
 *             q,k = rms_w(q), rms_w(k) per head ; v = rms(v) per head
 *             q,k = 2-D rope (first half by column, second half by row)
 *             E += rms_w(Wo softmax(q k^T) v)
 *             b = rms(E) ; E += rms_w(Wd (gelu_tanh(Wg b) * Wu b))
 *   G = mean of each 3x3 block * sqrt(D) ; [ (G - std_bias) * std_scale ]
 *   Y = W_proj rms(G)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"
#include "kern_vis.h"
#include "qtypes.h"
#include "vision.h"

/* ---- model ------------------------------------------------------------- */

/* A linear layer: weight [out][in] (any readable type) and, on E2B/E4B,
 * clamps of its input and output. */
typedef struct {
	const g4_gguf_tensor *w;
	int in, out;
	float imin, imax, omin, omax;
} linear;

typedef struct {
	const float *ln1, *ln2, *post_attn, *post_ffn, *qn, *kn;
	linear q, k, v, o, gate, up, down;
	float out_scale;	/* llama.cpp's optional per-layer scalar; 1 if absent */
} vlayer;

struct g4_vision {
	g4_gguf *g;
	g4_vision_hp hp;
	float *patch_w;		/* [D][768] in (row, col, channel) order */
	const float *pos;	/* [2][P][D] */
	const float *std_bias, *std_scale;
	linear proj;
	vlayer *layers;
	float **owned;		/* tensors converted to f32 at load */
	int n_owned;
	g4_gguf_tensor *fake;	/* g4_vision_random: its weight tensors */
};

/* The second dimension of tensor name into *out: 0, or -1 when the tensor
 * is missing or the dimension is not in 1..2^20 ("bad WHAT"). */
static int ne1_of(const g4_vision *m, const char *name, const char *what, int *out)
{
	const g4_gguf_tensor *t = g4_gguf_find_tensor(m->g, name);
	if (!t)
		return g4_err("missing tensor '%s'", name);
	*out = (int)t->ne[1];
	if (t->ne[1] <= 0 || t->ne[1] > (1 << 20))
		return g4_err("tensor '%s': bad %s", name, what);
	return 0;
}

static const g4_gguf_tensor *tensor(const g4_vision *m, const char *name, int n_dims,
				    int64_t a, int64_t b, int64_t c)
{
	const g4_gguf_tensor *t = g4_gguf_find_tensor(m->g, name);
	if (!t) {
		g4_err("missing tensor '%s'", name);
		return NULL;
	}
	int64_t want[3] = {a, b, c};
	for (int i = 0; i < 3; i++)
		if (i < n_dims ? t->ne[i] != want[i] : t->ne[i] != 1) {
			g4_err("tensor '%s': shape [%lld,%lld,%lld], expected [%lld,%lld,%lld]", name,
			       (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
			       (long long)a, (long long)(n_dims > 1 ? b : 1), (long long)(n_dims > 2 ? c : 1));
			return NULL;
		}
	if (t->ne[3] != 1) {
		g4_err("tensor '%s': 4-D, expected %d-D", name, n_dims);
		return NULL;
	}
	if (!g4_type_supported(t->type)) {
		g4_err("tensor '%s': type %s is not supported", name,
		       g4_type_name(t->type) ? g4_type_name(t->type) : "?");
		return NULL;
	}
	return t;
}

/* A tensor as f32: the mapping itself for F32, else a converted copy. */
static const float *as_f32(g4_vision *m, const g4_gguf_tensor *t)
{
	if (t->type == G4_F32)
		return t->data;
	int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
	float *f = malloc(sizeof(float) * (size_t)n);
	float **o = realloc(m->owned, sizeof(float *) * (m->n_owned + 1));
	if (o)
		m->owned = o;
	if (!f || !o) {
		free(f);
		g4_err("out of memory converting '%.*s'", (int)t->name.len, t->name.ptr);
		return NULL;
	}
	size_t rb = g4_row_bytes(t->type, t->ne[0]);
	for (int64_t r = 0; r < n / t->ne[0]; r++)
		g4_dequant_row(t->type, (const uint8_t *)t->data + r * rb, f + r * t->ne[0], t->ne[0]);
	m->owned[m->n_owned++] = f;
	return f;
}

static const float *vec(g4_vision *m, const char *name, int64_t n)
{
	const g4_gguf_tensor *t = tensor(m, name, 1, n, 1, 1);
	return t ? as_f32(m, t) : NULL;
}

/* A [1] scalar tensor, or def when absent. */
static int scalar(g4_vision *m, const char *name, float def, float *out)
{
	const g4_gguf_tensor *t = g4_gguf_find_tensor(m->g, name);
	if (!t) {
		*out = def;
		return 0;
	}
	const float *f = vec(m, name, 1);
	if (!f)
		return -1;
	*out = f[0];
	return 0;
}

static int load_linear(g4_vision *m, linear *l, const char *base, int in, int out)
{
	char nm[128];
	snprintf(nm, sizeof nm, "%s.weight", base);
	if (!(l->w = tensor(m, nm, 2, in, out, 1)))
		return -1;
	l->in = in;
	l->out = out;
	static const char *sfx[4] = {"input_min", "input_max", "output_min", "output_max"};
	float *dst[4] = {&l->imin, &l->imax, &l->omin, &l->omax};
	for (int i = 0; i < 4; i++) {
		snprintf(nm, sizeof nm, "%s.%s", base, sfx[i]);
		if (scalar(m, nm, i & 1 ? INFINITY : -INFINITY, dst[i]))
			return -1;
		if (isnan(*dst[i]))
			return g4_err("tensor '%s' is NaN", nm);
		if (g4_gguf_find_tensor(m->g, nm))
			m->hp.clipped = 1;
	}
	if (l->imin > l->imax || l->omin > l->omax)
		return g4_err("%s: clamp bounds are inverted", base);
	return 0;
}

static int key_check(const g4_gguf *g, const char *key, int want)
{
	uint32_t v;
	if (g4_gguf_find_key(g, key) < 0)
		return 0;
	if (g4_gguf_get_u32(g, key, &v))
		return -1;
	if ((int64_t)v != want)
		return g4_err("%s = %u, but the tensors say %d", key, v, want);
	return 0;
}

static int load(g4_vision *m)
{
	g4_vision_hp *hp = &m->hp;
	g4_str s;
	if (g4_gguf_find_key(m->g, "clip.has_vision_encoder") >= 0) {
		int has;
		if (g4_gguf_get_bool(m->g, "clip.has_vision_encoder", &has))
			return -1;
		if (!has)
			return g4_err("the file has no vision encoder (clip.has_vision_encoder = false)");
	}
	const char *pk = g4_gguf_find_key(m->g, "clip.vision.projector_type") >= 0
			 ? "clip.vision.projector_type" : "clip.projector_type";
	if (g4_gguf_find_key(m->g, pk) >= 0) {
		if (g4_gguf_get_str(m->g, pk, &s))
			return -1;
		if (s.len != 7 || memcmp(s.ptr, "gemma4v", 7))
			return g4_err("%s is '%.*s', expected 'gemma4v' (a Gemma 4 vision mmproj)", pk,
				      (int)(s.len > 64 ? 64 : s.len), s.ptr);
	}
	const g4_gguf_tensor *pe = g4_gguf_find_tensor(m->g, "v.patch_embd.weight");
	if (!pe)
		return g4_err("missing tensor 'v.patch_embd.weight' (not a Gemma 4 vision mmproj?)");
	hp->D = (int)pe->ne[3];
	if (pe->ne[3] <= 0 || pe->ne[3] > 65536)
		return g4_err("tensor 'v.patch_embd.weight': bad width %lld", (long long)pe->ne[3]);
	if (pe->ne[0] != 16 || pe->ne[1] != 16 || pe->ne[2] != 3 || !g4_type_supported(pe->type))
		return g4_err("tensor 'v.patch_embd.weight': expected a 16x16x3 patch kernel of a supported type");
	const g4_gguf_tensor *q0 = g4_gguf_find_tensor(m->g, "v.blk.0.attn_q_norm.weight");
	if (!q0)
		return g4_err("missing tensor 'v.blk.0.attn_q_norm.weight'");
	hp->Dh = (int)q0->ne[0];
	if (hp->Dh <= 0 || hp->Dh % 4 || hp->D % hp->Dh)
		return g4_err("head dim %d does not divide width %d into rotary halves", hp->Dh, hp->D);
	hp->NH = hp->D / hp->Dh;
	if (ne1_of(m, "v.blk.0.ffn_gate.weight", "width", &hp->F) ||
	    ne1_of(m, "mm.input_projection.weight", "width", &hp->Dt) ||
	    ne1_of(m, "v.position_embd.weight", "length", &hp->P))
		return -1;
	int L = 0;
	char nm[128];
	for (;; L++) {
		snprintf(nm, sizeof nm, "v.blk.%d.ln1.weight", L);
		if (!g4_gguf_find_tensor(m->g, nm) || L > 1000)
			break;
	}
	if (L == 0)
		return g4_err("no encoder layers (v.blk.0.ln1.weight missing)");
	hp->L = L;
	hp->eps = 1e-6f;
	if (g4_gguf_find_key(m->g, "clip.vision.attention.layer_norm_epsilon") >= 0 &&
	    g4_gguf_get_f32(m->g, "clip.vision.attention.layer_norm_epsilon", &hp->eps))
		return -1;
	if (!(hp->eps > 0 && hp->eps < 1))
		return g4_err("clip.vision.attention.layer_norm_epsilon = %g is out of range", hp->eps);
	if (key_check(m->g, "clip.vision.embedding_length", hp->D) ||
	    key_check(m->g, "clip.vision.feed_forward_length", hp->F) ||
	    key_check(m->g, "clip.vision.block_count", hp->L) ||
	    key_check(m->g, "clip.vision.attention.head_count", hp->NH) ||
	    key_check(m->g, "clip.vision.projection_dim", hp->Dt) ||
	    key_check(m->g, "clip.vision.patch_size", 16))
		return -1;
	int D = hp->D, F = hp->F;

	/* patch kernel [D][3][16][16] -> f32 [D][(r*16+c)*3+ch] */
	const float *pw = as_f32(m, pe);
	if (!pw)
		return -1;
	m->patch_w = malloc(sizeof(float) * (size_t)D * G4_VISION_PATCH_DIM);
	if (!m->patch_w)
		return g4_err("out of memory");
	for (int o = 0; o < D; o++)
		for (int ch = 0; ch < 3; ch++)
			for (int rc = 0; rc < 256; rc++)
				m->patch_w[(size_t)o * 768 + rc * 3 + ch] = pw[(size_t)o * 768 + ch * 256 + rc];
	const g4_gguf_tensor *t = tensor(m, "v.position_embd.weight", 3, D, hp->P, 2);
	if (!t || !(m->pos = as_f32(m, t)))
		return -1;
	if (!(m->proj.w = tensor(m, "mm.input_projection.weight", 2, D, hp->Dt, 1)))
		return -1;
	m->proj.in = D;
	m->proj.out = hp->Dt;
	m->proj.imin = m->proj.omin = -INFINITY;
	m->proj.imax = m->proj.omax = INFINITY;
	int has_sb = g4_gguf_find_tensor(m->g, "v.std_bias") != NULL;
	int has_ss = g4_gguf_find_tensor(m->g, "v.std_scale") != NULL;
	if (has_sb != has_ss)
		return g4_err("v.std_bias and v.std_scale must come together");
	if (has_sb) {
		hp->standardize = 1;
		if (!(m->std_bias = vec(m, "v.std_bias", D)) || !(m->std_scale = vec(m, "v.std_scale", D)))
			return -1;
	}
	m->layers = calloc((size_t)L, sizeof *m->layers);
	if (!m->layers)
		return g4_err("out of memory");
	int Dh = hp->Dh, HD = hp->NH * hp->Dh;
	for (int l = 0; l < L; l++) {
		vlayer *ly = &m->layers[l];
		char b[64];
#define V(field, nme, n) do { snprintf(nm, sizeof nm, "v.blk.%d." nme ".weight", l); \
		if (!(ly->field = vec(m, nm, n))) return -1; } while (0)
#define LIN(field, nme, in, out) do { snprintf(b, sizeof b, "v.blk.%d." nme, l); \
		if (load_linear(m, &ly->field, b, in, out)) return -1; } while (0)
		V(ln1, "ln1", D);
		V(ln2, "ln2", D);
		V(post_attn, "attn_post_norm", D);
		V(post_ffn, "ffn_post_norm", D);
		V(qn, "attn_q_norm", Dh);
		V(kn, "attn_k_norm", Dh);
		LIN(q, "attn_q", D, HD);
		LIN(k, "attn_k", D, HD);
		LIN(v, "attn_v", D, HD);
		LIN(o, "attn_out", HD, D);
		LIN(gate, "ffn_gate", D, F);
		LIN(up, "ffn_up", D, F);
		LIN(down, "ffn_down", F, D);
#undef V
#undef LIN
		snprintf(nm, sizeof nm, "v.blk.%d.out_scale.weight", l);
		if (scalar(m, nm, 1.0f, &ly->out_scale))
			return -1;
	}
	return 0;
}

g4_vision *g4_vision_open(const char *path)
{
	g4_vision *m = calloc(1, sizeof *m);
	if (!m) {
		g4_err("out of memory");
		return NULL;
	}
	if (!(m->g = g4_gguf_open(path)) || load(m)) {
		if (m->g)
			g4_err_ctx("%s: ", path);
		g4_vision_close(m);
		return NULL;
	}
	return m;
}

void g4_vision_close(g4_vision *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->patch_w);
	free(m->layers);
	free(m->fake);
	if (m->g)
		g4_gguf_close(m->g);
	free(m);
}

const g4_vision_hp *g4_vision_hparams(const g4_vision *m) { return &m->hp; }

/* Benchmarks: random F32 weights of the real shapes; all layers share one
 * layer's weights so that the largest encoder fits in little memory. */
static float *rand_vec(g4_vision *m, size_t n, float scale, float base, uint64_t *s)
{
	float *f = malloc(sizeof(float) * n);
	float **o = realloc(m->owned, sizeof(float *) * (m->n_owned + 1));
	if (o)
		m->owned = o;
	if (!f || !o) {
		free(f);
		return NULL;
	}
	m->owned[m->n_owned++] = f;
	for (size_t i = 0; i < n; i++) {
		*s = *s * 6364136223846793005ull + 1442695040888963407ull;
		f[i] = base + scale * ((float)(*s >> 40) / (float)(1 << 24) * 2.0f - 1.0f);
	}
	return f;
}

g4_vision *g4_vision_random(const g4_vision_hp *hp0, uint64_t seed)
{
	g4_vision *m = calloc(1, sizeof *m);
	if (!m) {
		g4_err("out of memory");
		return NULL;
	}
	m->hp = *hp0;
	g4_vision_hp *hp = &m->hp;
	hp->eps = hp->eps > 0 ? hp->eps : 1e-6f;
	int D = hp->D, F = hp->F, HD = hp->NH * hp->Dh;
	uint64_t s = seed | 1;
	m->layers = calloc((size_t)hp->L, sizeof *m->layers);
	m->fake = calloc(8, sizeof *m->fake);
	if (!m->layers || !m->fake)
		goto oom;
	int dims[8][2] = {{D, HD}, {D, HD}, {D, HD}, {HD, D}, {D, F}, {D, F}, {F, D}, {D, hp->Dt}};
	for (int i = 0; i < 8; i++) {
		g4_gguf_tensor *t = &m->fake[i];
		t->type = G4_F32;
		t->n_dims = 2;
		t->ne[0] = dims[i][0];
		t->ne[1] = dims[i][1];
		t->ne[2] = t->ne[3] = 1;
		if (!(t->data = rand_vec(m, (size_t)dims[i][0] * dims[i][1], 1.0f / sqrtf((float)dims[i][0]), 0, &s)))
			goto oom;
	}
	float *ln = rand_vec(m, (size_t)D, 0.1f, 1.0f, &s), *hn = rand_vec(m, (size_t)hp->Dh, 0.1f, 1.0f, &s);
	m->patch_w = malloc(sizeof(float) * (size_t)D * G4_VISION_PATCH_DIM);
	float *pw = rand_vec(m, (size_t)D * G4_VISION_PATCH_DIM, 0.036f, 0, &s);
	float *pos = rand_vec(m, (size_t)2 * hp->P * D, 0.5f, 0, &s);
	if (!ln || !hn || !m->patch_w || !pw || !pos)
		goto oom;
	memcpy(m->patch_w, pw, sizeof(float) * (size_t)D * G4_VISION_PATCH_DIM);
	m->pos = pos;
	if (hp->standardize) {
		m->std_bias = ln;
		m->std_scale = ln;
	}
	linear lin[8];
	for (int i = 0; i < 8; i++) {
		lin[i].w = &m->fake[i];
		lin[i].in = dims[i][0];
		lin[i].out = dims[i][1];
		lin[i].imin = lin[i].omin = hp->clipped ? -8.0f : -INFINITY;
		lin[i].imax = lin[i].omax = hp->clipped ? 8.0f : INFINITY;
	}
	m->proj = lin[7];
	m->proj.imin = m->proj.omin = -INFINITY;
	m->proj.imax = m->proj.omax = INFINITY;
	for (int l = 0; l < hp->L; l++) {
		vlayer *ly = &m->layers[l];
		ly->ln1 = ly->ln2 = ly->post_attn = ly->post_ffn = ln;
		ly->qn = ly->kn = hn;
		ly->q = lin[0]; ly->k = lin[1]; ly->v = lin[2]; ly->o = lin[3];
		ly->gate = lin[4]; ly->up = lin[5]; ly->down = lin[6];
		ly->out_scale = 1.0f;
	}
	return m;
oom:
	g4_vision_close(m);
	g4_err("out of memory for a random vision model");
	return NULL;
}

/* ---- kernels ----------------------------------------------------------- */

static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

/* y[n][out] = clamp(W clamp(x[n][in])).  Work is split over blocks of
 * output features (about 256 KB of weights each) times blocks of 128 input
 * rows; a thread converts a block of a non-f32 weight to f32 when it moves
 * to that block. */
static int matmul(const linear *l, const float *x, int n, float *y, float *xc)
{
	const int in = l->in, out = l->out;
	const float *xs = x;
	if (l->imin > -INFINITY || l->imax < INFINITY) {
		#pragma omp parallel for schedule(static)
		for (int64_t i = 0; i < (int64_t)n * in; i++)
			xc[i] = clampf(x[i], l->imin, l->imax);
		xs = xc;
	}
	const g4_gguf_tensor *t = l->w;
	int conv = t->type != G4_F32, clamp = l->omin > -INFINITY || l->omax < INFINITY;
	size_t rb = g4_row_bytes(t->type, in);
	int RB = 65536 / in / 3 * 3;
	if (RB < 3)
		RB = 3;
	/* tasks: (block of RB outputs) x (block of TB inputs rows) */
	const int TB = 128;
	int nblk = (out + RB - 1) / RB, ntb = (n + TB - 1) / TB, fail = 0;
	#pragma omp parallel
	{
		float *wb = conv ? malloc(sizeof(float) * (size_t)RB * in) : NULL;
		int have = -1;		/* the weight block now in wb */
		if (conv && !wb) {
			#pragma omp atomic write
			fail = 1;
		}
		#pragma omp for schedule(dynamic, 1)
		for (int task = 0; task < nblk * ntb; task++) {
			if (conv && !wb)
				continue;
			int bi = task / ntb, i0 = task % ntb * TB, ni = n - i0 < TB ? n - i0 : TB;
			int o0 = bi * RB, nr = out - o0 < RB ? out - o0 : RB;
			const float *w = (const float *)t->data + (size_t)o0 * in;
			if (conv) {
				if (have != bi)
					for (int r = 0; r < nr; r++)
						g4_dequant_row(t->type, (const uint8_t *)t->data + (size_t)(o0 + r) * rb,
							       wb + (size_t)r * in, in);
				have = bi;
				w = wb;
			}
			g4_gemm_nt(xs + (size_t)i0 * in, in, w, in, y + (size_t)i0 * out + o0, out, ni, nr, in);
			if (clamp)
				for (int i = i0; i < i0 + ni; i++)
					for (int r = 0; r < nr; r++) {
						float *v = y + (size_t)i * out + o0 + r;
						*v = clampf(*v, l->omin, l->omax);
					}
		}
		free(wb);
	}
	if (fail)
		return g4_err("out of memory in a matrix product");
	return 0;
}

/* x * (mean(x^2) + eps)^-1/2 * w (w NULL: weightless), row by row. */
static void rmsnorm(float *y, const float *x, const float *w, int n, int d, float eps)
{
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * d;
		float *yi = y + (size_t)i * d;
		float ss = 0;
		for (int j = 0; j < d; j++)
			ss += xi[j] * xi[j];
		float r = 1.0f / sqrtf(ss / d + eps);
		for (int j = 0; j < d; j++)
			yi[j] = w ? xi[j] * r * w[j] : xi[j] * r;
	}
}

/* Rotates the pairs (b+j, b+j+m) of one head vector by pos*freq[j]. */
static void rope_half(float *u, int m, const float *cs, const float *sn)
{
	for (int j = 0; j < m; j++) {
		float u0 = u[j], u1 = u[j + m];
		u[j] = u0 * cs[j] - u1 * sn[j];
		u[j + m] = u1 * cs[j] + u0 * sn[j];
	}
}

/* ---- forward ----------------------------------------------------------- */

typedef struct {
	float *h, *a, *q, *k, *v, *att, *o, *g, *u, *xc;
} bufs;

static void free_bufs(bufs *b)
{
	float **p = (float **)b;
	for (size_t i = 0; i < sizeof *b / sizeof(float *); i++)
		free(p[i]);
}

/* softmax(q k^T) v for every head and query; q, k, v [n][NH*Dh].  Work
 * is split over (head, block of QB queries). */
#define QB 32
static int attention(const g4_vision_hp *hp, int n, const float *q, const float *k, const float *v,
		     float *out)
{
	int NH = hp->NH, Dh = hp->Dh, HD = NH * Dh;
	/* per head: K transposed [NH][Dh][n], V rows [NH][n][Dh] */
	float *kt = malloc(sizeof(float) * (size_t)n * HD), *vh = malloc(sizeof(float) * (size_t)n * HD);
	int fail = !kt || !vh;
	if (!fail) {
		#pragma omp parallel for schedule(static)
		for (int i = 0; i < n; i++)
			for (int h = 0; h < NH; h++) {
				memcpy(vh + ((size_t)h * n + i) * Dh, v + (size_t)i * HD + h * Dh, sizeof(float) * Dh);
				for (int d = 0; d < Dh; d++)
					kt[((size_t)h * Dh + d) * n + i] = k[(size_t)i * HD + h * Dh + d];
			}
		int nqb = (n + QB - 1) / QB;
		#pragma omp parallel
		{
			float *s = malloc(sizeof(float) * (size_t)QB * n);
			if (!s) {
				#pragma omp atomic write
				fail = 1;
			}
			#pragma omp for schedule(dynamic, 1)
			for (int t = 0; t < NH * nqb; t++) {
				if (!s)
					continue;
				int h = t / nqb, i0 = t % nqb * QB, ni = n - i0 < QB ? n - i0 : QB;
				g4_gemm_nn(q + (size_t)i0 * HD + h * Dh, HD, kt + (size_t)h * Dh * n, n, s, n, ni, n, Dh);
				for (int i = 0; i < ni; i++)
					g4_softmax(s + (size_t)i * n, n);
				g4_gemm_nn(s, n, vh + (size_t)h * n * Dh, Dh, out + (size_t)i0 * HD + h * Dh, HD, ni, Dh, n);
			}
			free(s);
		}
	}
	free(kt);
	free(vh);
	if (fail)
		return g4_err("out of memory in attention over %d patches", n);
	return 0;
}

int g4_vision_encode(const g4_vision *m, const float *pix, int gh, int gw, float *out,
		     g4_vision_trace *tr)
{
	const g4_vision_hp *hp = &m->hp;
	int D = hp->D, F = hp->F, HD = hp->NH * hp->Dh, Dh = hp->Dh;
	if (gh <= 0 || gw <= 0 || gh % 3 || gw % 3)
		return g4_err("patch grid %dx%d: sides must be positive multiples of 3", gw, gh);
	if (gh > hp->P || gw > hp->P)
		return g4_err("patch grid %dx%d exceeds the position table (%d per side)", gw, gh, hp->P);
	int n = gh * gw;
	size_t nn = (size_t)n;
	int wide = F > HD ? F : HD;
	if (wide < D)
		wide = D;
	if (wide < G4_VISION_PATCH_DIM)
		wide = G4_VISION_PATCH_DIM;
	bufs b = {0};
	b.h = malloc(sizeof(float) * nn * D);
	b.a = malloc(sizeof(float) * nn * D);
	b.q = malloc(sizeof(float) * nn * HD);
	b.k = malloc(sizeof(float) * nn * HD);
	b.v = malloc(sizeof(float) * nn * HD);
	b.att = malloc(sizeof(float) * nn * HD);
	b.o = malloc(sizeof(float) * nn * D);
	b.g = malloc(sizeof(float) * nn * F);
	b.u = malloc(sizeof(float) * nn * F);
	b.xc = malloc(sizeof(float) * nn * wide);
	if (!b.h || !b.a || !b.q || !b.k || !b.v || !b.att || !b.o || !b.g || !b.u || !b.xc) {
		free_bufs(&b);
		return g4_err("out of memory for %d patches", n);
	}
	int rc = -1;

	/* patch embedding of 2x-1, plus the position rows */
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < nn * G4_VISION_PATCH_DIM; i++)
		b.xc[i] = 2.0f * (pix[i] - 0.5f);
	#pragma omp parallel for schedule(dynamic, 1)
	for (int i0 = 0; i0 < n; i0 += 64) {
		int ni = n - i0 < 64 ? n - i0 : 64;
		g4_gemm_nt(b.xc + (size_t)i0 * G4_VISION_PATCH_DIM, G4_VISION_PATCH_DIM, m->patch_w,
			   G4_VISION_PATCH_DIM, b.h + (size_t)i0 * D, D, ni, D, G4_VISION_PATCH_DIM);
		for (int i = i0; i < i0 + ni; i++) {
			int x = i % gw, y = i / gw;
			const float *tx = m->pos + (size_t)x * D, *ty = m->pos + ((size_t)hp->P + y) * D;
			for (int o = 0; o < D; o++)
				b.h[(size_t)i * D + o] += tx[o] + ty[o];
		}
	}
	if (tr && tr->layer_in)
		memcpy(tr->layer_in, b.h, sizeof(float) * nn * D);

	/* rotary tables: column angles for dims [0,Dh/2), row angles for the rest */
	int m4 = Dh / 4;
	float *cx = malloc(sizeof(float) * (size_t)(gw + gh) * m4 * 2);
	if (!cx)
		goto out;
	float *sx = cx + (size_t)gw * m4, *cy = sx + (size_t)gw * m4, *sy = cy + (size_t)gh * m4;
	for (int j = 0; j < m4; j++) {
		float inv = 1.0f / powf(100.0f, (float)(2 * j) / (float)(Dh / 2));
		for (int x = 0; x < gw; x++) {
			float a = (float)x * inv;
			cx[x * m4 + j] = cosf(a);
			sx[x * m4 + j] = sinf(a);
		}
		for (int y = 0; y < gh; y++) {
			float a = (float)y * inv;
			cy[y * m4 + j] = cosf(a);
			sy[y * m4 + j] = sinf(a);
		}
	}

	for (int l = 0; l < hp->L; l++) {
		const vlayer *ly = &m->layers[l];
		rmsnorm(b.a, b.h, ly->ln1, n, D, hp->eps);
		if (matmul(&ly->q, b.a, n, b.q, b.xc) || matmul(&ly->k, b.a, n, b.k, b.xc) ||
		    matmul(&ly->v, b.a, n, b.v, b.xc))
			goto out_rope;
		rmsnorm(b.q, b.q, ly->qn, n * hp->NH, Dh, hp->eps);
		rmsnorm(b.k, b.k, ly->kn, n * hp->NH, Dh, hp->eps);
		rmsnorm(b.v, b.v, NULL, n * hp->NH, Dh, hp->eps);
		#pragma omp parallel for schedule(static)
		for (int i = 0; i < n; i++) {
			int x = i % gw, y = i / gw;
			for (int h = 0; h < hp->NH; h++) {
				float *qh = b.q + (size_t)i * HD + h * Dh, *kk = b.k + (size_t)i * HD + h * Dh;
				rope_half(qh, m4, cx + x * m4, sx + x * m4);
				rope_half(qh + Dh / 2, m4, cy + y * m4, sy + y * m4);
				rope_half(kk, m4, cx + x * m4, sx + x * m4);
				rope_half(kk + Dh / 2, m4, cy + y * m4, sy + y * m4);
			}
		}
		if (attention(hp, n, b.q, b.k, b.v, b.att) || matmul(&ly->o, b.att, n, b.o, b.xc))
			goto out_rope;
		rmsnorm(b.o, b.o, ly->post_attn, n, D, hp->eps);
		for (size_t i = 0; i < nn * D; i++)
			b.h[i] += b.o[i];
		rmsnorm(b.a, b.h, ly->ln2, n, D, hp->eps);
		if (matmul(&ly->gate, b.a, n, b.g, b.xc) || matmul(&ly->up, b.a, n, b.u, b.xc))
			goto out_rope;
		#pragma omp parallel for schedule(static)
		for (int i = 0; i < n; i++)
			g4_geglu(b.g + (size_t)i * F, b.u + (size_t)i * F, F);
		if (matmul(&ly->down, b.g, n, b.o, b.xc))
			goto out_rope;
		rmsnorm(b.o, b.o, ly->post_ffn, n, D, hp->eps);
		for (size_t i = 0; i < nn * D; i++)
			b.h[i] = (b.h[i] + b.o[i]) * ly->out_scale;
	}

	/* 3x3 mean pooling x sqrt(D), standardisation, weightless norm, projection */
	int pw = gw / 3, ph = gh / 3, N = pw * ph;
	float sd = sqrtf((float)D);
	for (int t = 0; t < N; t++) {
		int X = t % pw, Y = t / pw;
		float *g = b.a + (size_t)t * D;
		for (int d = 0; d < D; d++) {
			float s = 0;
			for (int dy = 0; dy < 3; dy++)
				for (int dx = 0; dx < 3; dx++)
					s += b.h[((size_t)(3 * Y + dy) * gw + 3 * X + dx) * D + d];
			g[d] = s / 9.0f * sd;
		}
	}
	if (tr && tr->pooled)
		memcpy(tr->pooled, b.a, sizeof(float) * N * D);
	if (hp->standardize) {
		for (int t = 0; t < N; t++)
			for (int d = 0; d < D; d++)
				b.a[(size_t)t * D + d] = (b.a[(size_t)t * D + d] - m->std_bias[d]) * m->std_scale[d];
		if (tr && tr->standardized)
			memcpy(tr->standardized, b.a, sizeof(float) * N * D);
	}
	rmsnorm(b.a, b.a, NULL, N, D, hp->eps);
	if (matmul(&m->proj, b.a, N, out, b.xc))
		goto out_rope;
	rc = 0;
out_rope:
	free(cx);
out:
	free_bufs(&b);
	if (rc)
		g4_err_ctx("vision encoder: ");
	return rc;
}
