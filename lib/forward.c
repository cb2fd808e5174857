/* forward.c - the Gemma 4 text decoder (see forward.h; spec gemma4-text.md §2).
 *
 * Straight-line code: embed, PLE inputs, then per layer attention, FFN (dense
 * and/or MoE), PLE, layer scale; final norm, output matmul, soft-cap.  All
 * matmuls go through matmul.h.  Activations and accumulation are f32; norms
 * sum squares in double.  A call is cut into micro-batches (never inside an
 * image block that needs bidirectional attention); the results do not
 * depend on the cut. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "actfn.h"
#include "err.h"
#include "forward.h"
#include "matmul.h"
#include "par.h"
#include "qtypes.h"
#include "quantize.h"
#include "repack.h"
#include "vecdot.h"

#define UBATCH 256

/* ---- primitives ------------------------------------------------------ */

/* y = x * (mean(x^2) + eps)^-1/2 * w  (w NULL: no weight).  y may be x. */
static void rmsnorm(float *y, const float *x, const float *w, int n, float eps)
{
	double ss = 0.0;
	for (int i = 0; i < n; i++)
		ss += (double)x[i] * (double)x[i];
	const double s = 1.0 / sqrt(ss / n + (double)eps);
	for (int i = 0; i < n; i++) {
		float v = (float)((double)x[i] * s);
		y[i] = w ? v * w[i] : v;
	}
}

/* out = gelu(gate) * up over n values (actfn.h), split over the threads in
 * chunks when it is worth a parallel region; elementwise, so the same bits
 * however it is split */
static void gelu_mul(float *out, const float *gate, const float *up, int64_t n)
{
	const int64_t CH = 4096, nch = (n + CH - 1) / CH;
#pragma omp parallel for schedule(static) if (nch > 1)
	for (int64_t c = 0; c < nch; c++) {
		int64_t i = c * CH, k = n - i < CH ? n - i : CH;
		g4_gelu_mul(out + i, gate + i, up + i, k);
	}
}

/* NeoX RoPE of one head: pairs (i, i + n_rot/2) for i < n_rot/2. */
static void rope_head(float *x, const float *cs, const float *sn, int n_rot)
{
	const int h = n_rot / 2;
	for (int i = 0; i < h; i++) {
		const float a = x[i], b = x[i + h];
		x[i] = a * cs[i] - b * sn[i];
		x[i + h] = b * cs[i] + a * sn[i];
	}
}

/* cos/sin of the angles of position p for a layer. */
static void rope_angles(const g4_model *m, const g4_layer *L, int64_t p, float *cs, float *sn)
{
	const int h = L->n_rot / 2;
	for (int i = 0; i < h; i++) {
		double f = pow((double)L->rope_base, -2.0 * i / (double)L->n_rot);
		if (!L->swa && m->rope_freqs && i < m->n_rope_freqs)
			f /= (double)m->rope_freqs[i];
		const double a = (double)p * f;
		cs[i] = (float)cos(a);
		sn[i] = (float)sin(a);
	}
}

/* ---- KV rows --------------------------------------------------------- */

/* A K or V row rounded to the KV type: the reference quantiser's bytes
 * (f32, f16, bf16 or q8_0 blocks). */
static void kv_store(uint32_t type, const float *x, uint8_t *dst, int n)
{
	g4_quantize_row(type, x, dst, n, NULL);
}

/* Values [off, off + n) of a stored row as f32.  q8_0 may start inside a
 * block; the other types are read with the row dequantiser. */
static void kv_load(uint32_t type, const uint8_t *row, int off, int n, float *out)
{
	if (type != G4_Q8_0) {
		g4_dequant_row(type, row + g4_row_bytes(type, off), out, n);
		return;
	}
	for (int i = 0; i < n;) {
		const int j = off + i;
		const uint8_t *blk = row + 34 * (size_t)(j / 32);
		uint16_t hd;
		memcpy(&hd, blk, 2);
		const float d = g4_f16_to_f32(hd);
		for (int k = j % 32; k < 32 && i < n; k++, i++)
			out[i] = (float)(int8_t)blk[2 + k] * d;
	}
}

int g4_kv_type_check(const g4_model *m, uint32_t t)
{
	if (t != G4_F32 && t != G4_F16 && t != G4_BF16 && t != G4_Q8_0)
		return g4_err("KV type %s is not one of f32, f16, bf16, q8_0",
			      g4_type_name(t) ? g4_type_name(t) : "?");
	if (t == G4_Q8_0)
		for (int l = 0; l < m->n_layer; l++)
			if (m->layers[l].has_kv && g4_model_kv_width(m, l) % 32)
				return g4_err("KV type q8_0 needs K/V rows of a multiple of 32 values; "
					      "layer %d has %d", l, g4_model_kv_width(m, l));
	return 0;
}

static const uint8_t *kv_row(const g4_kvl *c, const uint8_t *base, int64_t pos)
{
	int64_t r = c->ring ? pos % c->cap : pos;
	return base + (size_t)r * c->row_bytes;
}

/* Makes room for positions up to n_pos + T (full) or a ring of need rows. */
static int kv_reserve(g4_seq *s, g4_kvl *c, int64_t T)
{
	const g4_model *m = s->m;
	int64_t need = c->ring ? (int64_t)m->window - 1 + T : s->n_pos + T;
	if (need <= c->cap)
		return 0;
	int64_t cap = c->ring ? need : (need > 2 * c->cap ? need : 2 * c->cap);
	if (cap < 16)
		cap = 16;
	if ((uint64_t)cap > ((uint64_t)1 << 40) / c->row_bytes)
		return g4_err("KV cache of %lld rows is too large", (long long)cap);
	/* aligned as the scratch: rows of keys go through the matmul tiles */
	const size_t bytes = ((size_t)cap * c->row_bytes + 63) & ~(size_t)63;
	uint8_t *k = aligned_alloc(64, bytes), *v = aligned_alloc(64, bytes);
	if (!k || !v) {
		free(k);
		free(v);
		return g4_err("out of memory for a KV cache of %lld rows", (long long)cap);
	}
	/* move the valid rows to their new places */
	int64_t lo = c->ring ? s->n_pos - (s->n_pos < c->cap ? s->n_pos : c->cap) : 0;
	for (int64_t p = lo; p < s->n_pos; p++) {
		int64_t r = c->ring ? p % cap : p;
		memcpy(k + (size_t)r * c->row_bytes, kv_row(c, c->k, p), c->row_bytes);
		memcpy(v + (size_t)r * c->row_bytes, kv_row(c, c->v, p), c->row_bytes);
	}
	free(c->k);
	free(c->v);
	c->k = k;
	c->v = v;
	c->cap = cap;
	return 0;
}

/* ---- sequences ------------------------------------------------------- */

