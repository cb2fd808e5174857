/* kern_sgemm.c - f32 x·wᵀ with one fixed summation order (kern_sgemm.h).
 * Portable C (fmaf) and AVX2 / AVX-512 (vfmadd): every step is one fused
 * multiply-add, so all paths round identically. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kern_sgemm.h"

static inline float reduce8(const float *s)
{
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot_ref(const float *a, const float *b, int k)
{
	float s[8] = { 0 };
	int k8 = k & ~7;
	for (int i = 0; i < k8; i += 8)
		for (int l = 0; l < 8; l++)
			s[l] = fmaf(a[i + l], b[i + l], s[l]);
	for (int l = 0; l < k - k8; l++)
		s[l] = fmaf(a[k8 + l], b[k8 + l], s[l]);
	return reduce8(s);
}

static void block_ref(int m, int n, int k, const float *x, size_t ldx,
		      const float *w, size_t ldw, float *y, size_t ldy)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
			y[(size_t)i * ldy + j] = dot_ref(x + (size_t)i * ldx, w + (size_t)j * ldw, k);
}

__attribute__((target("avx2,fma")))
static inline float fin_avx2(__m256 acc, const float *a, const float *b, int k8, int k)
{
	float s[8];
	_mm256_storeu_ps(s, acc);
	for (int l = 0; l < k - k8; l++)
		s[l] = fmaf(a[k8 + l], b[k8 + l], s[l]);
	return reduce8(s);
}

/* 4 rows of x against 2 rows of w */
__attribute__((target("avx2,fma")))
static void tile4x2(int k, const float *x, size_t ldx, const float *w, size_t ldw,
		    float *y, size_t ldy)
{
	const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
	const float *w0 = w, *w1 = w + ldw;
	__m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
	__m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
	int k8 = k & ~7;
	for (int i = 0; i < k8; i += 8) {
		__m256 v0 = _mm256_loadu_ps(w0 + i), v1 = _mm256_loadu_ps(w1 + i);
		__m256 u = _mm256_loadu_ps(x0 + i);
		a00 = _mm256_fmadd_ps(u, v0, a00);
		a01 = _mm256_fmadd_ps(u, v1, a01);
		u = _mm256_loadu_ps(x1 + i);
		a10 = _mm256_fmadd_ps(u, v0, a10);
		a11 = _mm256_fmadd_ps(u, v1, a11);
		u = _mm256_loadu_ps(x2 + i);
		a20 = _mm256_fmadd_ps(u, v0, a20);
		a21 = _mm256_fmadd_ps(u, v1, a21);
		u = _mm256_loadu_ps(x3 + i);
		a30 = _mm256_fmadd_ps(u, v0, a30);
		a31 = _mm256_fmadd_ps(u, v1, a31);
	}
	y[0] = fin_avx2(a00, x0, w0, k8, k);
	y[1] = fin_avx2(a01, x0, w1, k8, k);
	y[ldy] = fin_avx2(a10, x1, w0, k8, k);
	y[ldy + 1] = fin_avx2(a11, x1, w1, k8, k);
	y[2 * ldy] = fin_avx2(a20, x2, w0, k8, k);
	y[2 * ldy + 1] = fin_avx2(a21, x2, w1, k8, k);
	y[3 * ldy] = fin_avx2(a30, x3, w0, k8, k);
	y[3 * ldy + 1] = fin_avx2(a31, x3, w1, k8, k);
}

__attribute__((target("avx2,fma")))
static float dot_avx2(const float *a, const float *b, int k)
{
	__m256 acc = _mm256_setzero_ps();
	int k8 = k & ~7;
	for (int i = 0; i < k8; i += 8)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
	return fin_avx2(acc, a, b, k8, k);
}

__attribute__((target("avx2,fma")))
static void block_avx2(int m, int n, int k, const float *x, size_t ldx,
		       const float *w, size_t ldw, float *y, size_t ldy)
{
	int m4 = m & ~3, n2 = n & ~1;
	for (int i = 0; i < m4; i += 4)
		for (int j = 0; j < n2; j += 2)
			tile4x2(k, x + (size_t)i * ldx, ldx, w + (size_t)j * ldw, ldw,
				y + (size_t)i * ldy + j, ldy);
	for (int i = 0; i < m; i++)
		for (int j = (i < m4 ? n2 : 0); j < n; j++)
			y[(size_t)i * ldy + j] = dot_avx2(x + (size_t)i * ldx, w + (size_t)j * ldw, k);
}

__attribute__((target("avx512f,avx512dq,fma")))
static inline void fin2(__m512 acc, const float *xa, const float *xb, const float *w, int k8, int k,
			float *ya, float *yb)
{
	float s[16];
	_mm512_storeu_ps(s, acc);
	for (int l = 0; l < k - k8; l++) {
		s[l] = fmaf(xa[k8 + l], w[k8 + l], s[l]);
		s[8 + l] = fmaf(xb[k8 + l], w[k8 + l], s[8 + l]);
	}
	*ya = reduce8(s);
	*yb = reduce8(s + 8);
}

