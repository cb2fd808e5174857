/* kern_dq.c - AVX-512 dequantisation of whole rows of the weight types
 * (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K..Q6_K, IQ4_XS): the exact
 * f32 values of dequant.c's loops, computed with the same operations in
 * the same order (int -> float conversions are exact; each product and
 * difference is the one dequant.c rounds), so the same bits.  g4_dequant_row uses
 * them on the AVX-512 path; the exact-activation matmul dequantises every
 * weight row it multiplies, so this is its inner loop.
 *
 * For one activation row (decode) the exact matmul does not store the
 * values: g4_exact_rows_avx512 takes 32 values of each of up to 4 rows
 * into registers (the same piece functions, a K super-block's scales
 * once a block) and straight into the rows' fma chains, the order of
 * g4_vecdot(G4_F32) on the dequantised rows. */
#include "kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "qblock.h"

#define T5 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define T5I static inline __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"), always_inline))

/* 16 unsigned bytes to floats */
T5I __m512 u8f(__m128i v)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
}

/* The 32 values of a block or sub-block in two vectors (lo: the first
 * 16).  4-bit values go through a table of the 16 values a block can
 * hold, each computed as the reference does it (the same product, so the
 * same bits): vpermps takes an index's low 4 bits, so the 16 bytes
 * widened to 32-bit lanes index the low nibbles as they are and the high
 * nibbles shifted down by 4; 5-bit values through two tables (vpermt2ps).
 * E2B Q4_0 exact decode on one thread 6.4 -> 8.3 tok/s (2 threads: 14 ->
 * 15) over converting and scaling each value; rows on one core: Q4_0 33 ->
 * 53 G values/s, Q4_1 24 -> 38, IQ4_XS 16 -> 18 (Q5_0, Q4_K, Q5_K: the
 * same; their bit unpacking and scales cost more than the conversions). */
T5I void nib_lookup(__m512 tab, const uint8_t *q, __m512 *lo, __m512 *hi)
{
	const __m512i i = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
	*lo = _mm512_permutexvar_ps(i, tab);
	*hi = _mm512_permutexvar_ps(_mm512_srli_epi32(i, 4), tab);
}

/* 16 bytes' low 4 bits (lut4) or 5 bits (lut5, entries 16-31 in t1) as
 * indices into a table */
T5I __m512 lut4(__m512 t, __m128i idx)
{
	return _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(idx), t);
}

T5I __m512 lut5(__m512 t0, __m512 t1, __m128i idx)
{
	return _mm512_permutex2var_ps(t0, _mm512_cvtepu8_epi32(idx), t1);
}

#define IOTA(k) _mm512_setr_ps(k, k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7, \
			       k + 8, k + 9, k + 10, k + 11, k + 12, k + 13, k + 14, k + 15)

/* IQ4_NL's 16 values as floats */
T5I __m512 kv_f32(void)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl)));
}

/* Q4_0: (q - 8) * d */
T5I void v_q4_0(const uint8_t *b, __m512 *lo, __m512 *hi)
{
	nib_lookup(_mm512_mul_ps(IOTA(-8), _mm512_set1_ps(g4_h2f(b))), b + 2, lo, hi);
}

/* Q8_0: q * d */
T5I void v_q8_0(const uint8_t *b, __m512 *lo, __m512 *hi)
{
	const __m512 d = _mm512_set1_ps(g4_h2f(b));
	*lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2)))), d);
	*hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 18)))), d);
}

/* Q4_1: q * d + m */
T5I void v_q4_1(const uint8_t *b, __m512 *lo, __m512 *hi)
{
	const __m512 d = _mm512_set1_ps(g4_h2f(b)), m = _mm512_set1_ps(g4_h2f(b + 2));
	nib_lookup(_mm512_add_ps(_mm512_mul_ps(IOTA(0), d), m), b + 4, lo, hi);
}

/* Q5_0 (one = 0: (q - 16) * d) and Q5_1 (q * d + m); bit j of the
 * 32-bit qh is value j's fifth bit */
