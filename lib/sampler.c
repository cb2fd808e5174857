/* sampler.c - penalties, top-k, top-p, min-p, temperature and the draw
 * (see sampler.h for the order and the semantics, taken from llama.cpp's
 * default sampler chain).
 *
 * The row is copied into candidates (logit, id).  Orders are total: larger
 * logit first, then lower id, so every result is determined by the logits
 * and the seed alone.  top-k selects with a heap (O(V log k)); top-p without
 * top-k sorts only the tokens within 2, 4, 8 or 16 nats of the maximum when
 * their mass already reaches top_p (they are a prefix of the full order, so
 * the result is the same as sorting everything), and everything otherwise.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sampler.h"

typedef struct {
	float l;
	int32_t id;
} cand;

struct g4_sampler {
	g4_sampler_params p;
	uint32_t n_vocab;
	g4_rng rng;
	cand *c, *tmp;
	int32_t *count;		/* n_vocab, all zero between calls */
	int32_t *seen;		/* distinct ids of the penalty window */
};

/* ---- generator: splitmix64 seeding xoshiro256** ------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void g4_rng_seed(g4_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t g4_rng_next(g4_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double g4_rng_uniform(g4_rng *r)
{
	return (double)(g4_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- set-up ------------------------------------------------------------- */

void g4_sampler_defaults(g4_sampler_params *p)
{
	memset(p, 0, sizeof *p);
	p->temp = 0.8f;
	p->top_k = 40;
	p->top_p = 0.95f;
	p->min_p = 0.05f;
	p->repeat_penalty = 1.0f;
	p->penalty_last_n = 64;
}

g4_sampler *g4_sampler_new(const g4_sampler_params *p, uint32_t n_vocab)
{
	if (n_vocab == 0 || n_vocab > (1u << 24)) {
		g4_err("sampler: vocabulary of %u", n_vocab);
		return NULL;
	}
	if (!isfinite(p->temp) || !isfinite(p->top_p) || !isfinite(p->min_p) || p->top_p < 0 ||
	    p->min_p < 0 || p->min_p > 1) {
		g4_err("sampler: temp, top-p or min-p out of range (temp %g, top-p %g in [0,1], min-p %g in [0,1])",
		       p->temp, p->top_p, p->min_p);
		return NULL;
	}
	if (!isfinite(p->repeat_penalty) || p->repeat_penalty <= 0 || !isfinite(p->freq_penalty) ||
	    !isfinite(p->presence_penalty) || p->penalty_last_n < -1) {
		g4_err("sampler: bad penalty (repeat %g must be > 0, last-n %d >= -1)", p->repeat_penalty,
		       (int)p->penalty_last_n);
		return NULL;
	}
	g4_sampler *s = calloc(1, sizeof *s);
	if (s) {
		s->c = malloc(n_vocab * sizeof *s->c);
		s->tmp = malloc(n_vocab * sizeof *s->tmp);
		s->count = calloc(n_vocab, sizeof *s->count);
		s->seen = malloc(n_vocab * sizeof *s->seen);
	}
	if (!s || !s->c || !s->tmp || !s->count || !s->seen) {
		g4_sampler_free(s);
		g4_err("out of memory");
		return NULL;
	}
	s->p = *p;
	s->n_vocab = n_vocab;
	g4_rng_seed(&s->rng, p->seed);
	return s;
}

void g4_sampler_free(g4_sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s->tmp);
	free(s->count);
	free(s->seen);
	free(s);
}

/* ---- filters ------------------------------------------------------------ */

/* a comes before b: larger logit, then lower id */
static int before(const cand *a, const cand *b)
{
	return a->l > b->l || (a->l == b->l && a->id < b->id);
}

