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

/* Q6_K: (d * sc) * (q - 32) */
T5 static void q6_K(const uint8_t *b, float *y, int64_t nb)
{
	const __m128i m4 = _mm_set1_epi8(15), m2 = _mm_set1_epi8(3), e32 = _mm_set1_epi8(32);
	for (int64_t i = 0; i < nb; i++, b += 210) {
		const uint8_t *ql = b, *qh = b + 128;
		const int8_t *sc = (const int8_t *)(b + 192);
		float d = g4_h2f(b + 208);
		for (int e = 0; e < 256; e += 16, y += 16) {
			int h = e / 128, g = (e % 128) / 32, l = e % 32;
			__m128i lo = _mm_loadu_si128((const __m128i *)(ql + 64 * h + l + 32 * (g & 1)));
			lo = _mm_and_si128(g >> 1 ? _mm_srli_epi16(lo, 4) : lo, m4);
			__m128i hi = _mm_loadu_si128((const __m128i *)(qh + 32 * h + l));
			hi = _mm_and_si128(_mm_srl_epi16(hi, _mm_cvtsi32_si128(2 * g)), m2);
			__m128i q = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), e32);
			__m512 s = _mm512_set1_ps(d * (float)sc[e / 16]);
			_mm512_storeu_ps(y, _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q))));
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
