/* kern_rp_k.c - AVX-512 VNNI matmul kernels for repacked K-quant weights
 * (repack.h): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS.
 *
 * The scheme of kern_rp_b32.c: a group is 16 rows, lanes = rows, and an
 * activation dword (4 values) broadcast into vpdpbusd adds the products
 * of 4 values to each row's lane, so every lane builds its row's exact
 * integers with no horizontal adds.  Per super-block (256 values) a group
 * holds a record: the 16 rows' f16 d (and dmin), their scales (and mins)
 * as bytes, then the quants as unsigned u = q + off in "chunk" registers
 * of 64 bytes (byte 4r+k of the chunk of values 4c..4c+3 is value 4c+k of
 * row r), 64-byte aligned.  The chunks are stored as densely as the type
 * (a record is 0-3% larger than the 16 rows, Q3_K 5%) and unpacked with a
 * few and / shift / bit-select instructions, or taken in place where a
 * field can go into vpdpbusd as 2^s u (its exact sum is shifted back).
 *
 * Numerics (vecdot.h): per run of values under one scale (16; 32 for
 * Q4_K, Q5_K, IQ4_XS) a lane integer starts at -off * (the sum of those
 * activation values, from the activation's q), takes the vpdpbusd of the
 * run's chunks, so it holds sum(q * a), and is multiplied by the row's
 * scale (vpmulld) into the super-block's S.  M = sum of min_g * bsum_g
 * comes from the mins as int16 pairs against the activation's bsum pairs
 * (vpdpwssd).  Then per lane sum = fma((float)S, f16(w.d) * a.d, sum)
 * and, with mins, sum = fma(-(float)M, f16(w.dmin) * a.d, sum): the bits
 * of g4_vecdot.  No instruction saturates; every integer is exact.
 *
 * Cost per 16 rows x 256 values and activation row: 64 vpdpbusd and 8
 * (Q4_K, Q5_K, IQ4_XS) or 16 vpmulld; unpacking, shared by a tile of
 * activation rows: Q4_K 64 ands (nibbles in place, the high ones as
 * 16 u), Q2_K 64 ands (2-bit fields in place as 4^i u), Q3_K ~136, Q6_K
 * ~144, Q5_K ~152, IQ4_XS ~160 instructions (and, shift, bit-select; the
 * IQ4 values through a byte shuffle).
 *
 * A call works through its rows group by group; in each group it keeps
 * one scale's run of unpacked weights in registers for a tile of up to 8
 * activation rows (with 1 or 2 rows the vpdpbusd run in two chains, for
 * latency). */
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

enum { ROWS = 16, TILE = 8, ACHUNK = 64, ABYTES = 292, PF = 6144 };

/* record sizes and where the quant registers start (64-byte aligned, so
 * no register load crosses a cache line) */
enum {
	Q6_QS = 320, Q6_REC = Q6_QS + 3072,
	Q4_QS = 320, Q4_REC = Q4_QS + 2048,
	Q5_QS = 320, Q5_REC = Q5_QS + 2560,
	Q3_QS = 320, Q3_REC = Q3_QS + 1536,
	Q2_QS = 320, Q2_REC = Q2_QS + 1024,
	X4_QS = 192, X4_REC = X4_QS + 2048,
};

/* bytes of one super-block record of a group */
static size_t rec_bytes(uint32_t t)
{
	switch (t) {
	case G4_Q6_K: return Q6_REC;
	case G4_Q4_K: return Q4_REC;
	case G4_Q5_K: return Q5_REC;
	case G4_Q3_K: return Q3_REC;
	case G4_Q2_K: return Q2_REC;
	case G4_IQ4_XS: return X4_REC;
	default: return 0;
	}
}

static size_t group_bytes(uint32_t t, int64_t n)
{
	return n > 0 && n % 256 == 0 ? (size_t)(n / 256) * rec_bytes(t) : 0;
}

/* ---- packing ---- */

/* The unsigned values of a super-block from the K-quant bit planes:
 * 2-bit fields (Q2_K, Q3_K: byte 32h+l, bits 2g..2g+1 = value 128h+32g+l),
 * nibbles (Q4_K, Q5_K: byte 32k+l, low = value 64k+l, high = 64k+32+l),
 * one more bit of every value (Q3_K, Q5_K: byte l, bit j = value 32j+l,
 * at bit `pos` of the value). */
static void planes2(const uint8_t *qs, uint8_t u[256])
{
	for (int h = 0; h < 2; h++)
		for (int l = 0; l < 32; l++) {
			uint8_t x = qs[32 * h + l], *v = u + 128 * h + l;
			v[0] = x & 3;
			v[32] = (x >> 2) & 3;
			v[64] = (x >> 4) & 3;
			v[96] = x >> 6;
		}
}

