/* qtypes.c - the table of ggml tensor types (see qtypes.h).  Dequantisation
 * and f16/bf16 conversion are in dequant.c. */
#include <stdio.h>
#include <strings.h>

#include "err.h"
#include "qtypes.h"

static const struct {
	const char *name;
	int block;
	int bytes;
	int supported;	/* libg4 computes with it */
} types[G4_NTYPES] = {
	[G4_F32] = { "f32", 1, 4, 1 },
	[G4_F16] = { "f16", 1, 2, 1 },
	[G4_Q4_0] = { "q4_0", 32, 18, 1 },
	[G4_Q4_1] = { "q4_1", 32, 20, 1 },
	[G4_Q5_0] = { "q5_0", 32, 22, 1 },
	[G4_Q5_1] = { "q5_1", 32, 24, 1 },
	[G4_Q8_0] = { "q8_0", 32, 34, 1 },
	[G4_Q8_1] = { "q8_1", 32, 36, 0 },
	[G4_Q2_K] = { "q2_K", 256, 84, 1 },
	[G4_Q3_K] = { "q3_K", 256, 110, 1 },
	[G4_Q4_K] = { "q4_K", 256, 144, 1 },
	[G4_Q5_K] = { "q5_K", 256, 176, 1 },
	[G4_Q6_K] = { "q6_K", 256, 210, 1 },
	[G4_Q8_K] = { "q8_K", 256, 292, 1 },
	[G4_IQ2_XXS] = { "iq2_xxs", 256, 66, 0 },
	[G4_IQ2_XS] = { "iq2_xs", 256, 74, 0 },
	[G4_IQ3_XXS] = { "iq3_xxs", 256, 98, 0 },
	[G4_IQ1_S] = { "iq1_s", 256, 50, 0 },
	[G4_IQ4_NL] = { "iq4_nl", 32, 18, 1 },
	[G4_IQ3_S] = { "iq3_s", 256, 110, 0 },
	[G4_IQ2_S] = { "iq2_s", 256, 82, 0 },
	[G4_IQ4_XS] = { "iq4_xs", 256, 136, 1 },
	[G4_I8] = { "i8", 1, 1, 0 },
	[G4_I16] = { "i16", 1, 2, 0 },
	[G4_I32] = { "i32", 1, 4, 0 },
	[G4_I64] = { "i64", 1, 8, 0 },
	[G4_F64] = { "f64", 1, 8, 0 },
	[G4_IQ1_M] = { "iq1_m", 256, 56, 0 },
	[G4_BF16] = { "bf16", 1, 2, 1 },
	[G4_TQ1_0] = { "tq1_0", 256, 54, 0 },
	[G4_TQ2_0] = { "tq2_0", 256, 66, 0 },
	[G4_MXFP4] = { "mxfp4", 32, 17, 0 },
	[G4_NVFP4] = { "nvfp4", 64, 36, 0 },
	[G4_Q1_0] = { "q1_0", 128, 18, 0 },
	[G4_Q2_0] = { "q2_0", 64, 18, 0 },
};

const char *g4_type_name(uint32_t t)
{
	return t < G4_NTYPES ? types[t].name : NULL;
}

int g4_type_from_name(const char *name)
{
	for (int t = 0; t < G4_NTYPES; t++)
		if (types[t].name && !strcasecmp(types[t].name, name))
			return t;
	return -1;
}

int g4_type_supported(uint32_t t)
{
	return t < G4_NTYPES && types[t].supported;
}

int g4_type_block(uint32_t t)
{
	return t < G4_NTYPES && types[t].name ? types[t].block : 0;
}

size_t g4_type_block_bytes(uint32_t t)
{
	return t < G4_NTYPES && types[t].name ? (size_t)types[t].bytes : 0;
}

size_t g4_row_bytes(uint32_t t, int64_t n)
{
	int b = g4_type_block(t);
	if (!b || n < 0 || n % b)
		return 0;
	return (size_t)(n / b) * (size_t)types[t].bytes;
}

int g4_tensor_bytes(uint32_t t, const int64_t ne[4], uint64_t *out)
{
	int b = g4_type_block(t);
	if (!b)
		return g4_err("unknown tensor type id %u", t);
	for (int i = 0; i < 4; i++)
		if (ne[i] < 0 || ne[i] > ((int64_t)1 << 48))
			return g4_err("dimension %d = %lld is out of range", i, (long long)ne[i]);
	if (ne[0] % b)
		return g4_err("row length %lld is not a multiple of %s's block of %d",
			      (long long)ne[0], types[t].name, b);
	/* (ne0/b)*bytes * ne1 * ne2 * ne3, refusing anything past 2^62 */
	unsigned __int128 n = (unsigned __int128)(ne[0] / b) * (unsigned)types[t].bytes;
	for (int i = 1; i < 4; i++) {	/* check each step: 4 dims of 2^48 overflow 128 bits */
		n *= (uint64_t)ne[i];
		if (n > ((unsigned __int128)1 << 62))
			return g4_err("tensor size overflows");
	}
	*out = (uint64_t)n;
	return 0;
}
