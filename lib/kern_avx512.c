/* kern_avx512.c - AVX-512 (F, BW, VL, VNNI) dot-product kernels (see
 * kern.h).  Types without a kernel here keep their AVX2 one.
 *
 * Same numerics as vecdot.c, bit for bit.  32-element blocks go two per
 * register: block b in lanes 0-7, block b+1 in lanes 8-15, so register 0
 * holds the lanes of blocks b%4 = 0,1 and register 1 those of b%4 = 2,3;
 * leftover blocks are added by the portable g4_blk32_add.  Integer parts
 * use VNNI (vpdpbusd: u8 x s8, 4 products per int32, no saturation) with
 * signed weights shifted to unsigned: sum((w+k)*y) - sum(k*y).
 *
 * BF16 weights: AVX512-BF16's vdpbf16ps would need bf16 activations (ggml
 * rounds them so); our activations stay f32, so bf16 -> f32 is a shift. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kern.h"
#include "qblock.h"

#define TGT "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
#define T5 __attribute__((target(TGT)))
#define T5I static inline __attribute__((target(TGT), always_inline))

T5I float h2f(const uint8_t *p)
{
	return _cvtsh_ss(rd16(p));
}

T5I __m256i load32(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

T5I __m512i pair(__m256i lo, __m256i hi)
{
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* nibbles of two 16-byte groups -> [lo(p0) hi(p0) lo(p1) hi(p1)] */
T5I __m512i nibbles2(const uint8_t *p0, const uint8_t *p1)
{
	__m256i v = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)p1), _mm_loadu_si128((const __m128i *)p0));
	__m256i m = _mm256_set1_epi8(15);
	__m512i z = pair(_mm256_and_si256(v, m), _mm256_and_si256(_mm256_srli_epi16(v, 4), m));
	/* z = [lo0 lo1 hi0 hi1] in 128-bit lanes -> [lo0 hi0 lo1 hi1] */
	return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}

/* two blocks of weights as unsigned bytes (value + offset, see b32_off) */
T5I __m512i b32_weights2(uint32_t t, const uint8_t *b0, const uint8_t *b1)
{
	switch (t) {
	case G4_Q4_0:
		return nibbles2(b0 + 2, b1 + 2);
	case G4_Q4_1:
		return nibbles2(b0 + 4, b1 + 4);
	case G4_Q5_0:
	case G4_Q5_1: {
		int o = t == G4_Q5_0 ? 2 : 4;
		uint32_t h0, h1;
		memcpy(&h0, b0 + o, 4);
		memcpy(&h1, b1 + o, 4);
		__mmask64 hb = (__mmask64)h0 | (__mmask64)h1 << 32;
		__m512i nib = nibbles2(b0 + o + 4, b1 + o + 4);
		return _mm512_or_si512(nib, _mm512_maskz_mov_epi8(hb, _mm512_set1_epi8(16)));
	}
	case G4_IQ4_NL: {
		/* kvalues + 128 as unsigned bytes */
		__m128i kv = _mm_xor_si128(_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl), _mm_set1_epi8((char)0x80));
		return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(kv), nibbles2(b0 + 2, b1 + 2));
	}
	default:	/* Q8_0 */
		return _mm512_xor_si512(pair(load32(b0 + 2), load32(b1 + 2)), _mm512_set1_epi8((char)0x80));
	}
}

/* the offset added to make the weights unsigned (0: already unsigned) */
static inline int b32_off(uint32_t t)
{
	switch (t) {
	case G4_Q4_0: return 8;
	case G4_Q5_0: return 16;
	case G4_Q8_0: case G4_IQ4_NL: return 128;
	default: return 0;
	}
}

T5I __m512 b32_pair(uint32_t t, const uint8_t *w0, const uint8_t *w1, const uint8_t *a0,
		    const uint8_t *a1, __m512 acc)
{
	int with_min = t == G4_Q4_1 || t == G4_Q5_1, qo = with_min ? 4 : 2, off = b32_off(t);
	__m512i q = b32_weights2(t, w0, w1);
	__m512i y = pair(load32(a0 + qo), load32(a1 + qo));
	__m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, y);
	if (off)
		p = _mm512_sub_epi32(p, _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)off), y));
	float d0 = h2f(w0) * h2f(a0), d1 = h2f(w1) * h2f(a1);
	__m512 d = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d0), _mm512_set1_ps(d1));
	acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc);
	if (with_min) {
		float c0 = h2f(w0 + 2) * h2f(a0 + 2), c1 = h2f(w1 + 2) * h2f(a1 + 2);
		__m512 c = _mm512_maskz_mov_ps(0x0001, _mm512_set1_ps(c0));
		c = _mm512_mask_mov_ps(c, 0x0100, _mm512_set1_ps(c1));
		acc = _mm512_add_ps(acc, c);
	}
	return acc;
}