static void planes4(const uint8_t *qs, uint8_t u[256])
{
	for (int k = 0; k < 4; k++)
		for (int l = 0; l < 32; l++) {
			u[64 * k + l] = qs[32 * k + l] & 15;
			u[64 * k + 32 + l] = qs[32 * k + l] >> 4;
		}
}

static void plane1(const uint8_t *qh, int pos, uint8_t u[256])
{
	for (int j = 0; j < 8; j++)
		for (int l = 0; l < 32; l++)
			u[32 * j + l] |= (uint8_t)(((qh[l] >> j) & 1) << pos);
}

/* Q6_K: f16 d; 16 x 16 int8 scales; per 16-value group g three chunk
 * registers A, B, C of u = q + 32 (6 bits): bits 0-5 are chunks 4g, 4g+1,
 * 4g+2, and chunk 4g+3 is spread over their bits 6-7 (C: its bits 0-1,
 * B: bits 2-3, A: bits 4-5) */
static void q6k_pack_row(const uint8_t *b, int r, uint8_t *o)
{
	uint8_t u[256];
	for (int h = 0; h < 2; h++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *ql = b + 64 * h + l;
			int qh = b[128 + 32 * h + l];
			uint8_t *v = u + 128 * h + l;
			v[0] = (uint8_t)((ql[0] & 15) | (qh & 3) << 4);
			v[32] = (uint8_t)((ql[32] & 15) | ((qh >> 2) & 3) << 4);
			v[64] = (uint8_t)((ql[0] >> 4) | ((qh >> 4) & 3) << 4);
			v[96] = (uint8_t)((ql[32] >> 4) | (qh >> 6) << 4);
		}
	wr16(o + 2 * r, rd16(b + 208));
	for (int g = 0; g < 16; g++) {
		uint8_t *q = o + Q6_QS + 192 * g;
		o[32 + 16 * g + r] = b[192 + g];
		for (int k = 0; k < 4; k++) {
			const uint8_t *v = u + 16 * g + k;
			q[4 * r + k] = (uint8_t)(v[0] | ((v[12] >> 4) & 3) << 6);
			q[64 + 4 * r + k] = (uint8_t)(v[4] | ((v[12] >> 2) & 3) << 6);
			q[128 + 4 * r + k] = (uint8_t)(v[8] | (v[12] & 3) << 6);
		}
	}
}

/* The header of a Q4_K/Q5_K record, row r: f16 d, dmin; the scales and
 * mins of the 8 sub-blocks */
static void k45_pack_head(const uint8_t *b, int r, uint8_t *o)
{
	wr16(o + 2 * r, rd16(b));
	wr16(o + 32 + 2 * r, rd16(b + 2));
	for (int j = 0; j < 8; j++) {
		int sc, mn;
		g4_k4_scale_min(b + 4, j, &sc, &mn);
		o[64 + 16 * j + r] = (uint8_t)sc;
		o[192 + 16 * j + r] = (uint8_t)mn;
	}
}

/* Q4_K: f16 d, dmin; scales and mins of the 8 sub-blocks; the 128 quant
 * bytes as they are (pair k of sub-blocks: bytes 32k..32k+31, low nibbles
 * sub-block 2k, high nibbles 2k+1) */
static void q4k_pack_row(const uint8_t *b, int r, uint8_t *o)
{
	k45_pack_head(b, r, o);
	for (int k = 0; k < 4; k++)
		for (int c = 0; c < 8; c++)
			memcpy(o + Q4_QS + 512 * k + 64 * c + 4 * r, b + 16 + 32 * k + 4 * c, 4);
}

/* Q5_K: the Q4_K header; per sub-block j five chunk registers A0..A4:
 * bits 0-4 of Am = chunk m (values 32j+4m..), bits 5-7 hold chunks 5-7:
 * A0 = c5 bits 0-2, A1 = c5 bits 3-4 and c7 bit 3, A2 = c6 bits 0-2,
 * A3 = c6 bits 3-4 and c7 bit 4, A4 = c7 bits 0-2 */
static void q5k_pack_row(const uint8_t *b, int r, uint8_t *o)
{
	k45_pack_head(b, r, o);
	uint8_t v[256];
	planes4(b + 48, v);
	plane1(b + 16, 4, v);
	for (int j = 0; j < 8; j++)
		for (int i = 0; i < 4; i++) {
			int u[8];
			for (int c = 0; c < 8; c++)
				u[c] = v[32 * j + 4 * c + i];
			int top[5] = { u[5] & 7, (u[5] >> 3) | ((u[7] >> 3) & 1) << 2, u[6] & 7,
				       (u[6] >> 3) | (u[7] >> 4) << 2, u[7] & 7 };
			for (int m = 0; m < 5; m++)
				o[Q5_QS + 320 * j + 64 * m + 4 * r + i] = (uint8_t)(u[m] | top[m] << 5);
		}
}

