/* matmul.c - the matmul seam (see matmul.h).
 *
 * Weight rows are split over threads; each is dotted with all activation
 * rows of the batch by g4_vecdot_acts (vecdot.h: fixed 32-lane reduction,
 * the same bits for any batch size, SIMD where the CPU has it).
 *
 *   G4_ACT_F32 (default): f32 activations.  F32/F16/BF16 rows are used in
 *     place; quantised rows are dequantised exactly (g4_dequant_row) first.
 *   G4_ACT_Q8: quantised rows are dotted in place with activations
 *     quantised to 8 bits once per call (llama.cpp's CPU numerics: Q8_0,
 *     Q8_1 or Q8_K blocks); F32/F16/BF16 rows as above. */
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "qtypes.h"
#include "vecdot.h"

static int act_mode = G4_ACT_F32;

void g4_matmul_set_act(int mode)
{
	act_mode = mode == G4_ACT_Q8 ? G4_ACT_Q8 : G4_ACT_F32;
}

int g4_matmul_act(void)
{
	return act_mode;
}

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
	const void *act = x;
	size_t astride = (size_t)ldx * sizeof(float);
	uint32_t t = direct ? w->type : G4_F32;
	uint8_t *q = NULL;
	if (!direct && act_mode == G4_ACT_Q8) {
		const int at = g4_vecdot_act_type(w->type);
		const size_t ab = g4_act_row_bytes(w->type, n);
		if (at >= 0 && ab && (q = malloc((size_t)T * ab))) {
#pragma omp parallel for if (T > 1 && work > 262144.0)
			for (int64_t i = 0; i < T; i++)
				g4_quantize_act((uint32_t)at, x + i * ldx, q + (size_t)i * ab, n);
			act = q;
			astride = ab;
			t = w->type;
		}
	}
	const int deq = t == G4_F32 && w->type != G4_F32;
#pragma omp parallel if (work > 262144.0)
	{
		float *buf = deq ? malloc((size_t)n * sizeof *buf) : NULL;
#pragma omp for schedule(static, 16)
		for (int64_t r = 0; r < rows; r++) {
			const void *wr = g4_mat_row(w, mat, r);
			if (deq) {
				g4_dequant_row(w->type, wr, buf, n);
				wr = buf;
			}
			g4_vecdot_acts(t, n, wr, act, astride, T, y + r, (size_t)ldy);
		}
		free(buf);
	}
	free(q);
}
