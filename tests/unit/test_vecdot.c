/* Tests of vecdot.c and the SIMD kernels: the portable dot products agree
 * with a double-precision dot of the dequantised rows, and every SIMD path
 * available on this CPU gives the same bits as the portable one, for every
 * weight type, on quantised data and on random block bytes. */
#include <stdint.h>

#include "t.h"
#include "qtypes.h"
#include "matmul.h"
#include "par.h"
#include "quantize.h"
#include "repack.h"
#include "vecdot.h"

static const uint32_t wtypes[] = {
	G4_F32, G4_F16, G4_BF16, G4_Q4_0, G4_Q4_1, G4_Q5_0, G4_Q5_1, G4_Q8_0, G4_IQ4_NL,
	G4_Q2_K, G4_Q3_K, G4_Q4_K, G4_Q5_K, G4_Q6_K, G4_Q8_K, G4_IQ4_XS,
};
#define NW (sizeof wtypes / sizeof wtypes[0])

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}
static float frnd(void) { return (float)((int)(rnd() % 2000001) - 1000000) / 1000000.0f; }

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* random weights: either quantised from random floats, or random bytes
 * with the f16 scales replaced by sane values (every bit pattern of the
 * quant fields, incl. Q8_0's -128) */
static void make_weights(uint32_t t, int64_t n, uint8_t *w, int raw)
{
	float *x = malloc((size_t)n * sizeof *x);
	for (int64_t i = 0; i < n; i++) x[i] = frnd() * (1 + (i % 7 == 0) * 3);
	g4_quantize(t, x, w, 1, n, NULL);
	free(x);
	if (!raw || t == G4_F32 || t == G4_F16 || t == G4_BF16)
		return;
	size_t bb = g4_type_block_bytes(t), nb = (size_t)(n / g4_type_block(t));
	for (size_t i = 0; i < nb * bb; i++) w[i] = (uint8_t)rnd();
	for (size_t b = 0; b < nb; b++) {
		uint8_t *p = w + b * bb;
		uint16_t h1 = (uint16_t)(0x2000 + rnd() % 0x1000), h2 = (uint16_t)(0x2000 + rnd() % 0x1000);
		if (rnd() & 1) h1 |= 0x8000;
		switch (t) {
		case G4_Q2_K: p[80] = (uint8_t)h1; p[81] = (uint8_t)(h1 >> 8); p[82] = (uint8_t)h2; p[83] = (uint8_t)(h2 >> 8); break;
		case G4_Q3_K: p[108] = (uint8_t)h1; p[109] = (uint8_t)(h1 >> 8); break;
		case G4_Q6_K: p[208] = (uint8_t)h1; p[209] = (uint8_t)(h1 >> 8); break;
		case G4_Q8_K: { float d = frnd() * 0.01f; memcpy(p, &d, 4); break; }
		case G4_Q4_1: case G4_Q5_1: case G4_Q4_K: case G4_Q5_K:
			p[2] = (uint8_t)h2; p[3] = (uint8_t)(h2 >> 8);
			/* fall through */
		default: p[0] = (uint8_t)h1; p[1] = (uint8_t)(h1 >> 8); break;
		}
	}
}

/* dequantised activation row (Q8_1's s handled by the caller) */
static void act_values(uint32_t at, const uint8_t *a, int64_t n, double *v)
{
	if (at == G4_F32) {
		for (int64_t i = 0; i < n; i++) { float f; memcpy(&f, a + 4 * i, 4); v[i] = f; }
		return;
	}
	if (at == G4_Q8_K) {
		for (int64_t i = 0; i < n; i++) {
			const uint8_t *b = a + 292 * (i / 256);
			float d; memcpy(&d, b, 4);
			v[i] = (double)d * (int8_t)b[4 + i % 256];
		}
		return;
	}
	int off = at == G4_Q8_1 ? 4 : 2, bb = at == G4_Q8_1 ? 36 : 34;
	for (int64_t i = 0; i < n; i++) {
		const uint8_t *b = a + bb * (i / 32);
		v[i] = (double)g4_f16_to_f32(rd16(b)) * (int8_t)b[off + i % 32];
	}
}

/* the dot in double from the dequantised rows; *mag = sum |w_i a_i| */
static double ref_dot(uint32_t t, int64_t n, const uint8_t *w, const uint8_t *a, double *mag)
{
	uint32_t at = (uint32_t)g4_vecdot_act_type(t);
	float *wf = malloc((size_t)n * sizeof *wf);
	double *av = malloc((size_t)n * sizeof *av);
	g4_dequant_row(t, w, wf, n);
	act_values(at, a, n, av);
	double s = 0, m = 0;
	for (int64_t i = 0; i < n; i++) { s += wf[i] * av[i]; m += fabs(wf[i] * av[i]); }
	if (at == G4_Q8_1) {
		/* the min term uses the block's stored s, not sum(a) */
		size_t wb = g4_type_block_bytes(t);
		for (int64_t b = 0; b < n / 32; b++) {
			const uint8_t *ab = a + 36 * b;
			double mw = g4_f16_to_f32(rd16(w + wb * b + 2)), sum = 0;
			for (int k = 0; k < 32; k++) sum += av[32 * b + k];
			s += mw * (g4_f16_to_f32(rd16(ab + 2)) - sum);
			m += fabs(mw * g4_f16_to_f32(rd16(ab + 2)));
		}
	}
	free(wf); free(av);
	*mag = m;
	return s;
}

static int64_t sizes(uint32_t t, int k)
{
	int b = g4_type_block(t);
	static const int nb32[] = { 1, 2, 3, 4, 5, 7, 8, 9, 13, 40, 80 };
	static const int nb256[] = { 1, 2, 3, 5, 8, 10 };
	static const int nf[] = { 1, 7, 15, 16, 17, 31, 32, 33, 63, 100, 640, 2560 };
	if (b == 1) return k < 12 ? nf[k] : 0;
	if (b == 32) return k < 11 ? 32 * nb32[k] : 0;
	return k < 6 ? 256 * nb256[k] : 0;
}

static void test_act_types(void)
{
	CHECK(g4_vecdot_act_type(G4_Q4_0) == G4_Q8_0, "q4_0");
	CHECK(g4_vecdot_act_type(G4_Q5_1) == G4_Q8_1, "q5_1");
	CHECK(g4_vecdot_act_type(G4_Q6_K) == G4_Q8_K, "q6_K");
	CHECK(g4_vecdot_act_type(G4_IQ4_XS) == G4_Q8_K, "iq4_xs");
	CHECK(g4_vecdot_act_type(G4_BF16) == G4_F32, "bf16");
	CHECK(g4_vecdot_act_type(G4_IQ2_XXS) == -1, "iq2_xxs");
	CHECK(g4_act_row_bytes(G4_Q4_K, 512) == 584, "q8_K row bytes");
	float x[64] = { 0 };
	uint8_t a[128];
	g4_quantize_act(G4_Q8_0, x, a, 64);
	CHECK(isnan(g4_vecdot(G4_Q8_0, 48, a, a)), "n not a multiple of 32");
	CHECK(isnan(g4_vecdot(G4_IQ2_XXS, 256, a, a)), "unsupported type");
}

/* portable path vs a double-precision dot */
static void test_portable_accuracy(void)
{
	g4_isa_set(G4_ISA_PORTABLE);
	for (size_t k = 0; k < NW; k++) {
		uint32_t t = wtypes[k], at = (uint32_t)g4_vecdot_act_type(t);
		for (int s = 0; sizes(t, s); s++) {
			int64_t n = sizes(t, s);
			for (int raw = 0; raw < 2; raw++) {
				uint8_t *w = malloc(g4_row_bytes(t, n) + 1), *a = malloc(g4_act_row_bytes(t, n) + 1);
				float *x = malloc((size_t)n * sizeof *x);
				make_weights(t, n, w, raw);
				for (int64_t i = 0; i < n; i++) x[i] = frnd();
				g4_quantize_act(at, x, a, n);
				double mag, ref = ref_dot(t, n, w, a, &mag);
				float got = g4_vecdot(t, n, w, a);
				double tol = 1e-6 * mag + 1e-30;
				CHECK(fabs(got - ref) <= tol, "%s n=%lld raw=%d: %.9g vs %.9g (tol %.3g)",
				      g4_type_name(t), (long long)n, raw, got, ref, tol);
				free(w); free(a); free(x);
			}
		}
	}
	g4_isa_set(G4_ISA_BEST);
}

/* every SIMD path equals the portable one, bit for bit */
static void test_simd_bitwise(void)
{
	int tested = 0;
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa)) {
			printf("SKIP %s: not supported by this CPU\n", g4_isa_name(isa));
			continue;
		}
		tested++;
		for (size_t k = 0; k < NW; k++) {
			uint32_t t = wtypes[k], at = (uint32_t)g4_vecdot_act_type(t);
			int bad = 0, total = 0;
			for (int s = 0; sizes(t, s); s++) {
				int64_t n = sizes(t, s);
				for (int rep = 0; rep < 6; rep++) {
					int rows = 3;
					size_t rb = g4_row_bytes(t, n);
					uint8_t *w = malloc(rb * rows + 64), *a = malloc(g4_act_row_bytes(t, n) + 64);
					float *x = malloc((size_t)n * sizeof *x), p[3], q[3];
					/* odd offsets: no alignment is assumed */
					uint8_t *wo = w + (rep & 1) * 3, *ao = a + (rep & 2) * 2;
					for (int r = 0; r < rows; r++) make_weights(t, n, wo + r * rb, rep >= 3);
					for (int64_t i = 0; i < n; i++) x[i] = frnd() * (rep == 2 ? 1e-3f : 1);
					if (rep == 4) for (int64_t i = 0; i < n; i++) x[i] = 0;
					g4_quantize_act(at, x, ao, n);
					g4_isa_set(G4_ISA_PORTABLE);
					g4_vecdot_rows(t, n, rows, wo, rb, ao, p);
					g4_isa_set(isa);
					g4_vecdot_rows(t, n, rows, wo, rb, ao, q);
					for (int r = 0; r < rows; r++, total++) {
						uint32_t up, uq;
						memcpy(&up, &p[r], 4); memcpy(&uq, &q[r], 4);
						if (up != uq) {
							if (!bad) CHECK(0, "%s %s n=%lld rep %d: %a vs portable %a", g4_isa_name(isa),
								       g4_type_name(t), (long long)n, rep, q[r], p[r]);
							bad++;
						}
					}
					free(w); free(a); free(x);
				}
			}
			if (bad) CHECK(0, "%s %s: %d of %d differ", g4_isa_name(isa), g4_type_name(t), bad, total);
		}
	}
	g4_isa_set(G4_ISA_BEST);
	CHECK(g4_isa() >= 0, "an isa is set");
	(void)tested;
}