g4_seq *g4_seq_new(const g4_model *m, uint32_t kv_type)
{
	if (g4_kv_type_check(m, kv_type) < 0)
		return NULL;
	g4_seq *s = calloc(1, sizeof *s);
	if (!s) {
		g4_err("out of memory");
		return NULL;
	}
	s->m = m;
	s->kv_type = kv_type;
	s->kv = calloc((size_t)m->n_layer_kv, sizeof *s->kv);
	s->logits = calloc((size_t)m->n_vocab, sizeof *s->logits);
	if (!s->kv || !s->logits) {
		g4_seq_free(s);
		g4_err("out of memory");
		return NULL;
	}
	for (int l = 0; l < m->n_layer; l++) {
		const g4_layer *L = &m->layers[l];
		if (!L->has_kv)
			continue;
		g4_kvl *c = &s->kv[L->kv_slot];
		c->width = g4_model_kv_width(m, l);
		c->row_bytes = g4_row_bytes(kv_type, c->width);
		c->ring = L->swa;
	}
	return s;
}

void g4_seq_free(g4_seq *s)
{
	if (!s)
		return;
	if (s->kv)
		for (int i = 0; i < s->m->n_layer_kv; i++) {
			free(s->kv[i].k);
			free(s->kv[i].v);
		}
	free(s->kv);
	free(s->hist);
	free(s->logits);
	free(s->ws);
	free(s);
}

/* ---- one micro-batch ------------------------------------------------- */

typedef struct {
	float *x, *a, *q, *k, *v, *att, *o, *g, *u, *f, *f2, *xin;
	float *ple, *pt, *rl, *ey, *eg;
	float *cs, *sn;
	int *sel;
	float *selw;
	int *etok;
	float *ex;
} bufs;

static size_t ws_layout(const g4_model *m, int64_t T, bufs *b, float *base)
{
	int qmax = 0, kvmax = 0, fmax = 0, hdmax = 0;
	for (int l = 0; l < m->n_layer; l++) {
		const g4_layer *L = &m->layers[l];
		int q = m->n_head * L->hd, kv = L->nkv * L->hd;
		if (q > qmax) qmax = q;
		if (kv > kvmax) kvmax = kv;
		if (L->ff > fmax) fmax = L->ff;
		if (L->hd > hdmax) hdmax = L->hd;
	}
	const int64_t H = m->n_embd, LP = (int64_t)m->n_layer * m->n_ple;
	const int64_t E = m->n_expert, K = m->n_expert_used, Fe = m->n_ff_exp;
	const int64_t TE = T > K ? T : K;	/* expert rows: T tokens, or one token's K experts */
	size_t off = 0;
#define TAKE(field, count) do { \
		size_t c_ = (size_t)(count); \
		if (b) { b->field = (void *)(base + off); } \
		off += (c_ + 15) & ~(size_t)15; \
	} while (0)
	TAKE(x, T * H);
	TAKE(a, T * H);
	TAKE(q, T * qmax);
	TAKE(k, T * kvmax);
	TAKE(v, T * kvmax);
	TAKE(att, T * qmax);
	TAKE(o, T * H);
	TAKE(g, T * fmax > TE * Fe ? T * fmax : TE * Fe);
	TAKE(u, T * fmax);
	TAKE(f, T * H);
	TAKE(f2, T * H);
	TAKE(xin, T * H);
	TAKE(ple, T * LP);
	TAKE(pt, T * (m->n_ple > 0 ? m->n_ple : 1));
	TAKE(rl, T * E);
	TAKE(ey, T * K * H);
	TAKE(eg, TE * 2 * Fe);
	TAKE(ex, T * H);
	TAKE(cs, T * hdmax);
	TAKE(sn, T * hdmax);
	TAKE(sel, T * K);	/* ints and floats are both 4 bytes */
	TAKE(selw, T * K);
	TAKE(etok, T);
#undef TAKE
	return off;
}

static int ensure_ws(g4_seq *s, int64_t T, bufs *b)
{
	size_t need = ws_layout(s->m, T, NULL, NULL);
	if (need > s->ws_cap) {
		/* 64-byte aligned (each buffer starts a multiple of 16 floats
		 * in): a matmul's activation rows split no cache line.  E2B
		 * F16 prefill 78 -> 85 tok/s over malloc's 16 bytes */
		float *p = aligned_alloc(64, need * sizeof *p);
		if (!p)
			return g4_err("out of memory for %zu MB of scratch", need * 4 >> 20);
		free(s->ws);
		s->ws = p;
		s->ws_cap = need;
	}
	ws_layout(s->m, T, b, s->ws);
	return 0;
}

/* Attention of T queries of layer l against the cache (spec §2.5 steps 4-7,
 * before o_proj): out[t][n*hd + d].  Keys are read as stored; rows of a
 * non-f32 KV type are converted to f32 once per call when that fits in
 * KV_SCRATCH bytes (otherwise per use: the same values either way).
 *
 * Work is split over (query, KV head) pairs; when there are fewer pairs
 * than threads (decoding one token), each pair is split instead over keys
 * (scores) and over output values (the weighted sum).  Every value is
 * reduced in the same order both ways, so the results are the same bits. */
#define KV_SCRATCH ((size_t)256 << 20)
#define MAX_HD 8192

static double attn_split_min = 1048576.0;

void g4_attn_split_min(double work)
{
	attn_split_min = work;
}

typedef struct {
	const g4_seq *s;
	const g4_kvl *c;
	const float *kf, *vf;	/* f32 copies of positions lo_all.., or NULL */
	int64_t lo_all;
	int kvw;
} kvsrc;

/* The type a K/V row can be read in place as (G4_F32 also for the f32
 * copies of the cache), or -1 (G4_F32 is 0). */
static int kv_direct(const kvsrc *k)
{
	if (k->kf || k->s->kv_type == G4_F32)
		return G4_F32;
	return k->s->kv_type == G4_F16 || k->s->kv_type == G4_BF16 ? (int)k->s->kv_type : -1;
}

/* The start of the K (v = 0) or V row of position pos, of type kv_direct. */
static const uint8_t *kv_ptr(const kvsrc *k, int v, int64_t pos)
{
	const float *f = v ? k->vf : k->kf;
	if (f)
		return (const uint8_t *)(f + (size_t)(pos - k->lo_all) * k->kvw);
	return kv_row(k->c, v ? k->c->v : k->c->k, pos);
}

/* Values [off, off + n) of the K (v = 0) or V row of position pos as
 * f32: in place when they are f32, else converted into buf. */
static const float *kv_get(const kvsrc *k, int v, int64_t pos, int off, int n, float *buf)
{
	if (kv_direct(k) == G4_F32)
		return (const float *)(const void *)kv_ptr(k, v, pos) + off;
	kv_load(k->s->kv_type, kv_row(k->c, v ? k->c->v : k->c->k, pos), off, n, buf);
	return buf;
}

