/* kern_rp_b32.c - AVX-512 VNNI matmul kernels for repacked 32-element-block
 * weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL; see repack.h).
 *
 * Layout: a group is 16 rows.  For each block b (32 values) of the row
 * width, the group holds, in order:
 *   16 f16 scales d (row 0 first), for Q4_1/Q5_1 16 f16 mins m,
 *   the quants as unsigned bytes u = q + off, in one of two forms:
 *     bytes  (Q8_0, Q5_0, Q5_1): 8 chunks of 64 bytes; chunk g holds, for
 *            row r, the values 4g..4g+3 of the block at bytes 4r..4r+3;
 *     nibbles (Q4_0, Q4_1, IQ4_NL): 4 chunks of 64 bytes; chunk c byte
 *            4r+k holds value 4c+k (low nibble) and 4(c+4)+k (high nibble)
 *            of row r (IQ4_NL: the index into kvalues).
 * So one vpdpbusd of a chunk with an activation dword broadcast adds the
 * products of one 4-value group to the 16 row lanes: after the 8 groups of
 * a block each lane holds its row's exact block sum, with no horizontal
 * adds.  The offset is taken back through the activation: the integer
 * lane starts at -off * (sum of the block's 32 activation values).  Then,
 * per lane, the chain of vecdot.h: sum = fma((float)p, dw*da, sum) (and
 * fma(m, s, sum) for types with mins), the same bits as g4_vecdot.
 *
 * A call works through its rows group by group; in each group it keeps
 * the unpacked weights of a block in registers for a tile of up to 8
 * activation rows. */
#include "kern.h"
#include "repack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "qblock.h"

#define TGT "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
#define T5 __attribute__((target(TGT)))
#define T5I static inline __attribute__((target(TGT), always_inline))

enum { ROWS = 16, TILE = 8, ACHUNK = 64, PREFETCH = 6144 };

static int has_min(uint32_t t)
{
	return t == G4_Q4_1 || t == G4_Q5_1;
}

static int nibble_form(uint32_t t)
{
	return t == G4_Q4_0 || t == G4_Q4_1 || t == G4_IQ4_NL;
}

/* the offset making the weights unsigned */
static int offset(uint32_t t)
{
	switch (t) {
	case G4_Q4_0: return 8;
	case G4_Q5_0: return 16;
	case G4_Q8_0: case G4_IQ4_NL: return 128;
	default: return 0;
	}
}

/* bytes of one block of a group */
static size_t blk_bytes(uint32_t t)
{
	return 32 * (has_min(t) ? 2 : 1) + (nibble_form(t) ? 256 : 512);
}

static size_t group_bytes(uint32_t t, int64_t n)
{
	return n > 0 && n % 32 == 0 ? (size_t)(n / 32) * blk_bytes(t) : 0;
}

/* the 32 values of a block of type t as unsigned bytes q + offset (IQ4_NL:
 * the nibble indices), its scale and min as f16 bits */