/* Q3_K: f16 d; 16 x 16 int8 scales (the 6-bit scale - 32); per pair p of
 * 16-value groups (chunks c0..c7, values 32p+4c..) three chunk registers
 * of u = q + 4 (3 bits): A = c0 | c1 << 3 | c2 bits 0-1 << 6, B = c3 |
 * c4 << 3 | c5 bits 0-1 << 6, C = c6 | c7 << 3 | c2 bit 2 << 6 | c5 bit 2
 * << 7 */
static void q3k_pack_row(const uint8_t *b, int r, uint8_t *o)
{
	wr16(o + 2 * r, rd16(b + 108));
	for (int g = 0; g < 16; g++)
		o[32 + 16 * g + r] = (uint8_t)(g4_q3k_scale(b + 96, g) - 32);
	uint8_t v[256];
	planes2(b + 32, v);
	plane1(b, 2, v);
	for (int p = 0; p < 8; p++)
		for (int i = 0; i < 4; i++) {
			int u[8];
			for (int c = 0; c < 8; c++)
				u[c] = v[32 * p + 4 * c + i];
			uint8_t *q = o + Q3_QS + 192 * p + 4 * r + i;
			q[0] = (uint8_t)(u[0] | u[1] << 3 | (u[2] & 3) << 6);
			q[64] = (uint8_t)(u[3] | u[4] << 3 | (u[5] & 3) << 6);
			q[128] = (uint8_t)(u[6] | u[7] << 3 | (u[2] >> 2) << 6 | (u[5] >> 2) << 7);
		}
}

/* Q2_K: f16 d, dmin; per pair h of 16-value groups 32 bytes: byte 2r+e
 * is row r's scale byte (scale | min << 4) of group 2h+e; per quad G of
 * groups four chunk registers Z0..Z3: bits 2i..2i+1 of byte 4r+k of Zc
 * are value 16(4G+i)+4c+k of row r */
static void q2k_pack_row(const uint8_t *b, int r, uint8_t *o)
{
	wr16(o + 2 * r, rd16(b + 80));
	wr16(o + 32 + 2 * r, rd16(b + 82));
	for (int g = 0; g < 16; g++)
		o[64 + 32 * (g / 2) + 2 * r + g % 2] = b[g];
	uint8_t u[256];
	planes2(b + 16, u);
	for (int G = 0; G < 4; G++)
		for (int c = 0; c < 4; c++)
			for (int k = 0; k < 4; k++) {
				const uint8_t *v = u + 64 * G + 4 * c + k;
				o[Q2_QS + 256 * G + 64 * c + 4 * r + k] =
					(uint8_t)(v[0] | v[16] << 2 | v[32] << 4 | v[48] << 6);
			}
}

/* IQ4_XS: f16 d; 8 x 16 int8 scales (ls - 32); per sub-block j four chunk
 * registers: byte 4r+k of register c is quant byte 16j+4c+k of row r
 * (low nibble: value 32j+4c+k, high: 32j+16+4c+k) */
static void iq4xs_pack_row(const uint8_t *b, int r, uint8_t *o)
{
	wr16(o + 2 * r, rd16(b));
	unsigned sh = rd16(b + 2);
	for (int j = 0; j < 8; j++) {
		int ls = ((b[4 + j / 2] >> (4 * (j & 1))) & 15) | ((sh >> (2 * j)) & 3) << 4;
		o[32 + 16 * j + r] = (uint8_t)(ls - 32);
		for (int c = 0; c < 4; c++)
			memcpy(o + X4_QS + 256 * j + 64 * c + 4 * r, b + 8 + 16 * j + 4 * c, 4);
	}
}

static void pack(uint32_t t, int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst)
{
	size_t wb = g4_type_block_bytes(t), rb = rec_bytes(t);
	memset(dst, 0, group_bytes(t, n));
	for (int64_t b = 0; b < n / 256; b++)
		for (int r = 0; r < nrows; r++) {
			const uint8_t *s = src + (size_t)r * sstride + (size_t)b * wb;
			uint8_t *o = dst + (size_t)b * rb;
			switch (t) {
			case G4_Q6_K: q6k_pack_row(s, r, o); break;
			case G4_Q4_K: q4k_pack_row(s, r, o); break;
			case G4_Q5_K: q5k_pack_row(s, r, o); break;
			case G4_Q3_K: q3k_pack_row(s, r, o); break;
			case G4_Q2_K: q2k_pack_row(s, r, o); break;
			case G4_IQ4_XS: iq4xs_pack_row(s, r, o); break;
			}
		}
}

/* ---- activations ---- */

/* Per activation row and super-block: a.d, and per run of values under
 * one scale (16; 32 for IQ4_XS) the lane start -off * (the sum of the
 * run's activation q). */
