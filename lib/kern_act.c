/* kern_act.c - AVX2 and AVX-512 versions of the elementwise functions of
 * actfn.h: the same float operations as the scalar g4_exp_core, g4_gelu1
 * and g4_softcap1, in the same order, so the same bits. */
#include "kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "actfn.h"
#include "qtypes.h"
#include "quantize.h"

#define T2 __attribute__((target("avx2,fma")))
#define T2I static inline __attribute__((target("avx2,fma"), always_inline))
#define T5 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define T5I static inline __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"), always_inline))

/* gelu_mul, softcap, exp_shift, axpy: one source for both widths */
#define VW 8
#define V __m256
#define VI __m256i
#define VOP(op) _mm256_##op
#define VCAST_PS _mm256_castsi256_ps
#define VNAME(f) f##_avx2
#define VT T2
#define VTI T2I
#include "kern_act_w.inc"

#define VW 16
#define V __m512
#define VI __m512i
#define VOP(op) _mm512_##op
#define VCAST_PS _mm512_castsi512_ps
#define VNAME(f) f##_avx512
#define VT T5
#define VTI T5I
#include "kern_act_w.inc"

/* Q8_0 activation blocks with the reference quantiser's bits (quantize.c
 * q8_x): d = amax/127, id = 1/d, q = round half away from zero of x*id
 * (|x*id| <= 127, so trunc plus a correction of the exact remainder),
 * 0 where that is not a number; d stored as f16 */
T5 void g4_quant_q8_0_avx512(const float *x, uint8_t *y, int64_t n)
{
	const __m512 half = _mm512_set1_ps(0.5f), mhalf = _mm512_set1_ps(-0.5f), one = _mm512_set1_ps(1.0f);
	const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(128.0f);
	for (int64_t b = 0; b < n / 32; b++, x += 32, y += 34) {
		__m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
		if (_mm512_cmp_ps_mask(x0, x0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(x1, x1, _CMP_UNORD_Q)) {
			/* a NaN: the reference's running max restarts after it */
			g4_quantize_row(G4_Q8_0, x, y, 32, NULL);
			continue;
		}
		float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
		float d = amax / 127, id = d != 0 ? 1.0f / d : 0.0f;
		__m512 iv = _mm512_set1_ps(id);
		__m128i q[2];
		for (int h = 0; h < 2; h++) {
			__m512 v = _mm512_mul_ps(h ? x1 : x0, iv);
			__m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
			__m512 r = _mm512_sub_ps(v, t);
			t = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(r, half, _CMP_GE_OQ), t, one);
			t = _mm512_mask_sub_ps(t, _mm512_cmp_ps_mask(r, mhalf, _CMP_LE_OQ), t, one);
			__mmask16 ok = _mm512_cmp_ps_mask(v, lo, _CMP_GT_OQ) & _mm512_cmp_ps_mask(v, hi, _CMP_LT_OQ);
			q[h] = _mm512_cvtepi32_epi8(_mm512_maskz_cvttps_epi32(ok, t));
		}
		uint16_t h16 = g4_f32_to_f16(d);
		memcpy(y, &h16, 2);
		_mm_storeu_si128((__m128i *)(y + 2), q[0]);
		_mm_storeu_si128((__m128i *)(y + 18), q[1]);
	}
}

/* Q8_K activation blocks with the reference quantiser's bits (quantize.c
 * q8_K): max = the first value of the largest magnitude, iscale =
 * -127/max, q = min(127, round half to even of iscale*x), the 16 sums of
 * 16, d = 1/iscale as f32; an all-zero block all zeros.  A block with a
 * NaN or an infinity, or whose iscale overflows, goes to the reference
 * (its integer conversions of such values are its own).  E2B Q4_K_M
 * prefill 176 -> 193 tok/s over the scalar loop. */
