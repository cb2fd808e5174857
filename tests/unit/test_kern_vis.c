/* Tests of lib/kern_vis.c: the tiled product equals the one-row dot product
 * bit for bit whatever the blocking, and the SIMD and portable paths agree
 * to rounding. */
#include <stdint.h>

#include "t.h"
#include "kern_vis.h"

static float rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void test_gemm(void)
{
	int dims[][3] = {{1, 1, 1}, {4, 3, 8}, {5, 7, 13}, {9, 10, 64}, {13, 5, 203}, {8, 6, 768}};
	uint32_t seed = 7;
	for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
		int M = dims[c][0], N = dims[c][1], K = dims[c][2];
		float *A = malloc(sizeof(float) * M * (K + 3)), *B = malloc(sizeof(float) * N * (K + 1));
		float *C = malloc(sizeof(float) * M * (N + 2)), *P = malloc(sizeof(float) * M * N);
		for (int i = 0; i < M * (K + 3); i++) A[i] = rnd(&seed);
		for (int i = 0; i < N * (K + 1); i++) B[i] = rnd(&seed);
		g4_gemm_nt(A, K + 3, B, K + 1, C, N + 2, M, N, K);
		int bad = 0;
		double mx = 0, ex = 0;
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				float d = g4_dot(A + i * (K + 3), B + j * (K + 1), K);
				if (d != C[i * (N + 2) + j]) bad++;
				double e = 0;
				for (int k = 0; k < K; k++) e += (double)A[i * (K + 3) + k] * B[j * (K + 1) + k];
				if (fabs(e - C[i * (N + 2) + j]) > ex) ex = fabs(e - C[i * (N + 2) + j]);
			}
		CHECK(bad == 0, "%dx%dx%d: %d tile results differ from the dot product", M, N, K, bad);
		CHECK(ex < 1e-4 * sqrt(K), "%dx%dx%d: off by %g from the exact product", M, N, K, ex);
		g4_kern_vis_portable(1);
		g4_gemm_nt(A, K + 3, B, K + 1, P, N, M, N, K);
		g4_kern_vis_portable(0);
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				double d = fabs(P[i * N + j] - C[i * (N + 2) + j]);
				if (d > mx) mx = d;
			}
		CHECK(mx < 1e-5 * sqrt(K), "%dx%dx%d: portable and SIMD paths differ by %g", M, N, K, mx);
		free(A); free(B); free(C); free(P);
	}
}

static void test_gemm_nn(void)
{
	int dims[][3] = {{1, 1, 1}, {4, 16, 8}, {5, 23, 13}, {3, 40, 64}, {7, 9, 200}};
	uint32_t seed = 11;
	for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
		int M = dims[c][0], N = dims[c][1], K = dims[c][2];
		float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * (N + 3));
		float *C = malloc(sizeof(float) * M * N), *P = malloc(sizeof(float) * M * N);
		for (int i = 0; i < M * K; i++) A[i] = rnd(&seed);
		for (int i = 0; i < K * (N + 3); i++) B[i] = rnd(&seed);
		g4_gemm_nn(A, K, B, N + 3, C, N, M, N, K);
		g4_kern_vis_portable(1);
		g4_gemm_nn(A, K, B, N + 3, P, N, M, N, K);
		g4_kern_vis_portable(0);
		double mx = 0, ex = 0;
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				double e = 0;
				for (int k = 0; k < K; k++) e += (double)A[i * K + k] * B[k * (N + 3) + j];
				ex = fmax(ex, fabs(e - C[i * N + j]));
				mx = fmax(mx, fabs(P[i * N + j] - C[i * N + j]));
			}
		CHECK(ex < 1e-4 * sqrt(K), "%dx%dx%d: off by %g from the exact product", M, N, K, ex);
		CHECK(mx < 1e-5 * sqrt(K), "%dx%dx%d: portable and SIMD differ by %g", M, N, K, mx);
		/* a row's result does not depend on the rows around it */
		if (M > 1) {
			float *one = malloc(sizeof(float) * N);
			g4_gemm_nn(A + (M - 1) * K, K, B, N + 3, one, N, 1, N, K);
			CHECK(!memcmp(one, C + (M - 1) * N, sizeof(float) * N), "%dx%dx%d: last row depends on blocking", M, N, K);
			free(one);
		}
		free(A); free(B); free(C); free(P);
	}
}

static void test_softmax(void)
{
	int ns[] = {1, 7, 8, 33, 1000};
	uint32_t seed = 3;
	for (size_t c = 0; c < 5; c++) {
		int n = ns[c];
		float *s = malloc(sizeof(float) * n), *p = malloc(sizeof(float) * n);
		for (int i = 0; i < n; i++) s[i] = p[i] = rnd(&seed) * 40.0f;
		if (n > 1) s[0] = p[0] = -INFINITY;
		if (n > 1) s[n - 1] = p[n - 1] = 60.0f;
		g4_softmax(s, n);
		g4_kern_vis_portable(1);
		g4_softmax(p, n);
		g4_kern_vis_portable(0);
		double sum = 0, mx = 0;
		for (int i = 0; i < n; i++) {
			sum += s[i];
			mx = fmax(mx, fabs(s[i] - p[i]) / (p[i] > 1e-30 ? p[i] : 1));
		}
		CHECK(n == 1 || (s[0] == 0 && p[0] == 0), "n=%d: exp(-inf) is %g", n, s[0]);
		CHECK(fabs(sum - 1) < 1e-5, "n=%d: sums to %.9g", n, sum);
		CHECK(mx < 1e-6, "n=%d: relative difference to expf %g", n, mx);
		free(s); free(p);
	}
}

static void test_geglu(void)
{
	float g[203], u[203], p[203];
	uint32_t seed = 5;
	for (int i = 0; i < 203; i++) {
		g[i] = p[i] = rnd(&seed) * (i < 100 ? 12.0f : 0.01f);
		u[i] = rnd(&seed);
	}
	g[0] = p[0] = 0;
	g4_geglu(g, u, 203);
	g4_kern_vis_portable(1);
	g4_geglu(p, u, 203);
	g4_kern_vis_portable(0);
	double mx = 0;
	for (int i = 0; i < 203; i++) mx = fmax(mx, fabs(g[i] - p[i]));
	CHECK(mx < 1e-6, "SIMD and portable GeGLU differ by %g", mx);
	CHECK(g[0] == 0, "gelu(0) = %g", g[0]);
	/* gelu_tanh(1) = 0.841192 */
	float one = 1, uu = 1;
	g4_geglu(&one, &uu, 1);
	CHECK(fabs(one - 0.8411920) < 1e-6, "gelu_tanh(1) = %.7f", one);
}

int main(void)
{
	RUN(test_geglu);
	RUN(test_gemm);
	RUN(test_gemm_nn);
	RUN(test_softmax);
	return t_done();
}