/* g4_vecdot_acts (one weight row, many activation rows) gives the bits of
 * single portable dots, on every path, for 1..9 rows and odd strides */
static void test_acts(void)
{
	for (int isa = G4_ISA_PORTABLE; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa))
			continue;
		for (size_t k = 0; k < NW; k++) {
			uint32_t t = wtypes[k], at = (uint32_t)g4_vecdot_act_type(t);
			int bad = 0;
			for (int s = 0; sizes(t, s); s += 2) {
				int64_t n = sizes(t, s);
				int nact = 1 + (int)(rnd() % 9);
				size_t ab = g4_act_row_bytes(t, n) + 5, rb = g4_row_bytes(t, n);
				uint8_t *w = malloc(rb + 8), *a = malloc(ab * (size_t)nact + 8);
				float *x = malloc((size_t)n * sizeof *x), want[9], got[18];
				make_weights(t, n, w + 1, s & 1);
				g4_isa_set(G4_ISA_PORTABLE);
				for (int j = 0; j < nact; j++) {
					for (int64_t i = 0; i < n; i++) x[i] = frnd();
					/* f32 activations must stay 4-byte aligned */
					uint8_t *aj = a + (at == G4_F32 ? 0 : 1) + j * (at == G4_F32 ? ab - 5 : ab);
					g4_quantize_act(at, x, aj, n);
					want[j] = g4_vecdot(t, n, w + 1, aj);
				}
				g4_isa_set(isa);
				size_t as = at == G4_F32 ? ab - 5 : ab;
				g4_vecdot_acts(t, n, w + 1, a + (at == G4_F32 ? 0 : 1), as, nact, got, 2);
				for (int j = 0; j < nact; j++)
					if (memcmp(&got[2 * j], &want[j], 4)) {
						if (!bad) CHECK(0, "%s %s n=%lld row %d of %d: %a vs %a", g4_isa_name(isa), g4_type_name(t),
							       (long long)n, j, nact, got[2 * j], want[j]);
						bad++;
					}
				free(w); free(a); free(x);
			}
		}
	}
	g4_isa_set(G4_ISA_BEST);
}

