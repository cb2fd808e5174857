/* kern_rp_avx2.c - AVX2 (+ FMA, F16C) matmul kernels for repacked weights
 * (repack.h): the 32-element-block types in the group layout of rp_b32.h
 * (the AVX-512 kernels' layout; no VNNI here), and F32/F16/BF16 tiles read
 * in place.  The AVX-512 kernels override these where the CPU has them.
 *
 * 32-element blocks.  A ymm register takes half a group (8 rows): chunk g
 * of the half, with the activation dword of values 4g..4g+3 broadcast,
 * goes through vpmaddubsw (u8 weight x s8 activation, pairs summed to
 * int16, saturating) and vpmaddwd with ones (int32 per row).  Activations
 * come from the reference quantiser, so |a| <= 127, and no pair can
 * saturate:
 *   Q4_0, Q4_1 (u <= 15): a pair is at most 2*15*127 = 3810 in magnitude,
 *     so all 8 chunks add up in int16 (< 30480) before one vpmaddwd;
 *   Q5_0, Q5_1 (u <= 31): 2*31*127 = 7874, 4 chunks at a time (< 31496);
 *   Q8_0, IQ4_NL (signed w, |w| <= 128): the sign trick, |w| x sign(a, w)
 *     (2*128*127 = 32512), each chunk widened to int32 by itself.  These
 *     two use the signed weights (Q8_0: u ^ 0x80, IQ4_NL: kvalues), so
 *     they need no offset correction.
 * The integers are exact, so each row lane holds its block's exact sum p
 * (plus the start -off * sum(a) for Q4_0 and Q5_0); then per lane the
 * chain of vecdot.h, sum = fma((float)p, dw*da, sum) (and fma(m, s, sum)
 * for Q4_1/Q5_1): the bits of g4_vecdot.  One activation row (decode) runs
 * both halves of a group block by block; a batch runs each half over all
 * blocks for a tile of activation rows, the half's unpacked weights of a
 * block staying in registers.  The first pass over a group prefetches it
 * 12 KB ahead.
 *
 * F32/F16/BF16.  vecdot.h's 32 accumulator lanes are 4 ymm per (weight
 * row, activation row): a tile of 4 weight rows x 3 activation rows would
 * need 48 of the 16 registers.  So the tile goes over each block of 256
 * columns (which stays in L1) in 4 passes, each with 8 of the lanes in
 * registers (12 accumulators) while the others wait in memory; every
 * lane's chain is unchanged, so are the bits.  A batch takes its
 * activation rows in chunks of about 512 KB, which stay in L2 while all
 * the weight rows pass.  One activation row (decode) goes row by row, all
 * lanes in one pass, prefetching 8 KB ahead (one stream from memory at a
 * time reads fastest). */
#include "kern.h"
#include "repack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qblock.h"
#include "rp_b32.h"

#define TGT "avx2,fma,f16c"
#define T2 __attribute__((target(TGT)))
#define T2I static inline __attribute__((target(TGT), always_inline))

/* ---- 32-element blocks ---- */

enum { HALF = G4_RP32_ROWS / 2, TILE = 4, PREFETCH = 12288 };
_Static_assert(TILE == 4, "b32_gemm calls the tiles of 1..4 rows");

/* Q8_0 and IQ4_NL: signed weights through the sign trick */
static inline int signed_w(uint32_t t)
{
	return t == G4_Q8_0 || t == G4_IQ4_NL;
}

T2I __m256i bcast32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return _mm256_set1_epi32(v);
}

/* the 8 weight chunks of one half-group block: unsigned u (Q4/Q5), or
 * |w| with w itself in sg (Q8_0, IQ4_NL) */
