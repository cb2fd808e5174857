/* qblock.h - small inline helpers shared by the block-format code
 * (dequant.c, quantize.c, vecdot.c, kern_*.c): little-endian field access,
 * the IQ4 value table and the packed 6-bit scale layouts of Q3_K and
 * Q4_K/Q5_K.  Internal to libg4; not part of the public API. */
#ifndef G4_QBLOCK_H
#define G4_QBLOCK_H
#include <stdint.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The 16 non-linear levels of IQ4_NL and IQ4_XS, ascending. */
static const int8_t g4_kvalues_iq4nl[16] = {
	-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113
};

/* Q3_K: the biased 6-bit scale (0..63) of sub-block j (0..15) from the
 * 12 scale bytes: low nibble in byte j (j < 8) or high nibble of byte j-8,
 * top two bits at bit 2*(j/4) of byte 8 + j%4. */
static inline int g4_q3k_scale(const uint8_t *s, int j)
{
	int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
	return lo | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
}

/* Q4_K/Q5_K: 6-bit scale and min of sub-block j (0..7) from 12 bytes. */
static inline void g4_k4_scale_min(const uint8_t *q, int j, int *sc, int *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4;
		*m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
	}
}

/* Q3_K: all 16 biased 6-bit scales (0..63) as four little-endian words
 * (byte k of w[i] = scale 4i+k); same values as g4_q3k_scale. */
static inline void g4_q3k_unpack(const uint8_t *s, uint32_t w[4])
{
	uint32_t u0 = rd32(s), u1 = rd32(s + 4), u2 = rd32(s + 8), m4 = 0x0F0F0F0F, m2 = 0x03030303;
	w[0] = (u0 & m4) | (u2 & m2) << 4;
	w[1] = (u1 & m4) | ((u2 >> 2) & m2) << 4;
	w[2] = ((u0 >> 4) & m4) | ((u2 >> 4) & m2) << 4;
	w[3] = ((u1 >> 4) & m4) | ((u2 >> 6) & m2) << 4;
}

#endif
