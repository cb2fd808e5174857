/* quantize.h - f32 -> ggml block formats, byte-identical to ggml's
 * ggml_quantize_chunk (the code llama-quantize runs), with and without an
 * importance matrix.  Spec: ../shared/spec/gguf-and-quant.md sections 2.3-2.10.
 *
 * Byte-exactness needs the f32 arithmetic of the reference code: one
 * rounding per operation, no fused multiply-add (libg4 is built with
 * -ffp-contract=off).  Inputs must be finite (llama-quantize rejects
 * inf/NaN results anyway); non-finite inputs give unspecified blocks but
 * never a crash.
 *
 *   size_t n = g4_quantize(G4_Q4_K, w, out, rows, cols, imatrix_or_NULL);
 */
#ifndef G4_QUANTIZE_H
#define G4_QUANTIZE_H
#include <stddef.h>
#include <stdint.h>

/* 1 if g4_quantize can produce this type: F32, F16, BF16, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, and the activation formats
 * Q8_1 and Q8_K (which ggml_quantize_chunk itself refuses). */
int g4_quantize_supported(uint32_t type);

/* 1 if the type cannot be made without an importance matrix (ggml's
 * IQ2_XXS, IQ2_XS, IQ1_S; none of the types above). */
int g4_quantize_needs_imatrix(uint32_t type);

/* 1 if an importance matrix changes the output of this type (all the
 * quantised types above except Q8_0, Q8_1 and Q8_K; not F32/F16/BF16). */
int g4_quantize_uses_imatrix(uint32_t type);

/* Quantises nrows rows of n_per_row floats (src, row-major) into dst,
 * rows back to back, exactly as ggml_quantize_chunk(type, src, dst, 0,
 * nrows, n_per_row, imatrix).  imatrix: NULL or n_per_row weights, the
 * same for every row (for a 3-D expert tensor call once per expert with
 * that expert's slice).  OpenMP-parallel over rows (g4_threads()); the
 * bytes never depend on the thread count.  Returns the bytes written
 * (nrows * g4_row_bytes(type, n_per_row); 0 for nrows == 0), or 0 with a
 * message (g4_err) for an unsupported type, a negative row count or a row
 * length that is not a positive multiple of the block size.  Q8_K blocks
 * of all-zero input get zero bsums (ggml leaves them untouched). */
size_t g4_quantize(uint32_t type, const float *src, void *dst, int64_t nrows,
		   int64_t n_per_row, const float *imatrix);

/* One row, in the calling thread (no OpenMP): the building block of
 * g4_quantize, for callers that parallelise themselves.  Same contract;
 * returns the bytes written or 0. */
size_t g4_quantize_row(uint32_t type, const float *src, void *dst, int64_t n,
		       const float *imatrix);

#endif
