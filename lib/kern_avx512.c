/* kern_avx512.c - AVX-512 (F, BW, VL, VNNI) dot-product kernels (see
 * kern.h).  Types without a kernel here keep their AVX2 one.
 *
 * Same numerics as vecdot.c, bit for bit.  The 32-element-block types
 * have no plain-row kernel here: on this path their matmuls use repacked
 * weights (kern_rp_b32.c), and single dots the AVX2 kernel.  Integer parts
 * use VNNI (vpdpbusd: u8 x s8, 4 products per int32, no saturation).
 * K-quants use vpmaddubsw (pairs stay below 2^15) and vpdpwssd with int16 scales,
 * values stored with an offset corrected through the Q8_K bsums.  The
 * multi-row kernels (g4_vecdot_acts) decode the weights once for up to
 * four activation rows.
 *
 * BF16 weights: AVX512-BF16's vdpbf16ps would need bf16 activations (ggml
 * rounds them so); our activations stay f32, so bf16 -> f32 is a shift. */
#include "kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "qblock.h"

#define TGT "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
#define T5 __attribute__((target(TGT)))
#define T5I static inline __attribute__((target(TGT), always_inline))

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

T5I void flt_rows(uint32_t t, int R, int64_t n, const uint8_t *wp, const uint8_t *ap, size_t astride,
		  float *out, size_t ostride)
{
	int es = t == G4_F32 ? 4 : 2;
	__m512 acc[4][2];
	for (int r = 0; r < R; r++)
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512 w0 = load_w16(t, wp + i * es), w1 = load_w16(t, wp + (i + 16) * es);
		_Pragma("GCC unroll 4")
		for (int r = 0; r < R; r++) {
			const float *x = (const float *)(ap + r * astride) + i;
			acc[r][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x), acc[r][0]);
			acc[r][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), acc[r][1]);
		}
	}
	if (i == n) {
		for (int r = 0; r < R; r++)
			out[r * ostride] = g4_reduce32_zmm(acc[r][0], acc[r][1]);
		return;
	}
	for (int r = 0; r < R; r++) {
		const float *x = (const float *)(ap + r * astride);
		float lanes[32];
		_mm512_storeu_ps(lanes, acc[r][0]);
		_mm512_storeu_ps(lanes + 16, acc[r][1]);
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

/* ---- K-quants: S = sum over 16-groups of scale * sum(q*y), exact ---- */

T5I int hsum512(__m512i v)
{
	return _mm512_reduce_add_epi32(v);
}

/* Q4_K/Q5_K: the 8 scales and 8 mins as bytes 0..7 of two registers */
T5I void k4_scales(const uint8_t *q, __m128i *sc, __m128i *mn)
{
	uint32_t u0 = rd32(q), u1 = rd32(q + 4), u2 = rd32(q + 8);
	*sc = _mm_setr_epi32((int)(u0 & 0x3F3F3F3F),
			     (int)((u2 & 0x0F0F0F0F) | ((u0 >> 6) & 0x03030303) << 4), 0, 0);
	*mn = _mm_setr_epi32((int)(u1 & 0x3F3F3F3F),
			     (int)(((u2 >> 4) & 0x0F0F0F0F) | ((u1 >> 6) & 0x03030303) << 4), 0, 0);
}

T5I void q45_K_rows(int five, int R, int64_t n, const uint8_t *w, const uint8_t *act, size_t astride,
		    float *out, size_t ostride)
{
	float sum[4] = { 0, 0, 0, 0 };
	size_t bb = five ? 176 : 144;
	const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = w + bb * i, *qs = b + (five ? 48 : 16);
		__m128i sc8, mn8;
		k4_scales(b + 4, &sc8, &mn8);
		__m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));
		__m512i sc16 = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sc8));
		__m256i qh = five ? load32(b + 16) : _mm256_setzero_si256();
		__m512i acc[4];
		for (int r = 0; r < R; r++)
			acc[r] = _mm512_setzero_si512();
		_Pragma("GCC unroll 4")
		for (int j = 0; j < 4; j++) {
			__m256i q = load32(qs + 32 * j);
			__m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
			if (five) {
				lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4));
				hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4));
			}
			/* int16 lanes 0-15: scale 2j, lanes 16-31: scale 2j+1 */
			__m512i ctl = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16((short)(0x0100 + 0x0202 * (2 * j))),
							      _mm512_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
			__m512i sv = _mm512_shuffle_epi8(sc16, ctl), wq = pair(lo, hi);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++) {
				const uint8_t *y = act + r * astride + 292 * i + 4;
				acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_maddubs_epi16(wq, _mm512_loadu_si512(y + 64 * j)), sv);
			}
		}
		float dw = g4_h2f(b), dmw = g4_h2f(b + 2);
		for (int r = 0; r < R; r++) {
			const uint8_t *a = act + r * astride + 292 * i;
			__m256i mp = _mm256_madd_epi16(load32(a + 260), m16);
			__m128i ms = _mm_add_epi32(_mm256_castsi256_si128(mp), _mm256_extracti128_si256(mp, 1));
			ms = _mm_add_epi32(ms, _mm_shuffle_epi32(ms, 0x4E));
			ms = _mm_add_epi32(ms, _mm_shuffle_epi32(ms, 0xB1));
			float da;
			memcpy(&da, a, 4);
			sum[r] = fmaf((float)hsum512(acc[r]), dw * da, sum[r]);
			sum[r] = fmaf(-(float)_mm_cvtsi128_si32(ms), dmw * da, sum[r]);
		}
	}
	for (int r = 0; r < R; r++)
		out[r * ostride] = sum[r];
}

