/* Tests of the sampler (lib/sampler.c) on synthetic logits: greedy and its
 * ties, top-k 1 = greedy, the kept sets of top-k / top-p / min-p (against a
 * brute-force reference), penalties, determinism of the seed, and sampled
 * frequencies against the softmax (chi-square with a fixed seed). */
#include <stdint.h>

#include "t.h"
#include "err.h"
#include "sampler.h"

static g4_sampler_params off(void)
{
	g4_sampler_params p;
	g4_sampler_defaults(&p);
	p.temp = 1.0f;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0.0f;
	return p;
}

static void test_rng(void)
{
	g4_rng a, b;
	g4_rng_seed(&a, 123);
	g4_rng_seed(&b, 123);
	int same = 1;
	for (int i = 0; i < 1000; i++)
		same &= g4_rng_next(&a) == g4_rng_next(&b);
	CHECK(same, "same seed, same stream");
	g4_rng_seed(&b, 124);
	CHECK(g4_rng_next(&a) != g4_rng_next(&b), "another seed, another stream");
	/* fixed values: the stream must not change between versions or machines */
	g4_rng_seed(&a, 0);
	uint64_t first = g4_rng_next(&a);
	g4_rng_seed(&a, 0);
	CHECK(first == g4_rng_next(&a), "reseed");
	CHECK(first == 0x99ec5f36cb75f2b4ull, "xoshiro256** from splitmix64(0): %016llx", (unsigned long long)first);
	double lo = 1, hi = 0, mean = 0;
	for (int i = 0; i < 100000; i++) {
		double u = g4_rng_uniform(&a);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
		mean += u;
	}
	mean /= 100000;
	CHECK(lo >= 0 && hi < 1 && fabs(mean - 0.5) < 0.005, "uniform: [%g, %g] mean %g", lo, hi, mean);
}

static void test_greedy(void)
{
	g4_sampler_params p = off();
	p.temp = 0;
	float l[6] = { 1, 5, 2, 5, -3, 4 };
	g4_sampler *s = g4_sampler_new(&p, 6);
	CHECK(g4_sampler_sample(s, l, NULL, 0) == 1, "ties -> lowest id");
	l[1] = NAN;
	CHECK(g4_sampler_sample(s, l, NULL, 0) == 3, "NaN is -inf");
	for (int i = 0; i < 6; i++)
		l[i] = -INFINITY;
	CHECK(g4_sampler_sample(s, l, NULL, 0) == -1 && strstr(g4_errmsg(), "finite"), "all -inf: error");
	g4_sampler_free(s);

	/* top-k 1 with a temperature is greedy too, on many random rows */
	p = off();
	p.top_k = 1;
	p.temp = 1.5f;
	p.seed = 5;
	s = g4_sampler_new(&p, 1000);
	g4_sampler_params pg = off();
	pg.temp = 0;
	g4_sampler *g = g4_sampler_new(&pg, 1000);
	g4_rng r;
	g4_rng_seed(&r, 77);
	float row[1000];
	int bad = 0;
	for (int t = 0; t < 200; t++) {
		for (int i = 0; i < 1000; i++)
			row[i] = (float)(g4_rng_uniform(&r) * 20 - 10);
		if (t % 10 == 0)
			row[999] = row[3] = 11;	/* a tie */
		bad += g4_sampler_sample(s, row, NULL, 0) != g4_sampler_sample(g, row, NULL, 0);
	}
	CHECK(bad == 0, "top-k 1 differs from greedy on %d rows", bad);
	g4_sampler_free(s);
	g4_sampler_free(g);
}

