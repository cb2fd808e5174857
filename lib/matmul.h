/* matmul.h - the compute seam: weight matrix x activation rows.
 *
 * Every matmul of the decoder goes through g4_matmul, so this is the one
 * place where faster kernels plug in (int8 activations with lib/vecdot.h,
 * SIMD paths).  Contract, whatever the implementation: each output value is
 * reduced in one fixed order that depends neither on the thread count nor on
 * the number of rows T in the batch, so results are bitwise identical for
 * any -t and any batching.
 *
 * Activations: f32 (default; quantised rows dequantised exactly first) or
 * 8-bit for quantised weights (g4_matmul_set_act), through vecdot.h. */
#ifndef G4_MATMUL_H
#define G4_MATMUL_H
#include <stdint.h>

#include "model.h"

/* y[t*ldy + r] = sum_i W[mat][r][i] * x[t*ldx + i]   for r < w->ne1, t < T.
 * x rows hold w->ne0 values.  OpenMP over output rows. */
void g4_matmul(const g4_mat *w, int64_t mat, const float *x, int64_t ldx,
	       int64_t T, float *y, int64_t ldy);

/* Several products of T activation rows each in one parallel region:
 * y[i] as g4_matmul(w[i], mat[i], x[i], ldx[i], T, y[i], ldy[i]) for
 * i < n (n <= G4_MATMUL_MAX), the same bits, but one fork/join instead of
 * n (q/k/v, gate/up, the experts of a token).  No y[i] may overlap an x[j]. */
#define G4_MATMUL_MAX 16
void g4_matmul_n(int n, const g4_mat *const *w, const int64_t *mat, const float *const *x,
		 const int64_t *ldx, int64_t T, float *const *y, const int64_t *ldy);

/* Activation numerics for quantised and BF16 weights (process-wide; set it
 * before computing).  G4_ACT_F32 (default): exact dequantised weights and
 * f32 activations, within 1e-3 of the float64 reference.  G4_ACT_Q8: 8-bit
 * activations as llama.cpp's CPU backend (faster; compare with llama.cpp),
 * and BF16 weights with activations rounded to bf16 (as ggml's BF16 dot). */
enum { G4_ACT_F32 = 0, G4_ACT_Q8 = 1 };
void g4_matmul_set_act(int mode);
int g4_matmul_act(void);

/* Makes now, in parallel, the repacked copies (repack.h) that products in
 * the current activation mode would make on first use, for every matrix of
 * m: call it after loading and g4_matmul_set_act, so that the first
 * prompt does not pay for it. */
void g4_matmul_prepare(g4_model *m);

/* Row `row` of matrix `mat` of w as f32 (w->ne0 values). */
void g4_mat_row_f32(const g4_mat *w, int64_t mat, int64_t row, float *out);

/* The fixed-order f32 dot product (g4_vecdot of an F32 row). */
float g4_dot_f32(const float *a, const float *b, int64_t n);

#endif