T2I void half_weights(uint32_t t, const uint8_t *q, __m256i w[8], __m256i sg[8])
{
	const __m256i m4 = _mm256_set1_epi8(15);
	if (g4_rp32_nibbles(t)) {
		const __m256i kv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl));
		_Pragma("GCC unroll 8")
		for (int c = 0; c < 4; c++) {
			__m256i v = _mm256_loadu_si256((const __m256i *)(q + 64 * c));
			w[c] = _mm256_and_si256(v, m4);
			w[c + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
		}
		if (t == G4_IQ4_NL) {
			_Pragma("GCC unroll 8")
			for (int g = 0; g < 8; g++)
				w[g] = _mm256_shuffle_epi8(kv, w[g]);
		}
	} else {
		_Pragma("GCC unroll 8")
		for (int g = 0; g < 8; g++)
			w[g] = _mm256_loadu_si256((const __m256i *)(q + 64 * g));
		if (t == G4_Q8_0) {
			_Pragma("GCC unroll 8")
			for (int g = 0; g < 8; g++)
				w[g] = _mm256_xor_si256(w[g], _mm256_set1_epi8((char)0x80));
		}
	}
	if (signed_w(t)) {
		_Pragma("GCC unroll 8")
		for (int g = 0; g < 8; g++) {
			sg[g] = w[g];
			w[g] = _mm256_abs_epi8(w[g]);
		}
	}
}

/* the exact block sums of the 8 rows against the 32 activation values at y */
T2I __m256i half_dot(uint32_t t, const __m256i w[8], const __m256i sg[8], const uint8_t *y)
{
	const __m256i one = _mm256_set1_epi16(1);
	if (signed_w(t)) {
		__m256i p = _mm256_setzero_si256();
		_Pragma("GCC unroll 8")
		for (int g = 0; g < 8; g++) {
			__m256i s = _mm256_maddubs_epi16(w[g], _mm256_sign_epi8(bcast32(y + 4 * g), sg[g]));
			p = _mm256_add_epi32(p, _mm256_madd_epi16(s, one));
		}
		return p;
	}
	__m256i s0 = _mm256_maddubs_epi16(w[0], bcast32(y));
	_Pragma("GCC unroll 8")
	for (int g = 1; g < 4; g++)
		s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(w[g], bcast32(y + 4 * g)));
	__m256i s1 = _mm256_maddubs_epi16(w[4], bcast32(y + 16));
	_Pragma("GCC unroll 8")
	for (int g = 5; g < 8; g++)
		s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(w[g], bcast32(y + 4 * g)));
	if (g4_rp32_nibbles(t))		/* u <= 15: the int16 sums stay below 2^15 */
		return _mm256_madd_epi16(_mm256_add_epi16(s0, s1), one);
	return _mm256_add_epi32(_mm256_madd_epi16(s0, one), _mm256_madd_epi16(s1, one));
}

/* H halves (from half h0) of one group x NA activation rows (astride bytes
 * apart, their block values nb apart from ax), all nb blocks; pf: the
 * group's first pass, which streams it from memory */
T2I void b32_tile(uint32_t t, int H, int NA, int64_t nb, const uint8_t *grp, int h0, const uint8_t *act,
		  size_t astride, const g4_rp32_act *ax, __m256 sum[2][TILE], int pf)
{
	const int mins = g4_rp32_has_min(t), qo = mins ? 4 : 2, off = g4_rp32_offset(t) && !signed_w(t);
	const size_t bb = g4_rp32_blk_bytes(t), ab = mins ? 36 : 34;
	_Pragma("GCC unroll 2")
	for (int h = 0; h < H; h++)
		_Pragma("GCC unroll 8")
		for (int j = 0; j < NA; j++)
			sum[h][j] = _mm256_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *o = grp + (size_t)b * bb, *q = o + (mins ? 64 : 32);
		if (pf)	/* ask 12 KB ahead */
			for (size_t l = 0; l < bb; l += 64)
				_mm_prefetch((const char *)o + PREFETCH + l, _MM_HINT_T0);
		_Pragma("GCC unroll 2")
		for (int h = 0; h < H; h++) {
			const int hh = h0 + h;
			__m256 wd = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(o + 16 * hh)));
			__m256 wm = mins ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(o + 32 + 16 * hh))) : wd;
			__m256i w[8], sg[8];
			half_weights(t, q + 32 * hh, w, sg);
			_Pragma("GCC unroll 8")
			for (int j = 0; j < NA; j++) {
				const g4_rp32_act *x = ax + j * nb + b;
				__m256i p = half_dot(t, w, sg, act + j * astride + (size_t)b * ab + qo);
				if (off)
					p = _mm256_add_epi32(p, _mm256_set1_epi32(x->start));
				__m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(x->d));
				sum[h][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, sum[h][j]);
				if (mins)
					sum[h][j] = _mm256_fmadd_ps(wm, _mm256_set1_ps(x->s), sum[h][j]);
			}
		}
	}
}

