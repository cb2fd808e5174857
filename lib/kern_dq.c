/* kern_dq.c - AVX-512 dequantisation of whole rows for the types most
 * models are made of (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K): the exact f32 values
 * of dequant.c's loops, computed with the same operations in the same
 * order (int -> float conversions are exact; each product and difference
 * is the one dequant.c rounds), so the same bits.  g4_dequant_row uses
 * them on the AVX-512 path; the exact-activation matmul dequantises every
 * weight row it multiplies, so this is its inner loop. */
#include "kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "qblock.h"

#define T5 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define T5I static inline __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"), always_inline))

/* 16 unsigned bytes to floats */
T5I __m512 u8f(__m128i v)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
}

T5 static void q4_0(const uint8_t *b, float *y, int64_t nb)
{
	const __m128i m = _mm_set1_epi8(15), e8 = _mm_set1_epi8(8);
	for (int64_t i = 0; i < nb; i++, b += 18, y += 32) {
		__m512 d = _mm512_set1_ps(g4_h2f(b));
		__m128i q = _mm_loadu_si128((const __m128i *)(b + 2));
		__m128i lo = _mm_sub_epi8(_mm_and_si128(q, m), e8), hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m), e8);
		_mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), d));
		_mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), d));
	}
}

T5 static void q8_0(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 34, y += 32) {
		__m512 d = _mm512_set1_ps(g4_h2f(b));
		for (int h = 0; h < 2; h++) {
			__m128i q = _mm_loadu_si128((const __m128i *)(b + 2 + 16 * h));
			_mm512_storeu_ps(y + 16 * h, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d));
		}
	}
}

/* Q4_K (five = 0) and Q5_K: d1 * q - m1 per 32-value sub-block */
T5 static void q45_K(int five, const uint8_t *b, float *y, int64_t nb)
{
	const __m128i m = _mm_set1_epi8(15), one = _mm_set1_epi8(1);
	const size_t bytes = five ? 176 : 144;
	for (int64_t i = 0; i < nb; i++, b += bytes) {
		float d = g4_h2f(b), dmin = g4_h2f(b + 2);
		const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
		for (int j = 0; j < 8; j++, y += 32) {
			int s, mn;
			g4_k4_scale_min(sc, j, &s, &mn);
			__m512 d1 = _mm512_set1_ps(d * (float)s), m1 = _mm512_set1_ps(dmin * (float)mn);
			const uint8_t *q = qs + 32 * (j / 2);
			for (int h = 0; h < 2; h++) {
				__m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * h));
				v = _mm_and_si128(j & 1 ? _mm_srli_epi16(v, 4) : v, m);
				if (five) {
					__m128i hb = _mm_loadu_si128((const __m128i *)(qh + 16 * h));
					hb = _mm_and_si128(_mm_srl_epi16(hb, _mm_cvtsi32_si128(j)), one);
					v = _mm_or_si128(v, _mm_slli_epi16(hb, 4));
				}
				_mm512_storeu_ps(y + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d1, u8f(v)), m1));
			}
		}
	}
}

/* Q6_K: (d * sc) * (q - 32), 64 values at a time: for half h of the
 * block, the 64 low-nibble bytes give values 0..63 (their low nibbles)
 * and 64..127 (their high nibbles), the 32 high-bit bytes two bits each;
 * then 16 values a scale.  10 -> 24 G values/s on one core over 16 at a
 * time with an index computed per value. */
T5I void q6_16(const __m512i q, int k, float ds, float *y)
{
	__m128i v = _mm512_extracti32x4_epi32(q, 0);
	switch (k) {	/* the lane index must be a constant */
	case 1: v = _mm512_extracti32x4_epi32(q, 1); break;
	case 2: v = _mm512_extracti32x4_epi32(q, 2); break;
	case 3: v = _mm512_extracti32x4_epi32(q, 3); break;
	}
	_mm512_storeu_ps(y, _mm512_mul_ps(_mm512_set1_ps(ds), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v))));
}

T5 static void q6_K(const uint8_t *b, float *y, int64_t nb)
{
	const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3), e32 = _mm512_set1_epi8(32);
	for (int64_t i = 0; i < nb; i++, b += 210) {
		const int8_t *sc = (const int8_t *)(b + 192);
		const float d = g4_h2f(b + 208);
		for (int h = 0; h < 2; h++, y += 128) {
			const __m512i l = _mm512_loadu_si512(b + 64 * h);
			const __m256i hb = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
			/* high bits of values 0..63 (shifts 0, 2) and 64..127 (4, 6) */
			const __m512i h01 = _mm512_inserti64x4(_mm512_castsi256_si512(hb), _mm256_srli_epi16(hb, 2), 1);
			const __m512i h0 = _mm512_and_si512(h01, m2), h1 = _mm512_and_si512(_mm512_srli_epi16(h01, 4), m2);
			const __m512i q0 = _mm512_sub_epi8(_mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(h0, 4)), e32);
			const __m512i q1 = _mm512_sub_epi8(
				_mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_slli_epi16(h1, 4)), e32);
			_Pragma("GCC unroll 4")
			for (int k = 0; k < 4; k++) {
				q6_16(q0, k, d * (float)sc[8 * h + k], y + 16 * k);
				q6_16(q1, k, d * (float)sc[8 * h + 4 + k], y + 64 + 16 * k);
			}
		}
	}
}

int g4_dequant_avx512(uint32_t t, const uint8_t *b, float *y, int64_t nb)
{
	switch (t) {
	case G4_Q4_0: q4_0(b, y, nb); return 1;
	case G4_Q8_0: q8_0(b, y, nb); return 1;
	case G4_Q4_K: q45_K(0, b, y, nb); return 1;
	case G4_Q5_K: q45_K(1, b, y, nb); return 1;
	case G4_Q6_K: q6_K(b, y, nb); return 1;
	default: return 0;
	}
}

#else	/* not x86 */

int g4_dequant_avx512(uint32_t t, const uint8_t *b, float *y, int64_t nb)
{
	(void)t; (void)b; (void)y; (void)nb;
	return 0;
}

#endif
