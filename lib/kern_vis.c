/* kern_vis.c - C = A B^T for the encoders (see kern_vis.h).
 *
 * AVX2 path: tiles of 4 rows of A by 3 rows of B held in 12 vector
 * accumulators; each accumulator lane j sums the products k = j, j+8, ...
 * exactly as the one-row dot below, so tile and edge results agree. */
#include <math.h>

#include "kern_vis.h"

static int force_portable;

void g4_kern_vis_portable(int on) { force_portable = on; }

static inline float tree8(const float s[8])
{
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float dot_c(const float *a, const float *b, int n)
{
	float s[8] = {0};
	int i = 0;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			s[j] += a[i + j] * b[i + j];
	for (int j = 0; i < n; i++, j++)
		s[j] += a[i] * b[i];
	return tree8(s);
}

static void gemm_c(const float *A, int lda, const float *B, int ldb, float *C, int ldc,
		   int M, int N, int K)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
			C[(long)i * ldc + j] = dot_c(A + (long)i * lda, B + (long)j * ldb, K);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static float dot_fma(const float *a, const float *b, int n)
{
	__m256 acc = _mm256_setzero_ps();
	int i = 0;
	for (; i + 8 <= n; i += 8)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
	float s[8];
	_mm256_storeu_ps(s, acc);
	for (int j = 0; i < n; i++, j++)
		s[j] = fmaf(a[i], b[i], s[j]);
	return tree8(s);
}

__attribute__((target("avx2,fma")))
static float hsum(__m256 v, const float *a, const float *b, int k0, int n)
{
	float s[8];
	_mm256_storeu_ps(s, v);
	for (int j = 0, i = k0; i < n; i++, j++)
		s[j] = fmaf(a[i], b[i], s[j]);
	return tree8(s);
}

__attribute__((target("avx2,fma")))
static void gemm_fma(const float *A, int lda, const float *B, int ldb, float *C, int ldc,
		     int M, int N, int K)
{
	int K8 = K & ~7;
	int i = 0;
	for (; i + 4 <= M; i += 4) {
		const float *a0 = A + (long)i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
		int j = 0;
		for (; j + 3 <= N; j += 3) {
			const float *b0 = B + (long)j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb;
			__m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
			__m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
			for (int k = 0; k < K8; k += 8) {
				__m256 w0 = _mm256_loadu_ps(b0 + k), w1 = _mm256_loadu_ps(b1 + k);
				__m256 w2 = _mm256_loadu_ps(b2 + k), x;
				x = _mm256_loadu_ps(a0 + k);
				c00 = _mm256_fmadd_ps(x, w0, c00); c01 = _mm256_fmadd_ps(x, w1, c01); c02 = _mm256_fmadd_ps(x, w2, c02);
				x = _mm256_loadu_ps(a1 + k);
				c10 = _mm256_fmadd_ps(x, w0, c10); c11 = _mm256_fmadd_ps(x, w1, c11); c12 = _mm256_fmadd_ps(x, w2, c12);
				x = _mm256_loadu_ps(a2 + k);
				c20 = _mm256_fmadd_ps(x, w0, c20); c21 = _mm256_fmadd_ps(x, w1, c21); c22 = _mm256_fmadd_ps(x, w2, c22);
				x = _mm256_loadu_ps(a3 + k);
				c30 = _mm256_fmadd_ps(x, w0, c30); c31 = _mm256_fmadd_ps(x, w1, c31); c32 = _mm256_fmadd_ps(x, w2, c32);
			}
			float *c = C + (long)i * ldc + j;
			c[0] = hsum(c00, a0, b0, K8, K); c[1] = hsum(c01, a0, b1, K8, K); c[2] = hsum(c02, a0, b2, K8, K);
			c += ldc;
			c[0] = hsum(c10, a1, b0, K8, K); c[1] = hsum(c11, a1, b1, K8, K); c[2] = hsum(c12, a1, b2, K8, K);
			c += ldc;
			c[0] = hsum(c20, a2, b0, K8, K); c[1] = hsum(c21, a2, b1, K8, K); c[2] = hsum(c22, a2, b2, K8, K);
			c += ldc;
			c[0] = hsum(c30, a3, b0, K8, K); c[1] = hsum(c31, a3, b1, K8, K); c[2] = hsum(c32, a3, b2, K8, K);
		}
		for (; j < N; j++)
			for (int r = 0; r < 4; r++)
				C[(long)(i + r) * ldc + j] = dot_fma(A + (long)(i + r) * lda, B + (long)j * ldb, K);
	}
	for (; i < M; i++)
		for (int j = 0; j < N; j++)
			C[(long)i * ldc + j] = dot_fma(A + (long)i * lda, B + (long)j * ldb, K);
}

static int use_fma(void)
{
	static int have = -1;
	if (have < 0)
		have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	return have && !force_portable;
}

void g4_gemm_nt(const float *A, int lda, const float *B, int ldb, float *C, int ldc, int M, int N, int K)
{
	if (use_fma())
		gemm_fma(A, lda, B, ldb, C, ldc, M, N, K);
	else
		gemm_c(A, lda, B, ldb, C, ldc, M, N, K);
}

float g4_dot(const float *a, const float *b, int n)
{
	return use_fma() ? dot_fma(a, b, n) : dot_c(a, b, n);
}

#else

void g4_gemm_nt(const float *A, int lda, const float *B, int ldb, float *C, int ldc, int M, int N, int K)
{
	gemm_c(A, lda, B, ldb, C, ldc, M, N, K);
}

float g4_dot(const float *a, const float *b, int n) { return dot_c(a, b, n); }

#endif