T5I void v_q5(int one, const uint8_t *b, __m512 *lo, __m512 *hi)
{
	const __m128i m4 = _mm_set1_epi8(15), b4 = _mm_set1_epi8(16);
	const __m512 d = _mm512_set1_ps(g4_h2f(b));
	__m512 t0, t1;
	if (one) {
		const __m512 m = _mm512_set1_ps(g4_h2f(b + 2));
		t0 = _mm512_add_ps(_mm512_mul_ps(IOTA(0), d), m);
		t1 = _mm512_add_ps(_mm512_mul_ps(IOTA(16), d), m);
	} else {
		t0 = _mm512_mul_ps(IOTA(-16), d);
		t1 = _mm512_mul_ps(IOTA(0), d);
	}
	uint32_t qh;
	memcpy(&qh, b + (one ? 4 : 2), 4);
	const __m128i q = _mm_loadu_si128((const __m128i *)(b + (one ? 8 : 6)));
	*lo = lut5(t0, t1, _mm_or_si128(_mm_and_si128(q, m4), _mm_and_si128(_mm_movm_epi8((__mmask16)qh), b4)));
	*hi = lut5(t0, t1, _mm_or_si128(_mm_srli_epi16(_mm_andnot_si128(m4, q), 4), _mm_and_si128(_mm_movm_epi8((__mmask16)(qh >> 16)), b4)));
}

/* IQ4_NL: d * kvalues[q] */
T5I void v_iq4_nl(const uint8_t *b, __m512 *lo, __m512 *hi)
{
	nib_lookup(_mm512_mul_ps(_mm512_set1_ps(g4_h2f(b)), kv_f32()), b + 2, lo, hi);
}

/* The scales of a K super-block at b, each the reference's own product,
 * once for its 8 pieces: Q4_K/Q5_K d * sc[j] (s[j]) and dmin * m[j]
 * (s[8 + j]); Q6_K d * sc[i] (s[i], a scale each 16 values); Q2_K
 * d * (sc[i] & 15) (s[i]) and dmin * (sc[i] >> 4) (s[16 + i]); Q3_K
 * d * (sc[i] - 32); IQ4_XS d * (ls[j] - 32) */
T5I void kscales(uint32_t t, const uint8_t *b, float *s)
{
	switch (t) {
	case G4_Q4_K:
	case G4_Q5_K: {
		const float d = g4_h2f(b), dmin = g4_h2f(b + 2);
		for (int j = 0; j < 8; j++) {
			int sc, mn;
			g4_k4_scale_min(b + 4, j, &sc, &mn);
			s[j] = d * (float)sc;
			s[8 + j] = dmin * (float)mn;
		}
		break;
	}
	case G4_Q6_K:
		_mm512_storeu_ps(s, _mm512_mul_ps(_mm512_set1_ps(g4_h2f(b + 208)),
						  _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 192))))));
		break;
	case G4_Q2_K: {
		const __m128i sc = _mm_loadu_si128((const __m128i *)b), m4 = _mm_set1_epi8(15);
		_mm512_storeu_ps(s, _mm512_mul_ps(_mm512_set1_ps(g4_h2f(b + 80)), u8f(_mm_and_si128(sc, m4))));
		_mm512_storeu_ps(s + 16, _mm512_mul_ps(_mm512_set1_ps(g4_h2f(b + 82)),
						       u8f(_mm_and_si128(_mm_srli_epi16(sc, 4), m4))));
		break;
	}
	case G4_Q3_K: {
		uint32_t w[4];
		g4_q3k_unpack(b + 96, w);
		const __m128i sc = _mm_setr_epi32((int)w[0], (int)w[1], (int)w[2], (int)w[3]);
		_mm512_storeu_ps(s, _mm512_mul_ps(_mm512_set1_ps(g4_h2f(b + 108)),
						  _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(sc), _mm512_set1_epi32(32)))));
		break;
	}
	default: {	/* IQ4_XS */
		const float d = g4_h2f(b);
		const unsigned sh = (unsigned)b[2] | (unsigned)b[3] << 8;
		for (int j = 0; j < 8; j++) {
			const int ls = ((b[4 + j / 2] >> (4 * (j & 1))) & 15) | ((sh >> (2 * j)) & 3) << 4;
			s[j] = d * (float)(ls - 32);
		}
		break;
	}
	}
}