typedef struct {
	float d;
	int32_t st[16];
} kact;

static void act_prep(uint32_t t, const uint8_t *a, int64_t nsb, kact *o)
{
	/* the offset, and the values per scale (16, or 32 for IQ4_XS) */
	int off = t == G4_Q6_K ? 32 : t == G4_Q3_K ? 4 : t == G4_IQ4_XS ? 128 : 0;
	int len = t == G4_IQ4_XS ? 32 : 16;
	for (int64_t b = 0; b < nsb; b++, a += ABYTES) {
		const int8_t *q = (const int8_t *)(a + 4);
		memcpy(&o[b].d, a, 4);
		for (int g = 0; g < 256 / len && off; g++) {
			int32_t s = 0;
			for (int k = 0; k < len; k++)
				s += q[len * g + k];
			o[b].st[g] = -off * s;
		}
	}
}

/* ---- kernels ---- */

T5I int32_t ld32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* The first pass over a group (all of decode; the first tile of a batch)
 * streams the weights from memory, faster than the hardware prefetchers
 * alone bring them (from DRAM: 20 -> 40 GB/s): each quant register load
 * asks for the line PF bytes ahead, each record for its header lines PF
 * bytes ahead. */
T5I __m512i ldq(int pf, const uint8_t *p)
{
	if (pf)
		_mm_prefetch((const char *)(p + PF), _MM_HINT_T0);
	return _mm512_loadu_si512(p);
}

T5I void pf_head(int pf, const uint8_t *o, int qs)
{
	if (pf)
		for (int l = 0; l < qs; l += 64)
			_mm_prefetch((const char *)(o + PF + l), _MM_HINT_T0);
}

T5I __m512i bsel(__m512i m, __m512i a, __m512i b)	/* m ? a : b, bitwise */
{
	return _mm512_ternarylogic_epi32(m, a, b, 0xCA);
}

/* 4 broadcast activation dwords at y into acc with the weights w0..w3
 * (two chains when a tile has few rows: shorter latency) */
T5I __m512i dot4(int NA, __m512i acc, __m512i w0, __m512i w1, __m512i w2, __m512i w3, const uint8_t *y)
{
	if (NA > 2) {
		acc = _mm512_dpbusd_epi32(acc, w0, _mm512_set1_epi32(ld32(y)));
		acc = _mm512_dpbusd_epi32(acc, w1, _mm512_set1_epi32(ld32(y + 4)));
		acc = _mm512_dpbusd_epi32(acc, w2, _mm512_set1_epi32(ld32(y + 8)));
		return _mm512_dpbusd_epi32(acc, w3, _mm512_set1_epi32(ld32(y + 12)));
	}
	__m512i acc2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w1, _mm512_set1_epi32(ld32(y + 4)));
	acc = _mm512_dpbusd_epi32(acc, w0, _mm512_set1_epi32(ld32(y)));
	acc2 = _mm512_dpbusd_epi32(acc2, w3, _mm512_set1_epi32(ld32(y + 12)));
	acc = _mm512_dpbusd_epi32(acc, w2, _mm512_set1_epi32(ld32(y + 8)));
	return _mm512_add_epi32(acc, acc2);
}

/* 8 broadcast activation dwords at y into acc with the weights w[0..7] */
T5I __m512i dot8(int NA, __m512i acc, const __m512i *w, const uint8_t *y)
{
	if (NA > 2) {
		_Pragma("GCC unroll 8")
		for (int c = 0; c < 8; c++)
			acc = _mm512_dpbusd_epi32(acc, w[c], _mm512_set1_epi32(ld32(y + 4 * c)));
		return acc;
	}
	__m512i acc2 = _mm512_setzero_si512();
	_Pragma("GCC unroll 4")
	for (int c = 0; c < 8; c += 2) {
		acc = _mm512_dpbusd_epi32(acc, w[c], _mm512_set1_epi32(ld32(y + 4 * c)));
		acc2 = _mm512_dpbusd_epi32(acc2, w[c + 1], _mm512_set1_epi32(ld32(y + 4 * c + 4)));
	}
	return _mm512_add_epi32(acc, acc2);
}

/* The parts every super-block tile shares.  S[j] += sc * (the dot of the
 * weight registers with activation row j's values at byte off of
 * super-block b, from the activation sum st (-1: from 0), >> shift). */
T5I void sub4(int NA, __m512i w0, __m512i w1, __m512i w2, __m512i w3, const uint8_t *const *ap,
	      const kact *const *ax, int64_t b, int off, int st, int shift, __m512i sc, __m512i *S)
{
	_Pragma("GCC unroll 8")
	for (int j = 0; j < NA; j++) {
		__m512i init = st >= 0 ? _mm512_set1_epi32(ax[j][b].st[st]) : _mm512_setzero_si512();
		__m512i acc = dot4(NA, init, w0, w1, w2, w3, ap[j] + (size_t)b * ABYTES + 4 + off);
		if (shift)
			acc = _mm512_srai_epi32(acc, shift);
		S[j] = _mm512_add_epi32(S[j], _mm512_mullo_epi32(acc, sc));
	}
}

