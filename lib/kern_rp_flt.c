/* kern_rp_flt.c - AVX-512 matmul tiles for F32, F16 and BF16 weights
 * (repack.h kernels with pack == NULL: they read the matrix's own rows).
 *
 * The numerics of vecdot.h (acc[i%32] = fma(w_i, x_i, acc[i%32]), the
 * fixed 32-lane reduction) for a tile of 4 weight rows x 3 activation rows
 * at a time, so each weight vector and each activation vector loaded
 * serves several fused multiply-adds (the plain-row kernel reloads the
 * activations for every weight row).  A tile runs lanes 0..15 and then
 * 16..31, so its 24 accumulators, 3 activation vectors and a weight vector
 * fit the registers (4 x 2 tiles converted a weight vector for every 2
 * fmas).  E2B F16 prefill (--act q8, 2 threads): 66 tok/s with 4 x 2
 * tiles, 72 with 4 x 3; 8 x 3 tiles: 57-62; converting a group to f32
 * first: 45; tiles of 3 x 4, 2 x 6, or of one half of the lanes over the
 * whole row (4 x 6, 6 x 4): slower.  F32 rows (twice the bytes, read from
 * L2) take tiles of 2 x 6 instead.  One activation row (decode) reads
 * the rows one after another, a single stream: 11.5-12.5 tok/s, where 4
 * rows side by side (4 streams) gave 7.8 (at 48 GB/s); asking 4 KB ahead,
 * not 2: 12.8 -> 13.8 (at 78 GB/s; 3 KB 13.3, 6 KB 13.9, 8 KB 13.4). */
#include "kern.h"
#include "repack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

#define TGT "avx512f,avx512bw,avx512vl,avx2,fma,f16c"
#define T5 __attribute__((target(TGT)))
#define T5I static inline __attribute__((target(TGT), always_inline))

enum { ROWS = 4, ACTS = 3, AMAX = 6, PREFETCH = 4096, BLOCK = 128, SLICE = 2048 };

static int esize(uint32_t t)
{
	return t == G4_F32 ? 4 : 2;
}