/* Q4_K (five = 0) and Q5_K, sub-block j of the super-block at b: d1 * q - m1 */
T5I void v_q45_K(int five, const uint8_t *b, int j, const float *s, __m512 *lo, __m512 *hi)
{
	const __m128i m = _mm_set1_epi8(15), one = _mm_set1_epi8(1);
	const uint8_t *qh = b + 16, *q = b + (five ? 48 : 16) + 32 * (j / 2);
	const __m512 d1 = _mm512_set1_ps(s[j]), m1 = _mm512_set1_ps(s[8 + j]);
	const __m512 t0 = _mm512_sub_ps(_mm512_mul_ps(d1, IOTA(0)), m1);
	const __m512 t1 = five ? _mm512_sub_ps(_mm512_mul_ps(d1, IOTA(16)), m1) : t0;
	__m512 v[2];
	for (int h = 0; h < 2; h++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(q + 16 * h));
		x = _mm_and_si128(j & 1 ? _mm_srli_epi16(x, 4) : x, m);
		if (five) {
			__m128i hb = _mm_loadu_si128((const __m128i *)(qh + 16 * h));
			hb = _mm_and_si128(_mm_srl_epi16(hb, _mm_cvtsi32_si128(j)), one);
			x = _mm_or_si128(x, _mm_slli_epi16(hb, 4));
		}
		v[h] = five ? lut5(t0, t1, x) : lut4(t0, x);
	}
	*lo = v[0];
	*hi = v[1];
}

/* Q6_K, values 32j .. 32j + 31 of the super-block at b: (d * sc) * (q - 32) */
T5I void v_q6_K(const uint8_t *b, int j, const float *s, __m512 *lo, __m512 *hi)
{
	const int h = j / 4, g = j % 4;
	const __m256i l = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32 * (g & 1)));
	const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
	const __m256i lo4 = _mm256_and_si256(g >> 1 ? _mm256_srli_epi16(l, 4) : l, _mm256_set1_epi8(15));
	const __m256i hi2 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), _mm256_set1_epi8(3));
	const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo4, _mm256_slli_epi16(hi2, 4)), _mm256_set1_epi8(32));
	*lo = _mm512_mul_ps(_mm512_set1_ps(s[2 * j]), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))));
	*hi = _mm512_mul_ps(_mm512_set1_ps(s[2 * j + 1]),
			    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))));
}

/* Q2_K (three = 0: (d * sc) * q - dmin * m) and Q3_K ((d * (sc - 32)) * q,
 * q less 4 where the high bit is clear), values 32j .. 32j + 31 of the
 * super-block at b, a scale (and min) each 16 */
T5I void v_q23_K(int three, const uint8_t *b, int j, const float *s, __m512 *lo, __m512 *hi)
{
	const int h = j / 4, g = j % 4;
	const uint8_t *qs = b + (three ? 32 : 16) + 32 * h;
	__m256i q = _mm256_and_si256(_mm256_srl_epi16(_mm256_loadu_si256((const __m256i *)qs), _mm_cvtsi32_si128(2 * g)),
				     _mm256_set1_epi8(3));
	if (three) {
		const __mmask32 set = _mm256_test_epi8_mask(_mm256_loadu_si256((const __m256i *)b), _mm256_set1_epi8((char)(1 << j)));
		q = _mm256_mask_sub_epi8(q, ~set, q, _mm256_set1_epi8(4));
	}
	__m512 v[2];
	for (int k = 0; k < 2; k++) {
		const __m128i qk = k ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q);
		const __m512 sc = _mm512_set1_ps(s[2 * j + k]);
		v[k] = three ? _mm512_mul_ps(sc, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(qk)))
			     : _mm512_sub_ps(_mm512_mul_ps(sc, u8f(qk)), _mm512_set1_ps(s[16 + 2 * j + k]));
	}
	*lo = v[0];
	*hi = v[1];
}