T5I void sub8(int NA, const __m512i *w, const uint8_t *const *ap, const kact *const *ax, int64_t b, int off,
	      int st, int shift, __m512i sc, __m512i *S)
{
	_Pragma("GCC unroll 8")
	for (int j = 0; j < NA; j++) {
		__m512i init = st >= 0 ? _mm512_set1_epi32(ax[j][b].st[st]) : _mm512_setzero_si512();
		__m512i acc = dot8(NA, init, w, ap[j] + (size_t)b * ABYTES + 4 + off);
		if (shift)
			acc = _mm512_srai_epi32(acc, shift);
		S[j] = _mm512_add_epi32(S[j], _mm512_mullo_epi32(acc, sc));
	}
}

T5I void zero_ps(int NA, __m512 *v)
{
	_Pragma("GCC unroll 8")
	for (int j = 0; j < NA; j++)
		v[j] = _mm512_setzero_ps();
}

T5I void zero_si(int NA, __m512i *v)
{
	_Pragma("GCC unroll 8")
	for (int j = 0; j < NA; j++)
		v[j] = _mm512_setzero_si512();
}

/* End of a super-block without mins (Q3_K, Q6_K, IQ4_XS; 16 f16 d at o):
 * sum = fma(S, d_w * d_a, sum) */
T5I void fin_d(int NA, const uint8_t *o, const kact *const *ax, int64_t b, const __m512i *S, __m512 *sum)
{
	__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
	_Pragma("GCC unroll 8")
	for (int j = 0; j < NA; j++)
		sum[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[j]), _mm512_mul_ps(dw, _mm512_set1_ps(ax[j][b].d)),
					 sum[j]);
}

/* NA (1..TILE) activation rows against one Q6_K group over nsb
 * super-blocks.  Record (3392 bytes): 16 f16 d, 16 x 16 int8 scales, 32
 * bytes of padding, the 16 x 3 chunk registers of q6k_pack_row: three
 * chunks take an and, the fourth three shifts, two bit-selects and an and. */
T5I void tile_q6k(int NA, int pf, int64_t nsb, const uint8_t *grp, const uint8_t *const *ap,
		  const kact *const *ax, __m512 *sum)
{
	const __m512i m3f = _mm512_set1_epi8(0x3F), m30 = _mm512_set1_epi8(0x30);
	const __m512i m03 = _mm512_set1_epi8(3);
	zero_ps(NA, sum);
	for (int64_t b = 0; b < nsb; b++) {
		const uint8_t *o = grp + (size_t)b * Q6_REC;
		pf_head(pf, o, Q6_QS);
		__m512i S[TILE];
		zero_si(NA, S);
		for (int g = 0; g < 16; g++) {
			const uint8_t *q = o + Q6_QS + 192 * g;
			__m512i A = ldq(pf, q), B = ldq(pf, q + 64), C = ldq(pf, q + 128);
			__m512i t = bsel(m30, _mm512_srli_epi16(A, 2), _mm512_srli_epi16(B, 4));
			t = bsel(m03, _mm512_srli_epi16(C, 6), t);
			__m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(o + 32 + 16 * g)));
			sub4(NA, _mm512_and_si512(A, m3f), _mm512_and_si512(B, m3f), _mm512_and_si512(C, m3f),
			     _mm512_and_si512(t, m3f), ap, ax, b, 16 * g, g, 0, sc, S);
		}
		fin_d(NA, o, ax, b, S, sum);
	}
}

/* per lane the pair (m, m) of int16 from 16 bytes m (row r: lane r) */
T5I __m512i dup16(const uint8_t *p)
{
	const __m512i ctl = _mm512_set_epi8(
		-1, 15, -1, 15, -1, 14, -1, 14, -1, 13, -1, 13, -1, 12, -1, 12,
		-1, 11, -1, 11, -1, 10, -1, 10, -1, 9, -1, 9, -1, 8, -1, 8,
		-1, 7, -1, 7, -1, 6, -1, 6, -1, 5, -1, 5, -1, 4, -1, 4,
		-1, 3, -1, 3, -1, 2, -1, 2, -1, 1, -1, 1, -1, 0, -1, 0);
	return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)p)), ctl);
}

/* the mins of a Q4_K/Q5_K super-block (8 x 16 bytes at o + 192) as fin_min
 * takes them */
T5I void mins8(const uint8_t *o, __m512i *mv)
{
	_Pragma("GCC unroll 8")
	for (int k = 0; k < 8; k++)
		mv[k] = dup16(o + 192 + 16 * k);
}

