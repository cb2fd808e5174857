/* kern_avx2.c - AVX2 + FMA + F16C dot-product kernels (see kern.h).
 *
 * Same numerics as the portable kernels in vecdot.c, bit for bit: the
 * integer parts are exact whatever the order (no int16 saturation can occur
 * for any block contents: u8*s8 pairs stay below 32767), and every float
 * operation is the one of the definition in vecdot.h, in the same lanes.
 * The multi-row kernels (g4_vecdot_acts) decode the weights once for two
 * activation rows. */
#include "kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "qblock.h"

#define T2 __attribute__((target("avx2,fma,f16c")))
#define T2I static inline __attribute__((target("avx2,fma,f16c"), always_inline))

T2I float h2f(const uint8_t *p)
{
	return _cvtsh_ss(rd16(p));
}

T2I __m256i load32(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles then high nibbles */
T2I __m256i nibbles(const uint8_t *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	__m128i m = _mm_set1_epi8(15);
	return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

/* bit j of the 32-bit word at p -> byte j = 0xFF or 0 */
T2I __m256i bits_to_bytes(const uint8_t *p)
{
	uint32_t u;
	memcpy(&u, p, 4);
	__m256i v = _mm256_set1_epi32((int)u);
	const __m256i sh = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
					    2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
	const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	v = _mm256_shuffle_epi8(v, sh);
	return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* 8 int32 sums of 4 consecutive signed products of a (s8) and b (s8) */
T2I __m256i dot4_ss(__m256i a, __m256i b)
{
	__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
	return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* the same with a unsigned (0..31: pair sums stay below 2^15) */
T2I __m256i dot4_us(__m256i a, __m256i b)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

T2I int hsum_i32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
	return _mm_cvtsi128_si32(s);
}

/* signed (or for Q4_1/Q5_1 unsigned) weights of a 32-element block */
T2I __m256i b32_weights(uint32_t t, const uint8_t *b)
{
	switch (t) {
	case G4_Q4_0:
		return _mm256_sub_epi8(nibbles(b + 2), _mm256_set1_epi8(8));
	case G4_Q4_1:
		return nibbles(b + 4);
	case G4_Q5_0:
		return _mm256_or_si256(nibbles(b + 6),
				       _mm256_andnot_si256(bits_to_bytes(b + 2), _mm256_set1_epi8((char)0xF0)));
	case G4_Q5_1:
		return _mm256_or_si256(nibbles(b + 8),
				       _mm256_and_si256(bits_to_bytes(b + 4), _mm256_set1_epi8(0x10)));
	case G4_IQ4_NL: {
		const __m256i kv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl));
		return _mm256_shuffle_epi8(kv, nibbles(b + 2));
	}
	default:	/* Q8_0 */
		return load32(b + 2);
	}
}

T2I __m256 lane_bcast(__m128 v, int k)
{
	return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v), _mm256_set1_epi32(k));
}

/* the four f16 values at p, p+stride, p+2*stride, p+3*stride as floats */
T2I __m128 h4(const uint8_t *p, size_t stride)
{
	__m128i h = _mm_setr_epi16((short)rd16(p), (short)rd16(p + stride), (short)rd16(p + 2 * stride),
				   (short)rd16(p + 3 * stride), 0, 0, 0, 0);
	return _mm_cvtph_ps(h);
}

/* R activation rows (R = 1, 2) against one weight row of 32-element
 * blocks: the exact integer sum of each block, then the fma chain */
T2I void b32_rows(uint32_t t, int R, int64_t n, const uint8_t *wp, const uint8_t *ap, size_t astride,
		  float *out, size_t ostride)
{
	int with_min = t == G4_Q4_1 || t == G4_Q5_1, qo = with_min ? 4 : 2;
	size_t wb = g4_type_block_bytes(t), ab = with_min ? 36 : 34;
	float sum[2] = { 0.0f, 0.0f };
	for (int64_t b = 0; b < n / 32; b++) {
		const uint8_t *x = wp + b * wb;
		__m256i q = b32_weights(t, x);
		__m256i qa = with_min ? q : _mm256_sign_epi8(q, q);
		float dw = h2f(x), mw = with_min ? h2f(x + 2) : 0.0f;
		_Pragma("GCC unroll 2")
		for (int r = 0; r < R; r++) {
			const uint8_t *y = ap + r * astride + b * ab;
			__m256i yv = load32(y + qo);
			__m256i p = with_min ? dot4_us(q, yv)
				: _mm256_madd_epi16(_mm256_maddubs_epi16(qa, _mm256_sign_epi8(yv, q)), _mm256_set1_epi16(1));
			sum[r] = fmaf((float)hsum_i32(p), dw * h2f(y), sum[r]);
			if (with_min)
				sum[r] = fmaf(mw, h2f(y + 2), sum[r]);
		}
	}
	for (int r = 0; r < R; r++)
		out[r * ostride] = sum[r];
}

