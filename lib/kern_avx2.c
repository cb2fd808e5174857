/* kern_avx2.c - AVX2 + FMA + F16C dot-product kernels (see kern.h).
 *
 * Same numerics as the portable kernels in vecdot.c, bit for bit: the
 * integer parts are exact whatever the order (no int16 saturation can occur
 * for any block contents: u8*s8 pairs stay below 32767), and every float
 * operation is the one of the definition in vecdot.h, in the same lanes. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kern.h"
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

/* the same with a unsigned (u8 <= 127 per pair sum rule) */
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

T2I __m256 b32_block(uint32_t t, const uint8_t *wb, const uint8_t *ab, __m256 acc)
{
	int with_min = t == G4_Q4_1 || t == G4_Q5_1;
	__m256i q = b32_weights(t, wb);
	__m256i y = load32(ab + (with_min ? 4 : 2));
	__m256i p = with_min ? dot4_us(q, y) : dot4_ss(q, y);
	float d = h2f(wb) * h2f(ab);
	acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d), acc);
	if (with_min) {
		float c = h2f(wb + 2) * h2f(ab + 2);
		acc = _mm256_add_ps(acc, _mm256_setr_ps(c, 0, 0, 0, 0, 0, 0, 0));
	}
	return acc;
}

T2I float dot_b32(uint32_t t, int64_t n, const void *w, const void *a)
{
	const uint8_t *wp = w, *ap = a;
	size_t wb = g4_type_block_bytes(t), ab = (t == G4_Q4_1 || t == G4_Q5_1) ? 36 : 34;
	int64_t nb = n / 32, b = 0;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	for (; b + 4 <= nb; b += 4) {
		const uint8_t *x = wp + b * wb, *y = ap + b * ab;
		a0 = b32_block(t, x, y, a0);
		a1 = b32_block(t, x + wb, y + ab, a1);
		a2 = b32_block(t, x + 2 * wb, y + 2 * ab, a2);
		a3 = b32_block(t, x + 3 * wb, y + 3 * ab, a3);
	}
	if (b < nb)
		a0 = b32_block(t, wp + b * wb, ap + b * ab, a0), b++;
	if (b < nb)
		a1 = b32_block(t, wp + b * wb, ap + b * ab, a1), b++;
	if (b < nb)
		a2 = b32_block(t, wp + b * wb, ap + b * ab, a2), b++;
	float lanes[32];
	_mm256_storeu_ps(lanes, a0);
	_mm256_storeu_ps(lanes + 8, a1);
	_mm256_storeu_ps(lanes + 16, a2);
	_mm256_storeu_ps(lanes + 24, a3);
	return g4_reduce32(lanes);
}

T2 static float dot_q4_0(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q4_0, n, w, a); }
T2 static float dot_q4_1(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q4_1, n, w, a); }
T2 static float dot_q5_0(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q5_0, n, w, a); }
T2 static float dot_q5_1(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q5_1, n, w, a); }
T2 static float dot_q8_0(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q8_0, n, w, a); }
T2 static float dot_iq4_nl(int64_t n, const void *w, const void *a) { return dot_b32(G4_IQ4_NL, n, w, a); }

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

T2I float dot_flt(uint32_t t, int64_t n, const void *w, const void *a)
{
	const uint8_t *wp = w;
	const float *x = a;
	int es = t == G4_F32 ? 4 : 2;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		const uint8_t *p = wp + i * es;
		a0 = _mm256_fmadd_ps(load_w8(t, p), _mm256_loadu_ps(x + i), a0);
		a1 = _mm256_fmadd_ps(load_w8(t, p + 8 * es), _mm256_loadu_ps(x + i + 8), a1);
		a2 = _mm256_fmadd_ps(load_w8(t, p + 16 * es), _mm256_loadu_ps(x + i + 16), a2);
		a3 = _mm256_fmadd_ps(load_w8(t, p + 24 * es), _mm256_loadu_ps(x + i + 24), a3);
	}
	float lanes[32];
	_mm256_storeu_ps(lanes, a0);
	_mm256_storeu_ps(lanes + 8, a1);
	_mm256_storeu_ps(lanes + 16, a2);
	_mm256_storeu_ps(lanes + 24, a3);
	for (; i < n; i++) {
		float v;
		if (t == G4_F32)
			memcpy(&v, wp + 4 * i, 4);
		else if (t == G4_F16)
			v = _cvtsh_ss(rd16(wp + 2 * i));
		else
			v = g4_bf16_to_f32(rd16(wp + 2 * i));
		lanes[i & 31] = fmaf(v, x[i], lanes[i & 31]);
	}
	return g4_reduce32(lanes);
}

T2 static float dot_f32(int64_t n, const void *w, const void *a) { return dot_flt(G4_F32, n, w, a); }
T2 static float dot_f16(int64_t n, const void *w, const void *a) { return dot_flt(G4_F16, n, w, a); }
T2 static float dot_bf16(int64_t n, const void *w, const void *a) { return dot_flt(G4_BF16, n, w, a); }

/* ---- super-blocks x Q8_K ---- */

/* int16 vector: s0 in the low 128-bit half, s1 in the high half */
T2I __m256i scale2(int s0, int s1)
{
	return _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0));
}