/* the first `left` (< 8 when short) lanes of v to p */
T2I void store8(float *p, __m256 v, int64_t left)
{
	if (left >= HALF) {
		_mm256_storeu_ps(p, v);
		return;
	}
	float l[HALF];
	_mm256_storeu_ps(l, v);
	memcpy(p, l, (size_t)left * sizeof *p);
}

T2I void b32_gemm(uint32_t t, int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act,
		  size_t astride, int64_t nact, float *y, size_t ldy)
{
	const int64_t nb = n / 32, ng = (nrows + G4_RP32_ROWS - 1) / G4_RP32_ROWS;
	const size_t gb = g4_rp32_group_bytes(t, n);
	const int64_t chunk = nact < G4_RP32_ACHUNK ? nact : G4_RP32_ACHUNK;
	g4_rp32_act *ax = g4_rp32_act_alloc(nb, nact, nrows, y, ldy);
	if (!ax)
		return;
	for (int64_t j0 = 0; j0 < nact; j0 += chunk) {
		const int64_t na = nact - j0 < chunk ? nact - j0 : chunk;
		for (int64_t j = 0; j < na; j++)
			g4_rp32_act_blocks(t, act + (size_t)(j0 + j) * astride, nb, ax + j * nb);
		for (int64_t g = 0; g < ng; g++) {
			const uint8_t *grp = groups + (size_t)g * gb;
			const int64_t r0 = g * G4_RP32_ROWS;
			__m256 sum[2][TILE];
			if (na == 1) {	/* both halves at once: the group streams by once */
				b32_tile(t, 2, 1, nb, grp, 0, act + (size_t)j0 * astride, astride, ax, sum, 1);
				float *o = y + (size_t)j0 * ldy + r0;
				store8(o, sum[0][0], nrows - r0);
				if (nrows - r0 > HALF)
					store8(o + HALF, sum[1][0], nrows - r0 - HALF);
				continue;
			}
			for (int h = 0; h < 2 && r0 + HALF * h < nrows; h++)
				for (int64_t j = 0; j < na; j += TILE) {
					const int k = na - j < TILE ? (int)(na - j) : TILE;
					const uint8_t *a = act + (size_t)(j0 + j) * astride;
					const g4_rp32_act *x = ax + j * nb;
					const int pf = h == 0 && j == 0;
					if (k == 4)
						b32_tile(t, 1, 4, nb, grp, h, a, astride, x, sum, pf);
					else if (k == 3)
						b32_tile(t, 1, 3, nb, grp, h, a, astride, x, sum, pf);
					else if (k == 2)
						b32_tile(t, 1, 2, nb, grp, h, a, astride, x, sum, pf);
					else
						b32_tile(t, 1, 1, nb, grp, h, a, astride, x, sum, pf);
					for (int i = 0; i < k; i++)
						store8(y + (size_t)(j0 + j + i) * ldy + r0 + HALF * h, sum[0][i],
						       nrows - r0 - HALF * h);
				}
		}
	}
	free(ax);
}

#define B32_KERNEL(name, T) \
T2 static void name##_gemm(int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act, \
			   size_t astride, int64_t nact, float *y, size_t ldy) \
{ b32_gemm(T, n, groups, nrows, act, astride, nact, y, ldy); } \
static const g4_rp_kernel rp_##name = { T, G4_RP32_ROWS, g4_rp32_gb_##name, g4_rp32_pack_##name, name##_gemm };