T5I float dot_b32(uint32_t t, int64_t n, const void *w, const void *a)
{
	const uint8_t *wp = w, *ap = a;
	size_t wb = g4_type_block_bytes(t), ab = (t == G4_Q4_1 || t == G4_Q5_1) ? 36 : 34;
	int64_t nb = n / 32, b = 0;
	__m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
	for (; b + 4 <= nb; b += 4) {
		const uint8_t *x = wp + b * wb, *y = ap + b * ab;
		acc0 = b32_pair(t, x, x + wb, y, y + ab, acc0);
		acc1 = b32_pair(t, x + 2 * wb, x + 3 * wb, y + 2 * ab, y + 3 * ab, acc1);
	}
	float lanes[32];
	_mm512_storeu_ps(lanes, acc0);
	_mm512_storeu_ps(lanes + 16, acc1);
	for (; b < nb; b++)
		g4_blk32_add(t, wp + b * wb, ap + b * ab, b, lanes);
	return g4_reduce32(lanes);
}

T5 static float dot_q4_0(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q4_0, n, w, a); }
T5 static float dot_q4_1(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q4_1, n, w, a); }
T5 static float dot_q5_0(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q5_0, n, w, a); }
T5 static float dot_q5_1(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q5_1, n, w, a); }
T5 static float dot_q8_0(int64_t n, const void *w, const void *a) { return dot_b32(G4_Q8_0, n, w, a); }
T5 static float dot_iq4_nl(int64_t n, const void *w, const void *a) { return dot_b32(G4_IQ4_NL, n, w, a); }

/* ---- f32 / f16 / bf16 rows x f32 activations: lanes 0-15, 16-31 ---- */

T5I __m512 load_w16(uint32_t t, const uint8_t *p)
{
	if (t == G4_F32)
		return _mm512_loadu_ps(p);
	__m256i h = load32(p);
	if (t == G4_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

T5I float dot_flt(uint32_t t, int64_t n, const void *w, const void *a)
{
	const uint8_t *wp = w;
	const float *x = a;
	int es = t == G4_F32 ? 4 : 2;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		a0 = _mm512_fmadd_ps(load_w16(t, wp + i * es), _mm512_loadu_ps(x + i), a0);
		a1 = _mm512_fmadd_ps(load_w16(t, wp + (i + 16) * es), _mm512_loadu_ps(x + i + 16), a1);
	}
	float lanes[32];
	_mm512_storeu_ps(lanes, a0);
	_mm512_storeu_ps(lanes + 16, a1);
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

T5 static float dot_f32(int64_t n, const void *w, const void *a) { return dot_flt(G4_F32, n, w, a); }
T5 static float dot_f16(int64_t n, const void *w, const void *a) { return dot_flt(G4_F16, n, w, a); }
T5 static float dot_bf16(int64_t n, const void *w, const void *a) { return dot_flt(G4_BF16, n, w, a); }

/* ---- K-quants: S = sum over 16-groups of scale * sum(q*y), exact ---- */

T5I int hsum512(__m512i v)
{
	return _mm512_reduce_add_epi32(v);
}

/* int16 vector whose lane i (0..31) holds s16[base + i/16] (two 32-element
 * sub-blocks per register: the Q4_K/Q5_K layout) */
T5I __m512i scales_2x32(const int16_t *s16, int base)
{
	return _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(s16[base]), _mm512_set1_epi16(s16[base + 1]));
}

/* M for Q4_K/Q5_K: sum_j m_j * (bsum[2j] + bsum[2j+1]) */
T5I int32_t k4_mins(const uint8_t *a, const int *mn)
{
	__m256i bs = _mm256_madd_epi16(load32(a + 260), _mm256_set1_epi16(1));
	__m256i mv = _mm256_setr_epi32(mn[0], mn[1], mn[2], mn[3], mn[4], mn[5], mn[6], mn[7]);
	__m256i p = _mm256_mullo_epi32(bs, mv);
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
	return _mm_cvtsi128_si32(s);
}

T5I float dot_q45_K(int five, int64_t n, const void *w, const void *act)
{
	float sum = 0;
	size_t bb = five ? 176 : 144;
	const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + bb * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *qs = b + (five ? 48 : 16), *y = a + 4;
		int sc[8], mn[8];
		int16_t s16[8];
		for (int j = 0; j < 8; j++) {
			g4_k4_scale_min(b + 4, j, &sc[j], &mn[j]);
			s16[j] = (int16_t)sc[j];
		}
		int32_t M = k4_mins(a, mn);
		__m256i qh = five ? load32(b + 16) : _mm256_setzero_si256();
		__m512i acc = _mm512_setzero_si512();
		for (int j = 0; j < 4; j++) {
			__m256i q = load32(qs + 32 * j);
			__m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
			if (five) {
				lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4));
				hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4));
			}
			__m512i p = _mm512_maddubs_epi16(pair(lo, hi), _mm512_loadu_si512(y + 64 * j));
			acc = _mm512_dpwssd_epi32(acc, p, scales_2x32(s16, 2 * j));
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum512(acc), h2f(b) * da, sum);
		sum = fmaf(-(float)M, h2f(b + 2) * da, sum);
	}
	return sum;
}

