/* actfn.c - portable elementwise functions and the choice of the SIMD ones
 * (see actfn.h; the SIMD versions are in kern_act.c). */
#include <math.h>
#include <string.h>

#include "actfn.h"
#include "qtypes.h"
#include "kern.h"
#include "vecdot.h"

float g4_exp_core(float y)
{
	y = fminf(fmaxf(y, G4_EXP_LO), G4_EXP_HI);
	float k = (y * G4_LOG2E + G4_RINT_MAGIC) - G4_RINT_MAGIC;
	float r = fmaf(k, -G4_LN2_HI, y);
	r = fmaf(k, -G4_LN2_LO, r);
	float p = G4_EXP_C7;
	p = fmaf(p, r, G4_EXP_C6);
	p = fmaf(p, r, G4_EXP_C5);
	p = fmaf(p, r, G4_EXP_C4);
	p = fmaf(p, r, G4_EXP_C3);
	p = fmaf(p, r, G4_EXP_C2);
	p = fmaf(p, r, 1.0f);
	p = fmaf(p, r, 1.0f);
	uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
	float s;
	memcpy(&s, &bits, 4);
	return p * s;
}

float g4_exp1(float x)
{
	return g4_exp_core(x);
}

float g4_gelu1(float x)
{
	float u = x * fmaf(x * x, G4_GELU_K1, G4_GELU_K0);
	return x / (1.0f + g4_exp_core(-2.0f * u));
}

float g4_softcap1(float x, float c)
{
	float e = g4_exp_core(-2.0f * (x / c));
	return c * ((1.0f - e) / (1.0f + e));
}

void g4_gelu_mul(float *out, const float *gate, const float *up, int64_t n)
{
	int isa = g4_isa();
	if (isa >= G4_ISA_AVX512)
		g4_gelu_mul_avx512(out, gate, up, n);
	else if (isa >= G4_ISA_AVX2)
		g4_gelu_mul_avx2(out, gate, up, n);
	else
		for (int64_t i = 0; i < n; i++)
			out[i] = g4_gelu1(gate[i]) * up[i];
}

void g4_softcap(float *x, int64_t n, float c)
{
	int isa = g4_isa();
	if (isa >= G4_ISA_AVX512)
		g4_softcap_avx512(x, n, c);
	else if (isa >= G4_ISA_AVX2)
		g4_softcap_avx2(x, n, c);
	else
		for (int64_t i = 0; i < n; i++)
			x[i] = g4_softcap1(x[i], c);
}

void g4_exp_shift(float *x, int64_t n, float m)
{
	int isa = g4_isa();
	if (isa >= G4_ISA_AVX512)
		g4_exp_shift_avx512(x, n, m);
	else if (isa >= G4_ISA_AVX2)
		g4_exp_shift_avx2(x, n, m);
	else
		for (int64_t i = 0; i < n; i++)
			x[i] = g4_exp_core(x[i] - m);
}

void g4_axpy(int64_t n, float a, const float *x, float *y)
{
	int isa = g4_isa();
	if (isa >= G4_ISA_AVX512)
		g4_axpy_avx512(n, a, x, y);
	else if (isa >= G4_ISA_AVX2)
		g4_axpy_avx2(n, a, x, y);
	else
		for (int64_t i = 0; i < n; i++)
			y[i] = y[i] + a * x[i];
}

void g4_wsum_rows(uint32_t type, int nh, int64_t nk, int64_t dn, const float *p, int64_t pstride,
		  const void *const *rows, int64_t off, float *o, int64_t ostride)
{
	int isa = g4_isa();
	if (isa >= G4_ISA_AVX512) {
		g4_wsum_rows_avx512(type, nh, nk, dn, p, pstride, rows, off, o, ostride);
		return;
	}
	for (int n = 0; n < nh; n++)
		for (int64_t d = 0; d < dn; d++)
			o[n * ostride + d] = 0.0f;
	const size_t es = type == G4_F32 ? 4 : 2;
	for (int64_t j = 0; j < nk; j++)
		for (int64_t d0 = 0; d0 < dn; d0 += 64) {
			float v[64];	/* exact conversions */
			const int64_t m = dn - d0 < 64 ? dn - d0 : 64;
			g4_dequant_row(type, (const uint8_t *)rows[j] + (size_t)(off + d0) * es, v, m);
			for (int n = 0; n < nh; n++) {
				const float a = p[n * pstride + j];
				float *on = o + n * ostride + d0;
				for (int64_t d = 0; d < m; d++)
					on[d] = on[d] + a * v[d];
			}
		}
}
