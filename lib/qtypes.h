/* qtypes.h - ggml tensor types: ids, block geometry, f16/bf16, and
 * dequantisation to f32 bit-exact with ggml's dequantize_row_* (same
 * operation order; compile with -ffp-contract=off). */
#ifndef G4_QTYPES_H
#define G4_QTYPES_H
#include <stddef.h>
#include <stdint.h>

enum g4_type {
	G4_F32 = 0, G4_F16 = 1, G4_Q4_0 = 2, G4_Q4_1 = 3,
	G4_Q5_0 = 6, G4_Q5_1 = 7, G4_Q8_0 = 8, G4_Q8_1 = 9,
	G4_Q2_K = 10, G4_Q3_K = 11, G4_Q4_K = 12, G4_Q5_K = 13, G4_Q6_K = 14, G4_Q8_K = 15,
	G4_IQ2_XXS = 16, G4_IQ2_XS = 17, G4_IQ3_XXS = 18, G4_IQ1_S = 19, G4_IQ4_NL = 20,
	G4_IQ3_S = 21, G4_IQ2_S = 22, G4_IQ4_XS = 23, G4_I8 = 24, G4_I16 = 25, G4_I32 = 26,
	G4_I64 = 27, G4_F64 = 28, G4_IQ1_M = 29, G4_BF16 = 30,
	G4_TQ1_0 = 34, G4_TQ2_0 = 35, G4_MXFP4 = 39, G4_NVFP4 = 40, G4_Q1_0 = 41, G4_Q2_0 = 42,
	G4_NTYPES = 43
};

/* Name ("q4_K", "bf16", ... as ggml spells them) of any id ggml defines;
 * NULL for an id ggml does not define. */
const char *g4_type_name(uint32_t t);
/* Type id from a name (case-insensitive); -1 if unknown. */
int g4_type_from_name(const char *name);
/* 1 if libg4 can read (dequantise and compute with) this type. */
int g4_type_supported(uint32_t t);
/* Elements per block and bytes per block (0 for undefined ids). */
int g4_type_block(uint32_t t);
size_t g4_type_block_bytes(uint32_t t);
/* Bytes of a row of n elements; 0 if n is not a multiple of the block. */
size_t g4_row_bytes(uint32_t t, int64_t n);
/* Bytes of a tensor with these dims, or -1 with a message (bad row length,
 * overflow); used by the GGUF reader to validate tensor sizes. */
int g4_tensor_bytes(uint32_t t, const int64_t ne[4], uint64_t *out);

/* (implemented in dequant.c) Dequantise n elements (a multiple of the block size) of a supported type. */
void g4_dequant_row(uint32_t t, const void *src, float *dst, int64_t n);

float g4_f16_to_f32(uint16_t h);
uint16_t g4_f32_to_f16(float f);	/* round to nearest even, as ggml */
float g4_bf16_to_f32(uint16_t h);
uint16_t g4_f32_to_bf16(float f);	/* round to nearest even, NaN kept quiet, as ggml */

#endif