T2 static float dot_q4_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 144 * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *qs = b + 16, *y = a + 4;
		int sc[8], mn[8];
		for (int j = 0; j < 8; j++)
			g4_k4_scale_min(b + 4, j, &sc[j], &mn[j]);
		__m256i bs = _mm256_madd_epi16(load32(a + 260), _mm256_set1_epi16(1));
		__m256i mv = _mm256_setr_epi32(mn[0], mn[1], mn[2], mn[3], mn[4], mn[5], mn[6], mn[7]);
		int32_t M = hsum_i32(_mm256_mullo_epi32(bs, mv));
		__m256i acc = _mm256_setzero_si256(), m4 = _mm256_set1_epi8(15);
		for (int j = 0; j < 4; j++) {
			__m256i q = load32(qs + 32 * j);
			__m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
			__m256i plo = _mm256_maddubs_epi16(lo, load32(y + 64 * j));
			__m256i phi = _mm256_maddubs_epi16(hi, load32(y + 64 * j + 32));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * j])));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * j + 1])));
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum_i32(acc), h2f(b) * da, sum);
		sum = fmaf(-(float)M, h2f(b + 2) * da, sum);
	}
	return sum;
}

T2 static float dot_q5_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 176 * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *qs = b + 48, *y = a + 4;
		int sc[8], mn[8];
		for (int j = 0; j < 8; j++)
			g4_k4_scale_min(b + 4, j, &sc[j], &mn[j]);
		__m256i bs = _mm256_madd_epi16(load32(a + 260), _mm256_set1_epi16(1));
		__m256i mv = _mm256_setr_epi32(mn[0], mn[1], mn[2], mn[3], mn[4], mn[5], mn[6], mn[7]);
		int32_t M = hsum_i32(_mm256_mullo_epi32(bs, mv));
		__m256i acc = _mm256_setzero_si256(), m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
		__m256i qh = load32(b + 16);
		for (int j = 0; j < 4; j++) {
			__m256i q = load32(qs + 32 * j);
			__m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4);
			__m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4);
			__m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
			__m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
			__m256i plo = _mm256_maddubs_epi16(lo, load32(y + 64 * j));
			__m256i phi = _mm256_maddubs_epi16(hi, load32(y + 64 * j + 32));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * j])));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * j + 1])));
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum_i32(acc), h2f(b) * da, sum);
		sum = fmaf(-(float)M, h2f(b + 2) * da, sum);
	}
	return sum;
}

T2 static float dot_q6_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 210 * i, *a = (const uint8_t *)act + 292 * i;
		const int8_t *sc = (const int8_t *)(b + 192);
		const uint8_t *y = a + 4;
		__m256i acc = _mm256_setzero_si256();
		for (int h = 0; h < 2; h++) {
			__m256i ql0 = load32(b + 64 * h), ql1 = load32(b + 64 * h + 32), qh = load32(b + 128 + 32 * h);
			for (int g = 0; g < 4; g++) {
				__m256i ql = (g & 1) ? ql1 : ql0;
				__m256i lo = _mm256_and_si256(g < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
				__m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m2), 4);
				__m256i q = _mm256_or_si256(lo, hi);
				__m256i yv = load32(y + 128 * h + 32 * g);
				__m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, yv), _mm256_maddubs_epi16(k32, yv));
				int s = 8 * h + 2 * g;
				acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale2(sc[s], sc[s + 1])));
			}
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum_i32(acc), h2f(b + 208) * da, sum);
	}
	return sum;
}

T2 static float dot_q3_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), k4 = _mm256_set1_epi8(4);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 110 * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *y = a + 4;
		int sc[16];
		for (int g = 0; g < 16; g++)
			sc[g] = g4_q3k_scale(b + 96, g) - 32;
		__m256i hm = load32(b), acc = _mm256_setzero_si256();
		for (int h = 0; h < 2; h++) {
			__m256i qs = load32(b + 32 + 32 * h);
			for (int g = 0; g < 4; g++) {
				__m256i lo = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * g), m2);
				__m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + g), one);
				__m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));	/* q + 4, 0..7 */
				__m256i yv = load32(y + 128 * h + 32 * g);
				__m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, yv), _mm256_maddubs_epi16(k4, yv));
				int s = 8 * h + 2 * g;
				acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale2(sc[s], sc[s + 1])));
			}
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum_i32(acc), h2f(b + 108) * da, sum);
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
		for (int h = 0; h < 2; h++) {
			__m256i qs = load32(b + 16 + 32 * h);
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

void g4_kern_avx2(g4_dot_fn tab[G4_NTYPES])
{
	tab[G4_F32] = dot_f32;
	tab[G4_F16] = dot_f16;
	tab[G4_BF16] = dot_bf16;
	tab[G4_Q4_0] = dot_q4_0;
	tab[G4_Q4_1] = dot_q4_1;
	tab[G4_Q5_0] = dot_q5_0;
	tab[G4_Q5_1] = dot_q5_1;
	tab[G4_Q8_0] = dot_q8_0;
	tab[G4_IQ4_NL] = dot_iq4_nl;
	tab[G4_Q2_K] = dot_q2_K;
	tab[G4_Q3_K] = dot_q3_K;
	tab[G4_Q4_K] = dot_q4_K;
	tab[G4_Q5_K] = dot_q5_K;
	tab[G4_Q6_K] = dot_q6_K;
	tab[G4_Q8_K] = dot_q8_K;
	tab[G4_IQ4_XS] = dot_iq4_xs;
}
