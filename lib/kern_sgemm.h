/* kern_sgemm.h - f32 matrix products with one fixed summation order.
 *
 * g4_sgemm_nt: y[i][j] = sum_k x[i][k] * w[j][k] (both operands row-major
 * along k, as GGUF stores a Linear weight [out][in]).  Every output is
 * reduced the same way whatever the shapes, tiling, threads or CPU: eight
 * lane sums s[l] over k = l, l+8, l+16, ... (in increasing k, each step one
 * fused multiply-add s = fma(x, w, s)), the k % 8 tail elements added to lanes
 * 0.., then ((s0+s1)+(s2+s3)) + ((s4+s5)+(s6+s7)).  The AVX-512 and AVX2
 * paths (chosen at run time; G4_NO_AVX512 in the environment skips the
 * former) and the portable path give bitwise the same results.
 */
#ifndef G4_KERN_SGEMM_H
#define G4_KERN_SGEMM_H
#include <stddef.h>

/* Serial: m rows of x (stride ldx), n rows of w (stride ldw), length k;
 * y[i*ldy + j]. */
void g4_sgemm_nt(int m, int n, int k, const float *x, size_t ldx,
		 const float *w, size_t ldw, float *y, size_t ldy);

/* The same, OpenMP-parallel over tiles of the output (call it outside a
 * parallel region). */
void g4_sgemm_nt_par(int m, int n, int k, const float *x, size_t ldx,
		     const float *w, size_t ldw, float *y, size_t ldy);

/* The portable path only (tests compare it with the dispatched one). */
void g4_sgemm_nt_ref(int m, int n, int k, const float *x, size_t ldx,
		     const float *w, size_t ldw, float *y, size_t ldy);

/* The path in use: 0 portable, 1 AVX2, 2 AVX-512.  force >= 0 selects
 * that path (or the best the CPU has below it), for tests and benchmarks;
 * -1 only asks. */
int g4_sgemm_path(int force);

#endif