T5I void q6_K_rows(int R, int64_t n, const uint8_t *w, const uint8_t *act, size_t astride,
		   float *out, size_t ostride)
{
	float sum[4] = { 0, 0, 0, 0 };
	const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
	/* per-half shift counts of the 2-bit high parts: groups (0,1) and (2,3) */
	const __m512i sh01 = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(0), _mm512_set1_epi16(2));
	const __m512i sh23 = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(4), _mm512_set1_epi16(6));
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = w + 210 * i;
		/* 16 int8 scales -> int16 lanes 0..15 */
		__m256i sc256 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));
		__m512i sc = _mm512_castsi256_si512(sc256);
		__m512i acc[4];
		for (int r = 0; r < R; r++)
			acc[r] = _mm512_setzero_si512();
		_Pragma("GCC unroll 2")
		for (int h = 0; h < 2; h++) {
			__m512i ql = _mm512_loadu_si512(b + 64 * h);
			__m256i qh1 = load32(b + 128 + 32 * h);
			__m512i qh = pair(qh1, qh1);
			_Pragma("GCC unroll 2")
			for (int p = 0; p < 2; p++) {
				__m512i lo = _mm512_and_si512(p ? _mm512_srli_epi16(ql, 4) : ql, m4);
				__m512i hi = _mm512_and_si512(_mm512_srlv_epi16(qh, p ? sh23 : sh01), m2);
				__m512i q = _mm512_or_si512(lo, _mm512_slli_epi16(hi, 4));	/* q + 32, 0..63 */
				/* lane i (int16) covers elements 2i, 2i+1: group 8h + 4p + i/8 */
				int g = 8 * h + 4 * p;
				__m512i idx = _mm512_set_epi16(
					g + 3, g + 3, g + 3, g + 3, g + 3, g + 3, g + 3, g + 3,
					g + 2, g + 2, g + 2, g + 2, g + 2, g + 2, g + 2, g + 2,
					g + 1, g + 1, g + 1, g + 1, g + 1, g + 1, g + 1, g + 1,
					g, g, g, g, g, g, g, g);
				__m512i sv = _mm512_permutexvar_epi16(idx, sc);
				_Pragma("GCC unroll 4")
				for (int r = 0; r < R; r++) {
					const uint8_t *y = act + r * astride + 292 * i + 4 + 128 * h + 64 * p;
					acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_maddubs_epi16(q, _mm512_loadu_si512(y)), sv);
				}
			}
		}
		float dw = g4_h2f(b + 208);
		for (int r = 0; r < R; r++) {
			const uint8_t *a = act + r * astride + 292 * i;
			/* stored q + 32: subtract 32 * sum_g sc_g * bsum_g */
			__m256i cp = _mm256_madd_epi16(load32(a + 260), sc256);
			__m128i cs = _mm_add_epi32(_mm256_castsi256_si128(cp), _mm256_extracti128_si256(cp, 1));
			cs = _mm_add_epi32(cs, _mm_shuffle_epi32(cs, 0x4E));
			cs = _mm_add_epi32(cs, _mm_shuffle_epi32(cs, 0xB1));
			int32_t S = hsum512(acc[r]) - 32 * _mm_cvtsi128_si32(cs);
			float da;
			memcpy(&da, a, 4);
			sum[r] = fmaf((float)S, dw * da, sum[r]);
		}
	}
	for (int r = 0; r < R; r++)
		out[r * ostride] = sum[r];
}