B32_KERNEL(q4_0, G4_Q4_0)
B32_KERNEL(q4_1, G4_Q4_1)
B32_KERNEL(q5_0, G4_Q5_0)
B32_KERNEL(q5_1, G4_Q5_1)
B32_KERNEL(q8_0, G4_Q8_0)
B32_KERNEL(iq4_nl, G4_IQ4_NL)

/* ---- F32 / F16 / BF16, in place ---- */

enum { FROWS = 4, FR = 4, FA = 3, FP = 4, CB = 256, FPF = 8192, ACT_L2 = 512 << 10 };

static int esize(uint32_t t)
{
	return t == G4_F32 ? 4 : 2;
}

/* 8 weights at p as floats */
T2I __m256 wload8(uint32_t t, const uint8_t *p)
{
	switch (t) {
	case G4_F16:
		return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
	case G4_BF16:	/* the top half of an f32 */
		return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
	default:
		return _mm256_loadu_ps((const float *)p);
	}
}

/* R weight rows (wstride bytes apart) x A activation rows: P passes (1, 2
 * or 4) over each block of CB columns, or P = 1 over all */
T2I void flt_tile(uint32_t t, int P, int R, int A, int64_t n, const uint8_t *w, size_t wstride,
		  const float *const *x, float *y, size_t ldy)
{
	const int K = 4 / P, L = 32 / P, es = esize(t);
	const int64_t n32 = n / 32 * 32;
	float lanes[FR][FA][32];
	const int64_t cb = P == 1 ? n32 : CB;
	if (!n32)
		memset(lanes, 0, sizeof lanes);
	for (int64_t c0 = 0; c0 < n32; c0 += cb) {
		const int64_t c1 = n32 - c0 < cb ? n32 : c0 + cb;
		for (int p = 0; p < P; p++) {
			__m256 acc[FR][FA][4];
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++)
				_Pragma("GCC unroll 4")
				for (int a = 0; a < A; a++)
					_Pragma("GCC unroll 4")
					for (int k = 0; k < K; k++)
						acc[r][a][k] = c0 ? _mm256_loadu_ps(&lanes[r][a][L * p + 8 * k]) : _mm256_setzero_ps();
			for (int64_t i = c0 + L * p; i < c1; i += 32) {
				if (P == 1 && A == 1)	/* decode streams the rows once: ask ahead */
					for (int r = 0; r < R; r++)
						for (int l = 0; l < 32 * es; l += 64)
							_mm_prefetch((const char *)w + (size_t)r * wstride + (size_t)i * es + FPF + l,
								     _MM_HINT_T0);
				_Pragma("GCC unroll 4")
				for (int k = 0; k < K; k++) {
					__m256 xv[FA];
					_Pragma("GCC unroll 4")
					for (int a = 0; a < A; a++)
						xv[a] = _mm256_loadu_ps(x[a] + i + 8 * k);
					_Pragma("GCC unroll 4")
					for (int r = 0; r < R; r++) {
						__m256 wv = wload8(t, w + (size_t)r * wstride + (size_t)(i + 8 * k) * es);
						_Pragma("GCC unroll 4")
						for (int a = 0; a < A; a++)
							acc[r][a][k] = _mm256_fmadd_ps(wv, xv[a], acc[r][a][k]);
					}
				}
			}
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++)
				_Pragma("GCC unroll 4")
				for (int a = 0; a < A; a++)
					_Pragma("GCC unroll 4")
					for (int k = 0; k < K; k++)
						_mm256_storeu_ps(&lanes[r][a][L * p + 8 * k], acc[r][a][k]);
		}
	}
	for (int r = 0; r < R; r++) {
		float tail[32];		/* the last n % 32 weights, converted exactly */
		g4_dequant_row(t, w + (size_t)r * wstride + (size_t)n32 * es, tail, n - n32);
		for (int a = 0; a < A; a++) {
			for (int64_t k = n32; k < n; k++)
				lanes[r][a][k - n32] = fmaf(tail[k - n32], x[a][k], lanes[r][a][k - n32]);
			y[(size_t)a * ldy + r] = g4_reduce32(lanes[r][a]);
		}
	}
}

