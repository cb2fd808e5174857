/* dequant.c - f16/bf16 conversion and dequantisation of every supported
 * ggml block format to f32 (see qtypes.h).
 *
 * Bit-exact with ggml's dequantize_row_*: each value is computed with the
 * same operations in the same order (e.g. Q4_K is (d*sc)*q - dmin*m, never
 * d*(sc*q)), one rounding per operation (-ffp-contract=off).  Block layouts
 * are those of ../shared/spec/gguf-and-quant.md section 2; all multi-byte
 * fields are little-endian and read byte by byte, so blocks need no
 * alignment. */
#include <math.h>
#include <string.h>

#include "kern.h"
#include "qblock.h"
#include "qtypes.h"
#include "vecdot.h"

/* ---- f16 / bf16 ---- */

static inline float f32_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline uint32_t bits_f32(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

float g4_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t e = (h >> 10) & 31, m = h & 0x3FF;
	if (e == 31)		/* inf, or NaN made quiet as ggml does */
		return f32_bits(sign | 0x7F800000 | (m ? 0x400000 : 0) | m << 13);
	if (e)
		return f32_bits(sign | (e + 112) << 23 | m << 13);
	/* zero or subnormal: m * 2^-24, exact */
	float v = (float)m * 0x1p-24f;
	return sign ? -v : v;
}

uint16_t g4_f32_to_f16(float f)
{
	uint32_t u = bits_f32(f);
	uint16_t sign = (u >> 16) & 0x8000;
	uint32_t a = u & 0x7FFFFFFF;
	if (a > 0x7F800000)		/* NaN */
		return sign | 0x7E00;
	if (a >= 0x47800000)		/* |x| >= 65536 or inf */
		return sign | 0x7C00;
	if (a >= 0x38800000) {		/* normal f16 (may round up to inf) */
		uint32_t r = a - 0x38000000;
		r += 0x0FFF + ((r >> 13) & 1);
		return sign | (uint16_t)(r >> 13);
	}
	uint32_t e = a >> 23;
	if (e == 0)
		return sign;
	/* subnormal f16: shift the 24-bit significand, round half to even */
	uint32_t m = (a & 0x7FFFFF) | 0x800000, s = 126 - e;
	if (s > 24)
		return sign;
	uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
	if (rem > half || (rem == half && (q & 1)))
		q++;
	return sign | (uint16_t)q;
}

float g4_bf16_to_f32(uint16_t h)
{
	return f32_bits((uint32_t)h << 16);
}

uint16_t g4_f32_to_bf16(float f)
{
	uint32_t u = bits_f32(f);
	if ((u & 0x7FFFFFFF) > 0x7F800000)
		return (uint16_t)((u >> 16) | 0x0040);
	return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

/* ---- legacy 32-element blocks ---- */

static void dq_q4_0(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 18, y += 32) {
		float d = g4_f16_to_f32(rd16(b));
		const uint8_t *qs = b + 2;
		for (int j = 0; j < 16; j++) {
			y[j] = (float)((qs[j] & 15) - 8) * d;
			y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
		}
	}
}

static void dq_q4_1(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 20, y += 32) {
		float d = g4_f16_to_f32(rd16(b)), m = g4_f16_to_f32(rd16(b + 2));
		const uint8_t *qs = b + 4;
		for (int j = 0; j < 16; j++) {
			y[j] = (float)(qs[j] & 15) * d + m;
			y[j + 16] = (float)(qs[j] >> 4) * d + m;
		}
	}
}

static void dq_q5_0(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 22, y += 32) {
		float d = g4_f16_to_f32(rd16(b));
		uint32_t qh = rd32(b + 2);
		const uint8_t *qs = b + 6;
		for (int j = 0; j < 16; j++) {
			int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
			y[j] = (float)(((qs[j] & 15) | h0 << 4) - 16) * d;
			y[j + 16] = (float)(((qs[j] >> 4) | h1 << 4) - 16) * d;
		}
	}
}

static void dq_q5_1(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 24, y += 32) {
		float d = g4_f16_to_f32(rd16(b)), m = g4_f16_to_f32(rd16(b + 2));
		uint32_t qh = rd32(b + 4);
		const uint8_t *qs = b + 8;
		for (int j = 0; j < 16; j++) {
			int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
			y[j] = (float)((qs[j] & 15) | h0 << 4) * d + m;
			y[j + 16] = (float)((qs[j] >> 4) | h1 << 4) * d + m;
		}
	}
}

static void dq_q8_0(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 34, y += 32) {
		float d = g4_f16_to_f32(rd16(b));
		const int8_t *qs = (const int8_t *)(b + 2);
		for (int j = 0; j < 32; j++)
			y[j] = (float)qs[j] * d;
	}
}

static void dq_iq4_nl(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 18, y += 32) {
		float d = g4_f16_to_f32(rd16(b));
		const uint8_t *qs = b + 2;
		for (int j = 0; j < 16; j++) {
			y[j] = d * (float)g4_kvalues_iq4nl[qs[j] & 15];
			y[j + 16] = d * (float)g4_kvalues_iq4nl[qs[j] >> 4];
		}
	}
}

/* ---- K-quants (256-element super-blocks) ---- */