T5 static float dot_q4_K(int64_t n, const void *w, const void *a) { return dot_q45_K(0, n, w, a); }
T5 static float dot_q5_K(int64_t n, const void *w, const void *a) { return dot_q45_K(1, n, w, a); }

T5 static float dot_q6_K(int64_t n, const void *w, const void *act)
{
	float sum = 0;
	const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3), k32 = _mm512_set1_epi8(32);
	/* per-half shift counts of the 2-bit high parts: groups (0,1) and (2,3) */
	const __m512i sh01 = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(0), _mm512_set1_epi16(2));
	const __m512i sh23 = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(4), _mm512_set1_epi16(6));
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = (const uint8_t *)w + 210 * i, *a = (const uint8_t *)act + 292 * i;
		const uint8_t *y = a + 4;
		/* 16 int8 scales -> int16 lanes 0..15 of a 512-bit register */
		__m512i sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192))));
		__m512i acc = _mm512_setzero_si512();
		for (int h = 0; h < 2; h++) {
			__m512i ql = _mm512_loadu_si512(b + 64 * h);
			__m256i qh1 = load32(b + 128 + 32 * h);
			__m512i qh = pair(qh1, qh1);
			for (int p = 0; p < 2; p++) {
				__m512i lo = _mm512_and_si512(p ? _mm512_srli_epi16(ql, 4) : ql, m4);
				__m512i hi = _mm512_and_si512(_mm512_srlv_epi16(qh, p ? sh23 : sh01), m2);
				__m512i q = _mm512_or_si512(lo, _mm512_slli_epi16(hi, 4));
				__m512i yv = _mm512_loadu_si512(y + 128 * h + 64 * p);
				__m512i d16 = _mm512_sub_epi16(_mm512_maddubs_epi16(q, yv), _mm512_maddubs_epi16(k32, yv));
				/* lane i (int16) covers elements 2i, 2i+1: group 8h + 4p + i/8 */
				int base = 8 * h + 4 * p;
				__m512i idx = _mm512_set_epi16(
					base + 3, base + 3, base + 3, base + 3, base + 3, base + 3, base + 3, base + 3,
					base + 2, base + 2, base + 2, base + 2, base + 2, base + 2, base + 2, base + 2,
					base + 1, base + 1, base + 1, base + 1, base + 1, base + 1, base + 1, base + 1,
					base, base, base, base, base, base, base, base);
				acc = _mm512_dpwssd_epi32(acc, d16, _mm512_permutexvar_epi16(idx, sc));
			}
		}
		float da;
		memcpy(&da, a, 4);
		sum = fmaf((float)hsum512(acc), h2f(b + 208) * da, sum);
	}
	return sum;
}

void g4_kern_avx512(g4_dot_fn tab[G4_NTYPES])
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
	tab[G4_Q4_K] = dot_q4_K;
	tab[G4_Q5_K] = dot_q5_K;
	tab[G4_Q6_K] = dot_q6_K;
}
