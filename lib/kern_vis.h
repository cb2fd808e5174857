/* kern_vis.h - the f32 matrix kernel of the encoders: C = A B^T.
 *
 * Each C[i][j] is the dot product of row i of A with row j of B, summed in
 * one fixed order (8 interleaved partial sums, then a fixed tree) that does
 * not depend on the blocking, so any split of the work over threads gives
 * the same bits.  The AVX2+FMA path (chosen at run time) fuses the multiply
 * and add; the portable path rounds both, so the two paths agree to rounding
 * but not bit for bit.  Single-threaded: callers split the work. */
#ifndef G4_KERN_VIS_H
#define G4_KERN_VIS_H

/* C[i*ldc + j] = sum_k A[i*lda + k] * B[j*ldb + k], i < M, j < N, k < K. */
void g4_gemm_nt(const float *A, int lda, const float *B, int ldb, float *C, int ldc,
		int M, int N, int K);
/* C[i*ldc + j] = sum_k A[i*lda + k] * B[k*ldb + j], summed in k order
 * (B row-major [K][N]: no horizontal sums, for short K or long N). */
void g4_gemm_nn(const float *A, int lda, const float *B, int ldb, float *C, int ldc,
		int M, int N, int K);
/* s[j] = exp(s[j] - max) / sum, in place (vectorised exp on AVX2). */
void g4_softmax(float *s, int n);

/* g[i] = gelu_tanh(g[i]) * u[i], gelu_tanh(z) = z/2 (1 + tanh(sqrt(2/pi)
 * (z + 0.044715 z^3))); the AVX2 path computes tanh from the vectorised exp
 * (absolute error about 1e-7). */
void g4_geglu(float *g, const float *u, long n);

/* One dot product in the same order as g4_gemm_nt. */
float g4_dot(const float *a, const float *b, int n);

/* Forces the portable path (tests); 0 = automatic. */
void g4_kern_vis_portable(int on);

#endif