/* End of a super-block with mins (Q2_K, Q4_K, Q5_K; d, dmin at o, o + 32):
 * M = sum_g min_g * bsum_g from mv[k], per lane the int16 mins of groups
 * 2k and 2k+1, against the activation's bsum pair k; then the two fmas of
 * vecdot.h */
T5I void fin_min(int NA, const uint8_t *o, const __m512i *mv, const uint8_t *const *ap,
		 const kact *const *ax, int64_t b, const __m512i *S, __m512 *sum)
{
	__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
	__m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32)));
	_Pragma("GCC unroll 8")
	for (int j = 0; j < NA; j++) {
		const uint8_t *bs = ap[j] + (size_t)b * ABYTES + 260;
		__m512i M = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mv[0], _mm512_set1_epi32(ld32(bs)));
		__m512i M2 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mv[1], _mm512_set1_epi32(ld32(bs + 4)));
		_Pragma("GCC unroll 3")
		for (int k = 2; k < 8; k += 2) {
			M = _mm512_dpwssd_epi32(M, mv[k], _mm512_set1_epi32(ld32(bs + 4 * k)));
			M2 = _mm512_dpwssd_epi32(M2, mv[k + 1], _mm512_set1_epi32(ld32(bs + 4 * k + 4)));
		}
		__m512 da = _mm512_set1_ps(ax[j][b].d);
		sum[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[j]), _mm512_mul_ps(dw, da), sum[j]);
		M = _mm512_add_epi32(M, M2);
		sum[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(M), _mm512_mul_ps(dm, da), sum[j]);
	}
}

/* Q4_K record (2368 bytes): 16 f16 d, 16 f16 dmin, 8 x 16 u8 scales, 8 x 16
 * u8 mins, then per pair k of sub-blocks 8 chunks: byte 4r+i of chunk c is
 * byte 32k+4c+i of row r's quants (low nibble: value 64k+4c+i, high:
 * 64k+32+4c+i).  The high nibbles go in as x & 0xF0 = 16 q: the exact
 * sub-block sum is shifted back by 4 before its scale. */
T5I void tile_q4k(int NA, int pf, int64_t nsb, const uint8_t *grp, const uint8_t *const *ap,
		  const kact *const *ax, __m512 *sum)
{
	const __m512i m0f = _mm512_set1_epi8(0x0F), mf0 = _mm512_set1_epi8((char)0xF0);
	zero_ps(NA, sum);
	for (int64_t b = 0; b < nsb; b++) {
		const uint8_t *o = grp + (size_t)b * Q4_REC;
		pf_head(pf, o, Q4_QS);
		__m512i S[TILE], mv[8];
		zero_si(NA, S);
		mins8(o, mv);
		for (int k = 0; k < 4; k++) {
			const uint8_t *q = o + Q4_QS + 512 * k;
			_Pragma("GCC unroll 2")
			for (int h = 0; h < 2; h++) {
				__m512i w[8];
				_Pragma("GCC unroll 8")
				for (int c = 0; c < 8; c++)
					w[c] = _mm512_and_si512(h ? _mm512_loadu_si512(q + 64 * c) : ldq(pf, q + 64 * c),
								h ? mf0 : m0f);
				const uint8_t *scp = o + 64 + 16 * (2 * k + h);
				__m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)scp));
				sub8(NA, w, ap, ax, b, 64 * k + 32 * h, -1, h ? 4 : 0, sc, S);
			}
		}
		fin_min(NA, o, mv, ap, ax, b, S, sum);
	}
}

/* Q5_K record (2880 bytes): the Q4_K header (320 bytes), then per
 * sub-block the five chunk registers of q5k_pack_row */
T5I void tile_q5k(int NA, int pf, int64_t nsb, const uint8_t *grp, const uint8_t *const *ap,
		  const kact *const *ax, __m512 *sum)
{
	const __m512i m1f = _mm512_set1_epi8(0x1F), m07 = _mm512_set1_epi8(7);
	const __m512i m0f = _mm512_set1_epi8(0x0F);
	zero_ps(NA, sum);
	for (int64_t b = 0; b < nsb; b++) {
		const uint8_t *o = grp + (size_t)b * Q5_REC;
		pf_head(pf, o, Q5_QS);
		__m512i S[TILE], mv[8];
		zero_si(NA, S);
		mins8(o, mv);
		for (int sbk = 0; sbk < 8; sbk++) {
			const uint8_t *q = o + Q5_QS + 320 * sbk;
			__m512i A[5], w[8];
			_Pragma("GCC unroll 5")
			for (int m = 0; m < 5; m++) {
				A[m] = ldq(pf, q + 64 * m);
				w[m] = _mm512_and_si512(A[m], m1f);
			}
			w[5] = _mm512_and_si512(bsel(m07, _mm512_srli_epi16(A[0], 5), _mm512_srli_epi16(A[1], 2)), m1f);
			w[6] = _mm512_and_si512(bsel(m07, _mm512_srli_epi16(A[2], 5), _mm512_srli_epi16(A[3], 2)), m1f);
			__m512i t = bsel(m07, _mm512_srli_epi16(A[4], 5), _mm512_srli_epi16(A[1], 4));
			w[7] = _mm512_and_si512(bsel(m0f, t, _mm512_srli_epi16(A[3], 3)), m1f);
			__m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(o + 64 + 16 * sbk)));
			sub8(NA, w, ap, ax, b, 32 * sbk, -1, 0, sc, S);
		}
		fin_min(NA, o, mv, ap, ax, b, S, sum);
	}
}