T5 void g4_quant_q8_K_avx512(const float *x, uint8_t *y, int64_t n)
{
	for (int64_t b = 0; b < n / 256; b++, x += 256, y += 292) {
		__m512 am = _mm512_setzero_ps();
		__mmask16 bad = 0;
		for (int i = 0; i < 16; i++) {
			const __m512 v = _mm512_loadu_ps(x + 16 * i);
			bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
			am = _mm512_max_ps(am, _mm512_abs_ps(v));
		}
		const float amax = _mm512_reduce_max_ps(am);
		if (bad || amax == INFINITY) {
			g4_quantize_row(G4_Q8_K, x, y, 256, NULL);
			continue;
		}
		if (amax == 0) {
			memset(y, 0, 292);
			continue;
		}
		int first = 0;
		for (int i = 0; i < 16; i++) {
			const __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * i)), _mm512_set1_ps(amax),
							       _CMP_EQ_OQ);
			if (m) {
				first = 16 * i + __builtin_ctz(m);
				break;
			}
		}
		const float iscale = -127.0f / x[first];
		if (!(iscale > -INFINITY && iscale < INFINITY)) {
			g4_quantize_row(G4_Q8_K, x, y, 256, NULL);
			continue;
		}
		const __m512 is = _mm512_set1_ps(iscale);
		for (int i = 0; i < 16; i++) {
			const __m512 v = _mm512_mul_ps(is, _mm512_loadu_ps(x + 16 * i));
			const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT |
											  _MM_FROUND_NO_EXC)),
							   _mm512_set1_epi32(127));
			_mm_storeu_si128((__m128i *)(y + 4 + 16 * i), _mm512_cvtepi32_epi8(q));
			const int16_t s = (int16_t)_mm512_reduce_add_epi32(q);
			memcpy(y + 260 + 2 * i, &s, 2);
		}
		const float d = 1 / iscale;
		memcpy(y, &d, 4);
	}
}

__attribute__((target("avx2,f16c"))) void g4_half_to_f32_avx(int bf, const uint8_t *src, float *dst, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm_loadu_si128((const __m128i *)(src + 2 * i));
		__m256 f = bf ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
		_mm256_storeu_ps(dst + i, f);
	}
	for (; i < n; i++) {
		uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
		dst[i] = bf ? g4_bf16_to_f32(h) : g4_f16_to_f32(h);
	}
}

/* 16 values of a value row from element i (mask: the valid ones) */
T5I __m512 row16(uint32_t type, const void *row, int64_t i, __mmask16 k)
{
	const uint8_t *b = row;
	switch (type) {
	case G4_F16:
		return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, b + 2 * i));
	case G4_BF16:
		return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, b + 2 * i)), 16));
	default:
		return _mm512_maskz_loadu_ps(k, (const float *)row + i);
	}
}

/* Up to 8 heads x 32 values (a cache line of f16/bf16 values) in
 * registers over all rows, the rows PF ahead asked from memory: the rows
 * are apart (one per position) and the cache is not in L3 by the time the
 * weights of a token have streamed through it.  Per lane the order of the
 * portable loop.  E2B decode after a 512-token prompt: the weighted sums
 * took 2.4 ms a token with 16 values a pass and no prefetch, 0.84 now
 * (4 rows ahead: 1.1; 16 or 32: no better); Q4_0 decode 37 -> 40 tok/s. */
enum { WS_PF = 8 };
T5I void wsum32(uint32_t type, int nh, int64_t nk, const float *p, int64_t pstride, const void *const *rows,
		int64_t i, __mmask16 k0, __mmask16 k1, float *o, int64_t ostride)
{
	const size_t es = type == G4_F32 ? 4 : 2;
	__m512 acc[8][2];
	for (int n = 0; n < nh; n++)
		acc[n][0] = acc[n][1] = _mm512_setzero_ps();
	for (int64_t j = 0; j < nk; j++) {
		if (j + WS_PF < nk) {
			const char *f = (const char *)rows[j + WS_PF] + (size_t)i * es;
			_mm_prefetch(f, _MM_HINT_T0);
			if (es == 4)
				_mm_prefetch(f + 64, _MM_HINT_T0);
		}
		const __m512 v0 = row16(type, rows[j], i, k0), v1 = row16(type, rows[j], i + 16, k1);
		_Pragma("GCC unroll 8")
		for (int n = 0; n < nh; n++) {
			const __m512 pn = _mm512_set1_ps(p[n * pstride + j]);
			acc[n][0] = _mm512_add_ps(acc[n][0], _mm512_mul_ps(pn, v0));
			acc[n][1] = _mm512_add_ps(acc[n][1], _mm512_mul_ps(pn, v1));
		}
	}
	for (int n = 0; n < nh; n++) {
		_mm512_mask_storeu_ps(o + n * ostride, k0, acc[n][0]);
		_mm512_mask_storeu_ps(o + n * ostride + 16, k1, acc[n][1]);
	}
}

