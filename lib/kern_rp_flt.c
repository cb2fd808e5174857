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
 * fmas).  In a batch, the next group's rows are prefetched a slice per
 * tile.  E2B F16 prefill (--act q8, 2 threads): 66 tok/s with 4 x 2 tiles,
 * 72 with 4 x 3, 75 with the prefetch; 8 x 3 tiles: 57-62; converting a
 * group to f32 first: 45.  One activation row (decode) reads the rows one
 * after another, a single stream: 11.5-12.5 tok/s, where 4 rows side by
 * side (4 streams) gave 7.8 (at 48 GB/s). */
#include "kern.h"
#include "repack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

#define TGT "avx512f,avx512bw,avx512vl,avx2,fma,f16c"
#define T5 __attribute__((target(TGT)))
#define T5I static inline __attribute__((target(TGT), always_inline))

enum { ROWS = 4, ACTS = 3, PREFETCH = 2048 };

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

/* R weight rows (wstride bytes apart) x A activation rows */
T5I void tile(uint32_t t, int R, int A, int64_t n, const uint8_t *w, size_t wstride, const float *const *x,
	      float *y, size_t ldy)
{
	const int es = esize(t);
	__m512 acc[ROWS][ACTS][2];
	for (int r = 0; r < R; r++)
		for (int a = 0; a < A; a++)
			acc[r][a][0] = acc[r][a][1] = _mm512_setzero_ps();
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
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
			__m512 xv[ACTS] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
			_Pragma("GCC unroll 3")
			for (int a = 0; a < A; a++)
				xv[a] = _mm512_loadu_ps(x[a] + i + 16 * h);
			_Pragma("GCC unroll 4")
			for (int r = 0; r < R; r++) {
				__m512 wv = wload(t, w + (size_t)r * wstride + (size_t)(i + 16 * h) * es);
				_Pragma("GCC unroll 3")
				for (int a = 0; a < A; a++)
					acc[r][a][h] = _mm512_fmadd_ps(wv, xv[a], acc[r][a][h]);
			}
		}
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

T5I void gemm(uint32_t t, int64_t n, const uint8_t *rows, int64_t nrows, const uint8_t *act, size_t astride,
	      int64_t nact, float *y, size_t ldy)
{
	const size_t wstride = (size_t)n * esize(t);
	/* activation rows in chunks that stay in L2 while every row group
	 * passes over them (f32 rows are big: re-reading all of them for each
	 * group of 4 weight rows made prefill memory-bound) */
	int64_t chunk = (int64_t)(((size_t)512 << 10) / ((size_t)n * sizeof(float)));
	chunk = chunk < ACTS ? ACTS : chunk / ACTS * ACTS;
	for (int64_t j0 = 0; j0 < nact; j0 += chunk)
	for (int64_t r0 = 0; r0 < nrows; r0 += ROWS) {
		const int R = nrows - r0 < ROWS ? (int)(nrows - r0) : ROWS;
		const uint8_t *w = rows + (size_t)r0 * wstride;
		/* the next group's rows, a slice each tile: they come from
		 * memory while this group's come from L1 */
		const int64_t jn = (nact < j0 + chunk ? nact : j0 + chunk) - j0, ntiles = (jn + ACTS - 1) / ACTS;
		const size_t gbytes = (size_t)ROWS * wstride, slice = (gbytes / 64 + ntiles - 1) / ntiles * 64;
		const uint8_t *next = r0 + 2 * ROWS <= nrows ? w + gbytes : NULL;
		for (int64_t j = j0; j < nact && j < j0 + chunk; j += ACTS) {
			const int A = nact - j < ACTS ? (int)(nact - j) : ACTS;
			if (next && A > 1)
				for (size_t l = (size_t)((j - j0) / ACTS) * slice, e = l + slice; l < e && l < gbytes; l += 64)
					_mm_prefetch((const char *)next + l, _MM_HINT_T0);
			const float *x[ACTS];
			for (int a = 0; a < ACTS; a++)
				x[a] = (const float *)(act + (size_t)(j + (a < A ? a : A - 1)) * astride);
			float *o = y + (size_t)j * ldy + r0;
			if (R == ROWS && A == 3)
				tile(t, ROWS, 3, n, w, wstride, x, o, ldy);
			else if (R == ROWS && A == 2)
				tile(t, ROWS, 2, n, w, wstride, x, o, ldy);
			else if (R == ROWS)	/* one activation row: the rows in order, one stream */
				for (int r = 0; r < ROWS; r++)
					tile(t, 1, 1, n, w + (size_t)r * wstride, wstride, x, o + r, ldy);
			else
				tile(t, R, A, n, w, wstride, x, o, ldy);
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