/* Query row t, KV group g.  sc: room for the grp x nk scores, rows: for
 * 2 nk row pointers. */
static void attend(const kvsrc *ks, const g4_layer *L, int64_t p0, int64_t T, const int32_t *block,
		   int bidir, int64_t t, int g, const float *q, float *out, float *sc, const void **rows, int wide)
{
	const g4_model *m = ks->s->m;
	const int hd = L->hd, nh = m->n_head, grp = nh / L->nkv;
	const int64_t W = m->window, p = p0 + t;
	int64_t lo = L->swa && p - W + 1 > 0 ? p - W + 1 : 0, hi = p;
	if (bidir && block[t] > 0)
		for (int64_t j = t + 1; j < T && block[j] == block[t]; j++)
			hi = p0 + j;
	const int64_t nk = hi - lo + 1;
	const float *qg = q + t * (int64_t)nh * hd + (int64_t)g * grp * hd;
	float *og = out + t * (int64_t)nh * hd + (int64_t)g * grp * hd;

	/* K and V rows read where they are (f32, f16, bf16: the dot and the
	 * weighted sum convert exactly as they load), else converted one at a
	 * time */
	const int kt = kv_direct(ks);
	const size_t es = kt == G4_F32 ? 4 : 2;
	if (kt >= 0)
		for (int64_t j = 0; j < nk; j++) {
			rows[j] = kv_ptr(ks, 0, lo + j) + (size_t)g * hd * es;
			rows[nk + j] = kv_ptr(ks, 1, lo + j);
		}
	/* keys side by side (one KV head, no wrap of the ring in between) go
	 * through the matmul tile kernel of their type.  When the threads
	 * share this query (wide), one parallel region: the scores a run of
	 * keys per thread, the softmax a head per thread, the weighted sum a
	 * chunk of values per thread. */
	const g4_rp_kernel *tk = kt >= 0 && L->nkv == 1 ? g4_rp_kernel_for((uint32_t)kt) : NULL;
	int CH = hd;
	if (wide) {
		int nt = g4_threads();
		CH = ((hd + nt - 1) / nt + 15) / 16 * 16;
	}
	const int nch = (hd + CH - 1) / CH;
#pragma omp parallel if (wide)
	{
		if (tk && !tk->pack) {
			int64_t j = nk * omp_get_thread_num() / omp_get_num_threads();
			const int64_t jz = nk * (omp_get_thread_num() + 1) / omp_get_num_threads();
			while (j < jz) {
				int64_t r = 1;
				while (j + r < jz && (const uint8_t *)rows[j + r] == (const uint8_t *)rows[j] + r * hd * es)
					r++;
				tk->gemm(hd, rows[j], r, (const uint8_t *)qg, (size_t)hd * sizeof(float), grp, sc + j,
					 (size_t)nk);
				j += r;
			}
#pragma omp barrier
		} else {
#pragma omp for schedule(static)
			for (int64_t j = 0; j < nk; j++) {
				float buf[MAX_HD];
				const void *kj = kt >= 0 ? rows[j] : kv_get(ks, 0, lo + j, g * hd, hd, buf);
				/* the grp query heads against key j: g4_dot_f32's bits each */
				g4_vecdot_acts(kt >= 0 ? (uint32_t)kt : G4_F32, hd, kj, qg, (size_t)hd * sizeof(float), grp,
					       sc + j, (size_t)nk);
			}
		}
#pragma omp for schedule(static)
		for (int n = 0; n < grp; n++) {
			float *sh = sc + (size_t)n * nk;
			float mx = -INFINITY;
			for (int64_t j = 0; j < nk; j++)
				if (sh[j] > mx)
					mx = sh[j];
			double sum = 0.0;
			g4_exp_shift(sh, nk, mx);
			for (int64_t j = 0; j < nk; j++)
				sum += sh[j];
			const float inv = (float)(1.0 / sum);
			for (int64_t j = 0; j < nk; j++)
				sh[j] *= inv;
		}
		/* o[n][d] = sum over j (in order) of p[n][j] * v[j][d] (product,
		 * then sum), in chunks of d: one per thread when the threads
		 * share this query, else the whole head */
#pragma omp for schedule(static)
		for (int ch = 0; ch < nch; ch++) {
			const int d0 = ch * CH, dn = hd - d0 < CH ? hd - d0 : CH;
			float buf[MAX_HD];
			if (kt >= 0) {
				g4_wsum_rows((uint32_t)kt, grp, nk, dn, sc, nk, rows + nk, (int64_t)g * hd + d0, og + d0, hd);
				continue;
			}
			for (int n = 0; n < grp; n++)
				memset(og + (int64_t)n * hd + d0, 0, (size_t)dn * sizeof(float));
			for (int64_t j = 0; j < nk; j++) {
				const float *vj = kv_get(ks, 1, lo + j, g * hd + d0, dn, buf);
				for (int n = 0; n < grp; n++)
					g4_axpy(dn, sc[(size_t)n * nk + j], vj, og + (int64_t)n * hd + d0);
			}
		}
	}
}

/* -1 when its scratch memory cannot be had (no message: the caller may be a
 * worker thread, and messages are per thread) */
static int attention(const g4_seq *s, const g4_layer *L, const g4_kvl *c, int64_t p0,
		     int64_t T, const int32_t *block, const float *q, float *out)
{
	const g4_model *m = s->m;
	const int hd = L->hd, nh = m->n_head, nkv = L->nkv, grp = nh / nkv, kvw = c->width;
	const int64_t W = m->window;
	const int bidir = L->swa && m->bidir_vision && block;
	const int64_t max_keys = p0 + T;
	const int64_t lo_all = L->swa && p0 - W + 1 > 0 ? p0 - W + 1 : 0, n_all = p0 + T - lo_all;
	kvsrc ks = { .s = s, .c = c, .lo_all = lo_all, .kvw = kvw };
	float *kf = NULL, *vf = NULL;
	/* The cache converted to f32 once, when many query rows read each key;
	 * a few rows (decode) convert each key as they read it: no large
	 * allocation per token (freeing one unmaps pages, and on a VM the TLB
	 * shoot-down that costs stalls the other threads) */
	if (s->kv_type != G4_F32 && T >= 8 && (size_t)n_all * kvw * 2 * sizeof(float) <= KV_SCRATCH) {
		kf = malloc((size_t)n_all * kvw * sizeof *kf);
		vf = malloc((size_t)n_all * kvw * sizeof *vf);
		if (!kf || !vf) {
			free(kf);
			free(vf);
			kf = vf = NULL;
		} else {
#pragma omp parallel for if (n_all * kvw > 262144)
			for (int64_t j = 0; j < n_all; j++) {
				kv_load(s->kv_type, kv_row(c, c->k, lo_all + j), 0, kvw, kf + (size_t)j * kvw);
				kv_load(s->kv_type, kv_row(c, c->v, lo_all + j), 0, kvw, vf + (size_t)j * kvw);
			}
		}
	}
	ks.kf = kf;
	ks.vf = vf;
	const double work = (double)T * max_keys * hd * nh;
	const int wide = T * nkv < g4_threads() && work > attn_split_min;
	const int par = !wide && T * nkv > 1 && work > 262144.0;
	/* scores and key/value row pointers: one slice per thread */
	const int nt = par ? omp_get_max_threads() : 1;
	const size_t nsc = (size_t)max_keys * grp, nrows = (size_t)max_keys * 2;
	float *sc = malloc((size_t)nt * nsc * sizeof *sc);
	const void **rows = malloc((size_t)nt * nrows * sizeof *rows);
	int rc = sc && rows ? 0 : -1;
	if (rc == 0 && wide) {
		for (int64_t t = 0; t < T; t++)
			for (int g = 0; g < nkv; g++)
				attend(&ks, L, p0, T, block, bidir, t, g, q, out, sc, rows, 1);
	} else if (rc == 0) {
#pragma omp parallel if (par) num_threads(nt)
		{
			const int me = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1) collapse(2)
			for (int64_t t = 0; t < T; t++)
				for (int g = 0; g < nkv; g++)
					attend(&ks, L, p0, T, block, bidir, t, g, q, out, sc + (size_t)me * nsc,
					       rows + (size_t)me * nrows, 0);
		}
	}
	free(sc);
	free(rows);
	free(kf);
	free(vf);
	return rc;
}