/* IQ4_XS, sub-block j of the super-block at b: (d * (ls - 32)) * kvalues[q] */
T5I void v_iq4_xs(const uint8_t *b, int j, const float *s, __m512 *lo, __m512 *hi)
{
	nib_lookup(_mm512_mul_ps(_mm512_set1_ps(s[j]), kv_f32()), b + 8 + 16 * j, lo, hi);
}

/* Bytes of a block and its pieces of 32 values (8 a K super-block) */
T5I size_t blk_bytes(uint32_t t)
{
	switch (t) {
	case G4_Q4_0: case G4_IQ4_NL: return 18;
	case G4_Q4_1: return 20;
	case G4_Q5_0: return 22;
	case G4_Q5_1: return 24;
	case G4_Q8_0: return 34;
	case G4_Q2_K: return 84;
	case G4_Q3_K: return 110;
	case G4_Q4_K: return 144;
	case G4_Q5_K: return 176;
	case G4_IQ4_XS: return 136;
	default: return 210;	/* Q6_K */
	}
}

T5I int pieces(uint32_t t)
{
	return blk_bytes(t) > 34 ? 8 : 1;
}

/* Piece j of the block at b (s: a K super-block's scales from kscales) */
T5I void piece(uint32_t t, const uint8_t *b, int j, const float *s, __m512 *lo, __m512 *hi)
{
	switch (t) {
	case G4_Q4_0: v_q4_0(b, lo, hi); break;
	case G4_Q4_1: v_q4_1(b, lo, hi); break;
	case G4_Q5_0: v_q5(0, b, lo, hi); break;
	case G4_Q5_1: v_q5(1, b, lo, hi); break;
	case G4_Q8_0: v_q8_0(b, lo, hi); break;
	case G4_IQ4_NL: v_iq4_nl(b, lo, hi); break;
	case G4_Q4_K: v_q45_K(0, b, j, s, lo, hi); break;
	case G4_Q5_K: v_q45_K(1, b, j, s, lo, hi); break;
	case G4_Q2_K: v_q23_K(0, b, j, s, lo, hi); break;
	case G4_Q3_K: v_q23_K(1, b, j, s, lo, hi); break;
	case G4_IQ4_XS: v_iq4_xs(b, j, s, lo, hi); break;
	default: v_q6_K(b, j, s, lo, hi); break;
	}
}

/* Whole rows: nb blocks, 32 values at a time */
T5I void rows(uint32_t t, const uint8_t *b, float *y, int64_t nb)
{
	float s[32];
	for (int64_t i = 0; i < nb; i++, b += blk_bytes(t)) {
		if (pieces(t) > 1)
			kscales(t, b, s);
		for (int j = 0; j < pieces(t); j++, y += 32) {
			__m512 lo, hi;
			piece(t, b, j, s, &lo, &hi);
			_mm512_storeu_ps(y, lo);
			_mm512_storeu_ps(y + 16, hi);
		}
	}
}

/* The types with a row dequantiser from rows() (Q6_K has its own) and an
 * exact one-row product: X(name, type) */
#define DQ_TYPES(X) X(q4_0, G4_Q4_0) X(q4_1, G4_Q4_1) X(q5_0, G4_Q5_0) X(q5_1, G4_Q5_1) X(q8_0, G4_Q8_0) \
	X(iq4_nl, G4_IQ4_NL) X(q2_K, G4_Q2_K) X(q3_K, G4_Q3_K) X(q4_K, G4_Q4_K) X(q5_K, G4_Q5_K) X(iq4_xs, G4_IQ4_XS)

