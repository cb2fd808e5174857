/* rp_b32.h - the repacked layout of 32-element-block weights (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, IQ4_NL; see repack.h), shared by the AVX-512 kernels
 * (kern_rp_b32.c) and the AVX2 ones (kern_rp_avx2.c).  Internal to libg4.
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
 * So a 4-byte group of activation values broadcast over a chunk meets the
 * same 4 positions of every row: a dword dot product (vpdpbusd, or
 * vpmaddubsw + vpmaddwd) leaves one row's partial sum per 32-bit lane, and
 * after the 8 groups of a block each lane holds its row's exact block sum,
 * with no horizontal adds.  Rows 0..7 of a chunk are its first 32 bytes,
 * rows 8..15 the next 32: a 256-bit register takes half a group.
 *
 * The offset is taken back through the activation: the integer lane starts
 * at -off * (sum of the block's 32 activation values) (g4_rp32_act). */
#ifndef G4_RP_B32_H
#define G4_RP_B32_H
#include <stddef.h>
#include <stdint.h>

#include "qtypes.h"

enum { G4_RP32_ROWS = 16 };

static inline int g4_rp32_has_min(uint32_t t)
{
	return t == G4_Q4_1 || t == G4_Q5_1;
}

static inline int g4_rp32_nibbles(uint32_t t)
{
	return t == G4_Q4_0 || t == G4_Q4_1 || t == G4_IQ4_NL;
}

/* the offset making the weights unsigned */
static inline int g4_rp32_offset(uint32_t t)
{
	switch (t) {
	case G4_Q4_0: return 8;
	case G4_Q5_0: return 16;
	case G4_Q8_0: case G4_IQ4_NL: return 128;
	default: return 0;
	}
}

/* bytes of one block of a group */
static inline size_t g4_rp32_blk_bytes(uint32_t t)
{
	return 32 * (g4_rp32_has_min(t) ? 2 : 1) + (g4_rp32_nibbles(t) ? 256 : 512);
}

static inline size_t g4_rp32_group_bytes(uint32_t t, int64_t n)
{
	return n > 0 && n % 32 == 0 ? (size_t)(n / 32) * g4_rp32_blk_bytes(t) : 0;
}

/* The group_bytes and pack entries of repack.h's g4_rp_kernel, per type:
 * g4_rp32_gb_q4_0, g4_rp32_pack_q4_0, ... */
#define G4_RP32_DECL(name) \
	size_t g4_rp32_gb_##name(int64_t n); \
	void g4_rp32_pack_##name(int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst);
G4_RP32_DECL(q4_0)
G4_RP32_DECL(q4_1)
G4_RP32_DECL(q5_0)
G4_RP32_DECL(q5_1)
G4_RP32_DECL(q8_0)
G4_RP32_DECL(iq4_nl)
#undef G4_RP32_DECL

/* Per activation row and block: the f32 scale, the integer start
 * -off * sum(a) and (types with mins) the f32 s. */
typedef struct {
	float d, s;
	int32_t start;
} g4_rp32_act;

/* The nb blocks of one activation row (g4_vecdot_act_type(t)) at a. */
void g4_rp32_act_blocks(uint32_t t, const uint8_t *a, int64_t nb, g4_rp32_act *o);

/* A gemm works through its activation rows G4_RP32_ACHUNK at a time:
 * room (free()) for the values of min(nact, G4_RP32_ACHUNK) rows of nb
 * blocks, or NULL when memory is short, after setting its outputs
 * y[j*ldy + r] (j < nact, r < nrows) to NaN: the plain rows cannot be
 * reached from there either. */
enum { G4_RP32_ACHUNK = 64 };
g4_rp32_act *g4_rp32_act_alloc(int64_t nb, int64_t nact, int64_t nrows, float *y, size_t ldy);

#endif