static void test_kept_sets(void)
{
	/* probabilities 0.5, 0.2, 0.15, 0.1, 0.05 */
	float l[5] = { logf(0.5f), logf(0.2f), logf(0.15f), logf(0.1f), logf(0.05f) };
	int32_t ids[5];
	float pr[5];
	struct { int k; float p, m; size_t want; } c[] = {
		{ 2, 1, 0, 2 }, { 4, 1, 0, 4 }, { 9, 1, 0, 5 },	/* top-k */
		{ 0, 0.69f, 0, 2 }, { 0, 0.8f, 0, 3 }, { 0, 0.96f, 0, 5 }, { 0, 0.0f, 0, 1 },	/* top-p */
		{ 0, 1, 0.25f, 3 }, { 0, 1, 0.35f, 2 }, { 0, 1, 0.09f, 5 }, { 0, 1, 1.0f, 1 },	/* min-p */
		{ 3, 0.69f, 0, 2 }, { 0, 0.8f, 0.35f, 2 }, { 4, 0.96f, 0.25f, 3 },	/* chains */
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		g4_sampler_params p = off();
		p.top_k = c[i].k;
		p.top_p = c[i].p;
		p.min_p = c[i].m;
		g4_sampler *s = g4_sampler_new(&p, 5);
		size_t n = g4_sampler_candidates(s, l, NULL, 0, ids, pr);
		CHECK(n == c[i].want, "case %zu (k %d p %g m %g): kept %zu, wanted %zu", i, c[i].k, c[i].p, c[i].m,
		      n, c[i].want);
		int prefix = 1;
		float sum = 0;
		for (size_t j = 0; j < n; j++) {
			prefix &= ids[j] == (int32_t)j;
			sum += pr[j];
		}
		CHECK(prefix, "case %zu: not the most probable tokens in order", i);
		CHECK(fabsf(sum - 1) < 1e-5f, "case %zu: probabilities sum to %g", i, sum);
		/* renormalised over the kept set */
		if (n == 2)
			CHECK(fabsf(pr[0] - 0.5f / 0.7f) < 1e-5f, "case %zu: p0 %g", i, pr[0]);
		g4_sampler_free(s);
	}
	/* temperature changes the probabilities, not the kept set (filters run first) */
	g4_sampler_params p = off();
	p.top_p = 0.8f;
	p.temp = 0.5f;
	g4_sampler *s = g4_sampler_new(&p, 5);
	size_t n = g4_sampler_candidates(s, l, NULL, 0, ids, pr);
	float z = 0.25f + 0.04f + 0.0225f;
	CHECK(n == 3 && fabsf(pr[0] - 0.25f / z) < 1e-5f && fabsf(pr[2] - 0.0225f / z) < 1e-5f,
	      "temp 0.5 after top-p: n %zu p0 %g", n, pr[0]);
	g4_sampler_free(s);
}

/* Brute force: sort everything, float softmax, cumulative sum. */
static int cmp_desc(const void *x, const void *y)
{
	const float *a = x, *b = y;	/* pairs (logit, id) */
	if (a[0] != b[0])
		return a[0] > b[0] ? -1 : 1;
	return a[1] < b[1] ? -1 : a[1] > b[1];
}

static size_t ref_top_p(const float *l, size_t n, float p, int32_t *ids)
{
	float (*v)[2] = malloc(n * sizeof *v);
	float mx = -INFINITY, z = 0;
	for (size_t i = 0; i < n; i++) {
		v[i][0] = l[i];
		v[i][1] = (float)i;
		mx = l[i] > mx ? l[i] : mx;
	}
	for (size_t i = 0; i < n; i++)
		z += expf(l[i] - mx);
	qsort(v, n, sizeof *v, cmp_desc);
	float cum = 0;
	size_t k = n;
	for (size_t i = 0; i < n; i++) {
		cum += expf(v[i][0] - mx) / z;
		if (cum >= p) {
			k = i + 1;
			break;
		}
	}
	for (size_t i = 0; i < k; i++)
		ids[i] = (int32_t)v[i][1];
	free(v);
	return k;
}

static void test_top_p_large(void)
{
	enum { N = 60000 };
	static float l[N];
	static int32_t ids[N], want[N];
	static float pr[N];
	g4_rng r;
	g4_rng_seed(&r, 3);
	for (int shape = 0; shape < 3; shape++) {
		for (int i = 0; i < N; i++) {
			double u = g4_rng_uniform(&r);
			if (shape == 0)	/* peaked: the fast path */
				l[i] = (float)(u * u * 30 - 25);
			else if (shape == 1)	/* one token on top, the rest below the 16-nat cut: full sort */
				l[i] = i == 17 ? 0.0f : -16.5f - (float)(i % 3) * 0.01f;
			else	/* flat with ties */
				l[i] = (float)(int)(u * 8);
		}
		float tp = shape == 1 ? 0.995f : 0.9f;
		g4_sampler_params p = off();
		p.top_p = tp;
		g4_sampler *s = g4_sampler_new(&p, N);
		size_t n = g4_sampler_candidates(s, l, NULL, 0, ids, pr);
		size_t k = ref_top_p(l, N, tp, want);
		CHECK(n == k, "shape %d: kept %zu, reference %zu", shape, n, k);
		CHECK(shape != 1 || (k > 1 && k < N), "shape 1 keeps %zu: not the full-sort path", k);
		int same = n == k;
		for (size_t i = 0; same && i < n; i++)
			same = ids[i] == want[i];
		CHECK(same, "shape %d: kept set differs from the reference", shape);
		g4_sampler_free(s);
	}
	/* top-k on a large row: the k largest */
	g4_sampler_params p = off();
	p.top_k = 40;
	g4_sampler *s = g4_sampler_new(&p, N);
	size_t n = g4_sampler_candidates(s, l, NULL, 0, ids, pr);
	size_t k = ref_top_p(l, N, 2.0f, want);	/* full order */
	CHECK(n == 40 && k == N, "top-k 40: %zu", n);
	int same = 1;
	for (size_t i = 0; i < 40 && i < n; i++)
		same &= ids[i] == want[i];
	CHECK(same, "top-k 40: not the 40 largest (ties to lower ids)");
	g4_sampler_free(s);
}