/* int16 lane i of a 64-element register covers elements 2i, 2i+1, i.e.
 * 16-group base + i/8: the scale vector from 16 int16 scales (lanes 0-15) */
T5I __m512i groups4(__m512i sc, int base)
{
	const __m512i step = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
					      1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
	return _mm512_permutexvar_epi16(_mm512_add_epi16(step, _mm512_set1_epi16((short)base)), sc);
}

T5I int32_t hsum256(__m256i p)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
	return _mm_cvtsi128_si32(s);
}

/* Q2_K (three = 0) and Q3_K (three = 1): 2-bit low parts in qs, groups of
 * 16 with their own scale; Q3_K's high bit in hmask, values stored + 4 */
T5I void q23_K_rows(int three, int R, int64_t n, const uint8_t *w, const uint8_t *act, size_t astride,
		    float *out, size_t ostride)
{
	float sum[4] = { 0, 0, 0, 0 };
	size_t bb = three ? 110 : 84;
	const __m512i m2 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = w + bb * i, *qs = b + (three ? 32 : 16);
		__m256i sc256, mn256 = _mm256_setzero_si256();
		if (three) {
			uint32_t sw[4];
			g4_q3k_unpack(b + 96, sw);
			__m128i s8 = _mm_sub_epi8(_mm_setr_epi32((int)sw[0], (int)sw[1], (int)sw[2], (int)sw[3]),
						  _mm_set1_epi8(32));
			sc256 = _mm256_cvtepi8_epi16(s8);
		} else {
			__m128i s8 = _mm_loadu_si128((const __m128i *)b);
			sc256 = _mm256_cvtepu8_epi16(_mm_and_si128(s8, _mm_set1_epi8(15)));
			mn256 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), _mm_set1_epi8(15)));
		}
		__m512i sc = _mm512_castsi256_si512(sc256);
		__m512i hm = three ? _mm512_broadcast_i64x4(load32(b)) : _mm512_setzero_si512();
		__m512i acc[4];
		for (int r = 0; r < R; r++)
			acc[r] = _mm512_setzero_si512();
		_Pragma("GCC unroll 2")
		for (int h = 0; h < 2; h++) {
			__m512i q2 = _mm512_broadcast_i64x4(load32(qs + 32 * h));
			_Pragma("GCC unroll 2")
			for (int p = 0; p < 2; p++) {
				/* groups of 32: g = 2p (low half), 2p+1 (high half) */
				__m512i sh = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16((short)(4 * p)),
								     _mm512_set1_epi16((short)(4 * p + 2)));
				__m512i q = _mm512_and_si512(_mm512_srlv_epi16(q2, sh), m2);
				if (three) {
					__m512i hs = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16((short)(4 * h + 2 * p)),
									     _mm512_set1_epi16((short)(4 * h + 2 * p + 1)));
					__m512i hb = _mm512_and_si512(_mm512_srlv_epi16(hm, hs), one);
					q = _mm512_or_si512(q, _mm512_slli_epi16(hb, 2));	/* q + 4, 0..7 */
				}
				__m512i sv = groups4(sc, 8 * h + 4 * p);
				_Pragma("GCC unroll 4")
				for (int r = 0; r < R; r++) {
					const uint8_t *y = act + r * astride + 292 * i + 4 + 128 * h + 64 * p;
					acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_maddubs_epi16(q, _mm512_loadu_si512(y)), sv);
				}
			}
		}
		float dw = g4_h2f(b + (three ? 108 : 80)), dmw = three ? 0 : g4_h2f(b + 82);
		for (int r = 0; r < R; r++) {
			const uint8_t *a = act + r * astride + 292 * i;
			__m256i bs = load32(a + 260);
			float da;
			memcpy(&da, a, 4);
			if (three) {
				int32_t S = hsum512(acc[r]) - 4 * hsum256(_mm256_madd_epi16(bs, sc256));
				sum[r] = fmaf((float)S, dw * da, sum[r]);
			} else {
				int32_t M = hsum256(_mm256_madd_epi16(bs, mn256));
				sum[r] = fmaf((float)hsum512(acc[r]), dw * da, sum[r]);
				sum[r] = fmaf(-(float)M, dmw * da, sum[r]);
			}
		}
	}
	for (int r = 0; r < R; r++)
		out[r * ostride] = sum[r];
}