/* The experts of one token (decode): all K selected experts' products in
 * two parallel regions (gate/up, then down) instead of two or three per
 * expert; expert k's output goes to b->ey row k, as the general path puts
 * it.  The same bits: every product is the same.  0 when the layer's
 * shapes do not fit one call (the caller takes the general path). */
static int moe_token(const g4_model *m, const g4_layer *L, const float *xin, bufs *b)
{
	const int H = m->n_embd, K = m->n_expert_used, Fe = m->n_ff_exp;
	const int fused = L->gate_up_exps.data != NULL;
	if ((fused ? K : 2 * K) > G4_MATMUL_MAX)
		return 0;
	const g4_mat *w[G4_MATMUL_MAX];
	const float *x[G4_MATMUL_MAX];
	int64_t mats[G4_MATMUL_MAX], ldx[G4_MATMUL_MAX], ldy[G4_MATMUL_MAX];
	float *y[G4_MATMUL_MAX];
	/* gate and up of expert k: b->eg + k * 2Fe, gate first */
	int n = 0;
	for (int k = 0; k < K; k++) {
		float *gk = b->eg + (int64_t)k * 2 * Fe;
		for (int part = 0; part < (fused ? 1 : 2); part++, n++) {
			w[n] = fused ? &L->gate_up_exps : part ? &L->up_exps : &L->gate_exps;
			mats[n] = b->sel[k];
			x[n] = xin;
			ldx[n] = H;
			y[n] = gk + part * Fe;
			ldy[n] = fused ? 2 * Fe : Fe;
		}
	}
	g4_matmul_n(n, w, mats, x, ldx, 1, y, ldy);
	for (int k = 0; k < K; k++) {
		const float *gk = b->eg + (int64_t)k * 2 * Fe;
		g4_gelu_mul(b->g + (int64_t)k * Fe, gk, gk + Fe, Fe);
		w[k] = &L->down_exps;
		mats[k] = b->sel[k];
		x[k] = b->g + (int64_t)k * Fe;
		ldx[k] = Fe;
		y[k] = b->ey + (int64_t)k * H;
		ldy[k] = H;
	}
	g4_matmul_n(K, w, mats, x, ldx, 1, y, ldy);
	return 1;
}

/* MoE branch (spec §2.6) for T rows: router input h (= attn_out), expert
 * input xin; result in out [T][H]. */
static void moe(const g4_model *m, const g4_layer *L, int64_t T, const float *h,
		const float *xin, bufs *b, float *out)
{
	const int H = m->n_embd, E = m->n_expert, K = m->n_expert_used, Fe = m->n_ff_exp;
	/* router */
	const double rs = 1.0 / sqrt((double)H);
	for (int64_t t = 0; t < T; t++) {
		float *r = b->ex + t * H;
		rmsnorm(r, h + t * H, NULL, H, m->eps);
		for (int i = 0; i < H; i++)
			r[i] = (float)((double)(r[i] * L->router_scale[i]) * rs);
	}
	g4_matmul(&L->router, 0, b->ex, H, T, b->rl, E);
	for (int64_t t = 0; t < T; t++) {
		const float *z = b->rl + t * E;
		float mx = -INFINITY;
		for (int e = 0; e < E; e++)
			if (z[e] > mx)
				mx = z[e];
		double sum = 0.0;
		for (int e = 0; e < E; e++)
			sum += exp((double)z[e] - mx);
		int *sel = b->sel + t * K;
		float *w = b->selw + t * K;
		double wsum = 0.0;
		for (int k = 0; k < K; k++) {	/* top-k, ties to the lower id */
			int best = -1;
			for (int e = 0; e < E; e++) {
				int taken = 0;
				for (int j = 0; j < k; j++)
					taken |= sel[j] == e;
				if (!taken && (best < 0 || z[e] > z[best]))
					best = e;
			}
			sel[k] = best;
			w[k] = (float)(exp((double)z[best] - mx) / sum);
			wsum += w[k];
		}
		for (int k = 0; k < K; k++)
			w[k] = (float)((double)w[k] / wsum) * L->expert_scale[sel[k]];
	}
	if (T == 1 && moe_token(m, L, xin, b))
		goto mix;
	/* experts: gather the rows routed to each expert */
	for (int e = 0; e < E; e++) {
		int64_t ne = 0;
		for (int64_t t = 0; t < T; t++)
			for (int k = 0; k < K; k++)
				if (b->sel[t * K + k] == e) {
					b->etok[ne] = (int)(t * K + k);
					memcpy(b->ex + ne * H, xin + t * H, (size_t)H * sizeof(float));
					ne++;
				}
		if (!ne)
			continue;
		float *gt = b->eg, *up = b->eg + ne * Fe;
		if (L->gate_up_exps.data) {
			/* fused: rows 0..Fe-1 gate, Fe..2Fe-1 up; out [ne][2Fe] */
			g4_matmul(&L->gate_up_exps, e, b->ex, H, ne, b->eg, 2 * Fe);
			for (int64_t i = 0; i < ne; i++)
				g4_gelu_mul(b->g + i * Fe, b->eg + i * 2 * Fe, b->eg + i * 2 * Fe + Fe, Fe);
		} else {
			g4_matmul(&L->gate_exps, e, b->ex, H, ne, gt, Fe);
			g4_matmul(&L->up_exps, e, b->ex, H, ne, up, Fe);
			gelu_mul(b->g, gt, up, ne * Fe);
		}
		g4_matmul(&L->down_exps, e, b->g, Fe, ne, b->f2, H);
		for (int64_t i = 0; i < ne; i++)
			memcpy(b->ey + (size_t)b->etok[i] * H, b->f2 + i * H, (size_t)H * sizeof(float));
	}
mix:
	for (int64_t t = 0; t < T; t++)
		for (int i = 0; i < H; i++) {
			float acc = 0.0f;
			for (int k = 0; k < K; k++)
				acc += b->selw[t * K + k] * b->ey[(t * K + k) * H + i];
			out[t * H + i] = acc;
		}
}