#define DQ_FN(name, T) \
T5 static void dq_##name(const uint8_t *b, float *y, int64_t nb) { rows(T, b, y, nb); }
DQ_TYPES(DQ_FN)

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

T5 static void dq_q6_K(const uint8_t *b, float *y, int64_t nb)
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

enum { PF_GROUPS = 1 };

/* R (1..4) rows, rb bytes apart, dotted with x over n values.  The same
 * place PF_GROUPS groups of 4 rows further on is asked from memory as the
 * rows are read.  E2B exact decode Q4_0 15.7 -> 18.6 tok/s, Q4_K_M 11.2 ->
 * 13.4 over asking for a whole group 2 ahead at once before each group (a
 * burst of 216 lines for E2B's down projection; 2 or 3 groups ahead: no
 * better) */
T5I void xrows(uint32_t t, int R, int64_t n, const uint8_t *w, size_t rb, const float *x, float *y)
{
	const size_t bb = blk_bytes(t), ahead = (size_t)PF_GROUPS * 4 * rb;
	const int P = pieces(t);
	__m512 acc[4][2];
	float s[4][32];
	for (int r = 0; r < R; r++)
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();
	for (int64_t i = 0; i < n / (32 * P); i++) {
		const uint8_t *b = w + i * bb;
		if (P > 1)
			for (int r = 0; r < R; r++)
				kscales(t, b + (size_t)r * rb, s[r]);
		for (int j = 0; j < P; j++) {
			const float *xk = x + 32 * (i * P + j);
			const __m512 x0 = _mm512_loadu_ps(xk), x1 = _mm512_loadu_ps(xk + 16);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++) {
				__m512 lo, hi;
				_mm_prefetch((const char *)b + (size_t)r * rb + ahead + j * bb / P, _MM_HINT_T0);
				piece(t, b + (size_t)r * rb, j, s[r], &lo, &hi);
				acc[r][0] = _mm512_fmadd_ps(lo, x0, acc[r][0]);
				acc[r][1] = _mm512_fmadd_ps(hi, x1, acc[r][1]);
			}
		}
	}
	for (int r = 0; r < R; r++)
		y[r] = g4_reduce32_zmm(acc[r][0], acc[r][1]);
}

#define XROWS(name, T) \
T5 static void x_##name(int R, int64_t n, const uint8_t *w, size_t rb, const float *x, float *y) \
{ \
	if (R == 4) \
		xrows(T, 4, n, w, rb, x, y); \
	else \
		for (int r = 0; r < R; r++) \
			xrows(T, 1, n, w + (size_t)r * rb, rb, x, y + r); \
}
DQ_TYPES(XROWS)
XROWS(q6_K, G4_Q6_K)

int g4_exact_rows_avx512(uint32_t t, int nrows, int64_t n, const uint8_t *w, size_t rb, const float *x, float *y)
{
	switch (t) {
#define CASE(name, T) case T: x_##name(nrows, n, w, rb, x, y); return 1;
	DQ_TYPES(CASE)
	CASE(q6_K, G4_Q6_K)
#undef CASE
	default: return 0;
	}
}

int g4_dequant_avx512(uint32_t t, const uint8_t *b, float *y, int64_t nb)
{
	switch (t) {
#define CASE(name, T) case T: dq_##name(b, y, nb); return 1;
	DQ_TYPES(CASE)
	CASE(q6_K, G4_Q6_K)
#undef CASE
	default: return 0;
	}
}

#else	/* not x86 */

int g4_dequant_avx512(uint32_t t, const uint8_t *b, float *y, int64_t nb)
{
	(void)t; (void)b; (void)y; (void)nb;
	return 0;
}

int g4_exact_rows_avx512(uint32_t t, int nrows, int64_t n, const uint8_t *w, size_t rb, const float *x, float *y)
{
	(void)t; (void)nrows; (void)n; (void)w; (void)rb; (void)x; (void)y;
	return 0;
}

#endif