/* IQ4_XS: two 32-element sub-blocks per register; kvalues + 128 as
 * unsigned bytes, S = sum ls*sum((kv+128)*y) - 128 * sum ls*bsums */
T5I void iq4_xs_rows(int R, int64_t n, const uint8_t *w, const uint8_t *act, size_t astride,
		     float *out, size_t ostride)
{
	float sum[4] = { 0, 0, 0, 0 };
	const __m512i kv = _mm512_broadcast_i32x4(_mm_xor_si128(_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl),
								 _mm_set1_epi8((char)0x80)));
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *b = w + 136 * i;
		/* the eight 6-bit scales minus 32, as int8 lanes 0..7 */
		unsigned shi = rd16(b + 2);
		uint64_t hb = 0;
		for (int ib = 0; ib < 8; ib++)
			hb |= (uint64_t)((shi >> (2 * ib)) & 3) << (8 * ib + 4);
		__m128i sl = _mm_cvtsi32_si128((int)rd32(b + 4)), m4 = _mm_set1_epi8(15);
		__m128i ls8 = _mm_unpacklo_epi8(_mm_and_si128(sl, m4), _mm_and_si128(_mm_srli_epi16(sl, 4), m4));
		ls8 = _mm_sub_epi8(_mm_or_si128(ls8, _mm_cvtsi64_si128((long long)hb)), _mm_set1_epi8(32));
		__m512i ls32 = _mm512_castsi256_si512(_mm256_cvtepi8_epi32(ls8));
		__m256i l16 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(ls8, ls8));
		__m512i acc[4];
		for (int r = 0; r < R; r++)
			acc[r] = _mm512_setzero_si512();
		_Pragma("GCC unroll 4")
		for (int k = 0; k < 4; k++) {
			__m512i q = _mm512_shuffle_epi8(kv, nibbles2(b + 8 + 32 * k, b + 8 + 32 * k + 16));
			__m512i sv = _mm512_permutexvar_epi32(_mm512_mask_blend_epi32(0xFF00, _mm512_set1_epi32(2 * k),
									      _mm512_set1_epi32(2 * k + 1)), ls32);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++) {
				const uint8_t *y = act + r * astride + 292 * i + 4 + 64 * k;
				__m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, _mm512_loadu_si512(y));
				acc[r] = _mm512_add_epi32(acc[r], _mm512_mullo_epi32(p, sv));
			}
		}
		float dw = g4_h2f(b);
		for (int r = 0; r < R; r++) {
			const uint8_t *a = act + r * astride + 292 * i;
			int32_t S = hsum512(acc[r]) - 128 * hsum256(_mm256_madd_epi16(load32(a + 260), l16));
			float da;
			memcpy(&da, a, 4);
			sum[r] = fmaf((float)S, dw * da, sum[r]);
		}
	}
	for (int r = 0; r < R; r++)
		out[r * ostride] = sum[r];
}

/* ---- entry points: one row, and R activation rows at a time ---- */

#define ROWS_FNS(name, call) G4_ROWS_FNS(T5, 4, name, call)

ROWS_FNS(dot_f32, flt_rows(G4_F32, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_f16, flt_rows(G4_F16, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_bf16, flt_rows(G4_BF16, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q4_K, q45_K_rows(0, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q5_K, q45_K_rows(1, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q6_K, q6_K_rows(R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q2_K, q23_K_rows(0, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_q3_K, q23_K_rows(1, R, n, w, ap, astride, o, ostride))
ROWS_FNS(dot_iq4_xs, iq4_xs_rows(R, n, w, ap, astride, o, ostride))

void g4_kern_avx512(g4_dot_fn tab[G4_NDOT], g4_dotm_fn mtab[G4_NDOT])
{
#define SET(T, f) (tab[T] = f, mtab[T] = f##_m)
	SET(G4_F32, dot_f32);
	SET(G4_F16, dot_f16);
	SET(G4_BF16, dot_bf16);
	SET(G4_Q4_K, dot_q4_K);
	SET(G4_Q5_K, dot_q5_K);
	SET(G4_Q6_K, dot_q6_K);
	SET(G4_Q2_K, dot_q2_K);
	SET(G4_Q3_K, dot_q3_K);
	SET(G4_IQ4_XS, dot_iq4_xs);
#undef SET
}

#else	/* not x86: the portable path only */

void g4_kern_avx512(g4_dot_fn tab[G4_NDOT], g4_dotm_fn mtab[G4_NDOT])
{
	(void)tab;
	(void)mtab;
}

#endif