static __mmask16 lanes(int64_t left)
{
	return left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

T5 void g4_wsum_rows_avx512(uint32_t type, int nh, int64_t nk, int64_t dn, const float *p, int64_t pstride,
			    const void *const *rows, int64_t off, float *o, int64_t ostride)
{
	for (int n0 = 0; n0 < nh; n0 += 8) {
		int h = nh - n0 < 8 ? nh - n0 : 8;
		for (int64_t d = 0; d < dn; d += 32) {
			const __mmask16 k0 = lanes(dn - d), k1 = lanes(dn - d - 16);
			const float *pn = p + n0 * pstride;
			float *on = o + n0 * ostride + d;
			switch (h) {	/* constant head counts: accumulators in registers */
			case 8: wsum32(type, 8, nk, pn, pstride, rows, off + d, k0, k1, on, ostride); break;
			case 4: wsum32(type, 4, nk, pn, pstride, rows, off + d, k0, k1, on, ostride); break;
			case 2: wsum32(type, 2, nk, pn, pstride, rows, off + d, k0, k1, on, ostride); break;
			case 1: wsum32(type, 1, nk, pn, pstride, rows, off + d, k0, k1, on, ostride); break;
			default: wsum32(type, h, nk, pn, pstride, rows, off + d, k0, k1, on, ostride); break;
			}
		}
	}
}

#else	/* not x86: never called (g4_isa() is portable) */

void g4_gelu_mul_avx2(float *out, const float *gate, const float *up, int64_t n) { (void)out; (void)gate; (void)up; (void)n; }
void g4_gelu_mul_avx512(float *out, const float *gate, const float *up, int64_t n) { (void)out; (void)gate; (void)up; (void)n; }
void g4_softcap_avx2(float *x, int64_t n, float c) { (void)x; (void)n; (void)c; }
void g4_softcap_avx512(float *x, int64_t n, float c) { (void)x; (void)n; (void)c; }
void g4_exp_shift_avx2(float *x, int64_t n, float m) { (void)x; (void)n; (void)m; }
void g4_exp_shift_avx512(float *x, int64_t n, float m) { (void)x; (void)n; (void)m; }
void g4_axpy_avx2(int64_t n, float a, const float *x, float *y) { (void)n; (void)a; (void)x; (void)y; }
void g4_axpy_avx512(int64_t n, float a, const float *x, float *y) { (void)n; (void)a; (void)x; (void)y; }
void g4_quant_q8_0_avx512(const float *x, uint8_t *y, int64_t n) { (void)x; (void)y; (void)n; }
void g4_quant_q8_K_avx512(const float *x, uint8_t *y, int64_t n) { (void)x; (void)y; (void)n; }
void g4_half_to_f32_avx(int bf, const uint8_t *src, float *dst, int64_t n) { (void)bf; (void)src; (void)dst; (void)n; }
void g4_wsum_rows_avx512(uint32_t type, int nh, int64_t nk, int64_t dn, const float *p, int64_t pstride,
			 const void *const *rows, int64_t off, float *o, int64_t ostride)
{ (void)type; (void)nh; (void)nk; (void)dn; (void)p; (void)pstride; (void)rows; (void)off; (void)o; (void)ostride; }

#endif
