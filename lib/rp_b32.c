/* rp_b32.c - packing 32-element-block weights into the group layout of
 * rp_b32.h, and the per-block activation values its kernels use. */
#include <stdlib.h>
#include <string.h>

#include "qblock.h"
#include "repack.h"
#include "rp_b32.h"

/* the 32 values of a block of type t as unsigned bytes q + offset (IQ4_NL:
 * the nibble indices), its scale and min as f16 bits */
static void unpack_block(uint32_t t, const uint8_t *b, uint8_t u[32], uint16_t *d, uint16_t *m)
{
	*d = rd16(b);
	*m = g4_rp32_has_min(t) ? rd16(b + 2) : 0;
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
	size_t wb = g4_type_block_bytes(t), bb = g4_rp32_blk_bytes(t);
	int mins = g4_rp32_has_min(t), nib = g4_rp32_nibbles(t);
	memset(dst, 0, g4_rp32_group_bytes(t, n));
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

#define ENTRIES(name, T) \
size_t g4_rp32_gb_##name(int64_t n) { return g4_rp32_group_bytes(T, n); } \
void g4_rp32_pack_##name(int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst) \
{ pack(T, n, src, sstride, nrows, dst); }

ENTRIES(q4_0, G4_Q4_0)
ENTRIES(q4_1, G4_Q4_1)
ENTRIES(q5_0, G4_Q5_0)
ENTRIES(q5_1, G4_Q5_1)
ENTRIES(q8_0, G4_Q8_0)
ENTRIES(iq4_nl, G4_IQ4_NL)

void g4_rp32_act_blocks(uint32_t t, const uint8_t *a, int64_t nb, g4_rp32_act *o)
{
	int mins = g4_rp32_has_min(t), off = g4_rp32_offset(t);
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

g4_rp32_act *g4_rp32_act_alloc(int64_t nb, int64_t nact, int64_t nrows, float *y, size_t ldy)
{
	int64_t chunk = nact < G4_RP32_ACHUNK ? nact : G4_RP32_ACHUNK;
	return g4_rp_scratch((size_t)(chunk * nb) * sizeof(g4_rp32_act), nact, nrows, y, ldy);
}
