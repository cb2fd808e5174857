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
 *     Q8_1 or Q8_K blocks); BF16 rows (width a multiple of 32) with
 *     activations rounded to bf16 (G4_DOT_BF16: vdpbf16ps where the CPU has
 *     it, the same bits in C elsewhere); F32/F16 rows as above. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"
#include "matmul.h"
#include "qtypes.h"
#include "repack.h"
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

/* Rows of n values the exact path dequantises at a time (a multiple of the
 * F32 tile's fr): one group for one activation row; in a batch a block of
 * about 768 KB of f32 rows, which the tile kernel keeps in L2 while every
 * activation row passes over it once (a group of 4 rows at a time read all
 * the activations, megabytes, from L3 again for every group: E2B Q4_0
 * exact prefill 38 -> 57 tok/s). */
static int64_t dq_block_rows(int64_t n, int fr, int64_t T)
{
	const int64_t b = (int64_t)(((size_t)768 << 10) / ((size_t)n * sizeof(float))) / fr * fr;
	return T == 1 || b < fr ? fr : b;
}

/* This thread's contiguous share [a, z) of n groups of rows (schedule(static)'s
 * split, which keeps each core's prefetch streams whole). */
static void my_share(int64_t n, int64_t *a, int64_t *z)
{
	const int64_t nt = omp_get_num_threads(), me = omp_get_thread_num();
	*a = n * me / nt;
	*z = n * (me + 1) / nt;
}

void g4_matmul_prepare(g4_model *m)
{
	if (act_mode != G4_ACT_Q8)
		return;
	for (int i = 0, n = g4_model_mats(m); i < n; i++) {
		const g4_mat *w = g4_model_mat(m, i);
		const uint32_t dt = g4_vecdot_type_q8(w->type, w->ne0);
		if (w->data && g4_vecdot_act_type(dt) >= 0 && g4_act_row_bytes(dt, w->ne0))
			g4_rp_get(w, dt);
	}
}

void g4_matmul(const g4_mat *w, int64_t mat, const float *x, int64_t ldx,
	       int64_t T, float *y, int64_t ldy)
{
	g4_matmul_n(1, &w, &mat, &x, &ldx, T, &y, &ldy);
}