/* One sequence's share of a micro-batch: positions i0..i0+T-1 of its batch
 * are rows r0..r0+T-1 of the micro-batch.  Rows of several sequences go
 * through every matmul together; attention is per sequence. */
typedef struct {
	g4_seq *s;
	const g4_batch *in;
	int64_t i0, T, r0;
	float *logits_all;	/* NULL: only the last row, into s->logits */
} part;

static int hist_reserve(g4_seq *s, int64_t T)
{
	if (s->n_pos + T <= s->hist_cap)
		return 0;
	int64_t cap = s->hist_cap ? 2 * s->hist_cap : 256;
	while (cap < s->n_pos + T)
		cap *= 2;
	int32_t *h = realloc(s->hist, (size_t)cap * sizeof *h);
	if (!h)
		return g4_err("out of memory");
	s->hist = h;
	s->hist_cap = cap;
	return 0;
}

/* Row t of a micro-batch: its part, position and index in the batch. */
typedef struct {
	const part *pt;
	int64_t pos, i;
} rowinfo;

/* The logits of the micro-batch: every row of the parts that want all,
 * the last row of the others, soft-capped.  b.a is free scratch here. */
static int output_rows(const g4_model *m, const part *pp, int np, const bufs *bb, int64_t T)
{
	const int H = m->n_embd;
	const int64_t V = m->n_vocab;
	int64_t nr = 0;
	for (int k = 0; k < np; k++) {
		const part *q = &pp[k];
		const int64_t f = q->logits_all ? 0 : q->T - 1;
		for (int64_t t = f; t < q->T; t++, nr++)
			rmsnorm(bb->a + nr * H, bb->x + (q->r0 + t) * H, m->output_norm, H, m->eps);
	}
	(void)T;
	float *lg, *tmp = NULL;
	if (np == 1)
		lg = pp[0].logits_all ? pp[0].logits_all + pp[0].i0 * V : pp[0].s->logits;
	else if (!(lg = tmp = malloc((size_t)nr * V * sizeof *lg)))
		return g4_err("out of memory for the logits of %lld rows", (long long)nr);
	g4_matmul(&m->output, 0, bb->a, H, nr, lg, V);
	if (m->softcap > 0.0f) {
		const int64_t CH = 16384, nch = (nr * V + CH - 1) / CH;
#pragma omp parallel for schedule(static) if (nch > 1)
		for (int64_t c = 0; c < nch; c++)
			g4_softcap(lg + c * CH, nr * V - c * CH < CH ? nr * V - c * CH : CH, m->softcap);
	}
	int64_t r = 0;
	for (int k = 0; k < np; k++) {
		const part *q = &pp[k];
		const int64_t n = q->logits_all ? q->T : 1;
		if (tmp && q->logits_all)
			memcpy(q->logits_all + q->i0 * V, lg + r * V, (size_t)(n * V) * sizeof(float));
		if (tmp || q->logits_all)
			memcpy(q->s->logits, lg + (r + n - 1) * V, (size_t)V * sizeof(float));
		q->s->have_logits = 1;
		r += n;
	}
	free(tmp);
	return 0;
}

static int ubatch_rows(const part *pp, int np, const rowinfo *ri, int64_t T, bufs *bp);

static int attention_part(const part *x, const g4_layer *L, const float *q, float *out, int qw)
{
	const int32_t *block = x->in->block ? x->in->block + x->i0 : NULL;
	return attention(x->s, L, &x->s->kv[L->kv_slot], x->s->n_pos, x->T, block, q + x->r0 * qw,
			 out + x->r0 * qw);
}

/* Attention of every part against its own cache: the rows of one sequence
 * are consecutive.  Sequences run in parallel when each has few rows. */
static int attention_parts(const part *pp, int np, const g4_layer *L, const float *q, float *out, int qw)
{
	int small = np > 1, failed = 0;
	for (int k = 0; k < np && small; k++)
		small = pp[k].T * L->nkv < g4_threads();
	/* not a parallel region with if(0): attention() opens its own, and a
	 * region nested in a team of one makes libgomp start and end threads
	 * on every call */
	if (small) {
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
		for (int k = 0; k < np; k++)
			failed |= attention_part(&pp[k], L, q, out, qw) < 0;
	} else {
		for (int k = 0; k < np && !failed; k++)
			failed = attention_part(&pp[k], L, q, out, qw) < 0;
	}
	return failed ? g4_err("out of memory for attention scores") : 0;
}

/* The per-token steps between a batch's matmuls (norms, RoPE, residuals,
 * KV stores) split over the threads: a token's values are computed the
 * same way on any thread, so the same bits.  A few tokens stay on the
 * calling thread (a parallel region costs more than their steps).  E2B
 * Q4_0 prefill 205 -> 217 tok/s over one thread doing them. */
#define PER_TOKEN _Pragma("omp parallel for schedule(static) if (T >= 4)")

static int ubatch_parts(const part *pp, int np, int64_t T)
{
	bufs b;
	if (ensure_ws(pp[0].s, T, &b) < 0)
		return -1;
	rowinfo *ri = malloc((size_t)T * sizeof *ri);
	if (!ri)
		return g4_err("out of memory");
	for (int k = 0; k < np; k++) {
		if (hist_reserve(pp[k].s, pp[k].T) < 0) {	/* no failure after the KV is written */
			free(ri);
			return -1;
		}
		for (int64_t t = 0; t < pp[k].T; t++)
			ri[pp[k].r0 + t] = (rowinfo){ &pp[k], pp[k].s->n_pos + t, pp[k].i0 + t };
	}
	int rc = ubatch_rows(pp, np, ri, T, &b);
	free(ri);
	return rc;
}

