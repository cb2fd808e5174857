/* repack.h - weight matrices rearranged for the 8-bit-activation SIMD
 * matmul kernels (G4_ACT_Q8).
 *
 * A quantised matrix is read fastest when the weights that one SIMD
 * instruction needs sit side by side.  For the (weight type, code path)
 * pairs that have such a kernel, the rows of a matrix are copied once, the
 * first time a matmul uses it, into groups of `rows` rows (16 on AVX-512)
 * in the kernel's own layout, and every later product reads the copy; the
 * mapped file pages it came from are handed back to the kernel (madvise),
 * so the resident size stays that of one copy.
 *
 * A group kernel computes, for a run of rows and a batch of activation rows
 * (g4_quantize_act rows of g4_vecdot_act_type(type)), exactly the bits of
 * g4_vecdot on the original rows: the layout changes, the numerics of
 * vecdot.h do not.  Kernels are per dot type (vecdot.h): BF16 rows have one
 * with f32 activations (in place) and one for G4_DOT_BF16 (bf16
 * activations, repacked: vdpbf16ps, or its exact AVX2 emulation).  So repacked and plain products mix freely, and results
 * stay bitwise the same for any thread count and batch size. */
#ifndef G4_REPACK_H
#define G4_REPACK_H
#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct g4_rp_kernel {
	uint32_t type;		/* dot type (vecdot.h): weight type or G4_DOT_BF16 */
	int rows;		/* rows per group */
	/* bytes of one group of `rows` rows of n values (0: n unsupported) */
	size_t (*group_bytes)(int64_t n);
	/* rows [0, nrows) of src (nrows <= rows, sstride bytes apart) into one
	 * group; the missing rows are zero.  NULL: the kernel reads the
	 * matrix's own rows (a group is `rows` consecutive rows in place) */
	void (*pack)(int64_t n, const uint8_t *src, size_t sstride, int nrows, uint8_t *dst);
	/* y[j*ldy + r] = g4_vecdot(type, n, row r, act row j) for r < nrows,
	 * j < nact: rows counted from the first row of the group at `groups`
	 * (consecutive groups), activation rows astride bytes apart */
	void (*gemm)(int64_t n, const uint8_t *groups, int64_t nrows, const uint8_t *act,
		     size_t astride, int64_t nact, float *y, size_t ldy);
} g4_rp_kernel;

/* A group kernel's scratch of `bytes` (malloc'd: the caller frees it); if
 * memory is short, NULL with every output y[j*ldy + r] (j < nact,
 * r < nrows) set to NaN, so the failure cannot pass for a result. */
void *g4_rp_scratch(size_t bytes, int64_t nact, int64_t nrows, float *y, size_t ldy);

/* The kernel for dot type t on the code path in use, or NULL. */
const g4_rp_kernel *g4_rp_kernel_for(uint32_t t);

/* A repacked matrix (all ne2 slices of a g4_mat). */
typedef struct g4_rp {
	const g4_rp_kernel *k;
	uint8_t *data;
	int64_t groups;		/* groups per slice */
	size_t group_bytes, mat_bytes;
	int owned;		/* data is a copy (else the matrix's own rows) */
} g4_rp;

/* The repacked copy of w for dot type t (w's type or, for BF16,
 * G4_DOT_BF16) on the current code path, made (in parallel, when called
 * outside a parallel region) on first use; NULL when there is no kernel for
 * t or memory is short (callers use the plain rows).  One copy is kept per
 * matrix: asking for another dot type replaces it. */
const g4_rp *g4_rp_get(const g4_mat *w, uint32_t t);

/* Frees w's copy (model free). */
void g4_rp_release(g4_mat *w);

#endif