/* the repacked-weight kernels (repack.h) of every path and type that has
 * one give the bits of portable g4_vecdot on the plain rows: every size,
 * row counts around the group size, 1..70 activation rows (each type sees
 * all: tiles, remainders and chunks), random block bytes included; and a
 * g4_matmul through them (1 and 2 threads, several slices) equals the
 * portable matmul.  g4_isa_set installs each path's own kernels (AVX2's
 * are tested here too on an AVX-512 CPU); they are counted per path. */
static void test_repack(void)
{
	static const int nrows[] = { 1, 2, 3, 5, 7, 16, 17, 33 };
	static const int nacts[] = { 1, 2, 3, 8, 9, 70 };
	int kernels[G4_ISA_AVX512 + 1] = { 0 };
	for (int isa = G4_ISA_PORTABLE; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa))
			continue;
		for (size_t k = 0; k < NW; k++) {
			uint32_t t = wtypes[k], at = (uint32_t)g4_vecdot_act_type(t);
			g4_isa_set(isa);
			const g4_rp_kernel *kr = g4_rp_kernel_for(t);
			if (!kr)
				continue;
			kernels[isa]++;
			int bad = 0;
			/* every size; super-block types two (rows, acts) pairs each */
			const int sb = g4_type_block(t) == 256;
			for (int i = 0; sizes(t, sb ? i / 2 : i); i++) {
				const int s = sb ? i / 2 : i, v = sb ? i % 2 : 0;
				int64_t n = sizes(t, s);
				int R = nrows[(s + 3 * v) % 8], A = nacts[(s + (int)k + 3 * v) % 6];
				/* f32 activations must be float-aligned; rows need not be */
				const int ao = at == G4_F32 ? 0 : 1;
				size_t rb = g4_row_bytes(t, n), ab = g4_act_row_bytes(t, n) + (ao ? 3 : 0), gb = kr->group_bytes(n);
				int64_t G = (R + kr->rows - 1) / kr->rows;
				uint8_t *w = malloc(rb * (size_t)R + 1), *a = malloc(ab * (size_t)A + 1),
					*g = malloc(gb * (size_t)G);
				float *x = malloc((size_t)n * sizeof *x), *want = malloc((size_t)(R * A) * sizeof *want),
				      *got = malloc((size_t)((R + 1) * A + 7) * sizeof *got);
				for (int r = 0; r < R; r++)
					make_weights(t, n, w + 1 + (size_t)r * rb, (r + s) & 1);
				for (int j = 0; j < A; j++) {
					for (int64_t i = 0; i < n; i++) x[i] = frnd() * (j == 1 ? 0 : 1);
					g4_quantize_act(at, x, a + ao + (size_t)j * ab, n);
				}
				if (kr->pack)
					for (int64_t i = 0; i < G; i++) {
						int nr = (int)(R - i * kr->rows < kr->rows ? R - i * kr->rows : kr->rows);
						kr->pack(n, w + 1 + (size_t)(i * kr->rows) * rb, rb, nr, g + (size_t)i * gb);
					}
				else
					memcpy(g, w + 1, rb * (size_t)R);	/* in place: the rows themselves */
				for (int i = 0; i < (R + 1) * A + 7; i++) got[i] = -1.0f;
				kr->gemm(n, g, R, a + ao, ab, A, got, (size_t)R + 1);
				g4_isa_set(G4_ISA_PORTABLE);
				for (int j = 0; j < A; j++)
					for (int r = 0; r < R; r++) {
						float want1 = g4_vecdot(t, n, w + 1 + (size_t)r * rb, a + ao + (size_t)j * ab);
						if (memcmp(&want1, &got[j * (R + 1) + r], 4)) {
							if (!bad) CHECK(0, "%s %s n=%lld rows %d acts %d: [%d][%d] %a vs %a",
								       g4_isa_name(isa), g4_type_name(t), (long long)n, R, A,
								       j, r, got[j * (R + 1) + r], want1);
							bad++;
						}
					}
				for (int j = 0; j + 1 < A; j++)
					CHECK(got[j * (R + 1) + R] == -1.0f, "%s %s wrote past its rows",
					      g4_isa_name(isa), g4_type_name(t));
				g4_isa_set(isa);
				free(w); free(a); free(g); free(x); free(want); free(got);
			}
			/* through g4_matmul: two slices, 1 and 2 threads, T = 1 and 5 */
			int64_t n = sizes(t, 2), rows = 37, T = 5;
			size_t rb = g4_row_bytes(t, n);
			uint8_t *d = malloc(rb * (size_t)rows * 2);
			for (int64_t r = 0; r < 2 * rows; r++)
				make_weights(t, n, d + (size_t)r * rb, (int)(r & 1));
			g4_mat m = { .data = d, .type = t, .ne0 = n, .ne1 = rows, .ne2 = 2, .row_bytes = rb,
				     .mat_bytes = rb * (size_t)rows };
			float *xs = malloc((size_t)(T * n) * sizeof *xs), *y0 = malloc((size_t)(T * rows) * sizeof *y0),
			      *y1 = malloc((size_t)(T * rows) * sizeof *y1);
			for (int64_t i = 0; i < T * n; i++) xs[i] = frnd();
			g4_matmul_set_act(G4_ACT_Q8);
			for (int mat = 0; mat < 2; mat++)
				for (int64_t nt = 1; nt <= T; nt += T - 1) {
					g4_isa_set(G4_ISA_PORTABLE);
					g4_matmul(&m, mat, xs, n, nt, y0, rows);
					g4_isa_set(isa);
					for (int th = 1; th <= 2; th++) {
						g4_set_threads(th);
						g4_matmul(&m, mat, xs, n, nt, y1, rows);
						CHECK(!memcmp(y0, y1, (size_t)(nt * rows) * sizeof *y0),
						      "%s %s matmul slice %d T %lld -t %d differs from portable",
						      g4_isa_name(isa), g4_type_name(t), mat, (long long)nt, th);
					}
				}
			CHECK(m.rp != NULL, "%s %s: the matmul made no repacked copy", g4_isa_name(isa), g4_type_name(t));
			g4_rp_release(&m);
			g4_matmul_set_act(G4_ACT_F32);
			g4_set_threads(0);
			free(d); free(xs); free(y0); free(y1);
		}
	}
	g4_isa_set(G4_ISA_BEST);
	CHECK(kernels[G4_ISA_PORTABLE] == 0, "%d repacked kernels on the portable path", kernels[G4_ISA_PORTABLE]);
	/* AVX2: the 32-element-block types and F32/F16/BF16; AVX-512: those
	 * and the K-quants (Q2_K..Q6_K, IQ4_XS) */
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		const int want = isa == G4_ISA_AVX2 ? 9 : 15;
		if (g4_isa_available(isa))
			CHECK(kernels[isa] >= want, "only %d repacked kernels on %s", kernels[isa], g4_isa_name(isa));
		else
			printf("SKIP repacked kernels on %s: not supported by this CPU\n", g4_isa_name(isa));
	}
}