static int ubatch_rows(const part *pp, int np, const rowinfo *ri, int64_t T, bufs *bp)
{
	bufs b = *bp;
	const g4_model *m = pp[0].s->m;
	const int H = m->n_embd, nh = m->n_head, P = m->n_ple, NL = m->n_layer;

	/* embeddings (§2.2) */
	const double semb = sqrt((double)H);
	for (int64_t t = 0; t < T; t++) {
		const g4_batch *in = ri[t].pt->in;
		const float *row = in->rows ? in->rows[ri[t].i] : NULL;
		if (row) {
			memcpy(b.x + t * H, row, (size_t)H * sizeof(float));
			continue;
		}
		int32_t id = in->ids[ri[t].i];
		if (id < 0 || id >= m->n_vocab)
			return g4_err("token id %d at position %lld is outside the vocabulary (0..%d)",
				      id, (long long)ri[t].pos, m->n_vocab - 1);
		g4_mat_row_f32(&m->tok_embd, 0, id, b.x + t * H);
		for (int i = 0; i < H; i++)
			b.x[t * H + i] = (float)((double)b.x[t * H + i] * semb);
	}
	/* per-layer inputs (§2.3) */
	if (P > 0) {
		const int64_t LP = (int64_t)NL * P;
		g4_matmul(&m->ple_proj, 0, b.x, H, T, b.ple, LP);
		const double sh = 1.0 / sqrt((double)H), sp = sqrt((double)P), s2 = 1.0 / sqrt(2.0);
		float *arow = malloc((size_t)LP * sizeof *arow);
		if (!arow)
			return g4_err("out of memory");
		for (int64_t t = 0; t < T; t++) {
			const g4_batch *in = ri[t].pt->in;
			const int row = in->rows && in->rows[ri[t].i];
			g4_mat_row_f32(&m->ple_embd, 0, row ? 0 : in->ids[ri[t].i], arow);
			float *B = b.ple + t * LP;
			for (int64_t i = 0; i < LP; i++)
				B[i] = (float)((double)B[i] * sh);
			for (int l = 0; l < NL; l++) {
				float *Bl = B + (int64_t)l * P;
				rmsnorm(Bl, Bl, m->ple_proj_norm, P, m->eps);
				for (int j = 0; j < P; j++)
					Bl[j] = (float)(((double)(float)((double)arow[l * P + j] * sp) + (double)Bl[j]) * s2);
			}
		}
		free(arow);
	}

	for (int l = 0; l < NL; l++) {
		const g4_layer *L = &m->layers[l];
		const int hd = L->hd, qw = nh * hd, kw = L->nkv * hd;

		/* attention (§2.4 step 1, §2.5) */
		PER_TOKEN
		for (int64_t t = 0; t < T; t++) {
			rmsnorm(b.a + t * H, b.x + t * H, L->attn_norm, H, m->eps);
			rope_angles(m, L, ri[t].pos, b.cs + t * hd, b.sn + t * hd);
		}
		{	/* q, k, v in one parallel sweep */
			const g4_mat *w[3] = { &L->wq, &L->wk, &L->wv };
			const int64_t mats[3] = { 0, 0, 0 }, ld[3] = { qw, kw, kw }, lda[3] = { H, H, H };
			const float *const a[3] = { b.a, b.a, b.a };
			float *const y[3] = { b.q, b.k, b.v };
			int nmm = 1;
			if (L->has_kv) {
				for (int k = 0; k < np; k++)
					if (kv_reserve(pp[k].s, &pp[k].s->kv[L->kv_slot], pp[k].T) < 0)
						return -1;
				nmm = L->wv.data ? 3 : 2;
			}
			g4_matmul_n(nmm, w, mats, a, lda, T, y, ld);
		}
		PER_TOKEN
		for (int64_t t = 0; t < T; t++)
			for (int n = 0; n < nh; n++) {
				float *qh = b.q + t * qw + n * hd;
				rmsnorm(qh, qh, L->q_norm, hd, m->eps);
				rope_head(qh, b.cs + t * hd, b.sn + t * hd, L->n_rot);
			}
		if (L->has_kv) {
			if (!L->wv.data)
				memcpy(b.v, b.k, (size_t)(T * kw) * sizeof(float));
			PER_TOKEN
			for (int64_t t = 0; t < T; t++) {
				for (int n = 0; n < L->nkv; n++) {
					float *kh = b.k + t * kw + n * hd, *vh = b.v + t * kw + n * hd;
					rmsnorm(kh, kh, L->k_norm, hd, m->eps);
					rope_head(kh, b.cs + t * hd, b.sn + t * hd, L->n_rot);
					rmsnorm(vh, vh, NULL, hd, m->eps);
				}
				const g4_seq *s = ri[t].pt->s;
				const g4_kvl *c = &s->kv[L->kv_slot];
				const int64_t p = ri[t].pos;
				int64_t r = c->ring ? p % c->cap : p;
				kv_store(s->kv_type, b.k + t * kw, c->k + (size_t)r * c->row_bytes, kw);
				kv_store(s->kv_type, b.v + t * kw, c->v + (size_t)r * c->row_bytes, kw);
			}
		}
		if (attention_parts(pp, np, L, b.q, b.att, qw) < 0)
			return -1;
		g4_matmul(&L->wo, 0, b.att, qw, T, b.o, H);
		/* then the feed-forward's input norm (§2.4 step 2 / 2') */
		PER_TOKEN
		for (int64_t t = 0; t < T; t++) {
			rmsnorm(b.o + t * H, b.o + t * H, L->post_attn_norm, H, m->eps);
			for (int i = 0; i < H; i++)
				b.x[t * H + i] += b.o[t * H + i];
			rmsnorm(b.a + t * H, b.x + t * H, L->ffn_norm, H, m->eps);
		}
		const int F = L->ff;
		{	/* gate and up in one parallel sweep */
			const g4_mat *w[2] = { &L->gate, &L->up };
			const int64_t mats[2] = { 0, 0 }, ld[2] = { F, F }, lda[2] = { H, H };
			const float *const a[2] = { b.a, b.a };
			float *const y[2] = { b.g, b.u };
			g4_matmul_n(2, w, mats, a, lda, T, y, ld);
		}
		gelu_mul(b.g, b.g, b.u, T * F);
		g4_matmul(&L->down, 0, b.g, F, T, b.f, H);
		if (L->moe) {
			PER_TOKEN
			for (int64_t t = 0; t < T; t++) {
				rmsnorm(b.f + t * H, b.f + t * H, L->post_ffw_norm_1, H, m->eps);
				rmsnorm(b.xin + t * H, b.x + t * H, L->pre_ffw_norm_2, H, m->eps);
			}
			moe(m, L, T, b.x, b.xin, &b, b.o);
			PER_TOKEN
			for (int64_t t = 0; t < T; t++) {
				rmsnorm(b.o + t * H, b.o + t * H, L->post_ffw_norm_2, H, m->eps);
				for (int i = 0; i < H; i++)
					b.f[t * H + i] += b.o[t * H + i];
			}
		}
		PER_TOKEN
		for (int64_t t = 0; t < T; t++) {
			rmsnorm(b.f + t * H, b.f + t * H, L->post_ffw_norm, H, m->eps);
			for (int i = 0; i < H; i++)
				b.x[t * H + i] += b.f[t * H + i];
		}

		/* per-layer embedding (§2.3, step 3) */
		if (P > 0) {
			g4_matmul(&L->inp_gate, 0, b.x, H, T, b.pt, P);
			PER_TOKEN
			for (int64_t t = 0; t < T; t++) {
				const float *pl = b.ple + t * (int64_t)NL * P + (int64_t)l * P;
				g4_gelu_mul(b.pt + t * P, b.pt + t * P, pl, P);
			}
			g4_matmul(&L->proj, 0, b.pt, P, T, b.o, H);
			PER_TOKEN
			for (int64_t t = 0; t < T; t++) {
				rmsnorm(b.o + t * H, b.o + t * H, L->ple_post_norm, H, m->eps);
				for (int i = 0; i < H; i++)
					b.x[t * H + i] += b.o[t * H + i];
			}
		}
		/* layer scalar (step 4) */
		if (L->layer_scale != 1.0f)
			for (int64_t i = 0; i < T * H; i++)
				b.x[i] *= L->layer_scale;
	}

	/* output (§2.7), then the history */
	if (output_rows(m, pp, np, &b, T) < 0)
		return -1;
	for (int k = 0; k < np; k++) {
		g4_seq *s = pp[k].s;
		memcpy(s->hist + s->n_pos, pp[k].in->ids + pp[k].i0, (size_t)pp[k].T * sizeof(int32_t));
		s->n_pos += pp[k].T;
	}
	return 0;
}

