/* test_matmul_n.c - g4_matmul_n (several products in one parallel region)
 * gives bitwise the outputs of separate g4_matmul calls, for F32, BF16 and
 * Q8_0 weights, shared and separate inputs, f32 and 8-bit activations, 1
 * and 2 threads, one and several input rows, up to G4_MATMUL_MAX products. */
#include <stdint.h>

#include "t.h"
#include "matmul.h"
#include "par.h"
#include "qtypes.h"
#include "repack.h"

#define N 256
static uint32_t rng = 12345;
static uint32_t rnd(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}
static float rndf(void) { return (float)(rnd() % 20001) / 10000.0f - 1.0f; }

/* A matrix of `rows` rows of N values of type `type` with random contents. */
static g4_mat make(uint32_t type, int64_t rows)
{
	size_t rb = type == G4_F32 ? N * 4 : type == G4_BF16 ? N * 2 : (size_t)N / 32 * 34;
	uint8_t *d = malloc(rb * (size_t)rows);
	for (int64_t r = 0; r < rows; r++) {
		uint8_t *p = d + (size_t)r * rb;
		if (type == G4_F32)
			for (int i = 0; i < N; i++) {
				float f = rndf();
				memcpy(p + 4 * i, &f, 4);
			}
		else if (type == G4_BF16)
			for (int i = 0; i < N; i++) {
				uint16_t h = g4_f32_to_bf16(rndf());
				memcpy(p + 2 * i, &h, 2);
			}
		else
			for (int b = 0; b < N / 32; b++) {
				uint16_t sc = (uint16_t)(0x2000 + rnd() % 0x0c00);	/* a small fp16 */
				memcpy(p + 34 * b, &sc, 2);
				for (int i = 0; i < 32; i++)
					p[34 * b + 2 + i] = (uint8_t)rnd();
			}
	}
	return (g4_mat){ .data = d, .type = type, .ne0 = N, .ne1 = rows, .ne2 = 1,
			 .row_bytes = rb, .mat_bytes = rb * (size_t)rows };
}

#define NP 12	/* products: the 3 matrices 4 times over, on 3 inputs */

static void test_same_bits(void)
{
	const uint32_t types[3] = { G4_Q8_0, G4_BF16, G4_F32 };
	const int64_t rows[3] = { 301, 77, 600 };
	g4_mat m[3];
	for (int i = 0; i < 3; i++)
		m[i] = make(types[i], rows[i]);
	const int64_t T = 3, ldxs[3] = { N + 5, N, N + 9 };
	float *xs[3];
	for (int k = 0; k < 3; k++) {
		xs[k] = malloc((size_t)(T * ldxs[k]) * sizeof *xs[k]);
		for (int64_t i = 0; i < T * ldxs[k]; i++)
			xs[k][i] = rndf();
	}
	const g4_mat *w[NP];
	const float *x[NP];
	int64_t mats[NP], ldx[NP], ld[NP];
	for (int i = 0; i < NP; i++) {
		w[i] = &m[i % 3];
		mats[i] = 0;
		x[i] = xs[i % 4 == 3 ? 0 : i % 4 % 3];	/* input 0 shared by several */
		ldx[i] = ldxs[i % 4 == 3 ? 0 : i % 4 % 3];
		ld[i] = rows[i % 3] + 3;
	}
	for (int act = 0; act < 2; act++)
		for (int th = 1; th <= 2; th++)
			for (int64_t nt = 1; nt <= T; nt += T - 1)
				for (int np = 3; np <= NP; np += NP - 3) {
					g4_matmul_set_act(act ? G4_ACT_Q8 : G4_ACT_F32);
					g4_set_threads(th);
					float *a[NP], *b[NP];
					for (int i = 0; i < np; i++) {
						a[i] = calloc((size_t)(nt * ld[i]), sizeof(float));
						b[i] = calloc((size_t)(nt * ld[i]), sizeof(float));
						g4_matmul(w[i], 0, x[i], ldx[i], nt, a[i], ld[i]);
					}
					g4_matmul_n(np, w, mats, x, ldx, nt, b, ld);
					for (int i = 0; i < np; i++) {
						CHECK(!memcmp(a[i], b[i], (size_t)(nt * ld[i]) * sizeof(float)),
						      "product %d of %d differs (act %d, -t %d, T %lld)", i, np, act, th,
						      (long long)nt);
						float s = 0.0f;
						for (int64_t j = 0; j < w[i]->ne1; j++)
							s += fabsf(b[i][j]);
						CHECK(s > 0.0f, "product %d is all zero", i);
						free(a[i]);
						free(b[i]);
					}
				}
	g4_matmul_set_act(G4_ACT_F32);
	g4_set_threads(0);
	for (int i = 0; i < 3; i++) {
		g4_rp_release(&m[i]);
		free((void *)m[i].data);
	}
	for (int k = 0; k < 3; k++)
		free(xs[k]);
}

int main(void)
{
	RUN(test_same_bits);
	return t_done();
}
