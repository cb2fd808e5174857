/* matmul.c - the matmul seam (see matmul.h).
 *
 * Today: f32 activations for every weight type.  F32/F16/BF16 weight rows
 * are dotted in place (g4_vecdot's f32-activation kernels: 32 fma lanes,
 * fixed reduction, SIMD where the CPU has it); quantised rows are first
 * dequantised exactly (g4_dequant_row) and dotted as f32.  The int8
 * activation path of vecdot.h (llama.cpp's numerics, faster) plugs in here. */
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "qtypes.h"
#include "vecdot.h"

float g4_dot_f32(const float *a, const float *b, int64_t n)
{
	return g4_vecdot(G4_F32, n, a, b);
}

void g4_mat_row_f32(const g4_mat *w, int64_t mat, int64_t row, float *out)
{
	g4_dequant_row(w->type, g4_mat_row(w, mat, row), out, w->ne0);
}

void g4_matmul(const g4_mat *w, int64_t mat, const float *x, int64_t ldx,
	       int64_t T, float *y, int64_t ldy)
{
	const int64_t n = w->ne0, rows = w->ne1;
	const int direct = w->type == G4_F32 || w->type == G4_F16 || w->type == G4_BF16;
	const double work = (double)n * (double)rows * (double)T;
#pragma omp parallel if (work > 262144.0)
	{
		float *buf = direct ? NULL : malloc((size_t)n * sizeof *buf);
#pragma omp for schedule(static)
		for (int64_t r = 0; r < rows; r++) {
			const void *wr = g4_mat_row(w, mat, r);
			uint32_t t = w->type;
			if (!direct) {
				g4_dequant_row(w->type, wr, buf, n);
				wr = buf;
				t = G4_F32;
			}
			for (int64_t i = 0; i < T; i++)
				y[i * ldy + r] = g4_vecdot(t, n, wr, x + i * ldx);
		}
		free(buf);
	}
}
