/* test_actfn.c - the vectorised GELU gating and soft-cap (actfn.h): close
 * to the double-precision formulas, and every SIMD path gives the bits of
 * the portable one (odd lengths, aliasing, extreme and special values). */
#include <math.h>
#include <stdint.h>

#include "t.h"
#include "actfn.h"
#include "vecdot.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frnd(float scale)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return scale * ((float)(rng >> 40) / 8388608.0f - 1.0f);
}

/* 0.5 x (1 + tanh u) in its cancellation-free form x / (1 + e^-2u) */
static double gelu_ref(double x)
{
	return x / (1.0 + exp(-2.0 * 0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

static void test_accuracy(void)
{
	g4_isa_set(G4_ISA_PORTABLE);
	double worst = 0, worst_cap = 0;
	for (int i = 0; i < 200000; i++) {
		float x = frnd(i % 3 == 0 ? 12.0f : i % 3 == 1 ? 1.0f : 0.01f);
		double r = gelu_ref(x), g = g4_gelu1(x);
		/* relative, absolute near 0 (in the far negative tail the float
		 * rounding of u alone moves e^-2u by a few 1e-6 relative) */
		double err = fabs(g - r) / (fabs(r) + 1e-6);
		if (err > worst)
			worst = err;
		float y = frnd(200.0f);
		double rc = 30.0 * tanh((double)y / 30.0), e2 = fabs(g4_softcap1(y, 30.0f) - rc);
		if (e2 > worst_cap)
			worst_cap = e2;
	}
	CHECK(worst < 2e-6, "gelu relative error %.3g", worst);
	CHECK(worst_cap < 4e-6, "soft-cap absolute error %.3g", worst_cap);
	double worst_exp = 0;
	for (int i = 0; i < 100000; i++) {
		float y = frnd(80.0f);
		double r = exp((double)y), e = fabs(g4_exp1(y) - r) / r;
		if (e > worst_exp)
			worst_exp = e;
	}
	CHECK(worst_exp < 3e-7, "exp relative error %.3g", worst_exp);
	CHECK(fabsf(g4_gelu1(-100.0f)) < 1e-30f && g4_gelu1(100.0f) == 100.0f && g4_gelu1(0.0f) == 0.0f, "limits");
	CHECK(g4_softcap1(1e6f, 30.0f) == 30.0f && g4_softcap1(-1e6f, 30.0f) == -30.0f, "cap limits");
	g4_isa_set(G4_ISA_BEST);
}

static void test_paths_bitwise(void)
{
	enum { N = 1000 };
	static float g[N], u[N], want[N], got[N], cw[N], cg[N];
	for (int i = 0; i < N; i++) {
		g[i] = frnd(i % 2 ? 20.0f : 0.5f);
		u[i] = frnd(3.0f);
	}
	g[0] = 0.0f; g[1] = -0.0f; g[2] = 1e-40f; g[3] = -88.5f; g[4] = 3e38f; g[5] = -3e38f;
	g[6] = INFINITY; g[7] = -INFINITY;
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa))
			continue;
		for (int n = 1; n <= N; n += n < 40 ? 1 : 137) {
			g4_isa_set(G4_ISA_PORTABLE);
			g4_gelu_mul(want, g, u, n);
			memcpy(cw, g, sizeof cw);
			g4_softcap(cw, n, 30.0f);
			g4_isa_set(isa);
			memcpy(got, g, sizeof got);
			g4_gelu_mul(got, got, u, n);	/* aliasing out == gate */
			memcpy(cg, g, sizeof cg);
			g4_softcap(cg, n, 30.0f);
			CHECK(!memcmp(want, got, (size_t)n * 4), "%s gelu n=%d differs", g4_isa_name(isa), n);
			CHECK(!memcmp(cw, cg, (size_t)n * 4), "%s softcap n=%d differs", g4_isa_name(isa), n);
			g4_isa_set(G4_ISA_PORTABLE);
			memcpy(cw, g, sizeof cw);
			g4_exp_shift(cw, n, 1.5f);
			memcpy(want, u, sizeof want);
			g4_axpy(n, -0.37f, g, want);
			g4_isa_set(isa);
			memcpy(cg, g, sizeof cg);
			g4_exp_shift(cg, n, 1.5f);
			memcpy(got, u, sizeof got);
			g4_axpy(n, -0.37f, g, got);
			CHECK(!memcmp(cw, cg, (size_t)n * 4), "%s exp_shift n=%d differs", g4_isa_name(isa), n);
			CHECK(!memcmp(want, got, (size_t)n * 4), "%s axpy n=%d differs", g4_isa_name(isa), n);
		}
	}
	g4_isa_set(G4_ISA_BEST);
}

int main(void)
{
	RUN(test_accuracy);
	RUN(test_paths_bitwise);
	return t_done();
}
