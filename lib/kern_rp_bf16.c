/* kern_rp_bf16.c - matmul kernels for BF16 weights with BF16 activations
 * (G4_DOT_BF16, repack.h): AVX512-BF16's vdpbf16ps, and an exact AVX2 (FMA)
 * emulation of it for CPUs without; and the activation conversion.
 *
 * Layout: a group is 16 rows: a 64-byte header (int32 at 0: the smallest
 * exponent field, 1..255, of the group's nonzero weights; 255 if none),
 * then for each bf16 pair k of the row width (values 2k, 2k+1) 64 bytes,
 * row r's pair at bytes 4r..4r+3 (a 4-byte transpose of the rows).  Denormal
 * weights are packed as zeros of their sign, which is how the instruction
 * reads them anyway.
 *
 * AVX512-BF16.  One vdpbf16ps of a pair's register with the activation's
 * pair k broadcast (an embedded-broadcast dword) adds the two products to
 * each row's lane in the instruction's own order and rounding: the
 * numerics vecdot.h defines (and vecdot.c computes in C).  Pair k goes to
 * chain k % 4, so each row has four independent accumulators; they are
 * added as (s0 + s1) + (s2 + s3) and a NaN becomes 0x7fc00000.  One
 * activation row (decode, memory-bound): a group at a time, one stream
 * prefetched 4 KB ahead (two groups side by side, two streams, were slower:
 * E2B BF16 decode 12.4 against 15.1 tok/s at 78 GB/s).  A batch (prefill,
 * compute-bound): activation rows 64 at a time; for each group, tiles of up
 * to 6 activation rows (6 x 4 = 24 accumulators: 8 would need 32) share
 * every weight register loaded; the first tile's pass prefetches the group.
 * bench_vecdot on the 2-core AMD EPYC VM, one thread, CPU time, other
 * processes on the cores (ranges of 5 runs; in brackets the f32-activation
 * BF16 tile, kern_rp_flt.c): 1024 x 2560 (5 MB, from L3), 1 activation
 * row 43-53 Gmul/s (37-42), 64 rows 190-209 (75-88); 16384 x 2560 (80 MB,
 * from memory) 19-21 (13-14) and 179-189 (68-70).
 *
 * AVX2 emulation.  Each step is a plain fma(w, a, acc) (two per pair, the
 * odd element first), exact when no step can meet the instruction's flush
 * of results below 2^-126: with weight and activation exponent fields
 * ew + ea >= 142, every product, so every partial sum, is a multiple of
 * 2^-126 (a bf16 value is a multiple of 2^(e-127-7)), no result is tiny
 * and rounding never reaches the denormals; denormal weights are packed as
 * zeros and activations are never denormal (g4_quantize_act flushes them);
 * inf and NaN come out of fma as out of the instruction (NaN payloads aside:
 * outputs are canonical).  So a group (its header's exponent) and an
 * activation row (its smallest exponent field) meeting that bound run the
 * fmas; any other pair of them (weights or activations below about 2^-56,
 * never seen in a model) takes vecdot.c's exact steps, lane by lane.  A ymm
 * register is half a group (8 rows); a tile is a half x up to 3 activation
 * rows x 4 chains (12 accumulators), the activations expanded to f32 once
 * per chunk of 16 rows. */
#include "kern.h"
#include "repack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define TGT "avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma"
#define TB __attribute__((target(TGT)))
#define TBI static inline __attribute__((target(TGT), always_inline))
#define TG2 "avx2,fma"
#define T2 __attribute__((target(TG2)))
#define T2I static inline __attribute__((target(TG2), always_inline))

enum { ROWS = 16, HEAD = 64, CHAINS = 4, TILE = 6, ACHUNK = 64, PREFETCH = 4096 };
enum { HALF = 8, TILE2 = 3, ACHUNK2 = 16, EXP_SUM = 142 };

static size_t group_bytes(int64_t n)
{
	return n > 0 && n % 32 == 0 ? HEAD + (size_t)ROWS * (size_t)n * 2 : 0;
}