/* 4 rows of x against 4 rows of w */
__attribute__((target("avx512f,avx512dq,fma")))
static void tile4x4_avx512(int k, const float *x, size_t ldx, const float *w, size_t ldw,
			   float *y, size_t ldy)
{
	const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
	const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	int k8 = k & ~7;
	for (int i = 0; i < k8; i += 8) {
		__m512 u = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(x0 + i)),
					      _mm256_loadu_ps(x1 + i), 1);
		__m512 v = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(x2 + i)),
					      _mm256_loadu_ps(x3 + i), 1);
		__m512 c = _mm512_broadcast_f32x8(_mm256_loadu_ps(w0 + i));
		a0 = _mm512_fmadd_ps(u, c, a0);
		b0 = _mm512_fmadd_ps(v, c, b0);
		c = _mm512_broadcast_f32x8(_mm256_loadu_ps(w1 + i));
		a1 = _mm512_fmadd_ps(u, c, a1);
		b1 = _mm512_fmadd_ps(v, c, b1);
		c = _mm512_broadcast_f32x8(_mm256_loadu_ps(w2 + i));
		a2 = _mm512_fmadd_ps(u, c, a2);
		b2 = _mm512_fmadd_ps(v, c, b2);
		c = _mm512_broadcast_f32x8(_mm256_loadu_ps(w3 + i));
		a3 = _mm512_fmadd_ps(u, c, a3);
		b3 = _mm512_fmadd_ps(v, c, b3);
	}
	fin2(a0, x0, x1, w0, k8, k, &y[0], &y[ldy]);
	fin2(a1, x0, x1, w1, k8, k, &y[1], &y[ldy + 1]);
	fin2(a2, x0, x1, w2, k8, k, &y[2], &y[ldy + 2]);
	fin2(a3, x0, x1, w3, k8, k, &y[3], &y[ldy + 3]);
	fin2(b0, x2, x3, w0, k8, k, &y[2 * ldy], &y[3 * ldy]);
	fin2(b1, x2, x3, w1, k8, k, &y[2 * ldy + 1], &y[3 * ldy + 1]);
	fin2(b2, x2, x3, w2, k8, k, &y[2 * ldy + 2], &y[3 * ldy + 2]);
	fin2(b3, x2, x3, w3, k8, k, &y[2 * ldy + 3], &y[3 * ldy + 3]);
}

__attribute__((target("avx512f,avx512dq,fma")))
static void block_avx512(int m, int n, int k, const float *x, size_t ldx,
			 const float *w, size_t ldw, float *y, size_t ldy)
{
	int m4 = m & ~3, n4 = n & ~3;
	for (int i = 0; i < m4; i += 4)
		for (int j = 0; j < n4; j += 4)
			tile4x4_avx512(k, x + (size_t)i * ldx, ldx, w + (size_t)j * ldw, ldw,
				       y + (size_t)i * ldy + j, ldy);
	for (int i = 0; i < m; i++)
		for (int j = (i < m4 ? n4 : 0); j < n; j++)
			y[(size_t)i * ldy + j] = dot_avx2(x + (size_t)i * ldx, w + (size_t)j * ldw, k);
}

/* 0 portable, 1 AVX2, 2 AVX-512 (G4_NO_AVX512 in the environment: AVX2) */
static int path = -1;

static int best_path(void)
{
	int v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
	if (v && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
		v = 2;
	return v;
}

int g4_sgemm_path(int force)
{
	if (force >= 0)
		path = force < best_path() ? force : best_path();
	else if (path < 0)
		path = best_path() == 2 && getenv("G4_NO_AVX512") ? 1 : best_path();
	return path;
}

static int use_avx2(void)
{
	return g4_sgemm_path(-1);
}


/* rows of w per block: about 128 KB of w stays in cache while x streams */
static int wblock(int k)
{
	int nb = (int)((128 * 1024) / ((size_t)k * sizeof(float) + 1));
	nb &= ~1;
	return nb < 2 ? 2 : nb > 256 ? 256 : nb;
}

static void gemm(int m, int n, int k, const float *x, size_t ldx,
		 const float *w, size_t ldw, float *y, size_t ldy, int avx)
{
	int nb = wblock(k);
	for (int j0 = 0; j0 < n; j0 += nb) {
		int nn = n - j0 < nb ? n - j0 : nb;
		if (avx == 2)
			block_avx512(m, nn, k, x, ldx, w + (size_t)j0 * ldw, ldw, y + j0, ldy);
		else if (avx)
			block_avx2(m, nn, k, x, ldx, w + (size_t)j0 * ldw, ldw, y + j0, ldy);
		else
			block_ref(m, nn, k, x, ldx, w + (size_t)j0 * ldw, ldw, y + j0, ldy);
	}
}

void g4_sgemm_nt(int m, int n, int k, const float *x, size_t ldx,
		 const float *w, size_t ldw, float *y, size_t ldy)
{
	gemm(m, n, k, x, ldx, w, ldw, y, ldy, use_avx2());
}

void g4_sgemm_nt_ref(int m, int n, int k, const float *x, size_t ldx,
		     const float *w, size_t ldw, float *y, size_t ldy)
{
	gemm(m, n, k, x, ldx, w, ldw, y, ldy, 0);
}

void g4_sgemm_nt_par(int m, int n, int k, const float *x, size_t ldx,
		     const float *w, size_t ldw, float *y, size_t ldy)
{
	const int MB = 64;
	int nb = wblock(k);
	int ti = (m + MB - 1) / MB, tj = (n + nb - 1) / nb;
	int avx = use_avx2();
	#pragma omp parallel for schedule(dynamic) collapse(2) if ((double)m * n * k >= 2e6)
	for (int a = 0; a < tj; a++)
		for (int b = 0; b < ti; b++) {
			int i0 = b * MB, j0 = a * nb;
			int mm = m - i0 < MB ? m - i0 : MB, nn = n - j0 < nb ? n - j0 : nb;
			gemm(mm, nn, k, x + (size_t)i0 * ldx, ldx, w + (size_t)j0 * ldw, ldw,
			     y + (size_t)i0 * ldy + j0, ldy, avx);
		}
}
