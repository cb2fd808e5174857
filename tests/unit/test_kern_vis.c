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

int main(void)
{
	RUN(test_gemm);
	return t_done();
}