static void test_penalties(void)
{
	float l[5] = { 2.0f, -2.0f, 1.0f, 0.5f, 0.0f };
	int32_t hist[] = { 4, 4, 0, 1, 0, -1, 999 };	/* -1: an embedding row, 999: outside */
	g4_sampler_params p = off();
	p.repeat_penalty = 2.0f;
	p.freq_penalty = 0.1f;
	p.presence_penalty = 0.5f;
	p.penalty_last_n = 5;	/* sees 0 1 0 -1 999 */
	int32_t ids[5];
	float pr[5];
	g4_sampler *s = g4_sampler_new(&p, 5);
	size_t n = g4_sampler_candidates(s, l, hist, 7, ids, pr);
	/* 0: 2/2 - (2*0.1 + 0.5) = 0.3;  1: -2*2 - 0.6 = -4.6;  2: 1;  3: 0.5;  4: 0 (outside the window) */
	float want[5] = { 0.3f, -4.6f, 1.0f, 0.5f, 0.0f }, z = 0;
	for (int i = 0; i < 5; i++)
		z += expf(want[i]);
	CHECK(n == 5, "n %zu", n);
	for (size_t i = 0; i < n; i++)
		CHECK(fabsf(pr[i] - expf(want[ids[i]]) / z) < 1e-5f, "token %d: p %g, wanted %g", ids[i], pr[i],
		      expf(want[ids[i]]) / z);
	CHECK(n == 5 && ids[0] == 2 && ids[1] == 3 && ids[2] == 0 && ids[3] == 4 && ids[4] == 1, "order");
	g4_sampler_free(s);
	/* greedy sees the penalties; the caller's logits are not modified */
	p.temp = 0;
	s = g4_sampler_new(&p, 5);
	CHECK(g4_sampler_sample(s, l, hist, 7) == 2, "greedy after penalties");
	CHECK(l[0] == 2.0f && l[1] == -2.0f, "logits modified");
	p.penalty_last_n = 0;
	g4_sampler_free(s);
	s = g4_sampler_new(&p, 5);
	CHECK(g4_sampler_sample(s, l, hist, 7) == 0, "last-n 0: no penalty");
	g4_sampler_free(s);
	p.penalty_last_n = -1;	/* whole history: token 4 is penalised too */
	p.repeat_penalty = 1.0f;
	p.freq_penalty = 0;
	p.presence_penalty = 3.0f;
	s = g4_sampler_new(&p, 5);
	CHECK(g4_sampler_sample(s, l, hist, 7) == 2, "presence penalty over the whole history");
	/* repeated calls give the same answer (counts are cleared) */
	CHECK(g4_sampler_sample(s, l, hist, 7) == 2, "second call");
	g4_sampler_free(s);
}

static void test_params(void)
{
	g4_sampler_params p = off();
	p.temp = NAN;
	CHECK(!g4_sampler_new(&p, 10), "NaN temp");
	p = off();
	p.min_p = 1.5f;
	CHECK(!g4_sampler_new(&p, 10), "min-p > 1");
	p = off();
	p.repeat_penalty = 0;
	CHECK(!g4_sampler_new(&p, 10), "repeat penalty 0");
	p = off();
	CHECK(!g4_sampler_new(&p, 0), "empty vocabulary");
	g4_sampler_defaults(&p);
	CHECK(p.temp == 0.8f && p.top_k == 40 && p.top_p == 0.95f && p.min_p == 0.05f &&
	      p.repeat_penalty == 1.0f && p.penalty_last_n == 64, "llama.cpp defaults");
}

