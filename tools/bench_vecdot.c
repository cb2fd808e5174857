/* bench_vecdot - speed of g4_vecdot_rows (one thread) per weight type and
 * code path: a matrix-vector product of ROWS x COLS, reported as weight
 * GB/s and Gmul/s (multiply-adds per second), plus g4_quantize speed, and
 * the f32 fused multiply-adds one thread can issue at most (the ceiling of
 * F32/F16/BF16 prefill with f32 activations).
 * "bf16xbf16" is BF16 weights with bf16 activations (8-bit mode's dot).
 *   build/bench/bench_vecdot [rows cols [reps]]   */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "par.h"
#include "qtypes.h"
#include "quantize.h"
#include "repack.h"
#include "vecdot.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Gmul/s of 24 independent chains of 16-lane fused multiply-adds */
__attribute__((target("avx512f"))) static double fma_peak(void)
{
	__m512 a[24], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
	for (int k = 0; k < 24; k++)
		a[k] = _mm512_set1_ps((float)k);
	const long iters = 20000000;
	double t0 = now();
	for (long i = 0; i < iters; i++) {
		_Pragma("GCC unroll 24")
		for (int k = 0; k < 24; k++)
			a[k] = _mm512_fmadd_ps(a[k], m, c);
	}
	double dt = now() - t0;
	float s = 0;
	for (int k = 0; k < 24; k++)
		s += _mm512_reduce_add_ps(a[k]);
	return s == 12345.0f ? 0 : (double)iters * 24 * 16 / dt / 1e9;
}
#endif