static void unpack_block(uint32_t t, const uint8_t *b, uint8_t u[32], uint16_t *d, uint16_t *m)
{
	*d = rd16(b);
	*m = has_min(t) ? rd16(b + 2) : 0;
	switch (t) {
	case G4_Q4_0: case G4_IQ4_NL:
		for (int j = 0; j < 16; j++) {
			u[j] = b[2 + j] & 15;
			u[j + 16] = b[2 + j] >> 4;
		}
		break;
	case G4_Q4_1:
		for (int j = 0; j < 16; j++) {
			u[j] = b[4 + j] & 15;
			u[j + 16] = b[4 + j] >> 4;
		}
		break;
	case G4_Q5_0: case G4_Q5_1: {
		int o = t == G4_Q5_0 ? 2 : 4;
		uint32_t qh = rd32(b + o);
		for (int j = 0; j < 16; j++) {
			u[j] = (uint8_t)((b[o + 4 + j] & 15) | ((qh >> j) & 1) << 4);
			u[j + 16] = (uint8_t)((b[o + 4 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
		}
		break;
	}
	default:	/* Q8_0 */
		for (int j = 0; j < 32; j++)
			u[j] = (uint8_t)(b[2 + j] ^ 0x80);
	}
}

static void pack(uint32_t t, int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst)
{
	size_t wb = g4_type_block_bytes(t), bb = blk_bytes(t);
	int mins = has_min(t), nib = nibble_form(t);
	memset(dst, 0, group_bytes(t, n));
	/* Q4_0, Q4_1, IQ4_NL: the nibble chunks hold the source bytes as they
	 * are (byte 4c+k of a row has values 4c+k and 16+4c+k); Q8_0: the
	 * bytes with the sign bit flipped.  So those are a 4-byte transpose. */
	const int qo = t == G4_Q4_1 ? 4 : 2, direct = nib || t == G4_Q8_0;
	for (int64_t b = 0; b < n / 32; b++) {
		uint8_t *o = dst + (size_t)b * bb, *q = o + (mins ? 64 : 32);
		if (direct) {
			for (int r = 0; r < nrows; r++) {
				const uint8_t *sb = src + (size_t)r * sstride + (size_t)b * wb;
				memcpy(o + 2 * r, sb, 2);
				if (mins)
					memcpy(o + 32 + 2 * r, sb + 2, 2);
				for (int c = 0; c < (nib ? 4 : 8); c++) {
					uint32_t v;
					memcpy(&v, sb + qo + 4 * c, 4);
					if (!nib)
						v ^= 0x80808080u;
					memcpy(q + 64 * c + 4 * r, &v, 4);
				}
			}
			continue;
		}
		for (int r = 0; r < nrows; r++) {
			uint8_t u[32];
			uint16_t d, m;
			unpack_block(t, src + (size_t)r * sstride + (size_t)b * wb, u, &d, &m);
			memcpy(o + 2 * r, &d, 2);
			if (mins)
				memcpy(o + 32 + 2 * r, &m, 2);
			for (int k = 0; k < 32; k++) {
				int g = k / 4, e = k % 4;
				if (nib)
					q[64 * (g % 4) + 4 * r + e] |= (uint8_t)(u[k] << (g >= 4 ? 4 : 0));
				else
					q[64 * g + 4 * r + e] = u[k];
			}
		}
	}
}

/* Per activation row and block: the f32 scale, the integer start
 * -off * sum(a) and (types with mins) the f32 s. */
typedef struct {
	float d, s;
	int32_t start;
} actblk;

static void act_blocks(uint32_t t, const uint8_t *a, int64_t nb, actblk *o)
{
	int mins = has_min(t), off = offset(t);
	size_t ab = mins ? 36 : 34;
	for (int64_t b = 0; b < nb; b++, a += ab) {
		const int8_t *q = (const int8_t *)(a + (mins ? 4 : 2));
		int32_t s = 0;
		for (int k = 0; k < 32; k++)
			s += q[k];
		o[b].d = g4_f16_to_f32(rd16(a));
		o[b].s = mins ? g4_f16_to_f32(rd16(a + 2)) : 0.0f;
		o[b].start = -off * s;
	}
}

T5I int32_t ld32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* NA (1..TILE) activation rows against one group over all nb blocks */
T5I void tile(uint32_t t, int NA, int64_t nb, const uint8_t *grp, const uint8_t *const *ap,
	      const actblk *const *ax, __m512 *sum, int pf)
{
	const int mins = has_min(t), nib = nibble_form(t), qo = mins ? 4 : 2;
	const size_t bb = blk_bytes(t), ab = mins ? 36 : 34;
	const __m512i m4 = _mm512_set1_epi8(15);
	const __m512i kv = _mm512_broadcast_i32x4(_mm_xor_si128(
		_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl), _mm_set1_epi8((char)0x80)));
	for (int j = 0; j < NA; j++)
		sum[j] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *o = grp + (size_t)b * bb, *q = o + (mins ? 64 : 32);
		if (pf)	/* the group's first pass streams it from memory: ask ~6 KB ahead */
			for (size_t l = 0; l < bb; l += 64)
				_mm_prefetch((const char *)o + PREFETCH + l, _MM_HINT_T0);
		__m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
		__m512 wm = mins ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32))) : wd;
		__m512i w[8];
		if (nib) {
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
			for (int g = 0; g < 8; g++)
				w[g] = _mm512_loadu_si512(q + 64 * g);
		}
		_Pragma("GCC unroll 8")
		for (int j = 0; j < NA; j++) {
			const uint8_t *y = ap[j] + (size_t)b * ab + qo;
			const actblk *x = &ax[j][b];
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

T5I void gemm(uint32_t t, int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act,
	      size_t astride, int64_t nact, float *y, size_t ldy)
{
	const int64_t nb = n / 32, ng = (nrows + ROWS - 1) / ROWS;
	const size_t gb = group_bytes(t, n);
	int64_t chunk = nact < ACHUNK ? nact : ACHUNK;
	actblk *ax = malloc((size_t)(chunk * nb) * sizeof *ax);
	if (!ax) {	/* no memory for 12 bytes a block: the plain rows cannot be reached here either */
		for (int64_t j = 0; j < nact; j++)
			for (int64_t r = 0; r < nrows; r++)
				y[j * ldy + r] = __builtin_nanf("");
		return;
	}
	for (int64_t j0 = 0; j0 < nact; j0 += chunk) {
		int64_t na = nact - j0 < chunk ? nact - j0 : chunk;
		for (int64_t j = 0; j < na; j++)
			act_blocks(t, act + (size_t)(j0 + j) * astride, nb, ax + j * nb);
		for (int64_t g = 0; g < ng; g++) {
			const uint8_t *grp = groups + (size_t)g * gb;
			int64_t r0 = g * ROWS, left = nrows - r0;
			__mmask16 keep = left >= ROWS ? 0xFFFF : (__mmask16)((1u << left) - 1);
			for (int64_t j = 0; j < na; j += TILE) {
				int k = na - j < TILE ? (int)(na - j) : TILE;
				const uint8_t *ap[TILE];
				const actblk *xp[TILE];
				__m512 sum[TILE];
				for (int i = 0; i < k; i++) {
					ap[i] = act + (size_t)(j0 + j + i) * astride;
					xp[i] = ax + (j + i) * nb;
				}
				switch (k) {
				case 8: tile(t, 8, nb, grp, ap, xp, sum, j == 0); break;
				case 7: tile(t, 7, nb, grp, ap, xp, sum, j == 0); break;
				case 6: tile(t, 6, nb, grp, ap, xp, sum, j == 0); break;
				case 5: tile(t, 5, nb, grp, ap, xp, sum, j == 0); break;
				case 4: tile(t, 4, nb, grp, ap, xp, sum, j == 0); break;
				case 3: tile(t, 3, nb, grp, ap, xp, sum, j == 0); break;
				case 2: tile(t, 2, nb, grp, ap, xp, sum, j == 0); break;
				default: tile(t, 1, nb, grp, ap, xp, sum, j == 0); break;
				}
				for (int i = 0; i < k; i++)
					_mm512_mask_storeu_ps(y + (size_t)(j0 + j + i) * ldy + r0, keep, sum[i]);
			}
		}
	}
	free(ax);
}

#define KERNEL(name, T) \
static size_t name##_gb(int64_t n) { return group_bytes(T, n); } \
static void name##_pack(int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst) \
{ pack(T, n, src, sstride, nrows, dst); } \
T5 static void name##_gemm(int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act, \
			   size_t astride, int64_t nact, float *y, size_t ldy) \
{ gemm(T, n, groups, nrows, act, astride, nact, y, ldy); } \
static const g4_rp_kernel name = { T, ROWS, name##_gb, name##_pack, name##_gemm };

KERNEL(rp_q4_0, G4_Q4_0)
KERNEL(rp_q4_1, G4_Q4_1)
KERNEL(rp_q5_0, G4_Q5_0)
KERNEL(rp_q5_1, G4_Q5_1)
KERNEL(rp_q8_0, G4_Q8_0)
KERNEL(rp_iq4_nl, G4_IQ4_NL)

void g4_rp_avx512_b32(const g4_rp_kernel *rtab[G4_NTYPES])
{
	rtab[G4_Q4_0] = &rp_q4_0;
	rtab[G4_Q4_1] = &rp_q4_1;
	rtab[G4_Q5_0] = &rp_q5_0;
	rtab[G4_Q5_1] = &rp_q5_1;
	rtab[G4_Q8_0] = &rp_q8_0;
	rtab[G4_IQ4_NL] = &rp_iq4_nl;
}

#else	/* not x86 */

void g4_rp_avx512_b32(const g4_rp_kernel *rtab[G4_NTYPES])
{
	(void)rtab;
}

#endif
