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

static void gemm_nn_c(const float *A, int lda, const float *B, int ldb, float *C, int ldc,
		      int M, int N, int K)
{
	for (int i = 0; i < M; i++) {
		float *c = C + (long)i * ldc;
		for (int j = 0; j < N; j++)
			c[j] = 0;
		for (int k = 0; k < K; k++) {
			float a = A[(long)i * lda + k];
			const float *b = B + (long)k * ldb;
			for (int j = 0; j < N; j++)
				c[j] += a * b[j];
		}
	}
}

static void softmax_c(float *s, int n)
{
	float mx = -INFINITY, sum = 0;
	for (int j = 0; j < n; j++)
		mx = s[j] > mx ? s[j] : mx;
	for (int j = 0; j < n; j++) {
		s[j] = expf(s[j] - mx);
		sum += s[j];
	}
	float inv = 1.0f / sum;
	for (int j = 0; j < n; j++)
		s[j] *= inv;
}

static inline float gelu_tanh(float z)
{
	const float c = 0.7978845608028654f;	/* sqrt(2/pi) */
	return 0.5f * z * (1.0f + tanhf(c * (z + 0.044715f * z * z * z)));
}

static void geglu_c(float *g, const float *u, long n)
{
	for (long i = 0; i < n; i++)
		g[i] = gelu_tanh(g[i]) * u[i];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* C = A B, tiles of 4 rows by 16 columns; columns past the last full 8 are
 * done one by one with fmaf in the same k order. */
__attribute__((target("avx2,fma")))
static void gemm_nn_fma(const float *A, int lda, const float *B, int ldb, float *C, int ldc,
			int M, int N, int K)
{
	int N16 = N & ~15, N8 = N & ~7;
	for (int i0 = 0; i0 < M; i0 += 4) {
		int mi = M - i0 < 4 ? M - i0 : 4;
		const float *a[4];
		for (int r = 0; r < 4; r++)
			a[r] = A + (long)(i0 + (r < mi ? r : 0)) * lda;
		int j = 0;
		for (; j < N16; j += 16) {
			__m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
			__m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
			for (int k = 0; k < K; k++) {
				const float *b = B + (long)k * ldb + j;
				__m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
				x = _mm256_broadcast_ss(a[0] + k);
				c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
				x = _mm256_broadcast_ss(a[1] + k);
				c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
				x = _mm256_broadcast_ss(a[2] + k);
				c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
				x = _mm256_broadcast_ss(a[3] + k);
				c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
			}
			__m256 cc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
			for (int r = 0; r < mi; r++) {
				_mm256_storeu_ps(C + (long)(i0 + r) * ldc + j, cc[r][0]);
				_mm256_storeu_ps(C + (long)(i0 + r) * ldc + j + 8, cc[r][1]);
			}
		}
		for (; j < N8; j += 8) {
			__m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
			for (int k = 0; k < K; k++) {
				__m256 b0 = _mm256_loadu_ps(B + (long)k * ldb + j);
				c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a[0] + k), b0, c0);
				c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a[1] + k), b0, c1);
				c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a[2] + k), b0, c2);
				c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a[3] + k), b0, c3);
			}
			__m256 cc[4] = {c0, c1, c2, c3};
			for (int r = 0; r < mi; r++)
				_mm256_storeu_ps(C + (long)(i0 + r) * ldc + j, cc[r]);
		}
		for (; j < N; j++)
			for (int r = 0; r < mi; r++) {
				float c = 0;
				for (int k = 0; k < K; k++)
					c = fmaf(a[r][k], B[(long)k * ldb + j], c);
				C[(long)(i0 + r) * ldc + j] = c;
			}
	}
}

/* exp on 8 lanes: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-7
 * polynomial (Cephes' expf coefficients), times 2^n.  Within 2 ulp of expf
 * for x in [-87, 88]; below that 0. */
__attribute__((target("avx2,fma")))
static inline __m256 exp8(__m256 x)
{
	const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.0f);
	__m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
	x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
				   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
	return _mm256_andnot_ps(under, p);
}