static int cmp_cand(const void *x, const void *y)
{
	const cand *a = x, *b = y;
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/* Copies the row (NaN -> -inf) and applies the penalties; returns the
 * index of the largest logit (ties: lowest id), or -1 if none is finite. */
static int64_t load(g4_sampler *s, const float *logits, const int32_t *hist, size_t n_hist)
{
	uint32_t n = s->n_vocab;
	for (uint32_t i = 0; i < n; i++) {
		s->c[i].l = isnan(logits[i]) ? -INFINITY : logits[i];
		s->c[i].id = (int32_t)i;
	}
	const g4_sampler_params *p = &s->p;
	if (p->penalty_last_n != 0 &&
	    (p->repeat_penalty != 1.0f || p->freq_penalty != 0.0f || p->presence_penalty != 0.0f)) {
		size_t w = p->penalty_last_n < 0 || (size_t)p->penalty_last_n > n_hist ? n_hist :
			   (size_t)p->penalty_last_n;
		size_t ns = 0;
		for (size_t i = n_hist - w; i < n_hist; i++) {
			int32_t t = hist[i];
			if (t < 0 || (uint32_t)t >= n)
				continue;
			if (s->count[t]++ == 0)
				s->seen[ns++] = t;
		}
		for (size_t j = 0; j < ns; j++) {
			int32_t t = s->seen[j];
			float l = s->c[t].l;
			if (l <= 0)
				l *= p->repeat_penalty;
			else
				l /= p->repeat_penalty;
			l -= (float)s->count[t] * p->freq_penalty + p->presence_penalty;
			s->c[t].l = l;
			s->count[t] = 0;
		}
	}
	int64_t best = 0;
	for (uint32_t i = 1; i < n; i++)
		if (s->c[i].l > s->c[best].l)
			best = i;
	return s->c[best].l == -INFINITY ? -1 : best;
}

/* Min-heap on "before" (the root is the worst kept candidate). */
static void sift_down(cand *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && before(&h[m], &h[l]))
			m = l;
		if (r < n && before(&h[m], &h[r]))
			m = r;
		if (m == i)
			return;
		cand t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Keeps the k best of c[0..n), sorted, in c[0..k). */
static size_t top_k(g4_sampler *s, size_t n, size_t k)
{
	cand *h = s->tmp;
	memcpy(h, s->c, k * sizeof *h);
	for (size_t i = k / 2; i-- > 0;)
		sift_down(h, k, i);
	for (size_t i = k; i < n; i++)
		if (before(&s->c[i], &h[0])) {
			h[0] = s->c[i];
			sift_down(h, k, 0);
		}
	qsort(h, k, sizeof *h, cmp_cand);
	memcpy(s->c, h, k * sizeof *h);
	return k;
}

/* the largest logit of c[0..n), n >= 1 */
static float max_logit(const cand *c, size_t n)
{
	float mx = c[0].l;
	for (size_t i = 1; i < n; i++)
		if (c[i].l > mx)
			mx = c[i].l;
	return mx;
}

/* top-p over c[0..n) (sorted or not); leaves the kept prefix sorted. */
static size_t top_p(g4_sampler *s, size_t n, int sorted)
{
	cand *c = s->c;
	float mx = sorted ? c[0].l : max_logit(c, n);
	float z = 0;
	for (size_t i = 0; i < n; i++)
		z += expf(c[i].l - mx);
	const float p = s->p.top_p;
	/* Unsorted: try the tokens within 2, 4, 8, 16 nats of the maximum.
	 * They are a prefix of the full order, so if the walk over them
	 * (sorted) reaches p, the result is that of sorting everything. */
	static const float cut[] = { 2.0f, 4.0f, 8.0f, 16.0f };
	for (size_t j = 0; !sorted && j < sizeof cut / sizeof *cut; j++) {
		const float thr = mx - cut[j];
		size_t m = 0;
		double mass = 0;
		for (size_t i = 0; i < n; i++)
			if (c[i].l >= thr) {
				s->tmp[m++] = c[i];
				mass += expf(c[i].l - mx);
			}
		if (mass / z < p - 1e-3 || m == n)
			continue;	/* not enough mass here (or no gain) */
		qsort(s->tmp, m, sizeof *s->tmp, cmp_cand);
		float cum = 0;
		for (size_t i = 0; i < m; i++) {
			cum += expf(s->tmp[i].l - mx) / z;
			if (cum >= p) {
				memcpy(c, s->tmp, (i + 1) * sizeof *c);
				return i + 1;
			}
		}
	}
	if (!sorted)
		qsort(c, n, sizeof *c, cmp_cand);
	float cum = 0;
	for (size_t i = 0; i < n; i++) {
		cum += expf(c[i].l - mx) / z;
		if (cum >= p)
			return i + 1;
	}
	return n;
}

/* min-p: keeps (in order) the tokens with logit >= max + log(min_p). */
static size_t min_p(g4_sampler *s, size_t n)
{
	cand *c = s->c;
	float mx = max_logit(c, n);
	const float thr = mx + logf(s->p.min_p);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i].l >= thr)
			c[k++] = c[i];
	return k;
}

/* Runs the filters and the temperature; c[0..return) are the candidates. */
static size_t filter(g4_sampler *s, size_t n)
{
	const g4_sampler_params *p = &s->p;
	int sorted = 0;
	if (p->top_k > 0 && (size_t)p->top_k < n) {
		n = top_k(s, n, (size_t)p->top_k);
		sorted = 1;
	}
	if (p->top_p < 1.0f) {
		n = top_p(s, n, sorted);
		sorted = 1;
	}
	if (p->min_p > 0.0f)
		n = min_p(s, n);
	for (size_t i = 0; i < n; i++)
		s->c[i].l /= p->temp;
	return n;
}

int32_t g4_sampler_sample(g4_sampler *s, const float *logits, const int32_t *hist, size_t n_hist)
{
	int64_t best = load(s, logits, hist, n_hist);
	if (best < 0) {
		g4_err("sampler: no token has a finite logit");
		return -1;
	}
	if (s->p.temp <= 0)
		return (int32_t)best;
	size_t n = filter(s, s->n_vocab);
	const cand *c = s->c;
	float mx = max_logit(c, n);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += expf(c[i].l - mx);
	const double target = sum * g4_rng_uniform(&s->rng);
	double run = 0;
	for (size_t i = 0; i < n; i++) {
		float e = expf(c[i].l - mx);
		run += e;
		if (run > target && e > 0)
			return c[i].id;
	}
	/* rounding left target above the running sum: the last possible token */
	for (size_t i = n; i-- > 0;)
		if (expf(c[i].l - mx) > 0)
			return c[i].id;
	return c[0].id;
}

static int cmp_prob(const void *x, const void *y)
{
	return cmp_cand(x, y);	/* same order: probability follows the logit */
}

size_t g4_sampler_candidates(g4_sampler *s, const float *logits, const int32_t *hist, size_t n_hist,
			     int32_t *ids, float *probs)
{
	int64_t best = load(s, logits, hist, n_hist);
	if (best < 0)
		return 0;
	if (s->p.temp <= 0) {
		ids[0] = (int32_t)best;
		probs[0] = 1.0f;
		return 1;
	}
	size_t n = filter(s, s->n_vocab);
	qsort(s->c, n, sizeof *s->c, cmp_prob);
	float mx = s->c[0].l;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += expf(s->c[i].l - mx);
	for (size_t i = 0; i < n; i++) {
		ids[i] = s->c[i].id;
		probs[i] = (float)(expf(s->c[i].l - mx) / sum);
	}
	return n;
}