/* a bf16 value's exponent field if it is nonzero (denormals are zeros),
 * else 255 */
static int exp_nz(uint16_t h)
{
	const int e = h >> 7 & 0xFF;
	return e ? e : 255;
}

static void pack(int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst)
{
	int emin = 255;
	memset(dst, 0, group_bytes(n));
	for (int r = 0; r < nrows; r++)
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, src + (size_t)r * sstride + 2 * i, 2);
			if (!(h & 0x7F80))
				h &= 0x8000;	/* denormal: a zero of its sign */
			const int e = exp_nz(h);
			emin = e < emin ? e : emin;
			memcpy(dst + HEAD + 64 * (i / 2) + 4 * r + 2 * (i & 1), &h, 2);
		}
	const int32_t e32 = emin;
	memcpy(dst, &e32, 4);
}

/* the group's rows [0, nr) against one activation row in C (vecdot.c's
 * steps): the bits of g4_vecdot */
static void exact_rows(int64_t n, const uint8_t *grp, int nr, const uint8_t *a, float *y)
{
	for (int r = 0; r < nr; r++) {
		float s[CHAINS] = { 0 };
		for (int64_t k = 0; k < n / 2; k++) {
			uint16_t w[2], x[2];
			memcpy(w, grp + HEAD + 64 * k + 4 * r, 4);
			memcpy(x, a + 4 * k, 4);
			s[k % CHAINS] = g4_bf16_step(g4_bf16_step(s[k % CHAINS], w[1], x[1]), w[0], x[0]);
		}
		const float v = (s[0] + s[1]) + (s[2] + s[3]);
		y[r] = v != v ? __builtin_nanf("") : v;
	}
}

/* ---- AVX512-BF16 ---- */

/* the four chains' sum, a NaN as 0x7fc00000, stored for the rows kept */
TBI void finish(const __m512 *s, float *y, __mmask16 keep)
{
	__m512 r = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3]));
	r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q), _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
	_mm512_mask_storeu_ps(y, keep, r);
}

static __mmask16 keep_of(int64_t left)
{
	return left >= ROWS ? 0xFFFF : (__mmask16)((1u << left) - 1);
}

/* NA (1..TILE) activation rows (ap) against one group */
TBI void tile(int NA, int64_t n, const uint8_t *grp, const uint8_t *const *ap, float *y, size_t ldy,
	      __mmask16 keep, int pf)
{
	__m512 s[TILE][CHAINS];
	for (int j = 0; j < NA; j++)
		for (int c = 0; c < CHAINS; c++)
			s[j][c] = _mm512_setzero_ps();
	for (int64_t k = 0; k < n / 2; k += CHAINS) {
		const uint8_t *w = grp + HEAD + (size_t)k * 64;
		if (pf)
			for (int l = 0; l < 64 * CHAINS; l += 64)
				_mm_prefetch((const char *)w + PREFETCH + l, _MM_HINT_T0);
		_Pragma("GCC unroll 4")
		for (int c = 0; c < CHAINS; c++) {
			const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + 64 * c);
			_Pragma("GCC unroll 6")
			for (int j = 0; j < NA; j++) {
				int32_t v;
				memcpy(&v, ap[j] + 4 * (k + c), 4);
				s[j][c] = _mm512_dpbf16_ps(s[j][c], wv, (__m512bh)_mm512_set1_epi32(v));
			}
		}
	}
	for (int j = 0; j < NA; j++)
		finish(s[j], y + (size_t)j * ldy, keep);
}

