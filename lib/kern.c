/* kern.c - portable matmul (see kern.h). */
#include <stdlib.h>
#include <string.h>

#include "kern.h"
#include "qtypes.h"

float g4_dot_f32(const float *a, const float *b, int64_t n)
{
	float acc[8] = { 0 };
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			acc[k] += a[i + k] * b[i + k];
	for (int k = 0; i < n; i++, k++)
		acc[k] += a[i] * b[i];
	return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void g4_mat_row_f32(const g4_mat *w, int64_t mat, int64_t row, float *out)
{
	g4_dequant_row(w->type, g4_mat_row(w, mat, row), out, w->ne0);
}

void g4_matmul(const g4_mat *w, int64_t mat, const float *x, int64_t ldx,
	       int64_t T, float *y, int64_t ldy)
{
	const int64_t n = w->ne0, rows = w->ne1;
	const int f32 = w->type == G4_F32;
	const double work = (double)n * (double)rows * (double)T;
#pragma omp parallel if (work > 65536.0)
	{
		float *buf = f32 ? NULL : malloc((size_t)n * sizeof *buf);
#pragma omp for schedule(static)
		for (int64_t r = 0; r < rows; r++) {
			const float *wr;
			if (f32) {
				wr = (const float *)(const void *)g4_mat_row(w, mat, r);
			} else {
				g4_dequant_row(w->type, g4_mat_row(w, mat, r), buf, n);
				wr = buf;
			}
			for (int64_t t = 0; t < T; t++)
				y[t * ldy + r] = g4_dot_f32(wr, x + t * ldx, n);
		}
		free(buf);
	}
}
