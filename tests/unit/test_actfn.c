/* test_actfn.c - the vectorised GELU gating and soft-cap (actfn.h): close
 * to the double-precision formulas, and every SIMD path gives the bits of
 * the portable one (odd lengths, aliasing, extreme and special values). */
#include <math.h>
#include <stdint.h>

#include "t.h"
#include "actfn.h"
#include "qtypes.h"
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

/* f16 and bf16 rows to f32 (g4_dequant_row): every bit pattern but NaNs,
 * the same on every path */
static void test_half_rows(void)
{
	static uint8_t src[2 * 65536 + 2];
	static float want[65536], got[65536];
	for (int bf = 0; bf < 2; bf++) {
		uint32_t t = bf ? G4_BF16 : G4_F16;
		int n = 0;
		for (uint32_t h = 0; h < 65536; h++) {
			int e = bf ? (h >> 7 & 0xFF) == 0xFF : (h >> 10 & 0x1F) == 0x1F;
			if (e && (bf ? h & 0x7F : h & 0x3FF))
				continue;	/* NaN payloads may differ */
			src[1 + 2 * n] = (uint8_t)h;
			src[2 + 2 * n] = (uint8_t)(h >> 8);
			n++;
		}
		g4_isa_set(G4_ISA_PORTABLE);
		g4_dequant_row(t, src + 1, want, n);
		for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
			if (!g4_isa_available(isa))
				continue;
			g4_isa_set(isa);
			for (int k = n - 9; k <= n; k++) {	/* tails */
				memset(got, 0, sizeof got);
				g4_dequant_row(t, src + 1, got, k);
				CHECK(!memcmp(want, got, (size_t)k * 4), "%s %s n=%d", g4_isa_name(isa), g4_type_name(t), k);
			}
		}
	}
	g4_isa_set(G4_ISA_BEST);
}

/* attention's weighted sum of value rows: every path, types, head counts
 * and widths, the bits of the portable loop */
static void test_wsum_rows(void)
{
	enum { NK = 37, D = 70 };
	static float pr[9 * NK], want[9 * 80], got[9 * 80];
	static uint8_t data[3][NK][D * 4];
	const void *rows[3][NK];
	for (int i = 0; i < 9 * NK; i++)
		pr[i] = frnd(1.0f);
	for (int k = 0; k < 3; k++)
		for (int j = 0; j < NK; j++) {
			for (int d = 0; d < D; d++) {
				float v = frnd(4.0f);
				uint16_t h = k == 1 ? g4_f32_to_f16(v) : g4_f32_to_bf16(v);
				if (k == 0)
					memcpy(&data[k][j][4 * d], &v, 4);
				else
					memcpy(&data[k][j][2 * d], &h, 2);
			}
			rows[k][j] = data[k][j];
		}
	const uint32_t types[3] = { G4_F32, G4_F16, G4_BF16 };
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa))
			continue;
		for (int k = 0; k < 3; k++)
			for (int nh = 1; nh <= 9; nh += 2)
				for (int dn = 1; dn <= D - 3; dn += 11) {
					g4_isa_set(G4_ISA_PORTABLE);
					g4_wsum_rows(types[k], nh, NK, dn, pr, NK, rows[k], 3, want, 80);
					g4_isa_set(isa);
					memset(got, 0xff, sizeof got);
					g4_wsum_rows(types[k], nh, NK, dn, pr, NK, rows[k], 3, got, 80);
					int bad = 0;
					for (int n = 0; n < nh; n++)
						bad |= memcmp(want + 80 * n, got + 80 * n, (size_t)dn * 4) != 0;
					CHECK(!bad, "%s %s heads %d width %d", g4_isa_name(isa), g4_type_name(types[k]), nh, dn);
				}
	}
	g4_isa_set(G4_ISA_BEST);
	/* and the portable sum is the axpy chain */
	float o[5] = { 0 }, r[5] = { 0 };
	g4_isa_set(G4_ISA_PORTABLE);
	g4_wsum_rows(G4_F32, 1, NK, 5, pr, NK, rows[0], 0, o, 5);
	for (int j = 0; j < NK; j++)
		g4_axpy(5, pr[j], (const float *)rows[0][j], r);
	CHECK(!memcmp(o, r, sizeof o), "wsum is not the axpy chain");
	g4_isa_set(G4_ISA_BEST);
}

/* whole-row dequantisation (g4_dequant_row) of every type with a SIMD
 * kernel: random block bytes (every scale and quant pattern), the values
 * of the portable loops on every path */
static void test_dequant_paths(void)
{
	static const uint32_t types[] = { G4_Q4_0, G4_Q4_1, G4_Q5_0, G4_Q5_1, G4_Q8_0, G4_IQ4_NL,
					  G4_Q2_K, G4_Q3_K, G4_Q4_K, G4_Q5_K, G4_Q6_K, G4_IQ4_XS };
	enum { NB = 24 };
	static uint8_t blocks[NB * 292 + 1];
	static float want[NB * 256], got[NB * 256];
	for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
		uint32_t t = types[k];
		int bs = g4_type_block(t);
		for (size_t i = 0; i < sizeof blocks; i++)
			blocks[i] = (uint8_t)(frnd(128.0f) + 128.0f);
		g4_isa_set(G4_ISA_PORTABLE);
		g4_dequant_row(t, blocks + 1, want, (int64_t)NB * bs);
		for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
			if (!g4_isa_available(isa))
				continue;
			g4_isa_set(isa);
			memset(got, 0, sizeof got);
			g4_dequant_row(t, blocks + 1, got, (int64_t)NB * bs);
			int bad = -1;
			for (int i = 0; i < NB * bs && bad < 0; i++)
				if (memcmp(&want[i], &got[i], 4) && !(isnan(want[i]) && isnan(got[i])))
					bad = i;
			CHECK(bad < 0, "%s %s value %d: %a vs %a", g4_isa_name(isa), g4_type_name(t), bad,
			      bad < 0 ? 0.0 : (double)got[bad], bad < 0 ? 0.0 : (double)want[bad]);
		}
	}
	g4_isa_set(G4_ISA_BEST);
}

int main(void)
{
	RUN(test_accuracy);
	RUN(test_paths_bitwise);
	RUN(test_half_rows);
	RUN(test_wsum_rows);
	RUN(test_dequant_paths);
	return t_done();
}