static void dq_q2_K(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 84) {
		const uint8_t *sc = b, *qs = b + 16;
		float d = g4_f16_to_f32(rd16(b + 80)), dmin = g4_f16_to_f32(rd16(b + 82));
		for (int e = 0; e < 256; e++) {
			int q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
			uint8_t s = sc[e / 16];
			float dl = d * (float)(s & 15), ml = dmin * (float)(s >> 4);
			*y++ = dl * (float)q - ml;
		}
	}
}

static void dq_q3_K(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 110) {
		const uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
		float d = g4_f16_to_f32(rd16(b + 108));
		for (int e = 0; e < 256; e++) {
			int q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
			if (!((hm[e % 32] >> (e / 32)) & 1))
				q -= 4;
			float dl = d * (float)(g4_q3k_scale(sc, e / 16) - 32);
			*y++ = dl * (float)q;
		}
	}
}

/* Q4_K (144-byte blocks) and Q5_K (176: a fifth bit per value in qh) */
static void dq_q45_K(int five, const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += five ? 176 : 144) {
		float d = g4_f16_to_f32(rd16(b)), dmin = g4_f16_to_f32(rd16(b + 2));
		const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
		for (int j = 0; j < 8; j++) {
			int s, m;
			g4_k4_scale_min(sc, j, &s, &m);
			float d1 = d * (float)s, m1 = dmin * (float)m;
			const uint8_t *q = qs + 32 * (j / 2);
			int sh = 4 * (j & 1);
			for (int l = 0; l < 32; l++) {
				int v = (q[l] >> sh) & 15;
				if (five)
					v |= ((qh[l] >> j) & 1) << 4;
				*y++ = d1 * (float)v - m1;
			}
		}
	}
}

static void dq_q6_K(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 210) {
		const uint8_t *ql = b, *qh = b + 128;
		const int8_t *sc = (const int8_t *)(b + 192);
		float d = g4_f16_to_f32(rd16(b + 208));
		for (int e = 0; e < 256; e++) {
			int h = e / 128, g = (e % 128) / 32, l = e % 32;
			int lo = (ql[64 * h + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 15;
			int hi = (qh[32 * h + l] >> (2 * g)) & 3;
			*y++ = d * (float)sc[e / 16] * (float)((lo | hi << 4) - 32);
		}
	}
}

static void dq_q8_K(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 292) {
		float d = f32_bits(rd32(b));
		const int8_t *qs = (const int8_t *)(b + 4);
		for (int j = 0; j < 256; j++)
			*y++ = d * (float)qs[j];
	}
}

static void dq_iq4_xs(const uint8_t *b, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++, b += 136) {
		float d = g4_f16_to_f32(rd16(b));
		unsigned sh = rd16(b + 2);
		const uint8_t *sl = b + 4, *qs = b + 8;
		for (int ib = 0; ib < 8; ib++, qs += 16, y += 32) {
			int ls = ((sl[ib / 2] >> (4 * (ib & 1))) & 15) | ((sh >> (2 * ib)) & 3) << 4;
			float dl = d * (float)(ls - 32);
			for (int j = 0; j < 16; j++) {
				y[j] = dl * (float)g4_kvalues_iq4nl[qs[j] & 15];
				y[j + 16] = dl * (float)g4_kvalues_iq4nl[qs[j] >> 4];
			}
		}
	}
}

void g4_dequant_row(uint32_t t, const void *src, float *dst, int64_t n)
{
	const uint8_t *b = src;
	int bs = g4_type_block(t);
	if (!bs || n <= 0)
		return;
	int64_t nb = n / bs;
	if (g4_isa() >= G4_ISA_AVX512 && g4_dequant_avx512(t, b, dst, nb))
		return;		/* the same values (kern_dq.c) */
	switch (t) {
	case G4_F32: memcpy(dst, src, (size_t)n * 4); break;
	case G4_F16:
	case G4_BF16:
		if (g4_isa() >= G4_ISA_AVX2) {	/* exact conversions: the same values */
			g4_half_to_f32_avx(t == G4_BF16, b, dst, n);
			break;
		}
		for (int64_t i = 0; i < n; i++)
			dst[i] = t == G4_F16 ? g4_f16_to_f32(rd16(b + 2 * i)) : g4_bf16_to_f32(rd16(b + 2 * i));
		break;
	case G4_Q4_0: dq_q4_0(b, dst, nb); break;
	case G4_Q4_1: dq_q4_1(b, dst, nb); break;
	case G4_Q5_0: dq_q5_0(b, dst, nb); break;
	case G4_Q5_1: dq_q5_1(b, dst, nb); break;
	case G4_Q8_0: dq_q8_0(b, dst, nb); break;
	case G4_Q2_K: dq_q2_K(b, dst, nb); break;
	case G4_Q3_K: dq_q3_K(b, dst, nb); break;
	case G4_Q4_K: dq_q45_K(0, b, dst, nb); break;
	case G4_Q5_K: dq_q45_K(1, b, dst, nb); break;
	case G4_Q6_K: dq_q6_K(b, dst, nb); break;
	case G4_Q8_K: dq_q8_K(b, dst, nb); break;
	case G4_IQ4_NL: dq_iq4_nl(b, dst, nb); break;
	case G4_IQ4_XS: dq_iq4_xs(b, dst, nb); break;
	default:		/* unsupported: callers check g4_type_supported() */
		for (int64_t i = 0; i < n; i++)
			dst[i] = NAN;
		break;
	}
}