TB static void gemm(int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act, size_t astride,
		    int64_t nact, float *y, size_t ldy)
{
	const int64_t ng = (nrows + ROWS - 1) / ROWS;
	const size_t gb = group_bytes(n);
	if (nact == 1) {	/* decode: a group at a time, prefetched */
		for (int64_t g = 0; g < ng; g++)
			tile(1, n, groups + (size_t)g * gb, &act, y + g * ROWS, ldy, keep_of(nrows - g * ROWS), 1);
		return;
	}
	for (int64_t j0 = 0; j0 < nact; j0 += ACHUNK) {
		const int64_t na = nact - j0 < ACHUNK ? nact - j0 : ACHUNK;
		for (int64_t g = 0; g < ng; g++) {
			const uint8_t *grp = groups + (size_t)g * gb;
			const __mmask16 keep = keep_of(nrows - g * ROWS);
			for (int64_t j = 0; j < na; j += TILE) {
				const int k = na - j < TILE ? (int)(na - j) : TILE;
				const uint8_t *ap[TILE];
				for (int i = 0; i < k; i++)
					ap[i] = act + (size_t)(j0 + j + i) * astride;
				float *o = y + (size_t)(j0 + j) * ldy + g * ROWS;
				switch (k) {
				case 6: tile(6, n, grp, ap, o, ldy, keep, j == 0); break;
				case 5: tile(5, n, grp, ap, o, ldy, keep, j == 0); break;
				case 4: tile(4, n, grp, ap, o, ldy, keep, j == 0); break;
				case 3: tile(3, n, grp, ap, o, ldy, keep, j == 0); break;
				case 2: tile(2, n, grp, ap, o, ldy, keep, j == 0); break;
				default: tile(1, n, grp, ap, o, ldy, keep, j == 0); break;
				}
			}
		}
	}
}

static const g4_rp_kernel rp_bf16 = { G4_DOT_BF16, ROWS, group_bytes, pack, gemm };

void g4_rp_avx512_bf16(const g4_rp_kernel *rtab[G4_NDOT])
{
	rtab[G4_DOT_BF16] = &rp_bf16;
}

/* vcvtneps2bf16 is g4_bf16_act exactly (vecdot.h) */
TB void g4_act_bf16_avx512(const float *x, uint8_t *y, int64_t n)
{
	int64_t i = 0;
	for (; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *)(y + 2 * i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
	if (i < n) {
		const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		const __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i));
		_mm256_mask_storeu_epi16(y + 2 * i, m, h);
	}
}

/* ---- AVX2 emulation ---- */

/* the sum of the four chains, a NaN as 0x7fc00000, rows [0, nr) stored */
T2I void finish2(const __m256 *s, float *y, int nr)
{
	__m256 r = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3]));
	r = _mm256_blendv_ps(r, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000)), _mm256_cmp_ps(r, r, _CMP_UNORD_Q));
	if (nr >= HALF) {
		_mm256_storeu_ps(y, r);
		return;
	}
	const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	_mm256_maskstore_ps(y, m, r);
}

/* H halves (from half h0; H = 2 only with NA = 1) of one group x NA
 * activation rows, their values as f32 at xf[j] (2k: pair k's even
 * element); y (ldy apart) and nr (rows kept) are the whole group's */
T2I void tile2(int H, int NA, int64_t n, const uint8_t *grp, int h0, const float *const *xf, float *y,
	       size_t ldy, int nr, int pf)
{
	__m256 s[2][TILE2][CHAINS];
	const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000);
	for (int h = 0; h < H; h++)
		for (int j = 0; j < NA; j++)
			for (int c = 0; c < CHAINS; c++)
				s[h][j][c] = _mm256_setzero_ps();
	for (int64_t k = 0; k < n / 2; k += CHAINS) {
		const uint8_t *w = grp + HEAD + (size_t)k * 64 + 32 * h0;
		if (pf)
			for (int l = 0; l < 64 * CHAINS; l += 64)
				_mm_prefetch((const char *)w + PREFETCH + l, _MM_HINT_T0);
		_Pragma("GCC unroll 4")
		for (int c = 0; c < CHAINS; c++)
			_Pragma("GCC unroll 2")
			for (int h = 0; h < H; h++) {
				const __m256i v = _mm256_loadu_si256((const __m256i *)(w + 64 * c + 32 * h));
				const __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(v, hi));
				const __m256 we = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
				_Pragma("GCC unroll 3")
				for (int j = 0; j < NA; j++) {
					const float *x = xf[j] + 2 * (k + c);
					s[h][j][c] = _mm256_fmadd_ps(wo, _mm256_broadcast_ss(x + 1), s[h][j][c]);
					s[h][j][c] = _mm256_fmadd_ps(we, _mm256_broadcast_ss(x), s[h][j][c]);
				}
			}
	}
	for (int h = 0; h < H; h++)
		for (int j = 0; j < NA; j++)
			finish2(s[h][j], y + (size_t)j * ldy + HALF * (h0 + h), nr - HALF * (h0 + h));
}