/* Q3_K record (1856 bytes): 16 f16 d, 16 x 16 int8 scales, 32 bytes of
 * padding, then per pair of 16-value groups the three chunk registers of
 * q3k_pack_row */
T5I void tile_q3k(int NA, int pf, int64_t nsb, const uint8_t *grp, const uint8_t *const *ap,
		  const kact *const *ax, __m512 *sum)
{
	const __m512i m7 = _mm512_set1_epi8(7), m3 = _mm512_set1_epi8(3);
	zero_ps(NA, sum);
	for (int64_t b = 0; b < nsb; b++) {
		const uint8_t *o = grp + (size_t)b * Q3_REC;
		pf_head(pf, o, Q3_QS);
		__m512i S[TILE];
		zero_si(NA, S);
		for (int p = 0; p < 8; p++) {
			const uint8_t *q = o + Q3_QS + 192 * p;
			__m512i A = ldq(pf, q), B = ldq(pf, q + 64), C = ldq(pf, q + 128);
			__m512i w0 = _mm512_and_si512(A, m7), w1 = _mm512_and_si512(_mm512_srli_epi16(A, 3), m7);
			__m512i w2 = _mm512_and_si512(bsel(m3, _mm512_srli_epi16(A, 6), _mm512_srli_epi16(C, 4)), m7);
			__m512i w3 = _mm512_and_si512(B, m7), w4 = _mm512_and_si512(_mm512_srli_epi16(B, 3), m7);
			__m512i w5 = _mm512_and_si512(bsel(m3, _mm512_srli_epi16(B, 6), _mm512_srli_epi16(C, 5)), m7);
			__m512i w6 = _mm512_and_si512(C, m7), w7 = _mm512_and_si512(_mm512_srli_epi16(C, 3), m7);
			__m512i sc0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(o + 32 + 32 * p)));
			__m512i sc1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(o + 48 + 32 * p)));
			sub4(NA, w0, w1, w2, w3, ap, ax, b, 32 * p, 2 * p, 0, sc0, S);
			sub4(NA, w4, w5, w6, w7, ap, ax, b, 32 * p + 16, 2 * p + 1, 0, sc1, S);
		}
		fin_d(NA, o, ax, b, S, sum);
	}
}

/* Q2_K record (1344 bytes): 16 f16 d, 16 f16 dmin, the scale bytes of
 * q2k_pack_row (256), the quant registers (1024).  Group i of a quad goes
 * in as Zc & (3 << 2i) = 4^i u: its exact sum is shifted back by 2i. */
T5I void tile_q2k(int NA, int pf, int64_t nsb, const uint8_t *grp, const uint8_t *const *ap,
		  const kact *const *ax, __m512 *sum)
{
	const __m512i m4 = _mm512_set1_epi32(15);
	zero_ps(NA, sum);
	for (int64_t b = 0; b < nsb; b++) {
		const uint8_t *o = grp + (size_t)b * Q2_REC;
		pf_head(pf, o, Q2_QS);
		__m512i S[TILE], mv[8];
		zero_si(NA, S);
		for (int G = 0; G < 4; G++) {
			const uint8_t *q = o + Q2_QS + 256 * G;
			__m512i Z0 = ldq(pf, q), Z1 = ldq(pf, q + 64), Z2 = ldq(pf, q + 128), Z3 = ldq(pf, q + 192);
			__m512i sc[4];
			_Pragma("GCC unroll 2")
			for (int e = 0; e < 2; e++) {
				/* int16 pairs (byte of group 2h, byte of 2h+1) per lane */
				const uint8_t *sp = o + 64 + 64 * G + 32 * e;
				__m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)sp));
				mv[2 * G + e] = _mm512_srli_epi16(v, 4);
				sc[2 * e] = _mm512_and_si512(v, m4);
				sc[2 * e + 1] = _mm512_and_si512(_mm512_srli_epi32(v, 16), m4);
			}
			_Pragma("GCC unroll 4")
			for (int i = 0; i < 4; i++) {
				const __m512i mk = _mm512_set1_epi8((char)(3 << (2 * i)));
				sub4(NA, _mm512_and_si512(Z0, mk), _mm512_and_si512(Z1, mk), _mm512_and_si512(Z2, mk),
				     _mm512_and_si512(Z3, mk), ap, ax, b, 64 * G + 16 * i, -1, 2 * i, sc[i], S);
			}
		}
		fin_min(NA, o, mv, ap, ax, b, S, sum);
	}
}