/* ---- f32 / f16 / bf16 rows x f32 activations ---- */

T2I __m256 load_w8(uint32_t t, const uint8_t *p)
{
	if (t == G4_F32)
		return _mm256_loadu_ps((const float *)p);
	__m128i h = _mm_loadu_si128((const __m128i *)p);
	if (t == G4_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

T2I void flt_rows(uint32_t t, int R, int64_t n, const uint8_t *wp, const uint8_t *ap, size_t astride,
		  float *out, size_t ostride)
{
	int es = t == G4_F32 ? 4 : 2;
	__m256 acc[2][4];
	for (int r = 0; r < R; r++)
		for (int k = 0; k < 4; k++)
			acc[r][k] = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		_Pragma("GCC unroll 4")
		for (int k = 0; k < 4; k++) {
			__m256 wv = load_w8(t, wp + (i + 8 * k) * es);
			_Pragma("GCC unroll 2")
			for (int r = 0; r < R; r++) {
				const float *x = (const float *)(ap + r * astride) + i + 8 * k;
				acc[r][k] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x), acc[r][k]);
			}
		}
	}
	for (int r = 0; r < R; r++) {
		const float *x = (const float *)(ap + r * astride);
		float lanes[32];
		for (int k = 0; k < 4; k++)
			_mm256_storeu_ps(lanes + 8 * k, acc[r][k]);
		for (int64_t k = i; k < n; k++) {
			float v;
			if (t == G4_F32)
				memcpy(&v, wp + 4 * k, 4);
			else if (t == G4_F16)
				v = _cvtsh_ss(rd16(wp + 2 * k));
			else
				v = g4_bf16_to_f32(rd16(wp + 2 * k));
			lanes[k & 31] = fmaf(v, x[k], lanes[k & 31]);
		}
		out[r * ostride] = g4_reduce32(lanes);
	}
}

/* ---- super-blocks x Q8_K ---- */

/* int16 vector: s0 in the low 128-bit half, s1 in the high half */
T2I __m256i scale2(int s0, int s1)
{
	return _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0));
}

/* Q4_K/Q5_K: the 8 scales and 8 mins as bytes 0..7 of two registers */
T2I void k4_scales(const uint8_t *q, __m128i *sc, __m128i *mn)
{
	uint32_t u0 = rd32(q), u1 = rd32(q + 4), u2 = rd32(q + 8);
	*sc = _mm_setr_epi32((int)(u0 & 0x3F3F3F3F),
			     (int)((u2 & 0x0F0F0F0F) | ((u0 >> 6) & 0x03030303) << 4), 0, 0);
	*mn = _mm_setr_epi32((int)(u1 & 0x3F3F3F3F),
			     (int)(((u2 >> 4) & 0x0F0F0F0F) | ((u1 >> 6) & 0x03030303) << 4), 0, 0);
}

/* M = sum_j mn[j] * (bsum[2j] + bsum[2j+1]) */
T2I int32_t k4_M(const uint8_t *a, __m128i mn)
{
	__m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn, mn));
	return hsum_i32(_mm256_madd_epi16(load32(a + 260), m16));
}

T2I void q45_K_rows(int five, int R, int64_t n, const uint8_t *w, const uint8_t *act, size_t astride,
		    float *out, size_t ostride)
{
	float sum[2] = { 0, 0 };
	size_t bb = five ? 176 : 144;
	const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = w + bb * i, *qs = b + (five ? 48 : 16);
		__m128i sc8, mn8;
		k4_scales(b + 4, &sc8, &mn8);
		__m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
		__m256i qh = five ? load32(b + 16) : _mm256_setzero_si256();
		__m256i acc[2];
		for (int r = 0; r < R; r++)
			acc[r] = _mm256_setzero_si256();
		_Pragma("GCC unroll 4")
		for (int j = 0; j < 4; j++) {
			__m256i q = load32(qs + 32 * j);
			__m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
			if (five) {
				lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4));
				hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4));
			}
			__m256i s0 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j))));
			__m256i s1 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
			_Pragma("GCC unroll 2")
			for (int r = 0; r < R; r++) {
				const uint8_t *y = act + r * astride + 292 * i + 4 + 64 * j;
				__m256i plo = _mm256_maddubs_epi16(lo, load32(y));
				__m256i phi = _mm256_maddubs_epi16(hi, load32(y + 32));
				acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(plo, s0));
				acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(phi, s1));
			}
		}
		float dw = h2f(b), dmw = h2f(b + 2);
		for (int r = 0; r < R; r++) {
			const uint8_t *a = act + r * astride + 292 * i;
			float da;
			memcpy(&da, a, 4);
			sum[r] = fmaf((float)hsum_i32(acc[r]), dw * da, sum[r]);
			sum[r] = fmaf(-(float)k4_M(a, mn8), dmw * da, sum[r]);
		}
	}
	for (int r = 0; r < R; r++)
		out[r * ostride] = sum[r];
}