void g4_matmul_n(int nm, const g4_mat *const *w, const int64_t *mat, const float *const *x,
		 const int64_t *ldx, int64_t T, float *const *y, const int64_t *ldy)
{
	/* per product: the row type dotted (t), the activations (act, astride,
	 * or q[i] to fill with 8-bit rows), whether rows are dequantised first */
	const void *act[G4_MATMUL_MAX];
	size_t astride[G4_MATMUL_MAX], ab[G4_MATMUL_MAX];
	uint32_t t[G4_MATMUL_MAX], at[G4_MATMUL_MAX];
	uint8_t *q[G4_MATMUL_MAX];
	const g4_rp *rp[G4_MATMUL_MAX];
	int deq[G4_MATMUL_MAX], anydeq = 0, anyq = 0;
	double work = 0.0;
	int64_t nmax = 0;
	if (nm > G4_MATMUL_MAX)
		nm = G4_MATMUL_MAX;	/* callers pass constants; never reached */
	for (int i = 0; i < nm; i++) {
		const int64_t n = w[i]->ne0;
		/* the dot type: the weight type, or G4_DOT_BF16 (8-bit mode) */
		const uint32_t dt = act_mode == G4_ACT_Q8 ? g4_vecdot_type_q8(w[i]->type, n) : w[i]->type;
		const int direct = dt == G4_F32 || dt == G4_F16 || dt == G4_BF16;
		work += (double)n * (double)w[i]->ne1 * (double)T;
		if (n > nmax)
			nmax = n;
		act[i] = x[i];
		astride[i] = (size_t)ldx[i] * sizeof(float);
		t[i] = direct ? dt : G4_F32;
		q[i] = NULL;
		rp[i] = direct ? g4_rp_get(w[i], dt) : NULL;	/* f32 rows either way */
		if (!direct && act_mode == G4_ACT_Q8) {
			const int a = g4_vecdot_act_type(dt);
			ab[i] = g4_act_row_bytes(dt, n);
			if (a >= 0 && ab[i] && (q[i] = aligned_alloc(64, ((size_t)T * ab[i] + 63) & ~(size_t)63))) {
				at[i] = (uint32_t)a;
				act[i] = q[i];
				astride[i] = ab[i];
				t[i] = dt;
				anyq = 1;
				rp[i] = g4_rp_get(w[i], dt);
			}
		}
		deq[i] = t[i] == G4_F32 && w[i]->type != G4_F32;
		anydeq |= deq[i];
	}
	const int qpar = T > 1;	/* quantise the rows in parallel (as before: T > 1) */
	if (anyq && !qpar)
		for (int i = 0; i < nm; i++)
			if (q[i])
				for (int64_t r = 0; r < T; r++)
					g4_quantize_act(at[i], x[i] + r * ldx[i], q[i] + (size_t)r * ab[i], w[i]->ne0);
#pragma omp parallel if (work > 262144.0)
	{
		if (anyq && qpar)
			for (int i = 0; i < nm; i++)
				if (q[i]) {
#pragma omp for schedule(static)
					for (int64_t r = 0; r < T; r++)
						g4_quantize_act(at[i], x[i] + r * ldx[i], q[i] + (size_t)r * ab[i], w[i]->ne0);
				}
		/* exact path: rows dequantised a group at a time into buf and
		 * multiplied by the F32 tile kernel when there is one (the same
		 * bits as one row at a time: vecdot.h) */
		const g4_rp_kernel *fk = anydeq ? g4_rp_kernel_for(G4_F32) : NULL;
		const int fr = fk && !fk->pack ? fk->rows : 1, xr = g4_isa() >= G4_ISA_AVX512;
		int64_t bufn = (int64_t)fr * nmax;
		for (int i = 0; i < nm; i++) {
			const int64_t need = dq_block_rows(w[i]->ne0, fr, T) * w[i]->ne0;
			if (deq[i] && need > bufn)
				bufn = need;
		}
		float *buf = anydeq ? aligned_alloc(64, ((size_t)bufn * sizeof *buf + 63) & ~(size_t)63) : NULL;
		for (int i = 0; i < nm; i++) {
			const int64_t n = w[i]->ne0, rows = w[i]->ne1;
			if (rp[i]) {
				/* whole groups, one contiguous run per thread */
				const g4_rp *p = rp[i];
				int64_t g0, g1;
				my_share(p->groups, &g0, &g1);
				const int64_t r0 = g0 * p->k->rows, r1 = g1 * p->k->rows < rows ? g1 * p->k->rows : rows;
				if (r1 > r0)
					p->k->gemm(n, p->data + (size_t)mat[i] * p->mat_bytes + (size_t)g0 * p->group_bytes,
						   r1 - r0, act[i], astride[i], T, y[i] + r0, (size_t)ldy[i]);
				continue;
			}
			if (deq[i] && fr > 1 && buf) {
				int64_t ga, gz;
				my_share((rows + fr - 1) / fr, &ga, &gz);
				const int64_t bg = dq_block_rows(n, fr, T) / fr, rz = gz * fr < rows ? gz * fr : rows;
				for (int64_t g = ga; g < gz; g += bg) {
					const int64_t r0 = g * fr, nr = rz - r0 < bg * fr ? rz - r0 : bg * fr;
					/* one activation row: the values go from registers
					 * into the dots where there is a kernel */
					if (T == 1 && xr &&
					    g4_exact_rows_avx512(w[i]->type, (int)nr, n, g4_mat_row(w[i], mat[i], r0),
								 w[i]->row_bytes, act[i], y[i] + r0))
						continue;
					for (int64_t k = 0; k < nr; k++)
						g4_dequant_row(w[i]->type, g4_mat_row(w[i], mat[i], r0 + k), buf + k * n, n);
					fk->gemm(n, (const uint8_t *)buf, nr, act[i], astride[i], T, y[i] + r0, (size_t)ldy[i]);
				}
				continue;
			}
#pragma omp for schedule(static) nowait
			for (int64_t r = 0; r < rows; r++) {
				const void *wr = g4_mat_row(w[i], mat[i], r);
				if (deq[i]) {
					g4_dequant_row(w[i]->type, wr, buf, n);
					wr = buf;
				}
				g4_vecdot_acts(t[i], n, wr, act[i], astride[i], T, y[i] + r, (size_t)ldy[i]);
			}
		}
		free(buf);
	}
	for (int i = 0; i < nm; i++)
		free(q[i]);
}
