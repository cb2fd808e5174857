/* kern_rp_b32.c - AVX-512 VNNI matmul kernels for repacked 32-element-block
 * weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL; see repack.h).
 *
 * Layout (rp_b32.h, shared with the AVX2 kernels): groups of 16 rows, per
 * block the scales, the mins and the quants as unsigned bytes in 64-byte
 * chunks, row r at bytes 4r..4r+3.  One vpdpbusd of a chunk with an
 * activation dword broadcast adds the products of one 4-value group to the
 * 16 row lanes: after the 8 groups of a block each lane holds its row's
 * exact block sum (the offset taken back through the lane's start).  Then,
 * per lane, the chain of vecdot.h: sum = fma((float)p, dw*da, sum) (and
 * fma(m, s, sum) for types with mins), the same bits as g4_vecdot.
 *
 * A call works through its rows group by group (kern_rp_drv.inc); in each
 * group it keeps the unpacked weights of a block in registers for a tile
 * of up to 8 activation rows. */
#include "kern.h"
#include "repack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "qblock.h"
#include "rp_b32.h"

#define TGT "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
#define T5 __attribute__((target(TGT)))
#define T5I static inline __attribute__((target(TGT), always_inline))

enum { ROWS = G4_RP32_ROWS, TILE = 8, ACHUNK = G4_RP32_ACHUNK, PREFETCH = 6144 };

T5I int32_t ld32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* NA (1..TILE) activation rows against one group over all nb blocks */
T5I void tile(uint32_t t, int NA, int pf, int64_t nb, const uint8_t *grp, const uint8_t *const *ap,
	      const g4_rp32_act *const *ax, __m512 *sum)
{
	const int mins = g4_rp32_has_min(t), nib = g4_rp32_nibbles(t), qo = mins ? 4 : 2;
	const size_t bb = g4_rp32_blk_bytes(t), ab = mins ? 36 : 34;
	const __m512i m4 = _mm512_set1_epi8(15);
	const __m512i kv = _mm512_broadcast_i32x4(_mm_xor_si128(
		_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl), _mm_set1_epi8((char)0x80)));
	for (int j = 0; j < NA; j++)
		sum[j] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *o = grp + (size_t)b * bb, *q = o + (mins ? 64 : 32);
		if (pf)	/* the group's first pass streams it from memory: ask ~6 KB ahead */
			_Pragma("GCC unroll 8")
			for (size_t l = 0; l < bb; l += 64)
				_mm_prefetch((const char *)o + PREFETCH + l, _MM_HINT_T0);
		__m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
		__m512 wm = mins ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32))) : wd;
		__m512i w[8];
		if (nib) {
			_Pragma("GCC unroll 4")
			for (int c = 0; c < 4; c++) {
				__m512i v = _mm512_loadu_si512(q + 64 * c);
				w[c] = _mm512_and_si512(v, m4);
				w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
				if (t == G4_IQ4_NL) {
					w[c] = _mm512_shuffle_epi8(kv, w[c]);
					w[c + 4] = _mm512_shuffle_epi8(kv, w[c + 4]);
				}
			}
		} else {
			_Pragma("GCC unroll 8")
			for (int g = 0; g < 8; g++)
				w[g] = _mm512_loadu_si512(q + 64 * g);
		}
		_Pragma("GCC unroll 8")
		for (int j = 0; j < NA; j++) {
			const uint8_t *y = ap[j] + (size_t)b * ab + qo;
			const g4_rp32_act *x = &ax[j][b];
			__m512i p0 = _mm512_set1_epi32(x->start), p1 = _mm512_setzero_si512();
			p0 = _mm512_dpbusd_epi32(p0, w[0], _mm512_set1_epi32(ld32(y)));
			p1 = _mm512_dpbusd_epi32(p1, w[1], _mm512_set1_epi32(ld32(y + 4)));
			p0 = _mm512_dpbusd_epi32(p0, w[2], _mm512_set1_epi32(ld32(y + 8)));
			p1 = _mm512_dpbusd_epi32(p1, w[3], _mm512_set1_epi32(ld32(y + 12)));
			p0 = _mm512_dpbusd_epi32(p0, w[4], _mm512_set1_epi32(ld32(y + 16)));
			p1 = _mm512_dpbusd_epi32(p1, w[5], _mm512_set1_epi32(ld32(y + 20)));
			p0 = _mm512_dpbusd_epi32(p0, w[6], _mm512_set1_epi32(ld32(y + 24)));
			p1 = _mm512_dpbusd_epi32(p1, w[7], _mm512_set1_epi32(ld32(y + 28)));
			__m512 d = _mm512_mul_ps(wd, _mm512_set1_ps(x->d));
			sum[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(p0, p1)), d, sum[j]);
			if (mins)
				sum[j] = _mm512_fmadd_ps(wm, _mm512_set1_ps(x->s), sum[j]);
		}
	}
}

#define DRV_ACT g4_rp32_act
#define drv_prep g4_rp32_act_blocks
#include "kern_rp_drv.inc"

#define KERNEL(name, T) \
T5 static void name##_gemm(int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act, \
			   size_t astride, int64_t nact, float *y, size_t ldy) \
{ drive(T, n / 32, g4_rp32_group_bytes(T, n), groups, nrows, act, astride, nact, y, ldy); } \
static const g4_rp_kernel rp_##name = { T, ROWS, g4_rp32_gb_##name, g4_rp32_pack_##name, name##_gemm };

KERNEL(q4_0, G4_Q4_0)
KERNEL(q4_1, G4_Q4_1)
KERNEL(q5_0, G4_Q5_0)
KERNEL(q5_1, G4_Q5_1)
KERNEL(q8_0, G4_Q8_0)
KERNEL(iq4_nl, G4_IQ4_NL)

void g4_rp_avx512_b32(const g4_rp_kernel *rtab[G4_NDOT])
{
	rtab[G4_Q4_0] = &rp_q4_0;
	rtab[G4_Q4_1] = &rp_q4_1;
	rtab[G4_Q5_0] = &rp_q5_0;
	rtab[G4_Q5_1] = &rp_q5_1;
	rtab[G4_Q8_0] = &rp_q8_0;
	rtab[G4_IQ4_NL] = &rp_iq4_nl;
}

#else	/* not x86 */

void g4_rp_avx512_b32(const g4_rp_kernel *rtab[G4_NDOT])
{
	(void)rtab;
}

#endif