/* 16 int16 scales (ymm, lanes 0..15) -> for the group pair (s, s+1):
 * s in every int16 lane of the low half, s+1 in the high half */
T2I __m256i pick2(__m256i lo8, __m256i hi8, int s)
{
	int k = s & 7;
	__m256i ctl = _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 + 0x0202 * (k + 1))),
				       _mm_set1_epi16((short)(0x0100 + 0x0202 * k)));
	return _mm256_shuffle_epi8(s < 8 ? lo8 : hi8, ctl);
}

/* S - off * sum_g sc_g * bsum_g, the correction for weights stored as q+off */
T2I int32_t bsum_dot(const uint8_t *a, __m256i sc16)
{
	return hsum_i32(_mm256_madd_epi16(load32(a + 260), sc16));
}

T2I void q6_K_rows(int R, int64_t n, const uint8_t *w, const uint8_t *act, size_t astride,
		   float *out, size_t ostride)
{
	float sum[2] = { 0, 0 };
	const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = w + 210 * i;
		__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));
		__m256i lo8 = _mm256_permute2x128_si256(sc16, sc16, 0x00), hi8 = _mm256_permute2x128_si256(sc16, sc16, 0x11);
		__m256i acc[2];
		for (int r = 0; r < R; r++)
			acc[r] = _mm256_setzero_si256();
		_Pragma("GCC unroll 2")
		for (int h = 0; h < 2; h++) {
			__m256i ql0 = load32(b + 64 * h), ql1 = load32(b + 64 * h + 32), qh = load32(b + 128 + 32 * h);
			_Pragma("GCC unroll 4")
			for (int g = 0; g < 4; g++) {
				__m256i ql = (g & 1) ? ql1 : ql0;
				__m256i lo = _mm256_and_si256(g < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
				__m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m2), 4);
				__m256i q = _mm256_or_si256(lo, hi), sv = pick2(lo8, hi8, 8 * h + 2 * g);
				_Pragma("GCC unroll 2")
				for (int r = 0; r < R; r++) {
					const uint8_t *y = act + r * astride + 292 * i + 4 + 128 * h + 32 * g;
					acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(_mm256_maddubs_epi16(q, load32(y)), sv));
				}
			}
		}
		float dw = h2f(b + 208);
		for (int r = 0; r < R; r++) {
			const uint8_t *a = act + r * astride + 292 * i;
			int32_t S = hsum_i32(acc[r]) - 32 * bsum_dot(a, sc16);
			float da;
			memcpy(&da, a, 4);
			sum[r] = fmaf((float)S, dw * da, sum[r]);
		}
	}
	for (int r = 0; r < R; r++)
		out[r * ostride] = sum[r];
}

T2 static float dot_q3_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 110 * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *y = a + 4;
		uint32_t sw[4];
		g4_q3k_unpack(b + 96, sw);
		__m128i s8 = _mm_sub_epi8(_mm_setr_epi32((int)sw[0], (int)sw[1], (int)sw[2], (int)sw[3]), _mm_set1_epi8(32));
		__m256i sc16 = _mm256_cvtepi8_epi16(s8);
		__m256i lo8 = _mm256_permute2x128_si256(sc16, sc16, 0x00), hi8 = _mm256_permute2x128_si256(sc16, sc16, 0x11);
		__m256i hm = load32(b), acc = _mm256_setzero_si256();
		_Pragma("GCC unroll 2")
		for (int h = 0; h < 2; h++) {
			__m256i qs = load32(b + 32 + 32 * h);
			_Pragma("GCC unroll 4")
			for (int g = 0; g < 4; g++) {
				__m256i lo = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * g), m2);
				__m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + g), one);
				__m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));	/* q + 4, 0..7 */
				__m256i p = _mm256_maddubs_epi16(q, load32(y + 128 * h + 32 * g));
				acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, pick2(lo8, hi8, 8 * h + 2 * g)));
			}
		}
		int32_t S = hsum_i32(acc) - 4 * bsum_dot(a, sc16);
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)S, h2f(b + 108) * da, sum);
	}
	return sum;
}