/* tanh(t) = sign(t) (1 - 2/(exp(2|t|) + 1)) */
__attribute__((target("avx2,fma")))
static void geglu_fma(float *g, const float *u, long n)
{
	const __m256 c = _mm256_set1_ps(0.7978845608028654f), k = _mm256_set1_ps(0.044715f);
	const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f);
	const __m256 sign = _mm256_set1_ps(-0.0f);
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 z = _mm256_loadu_ps(g + i);
		__m256 t = _mm256_mul_ps(c, _mm256_add_ps(z, _mm256_mul_ps(k, _mm256_mul_ps(_mm256_mul_ps(z, z), z))));
		__m256 a = _mm256_andnot_ps(sign, t);
		__m256 e = exp8(_mm256_min_ps(_mm256_mul_ps(two, a), _mm256_set1_ps(80.0f)));
		__m256 th = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
		th = _mm256_or_ps(th, _mm256_and_ps(sign, t));
		__m256 r = _mm256_mul_ps(_mm256_mul_ps(half, z), _mm256_add_ps(one, th));
		_mm256_storeu_ps(g + i, _mm256_mul_ps(r, _mm256_loadu_ps(u + i)));
	}
	geglu_c(g + i, u + i, n - i);
}

__attribute__((target("avx2,fma")))
static void softmax_fma(float *s, int n)
{
	int n8 = n & ~7, j;
	__m256 m = _mm256_set1_ps(-INFINITY);
	for (j = 0; j < n8; j += 8)
		m = _mm256_max_ps(m, _mm256_loadu_ps(s + j));
	float t[8], mx = -INFINITY;
	_mm256_storeu_ps(t, m);
	for (int k = 0; k < 8; k++)
		mx = t[k] > mx ? t[k] : mx;
	for (; j < n; j++)
		mx = s[j] > mx ? s[j] : mx;
	__m256 vm = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
	for (j = 0; j < n8; j += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
		_mm256_storeu_ps(s + j, e);
		sum = _mm256_add_ps(sum, e);
	}
	_mm256_storeu_ps(t, sum);
	if (j < n) {
		float tail[8] = {0}, ex[8];
		for (int k = 0; j + k < n; k++)
			tail[k] = s[j + k] - mx;
		_mm256_storeu_ps(ex, exp8(_mm256_loadu_ps(tail)));
		for (int k = 0; j + k < n; k++) {
			s[j + k] = ex[k];
			t[k] += ex[k];
		}
	}
	__m256 inv = _mm256_set1_ps(1.0f / tree8(t));
	for (j = 0; j < n8; j += 8)
		_mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), inv));
	for (; j < n; j++)
		s[j] *= 1.0f / tree8(t);
}

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

void g4_gemm_nn(const float *A, int lda, const float *B, int ldb, float *C, int ldc, int M, int N, int K)
{
	if (use_fma())
		gemm_nn_fma(A, lda, B, ldb, C, ldc, M, N, K);
	else
		gemm_nn_c(A, lda, B, ldb, C, ldc, M, N, K);
}

void g4_geglu(float *g, const float *u, long n)
{
	if (use_fma())
		geglu_fma(g, u, n);
	else
		geglu_c(g, u, n);
}

void g4_softmax(float *s, int n)
{
	if (use_fma())
		softmax_fma(s, n);
	else
		softmax_c(s, n);
}

#else

void g4_gemm_nt(const float *A, int lda, const float *B, int ldb, float *C, int ldc, int M, int N, int K)
{
	gemm_c(A, lda, B, ldb, C, ldc, M, N, K);
}

float g4_dot(const float *a, const float *b, int n) { return dot_c(a, b, n); }

void g4_gemm_nn(const float *A, int lda, const float *B, int ldb, float *C, int ldc, int M, int N, int K)
{
	gemm_nn_c(A, lda, B, ldb, C, ldc, M, N, K);
}

void g4_softmax(float *s, int n) { softmax_c(s, n); }

void g4_geglu(float *g, const float *u, long n) { geglu_c(g, u, n); }

#endif