/* IQ4_XS record (2240 bytes): 16 f16 d, 8 x 16 int8 scales, 32 bytes of
 * padding, then per sub-block the four nibble registers of iq4xs_pack_row;
 * a nibble becomes kvalue + 128 by a byte shuffle, the offset taken back
 * through the activation sums of the 32 values. */
T5I void tile_iq4xs(int NA, int pf, int64_t nsb, const uint8_t *grp, const uint8_t *const *ap,
		    const kact *const *ax, __m512 *sum)
{
	const __m512i m0f = _mm512_set1_epi8(0x0F);
	const __m512i kv = _mm512_broadcast_i32x4(_mm_xor_si128(
		_mm_loadu_si128((const __m128i *)g4_kvalues_iq4nl), _mm_set1_epi8((char)0x80)));
	zero_ps(NA, sum);
	for (int64_t b = 0; b < nsb; b++) {
		const uint8_t *o = grp + (size_t)b * X4_REC;
		pf_head(pf, o, X4_QS);
		__m512i S[TILE];
		zero_si(NA, S);
		for (int sbk = 0; sbk < 8; sbk++) {
			const uint8_t *q = o + X4_QS + 256 * sbk;
			__m512i w[8];
			_Pragma("GCC unroll 4")
			for (int c = 0; c < 4; c++) {
				__m512i x = ldq(pf, q + 64 * c);
				w[c] = _mm512_shuffle_epi8(kv, _mm512_and_si512(x, m0f));
				w[c + 4] = _mm512_shuffle_epi8(kv, _mm512_and_si512(_mm512_srli_epi16(x, 4), m0f));
			}
			__m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(o + 32 + 16 * sbk)));
			sub8(NA, w, ap, ax, b, 32 * sbk, sbk, 0, sc, S);
		}
		fin_d(NA, o, ax, b, S, sum);
	}
}

T5I void tile(uint32_t t, int NA, int pf, int64_t nsb, const uint8_t *grp, const uint8_t *const *ap,
	      const kact *const *ax, __m512 *sum)
{
	switch (t) {
	case G4_Q6_K: tile_q6k(NA, pf, nsb, grp, ap, ax, sum); break;
	case G4_Q4_K: tile_q4k(NA, pf, nsb, grp, ap, ax, sum); break;
	case G4_Q5_K: tile_q5k(NA, pf, nsb, grp, ap, ax, sum); break;
	case G4_Q3_K: tile_q3k(NA, pf, nsb, grp, ap, ax, sum); break;
	case G4_Q2_K: tile_q2k(NA, pf, nsb, grp, ap, ax, sum); break;
	case G4_IQ4_XS: tile_iq4xs(NA, pf, nsb, grp, ap, ax, sum); break;
	}
}

#define DRV_ACT kact
#define drv_prep act_prep
#include "kern_rp_drv.inc"

#define KERNEL(name, T) \
static size_t name##_gb(int64_t n) { return group_bytes(T, n); } \
static void name##_pack(int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst) \
{ pack(T, n, src, sstride, nrows, dst); } \
T5 static void name##_gemm(int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act, \
			   size_t astride, int64_t nact, float *y, size_t ldy) \
{ drive(T, n / 256, group_bytes(T, n), groups, nrows, act, astride, nact, y, ldy); } \
static const g4_rp_kernel name = { T, ROWS, name##_gb, name##_pack, name##_gemm };

KERNEL(rp_q6_K, G4_Q6_K)
KERNEL(rp_q4_K, G4_Q4_K)
KERNEL(rp_q5_K, G4_Q5_K)
KERNEL(rp_q3_K, G4_Q3_K)
KERNEL(rp_q2_K, G4_Q2_K)
KERNEL(rp_iq4_xs, G4_IQ4_XS)

void g4_rp_avx512_k(const g4_rp_kernel *rtab[G4_NDOT])
{
	rtab[G4_Q6_K] = &rp_q6_K;
	rtab[G4_Q4_K] = &rp_q4_K;
	rtab[G4_Q5_K] = &rp_q5_K;
	rtab[G4_Q3_K] = &rp_q3_K;
	rtab[G4_Q2_K] = &rp_q2_K;
	rtab[G4_IQ4_XS] = &rp_iq4_xs;
}

#else	/* not x86 */

void g4_rp_avx512_k(const g4_rp_kernel *rtab[G4_NDOT])
{
	(void)rtab;
}

#endif