T2 static float dot_q2_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	const __m256i m2 = _mm256_set1_epi8(3);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 84 * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *y = a + 4;
		__m128i s8 = _mm_loadu_si128((const __m128i *)b);
		__m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), _mm_set1_epi8(15)));
		int32_t M = hsum_i32(_mm256_madd_epi16(load32(a + 260), mins));
		__m256i acc = _mm256_setzero_si256();
		_Pragma("GCC unroll 2")
		for (int h = 0; h < 2; h++) {
			__m256i qs = load32(b + 16 + 32 * h);
			_Pragma("GCC unroll 4")
			for (int g = 0; g < 4; g++) {
				__m256i q = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * g), m2);
				__m256i p = _mm256_maddubs_epi16(q, load32(y + 128 * h + 32 * g));
				int s = 8 * h + 2 * g;
				acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale2(b[s] & 15, b[s + 1] & 15)));
			}
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum_i32(acc), h2f(b + 80) * da, sum);
		sum = fmaf(-(float)M, h2f(b + 82) * da, sum);
	}
	return sum;
}

T2 static float dot_iq4_xs(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	const __m256i kv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl));
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 136 * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *y = a + 4;
		unsigned sh = rd16(b + 2);
		__m256i acc = _mm256_setzero_si256();
		_Pragma("GCC unroll 8")
		for (int ib = 0; ib < 8; ib++) {
			int ls = ((b[4 + ib / 2] >> (4 * (ib & 1))) & 15) | ((sh >> (2 * ib)) & 3) << 4;
			__m256i q = _mm256_shuffle_epi8(kv, nibbles(b + 8 + 16 * ib));
			__m256i yv = load32(y + 32 * ib);
			__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(yv, q));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16((short)(ls - 32))));
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum_i32(acc), h2f(b) * da, sum);
	}
	return sum;
}

T2 static float dot_q8_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 292 * i, *a = (const uint8_t *)act + 292 * i;
		__m256i acc = _mm256_setzero_si256();
		for (int k = 0; k < 8; k++)
			acc = _mm256_add_epi32(acc, dot4_ss(load32(b + 4 + 32 * k), load32(a + 4 + 32 * k)));
		float dw, da;
		memcpy(&dw, b, 4);
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum_i32(acc), dw * da, sum);
	}
	return sum;
}

/* ---- entry points: one row, and two activation rows at a time ---- */

#define ROWS_FNS(name, call) G4_ROWS_FNS(T2, 2, name, call)

ROWS_FNS(dot_q4_0, b32_rows(G4_Q4_0, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q4_1, b32_rows(G4_Q4_1, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q5_0, b32_rows(G4_Q5_0, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q5_1, b32_rows(G4_Q5_1, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q8_0, b32_rows(G4_Q8_0, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_iq4_nl, b32_rows(G4_IQ4_NL, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_f32, flt_rows(G4_F32, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_f16, flt_rows(G4_F16, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_bf16, flt_rows(G4_BF16, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q4_K, q45_K_rows(0, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q5_K, q45_K_rows(1, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q6_K, q6_K_rows(R, n, w, ap, astride, o, ostride))

void g4_kern_avx2(g4_dot_fn tab[G4_NDOT], g4_dotm_fn mtab[G4_NDOT])
{
#define SET(T, f) (tab[T] = f, mtab[T] = f##_m)
	SET(G4_F32, dot_f32);
	SET(G4_F16, dot_f16);
	SET(G4_BF16, dot_bf16);
	SET(G4_Q4_0, dot_q4_0);
	SET(G4_Q4_1, dot_q4_1);
	SET(G4_Q5_0, dot_q5_0);
	SET(G4_Q5_1, dot_q5_1);
	SET(G4_Q8_0, dot_q8_0);
	SET(G4_IQ4_NL, dot_iq4_nl);
	SET(G4_Q4_K, dot_q4_K);
	SET(G4_Q5_K, dot_q5_K);
	SET(G4_Q6_K, dot_q6_K);
#undef SET
	tab[G4_Q2_K] = dot_q2_K;
	tab[G4_Q3_K] = dot_q3_K;
	tab[G4_Q8_K] = dot_q8_K;
	tab[G4_IQ4_XS] = dot_iq4_xs;
}

#else	/* not x86: the portable path only */

void g4_kern_avx2(g4_dot_fn tab[G4_NDOT], g4_dotm_fn mtab[G4_NDOT])
{
	(void)tab;
	(void)mtab;
}

#endif