/* A batch's positions must fit the model's context, and its ids the vocabulary. */
static int check_batch(const g4_seq *s, const g4_batch *b)
{
	const g4_model *m = s->m;
	const int64_t lim = m->n_ctx_train > 0 && m->n_ctx_train < ((int64_t)1 << 31) ? m->n_ctx_train
										       : (int64_t)1 << 31;
	if (b->n > lim - s->n_pos)
		return g4_err("%lld positions, more than the model's context of %lld", (long long)(s->n_pos + b->n),
			      (long long)lim);
	for (int64_t i = 0; i < b->n; i++)
		if (!(b->rows && b->rows[i]) && (b->ids[i] < 0 || b->ids[i] >= m->n_vocab))
			return g4_err("token id %d at position %lld is outside the vocabulary (0..%d)",
				      b->ids[i], (long long)(s->n_pos + i), m->n_vocab - 1);
	return 0;
}

int g4_forward(g4_seq *s, const g4_batch *b, float *logits)
{
	const g4_model *m = s->m;
	if (b->n <= 0)
		return 0;
	if (check_batch(s, b) < 0)
		return -1;
	for (int64_t i = 0; i < b->n;) {
		int64_t T = b->n - i < UBATCH ? b->n - i : UBATCH;
		/* never cut an image block that attends bidirectionally */
		if (m->bidir_vision && b->block)
			while (i + T < b->n && b->block[i + T] > 0 && b->block[i + T] == b->block[i + T - 1])
				T++;
		part one = { .s = s, .in = b, .i0 = i, .T = T, .r0 = 0, .logits_all = logits };
		if (ubatch_parts(&one, 1, T) < 0)
			return -1;
		i += T;
		if (s->progress)
			s->progress(s->progress_ctx, i, b->n);
	}
	return 0;
}

/* ---- snapshots ------------------------------------------------------- */

/* Layer l's part of a snapshot of s: the rows it keeps (sliding layers:
 * the last window - 1), copied, or with borrow the cache itself when its
 * rows are in order (full layers).  -1 when memory is short. */
static int snap_layer(const g4_seq *s, int l, int borrow, g4_snap_layer *sl)
{
	const g4_model *m = s->m;
	const g4_layer *L = &m->layers[l];
	const g4_kvl *c = &s->kv[L->kv_slot];
	int64_t keep = s->n_pos;
	if (c->ring && keep > m->window - 1)
		keep = m->window - 1;
	sl->layer = (uint32_t)l;
	sl->n_head_kv = (uint32_t)L->nkv;
	sl->head_dim = (uint32_t)L->hd;
	sl->pos0 = (uint64_t)(s->n_pos - keep);
	sl->n_rows = (uint64_t)keep;
	if (borrow && !c->ring) {	/* rows 0..n_pos-1 in place: no copy */
		sl->k = c->k;
		sl->v = c->v;
		return 0;
	}
	size_t nb = (size_t)(keep ? keep : 1) * c->row_bytes;
	sl->k = malloc(nb);
	sl->v = malloc(nb);
	if (!sl->k || !sl->v)
		return -1;
	for (int64_t i = 0; i < keep; i++) {
		int64_t p = s->n_pos - keep + i;
		memcpy((uint8_t *)sl->k + (size_t)i * c->row_bytes, kv_row(c, c->k, p), c->row_bytes);
		memcpy((uint8_t *)sl->v + (size_t)i * c->row_bytes, kv_row(c, c->v, p), c->row_bytes);
	}
	return 0;
}

int g4_seq_to_snap(const g4_seq *s, g4_snap *out)
{
	const g4_model *m = s->m;
	memset(out, 0, sizeof *out);
	memcpy(out->fingerprint, m->fingerprint, 32);
	out->kv_type = s->kv_type;
	out->n_tokens = (uint64_t)s->n_pos;
	out->tokens = malloc((size_t)(s->n_pos ? s->n_pos : 1) * sizeof(int32_t));
	out->layers = calloc((size_t)m->n_layer_kv, sizeof *out->layers);
	out->n_layers = (uint32_t)m->n_layer_kv;
	if (!out->tokens || !out->layers)
		goto oom;
	if (s->n_pos)
		memcpy(out->tokens, s->hist, (size_t)s->n_pos * sizeof(int32_t));
	for (int l = 0; l < m->n_layer; l++)
		if (m->layers[l].has_kv && snap_layer(s, l, 0, &out->layers[m->layers[l].kv_slot]) < 0)
			goto oom;
	if (s->have_logits) {
		out->n_vocab = (uint32_t)m->n_vocab;
		out->logits = malloc((size_t)m->n_vocab * sizeof(float));
		if (!out->logits)
			goto oom;
		memcpy(out->logits, s->logits, (size_t)m->n_vocab * sizeof(float));
	}
	return 0;
oom:
	g4_snap_free(out);
	return g4_err("out of memory writing a snapshot");
}

