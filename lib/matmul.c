/* matmul.c - the matmul seam (see matmul.h).
 *
 * Today: f32 activations for every weight type.  F32/F16/BF16 weight rows
 * are dotted in place (g4_vecdot's f32-activation kernels: 32 fma lanes,
 * fixed reduction, SIMD where the CPU has it); quantised rows are first
 * dequantised exactly (g4_dequant_row) and dotted as f32.  Work is split
 * over blocks of RB weight rows; each activation row is used RB times while
 * it is in cache.  The int8 activation path of vecdot.h (llama.cpp's
 * numerics, faster) plugs in here. */
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "qtypes.h"
#include "vecdot.h"

#define RB 16

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
	const int64_t n = w->ne0, rows = w->ne1, nblk = (rows + RB - 1) / RB;
	const int direct = w->type == G4_F32 || w->type == G4_F16 || w->type == G4_BF16;
	const uint32_t t = direct ? w->type : G4_F32;
	const double work = (double)n * (double)rows * (double)T;
#pragma omp parallel if (work > 262144.0)
	{
		float *buf = direct ? NULL : malloc((size_t)RB * n * sizeof *buf);
#pragma omp for schedule(static)
		for (int64_t b = 0; b < nblk; b++) {
			const int64_t r0 = b * RB, nr = rows - r0 < RB ? rows - r0 : RB;
			const void *wr[RB];
			for (int64_t k = 0; k < nr; k++) {
				wr[k] = g4_mat_row(w, mat, r0 + k);
				if (!direct) {
					g4_dequant_row(w->type, wr[k], buf + k * n, n);
					wr[k] = buf + k * n;
				}
			}
			for (int64_t i = 0; i < T; i++)
				for (int64_t k = 0; k < nr; k++)
					y[i * ldy + r0 + k] = g4_vecdot(t, n, wr[k], x + i * ldx);
		}
		free(buf);
	}
}