int main(int argc, char **argv)
{
	int64_t rows = argc > 2 ? atoll(argv[1]) : 1024, cols = argc > 2 ? atoll(argv[2]) : 2560;
	int reps = argc > 3 ? atoi(argv[3]) : 20;
	static const uint32_t types[] = {
		G4_F32, G4_F16, G4_BF16, G4_Q8_0, G4_Q4_0, G4_Q4_1, G4_Q5_0, G4_Q5_1, G4_IQ4_NL,
		G4_Q2_K, G4_Q3_K, G4_Q4_K, G4_Q5_K, G4_Q6_K, G4_IQ4_XS, G4_DOT_BF16,
	};
	float *x = malloc((size_t)(rows * cols) * sizeof *x), *out = malloc((size_t)rows * sizeof *out);
	uint8_t *w = malloc((size_t)(rows * cols) * 4), *act = malloc((size_t)cols * 4);
	if (!x || !out || !w || !act)
		return 1;
	srand(1);
	for (int64_t i = 0; i < rows * cols; i++)
		x[i] = (float)rand() / RAND_MAX - 0.5f;
	g4_set_threads(1);
	const int isa0 = g4_isa();	/* the path in use (G4_ISA): the repacked columns' */
#if defined(__x86_64__) || defined(__i386__)
	if (__builtin_cpu_supports("avx512f"))
		printf("f32 fma peak (avx512, 1 thread): %.1f Gmul/s\n", fma_peak());
#endif
	printf("matvec %lld x %lld, 1 thread\n", (long long)rows, (long long)cols);
	printf("%-9s %10s", "type", "quant MB/s");
	for (int isa = 0; isa <= 2; isa++)
		if (g4_isa_available(isa))
			printf(" %9s GB/s Gmul/s", g4_isa_name(isa));
	printf("  batch8 Gmul/s: avx2 avx512  repacked (%s%s): GB/s Gmul/s batch64 Gmul/s\n", g4_isa_name(isa0),
	       g4_isa_bf16() ? "+bf16" : "");
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		const uint32_t t = types[k], wt = t == G4_DOT_BF16 ? G4_BF16 : t;
		int64_t qr = rows < 64 ? rows : 64;
		double t0 = now();
		g4_quantize(wt, x, w, qr, cols, NULL);
		double tq = now() - t0;
		g4_quantize(wt, x, w, rows, cols, NULL);
		g4_quantize_act((uint32_t)g4_vecdot_act_type(t), x, act, cols);
		size_t rb = g4_row_bytes(wt, cols);
		printf("%-9s %10.1f", g4_dot_name(t), (double)(qr * cols * 4) / tq / 1e6);
		for (int isa = 0; isa <= 2; isa++) {
			if (g4_isa_set(isa) < 0)
				continue;
			int r = t == G4_F32 || t == G4_F16 || t == G4_BF16 || t == G4_DOT_BF16 || isa == 0 ? (reps + 3) / 4 : reps;
			g4_vecdot_rows(t, cols, rows, w, rb, act, out);
			t0 = now();
			for (int i = 0; i < r; i++)
				g4_vecdot_rows(t, cols, rows, w, rb, act, out);
			double dt = (now() - t0) / r;
			printf(" %14.2f %6.2f", (double)(rb * rows) / dt / 1e9, (double)(rows * cols) / dt / 1e9);
		}
		/* a batch of 8 activation rows, weight row outer (prefill) */
		size_t ab = g4_act_row_bytes(t, cols);
		uint8_t *acts = malloc(ab * 8);
		float o8[8];
		for (int j = 0; j < 8; j++)
			memcpy(acts + j * ab, act, ab);
		for (int isa = 1; isa <= 2; isa++) {
			if (g4_isa_set(isa) < 0)
				continue;
			int r = (reps + 3) / 4;
			t0 = now();
			for (int i = 0; i < r; i++)
				for (int64_t row = 0; row < rows; row++)
					g4_vecdot_acts(t, cols, w + row * rb, acts, ab, 8, o8, 1);
			double dt = (now() - t0) / r;
			printf(" %6.2f", (double)(8 * rows * cols) / dt / 1e9);
		}
		/* repacked weights (the path in use): one activation row, then 64 */
		g4_isa_set(isa0);
		const g4_rp_kernel *kr = g4_rp_kernel_for(t);
		size_t gb = kr ? kr->group_bytes(cols) : 0;
		int64_t ng = kr ? (rows + kr->rows - 1) / kr->rows : 0;
		/* 64-byte aligned, as repack.c makes its copies */
		uint8_t *grp = gb ? aligned_alloc(64, (gb * (size_t)ng + 63) & ~(size_t)63) : NULL,
			*a64 = malloc(ab * 64);
		float *o64 = malloc((size_t)(64 * rows) * sizeof *o64);
		if (grp && a64 && o64) {
			for (int64_t g = 0; g < ng; g++) {
				int nr = (int)(rows - g * kr->rows < kr->rows ? rows - g * kr->rows : kr->rows);
				if (kr->pack)
					kr->pack(cols, w + (size_t)(g * kr->rows) * rb, rb, nr, grp + (size_t)g * gb);
				else	/* in-place kernels read the rows themselves */
					memcpy(grp + (size_t)g * gb, w + (size_t)(g * kr->rows) * rb, rb * (size_t)nr);
			}
			for (int j = 0; j < 64; j++)
				memcpy(a64 + j * ab, act, ab);
			kr->gemm(cols, grp, rows, act, ab, 1, out, (size_t)rows);
			t0 = now();
			for (int i = 0; i < reps; i++)
				kr->gemm(cols, grp, rows, act, ab, 1, out, (size_t)rows);
			double dt = (now() - t0) / reps;
			printf("  %6.2f %6.2f", (double)(rb * rows) / dt / 1e9, (double)(rows * cols) / dt / 1e9);
			int r = (reps + 7) / 8;
			t0 = now();
			for (int i = 0; i < r; i++)
				kr->gemm(cols, grp, rows, a64, ab, 64, o64, (size_t)rows);
			dt = (now() - t0) / r;
			printf(" %6.2f", (double)(64 * rows * cols) / dt / 1e9);
		}
		free(grp); free(a64); free(o64);
		printf("\n");
		fflush(stdout);
		g4_isa_set(isa0);
		free(acts);
	}
	return 0;
}