int g4_seq_write_snap(const g4_seq *s, FILE *f, const char *name)
{
	const g4_model *m = s->m;
	g4_snap v;
	memset(&v, 0, sizeof v);
	memcpy(v.fingerprint, m->fingerprint, 32);
	v.kv_type = s->kv_type;
	v.n_tokens = (uint64_t)s->n_pos;
	v.tokens = s->hist;
	v.n_layers = (uint32_t)m->n_layer_kv;
	v.layers = calloc((size_t)m->n_layer_kv, sizeof *v.layers);
	if (!v.layers)
		return g4_err("out of memory writing a snapshot");
	int rc = 0;
	for (int l = 0; l < m->n_layer && !rc; l++)
		if (m->layers[l].has_kv && snap_layer(s, l, 1, &v.layers[m->layers[l].kv_slot]) < 0)
			rc = g4_err("out of memory writing a snapshot");
	if (!rc && s->have_logits) {
		v.n_vocab = (uint32_t)m->n_vocab;
		v.logits = s->logits;
	}
	if (!rc)
		rc = g4_snap_write(f, &v, name);
	for (int l = 0; l < m->n_layer; l++)
		if (m->layers[l].has_kv && s->kv[m->layers[l].kv_slot].ring) {
			free(v.layers[m->layers[l].kv_slot].k);
			free(v.layers[m->layers[l].kv_slot].v);
		}
	free(v.layers);
	return rc;
}

g4_seq *g4_seq_from_snap(const g4_model *m, const g4_snap *snap)
{
	if (memcmp(snap->fingerprint, m->fingerprint, 32)) {
		g4_err("snapshot was made with another model (fingerprint differs)");
		return NULL;
	}
	if (snap->n_tokens > ((uint64_t)1 << 31)) {
		g4_err("snapshot holds %llu positions, too many", (unsigned long long)snap->n_tokens);
		return NULL;
	}
	if (snap->n_layers != (uint32_t)m->n_layer_kv) {
		g4_err("snapshot has KV for %u layers, the model owns KV in %d", snap->n_layers, m->n_layer_kv);
		return NULL;
	}
	if (snap->n_vocab && snap->n_vocab != (uint32_t)m->n_vocab) {
		g4_err("snapshot logits have %u values, the model's vocabulary %d", snap->n_vocab, m->n_vocab);
		return NULL;
	}
	g4_seq *s = g4_seq_new(m, snap->kv_type);
	if (!s)
		return NULL;
	const int64_t n = (int64_t)snap->n_tokens;
	for (uint32_t i = 0; i < snap->n_layers; i++) {
		const g4_snap_layer *sl = &snap->layers[i];
		if (sl->layer >= (uint32_t)m->n_layer || !m->layers[sl->layer].has_kv ||
		    m->layers[sl->layer].kv_slot != (int)i) {
			g4_err("snapshot KV entry %u names layer %u, which is not the model's KV layer %u", i, sl->layer, i);
			goto fail;
		}
		const g4_layer *L = &m->layers[sl->layer];
		g4_kvl *c = &s->kv[i];
		int64_t keep = c->ring && n > m->window - 1 ? m->window - 1 : n;
		if (sl->n_head_kv != (uint32_t)L->nkv || sl->head_dim != (uint32_t)L->hd ||
		    sl->n_rows != (uint64_t)keep || sl->pos0 != (uint64_t)(n - keep)) {
			g4_err("snapshot KV of layer %u has %llu rows from position %llu (%ux%u), "
			       "the model wants %lld rows from %lld (%dx%d)", sl->layer,
			       (unsigned long long)sl->n_rows, (unsigned long long)sl->pos0,
			       sl->n_head_kv, sl->head_dim, (long long)keep, (long long)(n - keep),
			       L->nkv, L->hd);
			goto fail;
		}
		/* reserve for the stored rows: positions n-keep .. n-1 */
		s->n_pos = n - keep;
		if (kv_reserve(s, c, keep) < 0)
			goto fail;
		for (int64_t r = 0; r < keep; r++) {
			int64_t p = n - keep + r;
			int64_t slot = c->ring ? p % c->cap : p;
			memcpy(c->k + (size_t)slot * c->row_bytes, (const uint8_t *)sl->k + (size_t)r * c->row_bytes, c->row_bytes);
			memcpy(c->v + (size_t)slot * c->row_bytes, (const uint8_t *)sl->v + (size_t)r * c->row_bytes, c->row_bytes);
		}
	}
	s->n_pos = n;
	s->hist_cap = n > 256 ? n : 256;
	s->hist = malloc((size_t)s->hist_cap * sizeof *s->hist);
	if (!s->hist) {
		g4_err("out of memory");
		goto fail;
	}
	if (n)
		memcpy(s->hist, snap->tokens, (size_t)n * sizeof(int32_t));
	if (snap->n_vocab) {
		memcpy(s->logits, snap->logits, (size_t)m->n_vocab * sizeof(float));
		s->have_logits = 1;
	}
	return s;
fail:
	g4_seq_free(s);
	return NULL;
}

/* ---- many sequences -------------------------------------------------- */

/* Positions of batch k from `done` on that fit a micro-batch with room
 * `room` (an image block that attends bidirectionally is never cut: it may
 * overflow an empty micro-batch, and waits for the next one otherwise). */
static int64_t take(const g4_model *m, const g4_batch *b, int64_t done, int64_t room, int empty)
{
	int64_t T = b->n - done < room ? b->n - done : room;
	if (T <= 0)
		return 0;
	if (m->bidir_vision && b->block && done + T < b->n && b->block[done + T] > 0 &&
	    b->block[done + T] == b->block[done + T - 1]) {
		if (!empty) {	/* back off to the block start */
			int64_t t = done + T;
			while (t > done && b->block[t - 1] == b->block[done + T])
				t--;
			return t - done;
		}
		while (done + T < b->n && b->block[done + T] > 0 && b->block[done + T] == b->block[done + T - 1])
			T++;
	}
	return T;
}

int g4_forward_multi(g4_seq *const *seqs, const g4_batch *b, int n, float *const *logits)
{
	if (n <= 0)
		return 0;
	const g4_model *m = seqs[0]->m;
	for (int k = 0; k < n; k++) {
		if (seqs[k]->m != m)
			return g4_err("sequences of one batch must share the model");
		for (int j = 0; j < k; j++)
			if (seqs[j] == seqs[k])
				return g4_err("a sequence appears twice in one batch");
		if (check_batch(seqs[k], &b[k]) < 0)
			return -1;
	}
	int64_t *done = calloc((size_t)n, sizeof *done);
	part *pp = malloc((size_t)n * sizeof *pp);
	int rc = 0;
	if (!done || !pp)
		rc = g4_err("out of memory");
	int next = 0;	/* round robin start, so no sequence waits for ever */
	while (!rc) {
		int np = 0;
		int64_t T = 0;
		for (int j = 0; j < n && T < UBATCH; j++) {
			const int k = (next + j) % n;
			const int64_t t = take(m, &b[k], done[k], UBATCH - T, T == 0);
			if (t <= 0)
				continue;
			pp[np++] = (part){ .s = seqs[k], .in = &b[k], .i0 = done[k], .T = t, .r0 = T,
					   .logits_all = logits ? logits[k] : NULL };
			done[k] += t;
			T += t;
		}
		if (!np)
			break;
		next = (next + 1) % n;
		rc = ubatch_parts(pp, np, T);
	}
	free(done);
	free(pp);
	return rc;
}