T5I __m512 wload(uint32_t t, const uint8_t *p)
{
	if (t == G4_F32)
		return _mm512_loadu_ps(p);
	__m256i h = _mm256_loadu_si256((const __m256i *)p);
	if (t == G4_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* R weight rows (wstride bytes apart) x A activation rows, elements
 * [k0, k1) of n: the accumulators start at zero (k0 == 0) or from keep,
 * and end in y (k1 == n) or in keep (k1 a multiple of 32) */
T5I void tile(uint32_t t, int R, int A, int64_t n, int64_t k0, int64_t k1, const uint8_t *w, size_t wstride,
	      const float *const *x, __m512 *keep, float *y, size_t ldy)
{
	const int es = esize(t);
	__m512 acc[ROWS][AMAX][2];
	for (int r = 0; r < R; r++)
		for (int a = 0; a < A; a++)
			for (int h = 0; h < 2; h++)
				acc[r][a][h] = k0 ? keep[(r * AMAX + a) * 2 + h] : _mm512_setzero_ps();
	int64_t i = k0;
	for (; i + 32 <= k1; i += 32) {
		if (A == 1)	/* decode streams the rows once: ask ahead */
			for (int r = 0; r < R; r++)
				for (int l = 0; l < 32 * es; l += 64)
					_mm_prefetch((const char *)w + (size_t)r * wstride + (size_t)i * es + PREFETCH + l,
						     _MM_HINT_T0);
		/* lanes 0..15, then 16..31: the accumulators of a half, the
		 * half's activation vectors and one weight vector fit the
		 * registers */
		_Pragma("GCC unroll 2")
		for (int h = 0; h < 2; h++) {
			__m512 xv[AMAX] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
					    _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
			_Pragma("GCC unroll 6")
			for (int a = 0; a < A; a++)
				xv[a] = _mm512_loadu_ps(x[a] + i + 16 * h);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++) {
				__m512 wv = wload(t, w + (size_t)r * wstride + (size_t)(i + 16 * h) * es);
				_Pragma("GCC unroll 6")
				for (int a = 0; a < A; a++)
					acc[r][a][h] = _mm512_fmadd_ps(wv, xv[a], acc[r][a][h]);
			}
		}
	}
	if (k1 < n) {
		for (int r = 0; r < R; r++)
			for (int a = 0; a < A; a++)
				for (int h = 0; h < 2; h++)
					keep[(r * AMAX + a) * 2 + h] = acc[r][a][h];
		return;
	}
	if (i == n) {	/* no tail: the fixed reduction of vecdot.h in registers */
		for (int r = 0; r < R; r++)
			for (int a = 0; a < A; a++)
				y[(size_t)a * ldy + r] = g4_reduce32_zmm(acc[r][a][0], acc[r][a][1]);
		return;
	}
	for (int r = 0; r < R; r++) {
		float tail[32];	/* the last n % 32 weights, converted exactly */
		g4_dequant_row(t, w + (size_t)r * wstride + (size_t)i * es, tail, n - i);
		for (int a = 0; a < A; a++) {
			float lanes[32];
			_mm512_storeu_ps(lanes, acc[r][a][0]);
			_mm512_storeu_ps(lanes + 16, acc[r][a][1]);
			for (int64_t k = i; k < n; k++)
				lanes[k & 31] = fmaf(tail[k - i], x[a][k], lanes[k & 31]);
			y[(size_t)a * ldy + r] = g4_reduce32(lanes);
		}
	}
}

/* One activation row (decode): the rows one after another, one stream.
 * A call of just ROWS rows (the exact path's rows, dequantised into a
 * buffer in L1) takes them side by side: 8 chains of fmas, not 2. */
T5I void gemv(uint32_t t, int64_t n, const uint8_t *rows, int64_t nrows, const float *x, float *y)
{
	const size_t wstride = (size_t)n * esize(t);
	if (nrows == ROWS) {
		tile(t, ROWS, 1, n, 0, n, rows, wstride, &x, NULL, y, 1);
		return;
	}
	for (int64_t r = 0; r < nrows; r++)
		tile(t, 1, 1, n, 0, n, rows + (size_t)r * wstride, wstride, &x, NULL, y + r, 1);
}

/* A batch: blocks of rows stay in L2 while every tile of 3
 * activation rows passes over them, the tile's rows in L1 (their slices
 * of SLICE values, with the accumulators of the block's groups kept
 * between slices, when rows are longer).  Each weight byte comes from
 * memory once per product and the activations, twice the bytes of F16
 * weights, from L1.  F16 tiles of 4 x 3 on one core: 104 -> 110 Gmul/s
 * at width 1536, 71 -> 84-91 at 12288 (E2B's wide down projection),
 * where rows in L1 and activations from L2 re-read every weight a
 * chunk of activation rows. */
T5I void gemm(uint32_t t, int64_t n, const uint8_t *rows, int64_t nrows, const uint8_t *act, size_t astride,
	      int64_t nact, float *y, size_t ldy)
{
	const size_t wstride = (size_t)n * esize(t);
	__m512 keep[BLOCK * AMAX * 2];
	if (nact == 1) {
		gemv(t, n, rows, nrows, (const float *)act, y);
		return;
	}
	/* a block of about 768 KB, 32..128 rows (width 6144: 90 -> 97 Gmul/s
	 * with 64 rows; fewer than 32 lose more on the activations) */
	int64_t block = (int64_t)(((size_t)768 << 10) / wstride) / ROWS * ROWS;
	block = block < 32 ? 32 : block > BLOCK ? BLOCK : block;
	/* f32 rows: tiles of 2 rows x 6 activation rows, each weight read from
	 * L2 once for 6 products, not 3, and slices of 1024 values so the 6
	 * activation slices stay in L1.  One core: width 1536 67 -> 83 Gmul/s,
	 * 6144 51 -> 61, 12288 40 -> 48; E2B Q4_0 exact prefill 57 -> 67 tok/s */
	const int TR = t == G4_F32 ? 2 : ROWS, TA = t == G4_F32 ? AMAX : ACTS;
	const int64_t SL = t == G4_F32 && n > SLICE ? SLICE / 2 : SLICE;	/* TA slices in L1 */
	for (int64_t b0 = 0; b0 < nrows; b0 += block) {
		const int64_t b1 = nrows - b0 < block ? nrows : b0 + block;
		for (int64_t j = 0; j < nact; j += TA) {
			const int A = nact - j < TA ? (int)(nact - j) : TA;
			const float *x[AMAX];
			for (int a = 0; a < AMAX; a++)
				x[a] = (const float *)(act + (size_t)(j + (a < A ? a : A - 1)) * astride);
			for (int64_t k0 = 0; k0 < n; k0 += SL) {
				const int64_t k1 = n - k0 <= SL ? n : k0 + SL;
				for (int64_t r0 = b0; r0 < b1; r0 += TR) {
					const int R = b1 - r0 < TR ? (int)(b1 - r0) : TR;
					const uint8_t *w = rows + (size_t)r0 * wstride;
					__m512 *kp = keep + (r0 - b0) * AMAX * 2;
					float *o = y + (size_t)j * ldy + r0;
					if (TR == 2 && R == 2 && A == AMAX)
						tile(t, 2, AMAX, n, k0, k1, w, wstride, x, kp, o, ldy);
					else if (R == ROWS && A == ACTS)
						tile(t, ROWS, ACTS, n, k0, k1, w, wstride, x, kp, o, ldy);
					else if (R == ROWS && A == 2)	/* attention's 8 heads: 3 + 3 + 2 */
						tile(t, ROWS, 2, n, k0, k1, w, wstride, x, kp, o, ldy);
					else
						tile(t, R, A, n, k0, k1, w, wstride, x, kp, o, ldy);
				}
			}
		}
	}
}

#define KERNEL(name, T) \
static size_t name##_gb(int64_t n) { return n > 0 ? (size_t)ROWS * (size_t)n * (size_t)esize(T) : 0; } \
T5 static void name##_gemm(int64_t n, const uint8_t *rows, int64_t nrows, const uint8_t *act, \
			   size_t astride, int64_t nact, float *y, size_t ldy) \
{ gemm(T, n, rows, nrows, act, astride, nact, y, ldy); } \
static const g4_rp_kernel name = { T, ROWS, name##_gb, NULL, name##_gemm };

KERNEL(rp_f32, G4_F32)
KERNEL(rp_f16, G4_F16)
KERNEL(rp_bf16, G4_BF16)

void g4_rp_avx512_flt(const g4_rp_kernel *rtab[G4_NDOT])
{
	rtab[G4_F32] = &rp_f32;
	rtab[G4_F16] = &rp_f16;
	rtab[G4_BF16] = &rp_bf16;
}

#else	/* not x86 */

void g4_rp_avx512_flt(const g4_rp_kernel *rtab[G4_NDOT])
{
	(void)rtab;
}

#endif