/* the activation quantisers give the reference bytes on every path:
 * random rows, ties at .5 steps, zeros, huge, NaN and infinite values */
static void test_act_quant_paths(void)
{
	enum { N = 32 * 40 };
	static float x[N];
	static uint8_t want[N * 2], got[N * 2];
	for (int i = 0; i < N; i++)
		x[i] = frnd() * (i / 32 % 5 == 0 ? 1e-30f : i / 32 % 5 == 1 ? 1e30f : 3.0f);
	for (int i = 64; i < 96; i++)
		x[i] = (float)(i - 80) * 0.5f;	/* amax 8: x*id = k*7.9375, ties nearby */
	for (int i = 96; i < 128; i++)
		x[i] = (float)(i - 96 - 16) * (127.0f / 16.0f) / 8.0f;	/* exact halves */
	for (int i = 128; i < 160; i++)
		x[i] = 0.0f;
	for (int i = 160; i < 192; i++)
		x[i] = 0.01f * (float)(i - 175);	/* a running max that a NaN resets */
	x[161] = 5.0f;
	x[170] = NAN;
	x[200] = INFINITY;
	x[230] = -INFINITY;
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa))
			continue;
		for (int k = 0; k < 2; k++) {
			uint32_t at = k ? G4_Q8_1 : G4_Q8_0;
			size_t rb = g4_row_bytes(at, N);
			g4_isa_set(G4_ISA_PORTABLE);
			g4_quantize_act(at, x, want, N);
			g4_isa_set(isa);
			g4_quantize_act(at, x, got, N);
			size_t at_byte = 0;
			while (at_byte < rb && want[at_byte] == got[at_byte])
				at_byte++;
			CHECK(at_byte == rb, "%s %s activation bytes differ at byte %zu (%d vs %d)", g4_isa_name(isa),
			      g4_type_name(at), at_byte, at_byte < rb ? want[at_byte] : 0, at_byte < rb ? got[at_byte] : 0);
		}
	}
	g4_isa_set(G4_ISA_BEST);
}

int main(void)
{
	printf("# vecdot path in use: %s\n", g4_isa_name(g4_isa()));
	RUN(test_act_types);
	RUN(test_portable_accuracy);
	RUN(test_simd_bitwise);
	RUN(test_acts);
	RUN(test_repack);
	RUN(test_act_quant_paths);
	return t_done();
}