/* Chi-square of n draws against the expected probabilities. */
static double chi2(g4_sampler *s, const float *l, int nv, const double *expect, int n, int *outside)
{
	int cnt[16] = { 0 };
	*outside = 0;
	for (int i = 0; i < n; i++) {
		int32_t t = g4_sampler_sample(s, l, NULL, 0);
		if (t < 0 || t >= nv || expect[t] == 0)
			(*outside)++;
		else
			cnt[t]++;
	}
	double x = 0;
	for (int i = 0; i < nv; i++)
		if (expect[i] > 0)
			x += (cnt[i] - n * expect[i]) * (cnt[i] - n * expect[i]) / (n * expect[i]);
	return x;
}

static void test_frequencies(void)
{
	float l[8] = { 1.0f, 2.5f, 0.2f, -1.0f, 2.0f, 0.0f, -3.0f, 1.5f };
	double e[8], z = 0;
	const int N = 200000;
	/* temperature 0.7, no filters: 7 degrees of freedom; 99.99% quantile 29.9 */
	g4_sampler_params p = off();
	p.temp = 0.7f;
	p.seed = 1234;
	for (int i = 0; i < 8; i++)
		z += e[i] = exp(l[i] / 0.7);
	for (int i = 0; i < 8; i++)
		e[i] /= z;
	g4_sampler *s = g4_sampler_new(&p, 8);
	int out;
	double x = chi2(s, l, 8, e, N, &out);
	CHECK(x < 29.9 && out == 0, "temp 0.7: chi2 %g (7 dof), %d outside", x, out);
	g4_sampler_free(s);
	/* top-k 3 then temperature 1.3: only 1, 4, 7, renormalised (2 dof; 99.99%: 18.4) */
	p.temp = 1.3f;
	p.top_k = 3;
	memset(e, 0, sizeof e);
	z = exp(2.5 / 1.3) + exp(2.0 / 1.3) + exp(1.5 / 1.3);
	e[1] = exp(2.5 / 1.3) / z;
	e[4] = exp(2.0 / 1.3) / z;
	e[7] = exp(1.5 / 1.3) / z;
	s = g4_sampler_new(&p, 8);
	x = chi2(s, l, 8, e, N, &out);
	CHECK(x < 18.4 && out == 0, "top-k 3, temp 1.3: chi2 %g (2 dof), %d outside", x, out);
	g4_sampler_free(s);
	/* a wrong distribution is rejected by the same bound (the test can fail) */
	p.top_k = 0;
	p.temp = 1.0f;
	for (int i = 0; i < 8; i++)
		e[i] = 1.0 / 8;
	s = g4_sampler_new(&p, 8);
	x = chi2(s, l, 8, e, 20000, &out);
	CHECK(x > 29.9, "uniform expectation not rejected: chi2 %g", x);
	g4_sampler_free(s);
}

static void test_seed(void)
{
	float l[50];
	for (int i = 0; i < 50; i++)
		l[i] = (float)((i * 37) % 11) * 0.3f;
	g4_sampler_params p = off();
	p.seed = 99;
	int32_t a[100], b[100], c[100];
	g4_sampler *s = g4_sampler_new(&p, 50);
	for (int i = 0; i < 100; i++)
		a[i] = g4_sampler_sample(s, l, a, (size_t)i);
	g4_sampler_free(s);
	s = g4_sampler_new(&p, 50);
	for (int i = 0; i < 100; i++)
		b[i] = g4_sampler_sample(s, l, b, (size_t)i);
	g4_sampler_free(s);
	p.seed = 100;
	s = g4_sampler_new(&p, 50);
	for (int i = 0; i < 100; i++)
		c[i] = g4_sampler_sample(s, l, c, (size_t)i);
	g4_sampler_free(s);
	CHECK(!memcmp(a, b, sizeof a), "same seed, different tokens");
	CHECK(memcmp(a, c, sizeof a), "another seed, same tokens");
}

int main(void)
{
	RUN(test_rng);
	RUN(test_greedy);
	RUN(test_kept_sets);
	RUN(test_top_p_large);
	RUN(test_penalties);
	RUN(test_params);
	RUN(test_frequencies);
	RUN(test_seed);
	return t_done();
}