/* A (1..FA) activation rows: with all FR weight rows, or with one row (all
 * lanes in one pass: 4*A accumulators) */
T2I void flt_tile_a(uint32_t t, int full, int A, int64_t n, const uint8_t *w, size_t wstride,
		    const float *const *x, float *y, size_t ldy)
{
	if (full && A == 3)
		flt_tile(t, FP, FR, 3, n, w, wstride, x, y, ldy);
	else if (full && A == 2)
		flt_tile(t, FP, FR, 2, n, w, wstride, x, y, ldy);
	else if (full)
		flt_tile(t, FP, FR, 1, n, w, wstride, x, y, ldy);
	else if (A == 3)
		flt_tile(t, 1, 1, 3, n, w, wstride, x, y, ldy);
	else if (A == 2)
		flt_tile(t, 1, 1, 2, n, w, wstride, x, y, ldy);
	else
		flt_tile(t, 1, 1, 1, n, w, wstride, x, y, ldy);
}

/* tiles of FR x FA; one activation row (decode) row by row.  The
 * activation rows go in chunks of about ACT_L2 bytes, which stay in L2
 * while all the weight rows pass. */
T2I void flt_gemm(uint32_t t, int64_t n, const uint8_t *rows, int64_t nrows, const uint8_t *act,
		  size_t astride, int64_t nact, float *y, size_t ldy)
{
	const size_t wstride = (size_t)n * esize(t);
	int64_t chunk = (int64_t)(ACT_L2 / ((size_t)n * sizeof(float))) / FA * FA;
	if (chunk < FA)
		chunk = FA;
	for (int64_t j0 = 0; j0 < nact; j0 += chunk)
	for (int64_t r0 = 0; r0 < nrows; r0 += FR) {
		const int R = nrows - r0 < FR ? (int)(nrows - r0) : FR, full = R == FR && nact > 1;
		for (int64_t j = j0; j < nact && j < j0 + chunk; j += FA) {
			const int A = nact - j < FA ? (int)(nact - j) : FA;
			const float *x[FA];
			for (int a = 0; a < FA; a++)
				x[a] = (const float *)(act + (size_t)(j + (a < A ? a : A - 1)) * astride);
			float *o = y + (size_t)j * ldy + r0;
			if (full)
				flt_tile_a(t, 1, A, n, rows + (size_t)r0 * wstride, wstride, x, o, ldy);
			else
				for (int r = 0; r < R; r++)
					flt_tile_a(t, 0, A, n, rows + (size_t)(r0 + r) * wstride, wstride, x, o + r, ldy);
		}
	}
}

#define FLT_KERNEL(name, T) \
static size_t name##_gb(int64_t n) { return n > 0 ? (size_t)FROWS * (size_t)n * (size_t)esize(T) : 0; } \
T2 static void name##_gemm(int64_t n, const uint8_t *rows, int64_t nrows, const uint8_t *act, \
			   size_t astride, int64_t nact, float *y, size_t ldy) \
{ flt_gemm(T, n, rows, nrows, act, astride, nact, y, ldy); } \
static const g4_rp_kernel rp_##name = { T, FROWS, name##_gb, NULL, name##_gemm };

FLT_KERNEL(f32, G4_F32)
FLT_KERNEL(f16, G4_F16)
FLT_KERNEL(bf16, G4_BF16)

void g4_rp_avx2(const g4_rp_kernel *rtab[G4_NDOT])
{
	static const g4_rp_kernel *const all[] = {
		&rp_q4_0, &rp_q4_1, &rp_q5_0, &rp_q5_1, &rp_q8_0, &rp_iq4_nl, &rp_f32, &rp_f16, &rp_bf16,
	};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		rtab[all[i]->type] = all[i];
}

#else	/* not x86 */

void g4_rp_avx2(const g4_rp_kernel *rtab[G4_NDOT])
{
	(void)rtab;
}

#endif