/* one group x NA activation rows, both halves */
T2I void group2(int NA, int64_t n, const uint8_t *grp, const float *const *xf, float *y, size_t ldy, int nr,
		int pf)
{
	if (NA == 1) {
		tile2(nr > HALF ? 2 : 1, 1, n, grp, 0, xf, y, ldy, nr, pf);
		return;
	}
	for (int h = 0; h * HALF < nr; h++)
		tile2(1, NA, n, grp, h, xf, y, ldy, nr, pf);
}

T2 static void gemm2(int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act, size_t astride,
		     int64_t nact, float *y, size_t ldy)
{
	const int64_t ng = (nrows + ROWS - 1) / ROWS;
	const size_t gb = group_bytes(n);
	const int64_t chunk = nact < ACHUNK2 ? nact : ACHUNK2;
	float *xf = g4_rp_scratch((size_t)(chunk * n) * sizeof *xf, nact, nrows, y, ldy);
	int emin[ACHUNK2];
	if (!xf)
		return;
	for (int64_t j0 = 0; j0 < nact; j0 += chunk) {
		const int64_t na = nact - j0 < chunk ? nact - j0 : chunk;
		for (int64_t j = 0; j < na; j++) {	/* bf16 -> f32, the smallest exponent */
			const uint8_t *a = act + (size_t)(j0 + j) * astride;
			int e = 255;
			for (int64_t i = 0; i < n; i++) {
				uint16_t h;
				memcpy(&h, a + 2 * i, 2);
				const uint32_t u = (uint32_t)h << 16;
				memcpy(xf + j * n + i, &u, 4);
				e = exp_nz(h) < e ? exp_nz(h) : e;
			}
			emin[j] = e;
		}
		for (int64_t g = 0; g < ng; g++) {
			const uint8_t *grp = groups + (size_t)g * gb;
			const int nr = nrows - g * ROWS < ROWS ? (int)(nrows - g * ROWS) : ROWS;
			int32_t ew;
			memcpy(&ew, grp, 4);
			for (int64_t j = 0; j < na;) {
				float *o = y + (size_t)(j0 + j) * ldy + g * ROWS;
				if (ew + emin[j] < EXP_SUM) {	/* tiny values: exact steps */
					exact_rows(n, grp, nr, act + (size_t)(j0 + j) * astride, o);
					j++;
					continue;
				}
				int k = 1;
				while (k < TILE2 && j + k < na && ew + emin[j + k] >= EXP_SUM)
					k++;
				const float *xp[TILE2];
				for (int i = 0; i < k; i++)
					xp[i] = xf + (j + i) * n;
				switch (k) {
				case 3: group2(3, n, grp, xp, o, ldy, nr, j == 0); break;
				case 2: group2(2, n, grp, xp, o, ldy, nr, j == 0); break;
				default: group2(1, n, grp, xp, o, ldy, nr, j == 0); break;
				}
				j += k;
			}
		}
	}
	free(xf);
}

static const g4_rp_kernel rp_bf16_avx2 = { G4_DOT_BF16, ROWS, group_bytes, pack, gemm2 };

void g4_rp_avx2_bf16(const g4_rp_kernel *rtab[G4_NDOT])
{
	rtab[G4_DOT_BF16] = &rp_bf16_avx2;
}

#else	/* not x86 */

void g4_rp_avx512_bf16(const g4_rp_kernel *rtab[G4_NDOT])
{
	(void)rtab;
}

void g4_rp_avx2_bf16(const g4_rp_kernel *rtab[G4_NDOT])
{
	(void)rtab;
}

void g4_act_bf16_avx512(const float *x, uint8_t *y, int64_t n)
{
	(void)x; (void)y; (void)n;
}

#endif
