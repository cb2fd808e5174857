/* Tests of vecdot.c and the SIMD kernels: the portable dot products agree
 * with a double-precision dot of the dequantised rows, and every SIMD path
 * available on this CPU gives the same bits as the portable one, for every
 * weight type (and BF16 rows with BF16 activations), on quantised data and
 * on random block bytes. */
#include <float.h>
#include <stdint.h>

#include "t.h"
#include "kern.h"
#include "qtypes.h"
#include "matmul.h"
#include "par.h"
#include "quantize.h"
#include "repack.h"
#include "vecdot.h"

static const uint32_t wtypes[] = {
	G4_F32, G4_F16, G4_BF16, G4_Q4_0, G4_Q4_1, G4_Q5_0, G4_Q5_1, G4_Q8_0, G4_IQ4_NL,
	G4_Q2_K, G4_Q3_K, G4_Q4_K, G4_Q5_K, G4_Q6_K, G4_Q8_K, G4_IQ4_XS, G4_DOT_BF16,
};
#define NW (sizeof wtypes / sizeof wtypes[0])

/* the weight type of a dot type */
static uint32_t wt(uint32_t t) { return t == G4_DOT_BF16 ? G4_BF16 : t; }

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}
static float frnd(void) { return (float)((int)(rnd() % 2000001) - 1000000) / 1000000.0f; }

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* An adversarial bf16 or f32 value (bits): kind 0 any bits, 1 a wide
 * range of exponents, 2 tiny (exponents 0..7: denormals, near 2^-126),
 * 3 huge or infinite, 4 zeros, 5 mostly near 1 with a few NaNs and
 * infinities, 6 about 2^-56 (products near AVX2's bound, kern_rp_bf16.c). */
static uint32_t adv32(int kind)
{
	uint32_t r = rnd() | rnd() << 16, sign = r & 0x80000000u, man = r & 0x7FFFFF;
	switch (kind) {
	case 0: return r;
	case 1: return sign | man | (uint32_t)(0x20 + rnd() % 0xC0) << 23;
	case 2: return sign | man | (rnd() % 8) << 23;
	case 3: return sign | man | (rnd() % 3 ? 0xFE - rnd() % 4 : 0xFF) << 23;
	case 4: return sign;
	case 6: return sign | man | (uint32_t)(66 + rnd() % 10) << 23;
	default: {
		uint32_t k = rnd() % 64;
		return k == 0 ? 0x7FC00000u | (r & 0x3FFFFF) : k == 1 ? sign | 0x7F800000u : k == 2 ? 0x7F800001u | (r & 0x3FFFFF) :
		       sign | man | (uint32_t)(0x7C + rnd() % 6) << 23;
	}
	}
}
static uint16_t adv16(int kind) { return (uint16_t)(adv32(kind) >> 16); }
/* random weights: either quantised from random floats, or random bytes
 * with the f16 scales replaced by sane values (every bit pattern of the
 * quant fields, incl. Q8_0's -128) */
static void make_weights(uint32_t t, int64_t n, uint8_t *w, int raw)
{
	float *x = malloc((size_t)n * sizeof *x);
	for (int64_t i = 0; i < n; i++) x[i] = frnd() * (1 + (i % 7 == 0) * 3);
	g4_quantize(wt(t), x, w, 1, n, NULL);
	free(x);
	if (raw && t == G4_DOT_BF16) {	/* adversarial bf16 values, one kind a row */
		int kind = (int)(rnd() % 8);
		for (int64_t i = 0; i < n; i++)
			if (kind != 1 || rnd() % 2) {
				uint16_t h = adv16(kind);
				memcpy(w + 2 * i, &h, 2);
			}
		if (kind == 7)	/* pairs whose products nearly cancel, around 2^-126 */
			for (int64_t i = 0; i < n; i += 2) {
				uint16_t h = (uint16_t)(rnd() % 4 ? 0 : (rnd() & 0x807F) | (64 + rnd() % 7) << 7);
				uint16_t o = h ? (uint16_t)((h ^ 0x8000) + rnd() % 3 - 1) : 0;
				memcpy(w + 2 * i, &h, 2);
				memcpy(w + 2 * i + 2, &o, 2);
			}
		return;
	}
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
	if (at == G4_BF16) {
		for (int64_t i = 0; i < n; i++) v[i] = g4_bf16_to_f32(rd16(a + 2 * i));
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
	g4_dequant_row(wt(t), w, wf, n);
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
	int b = t == G4_DOT_BF16 ? 32 : g4_type_block(t);
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
	/* BF16 rows with bf16 activations: matmul's 8-bit mode, widths of 32 */
	CHECK(g4_vecdot_act_type(G4_DOT_BF16) == G4_BF16, "bf16xbf16");
	CHECK(g4_act_row_bytes(G4_DOT_BF16, 64) == 128 && g4_act_row_bytes(G4_DOT_BF16, 48) == 0, "bf16 row bytes");
	CHECK(g4_vecdot_type_q8(G4_BF16, 256) == G4_DOT_BF16 && g4_vecdot_type_q8(G4_BF16, 48) == G4_BF16 &&
	      g4_vecdot_type_q8(G4_F16, 256) == G4_F16 && g4_vecdot_type_q8(G4_Q4_0, 256) == G4_Q4_0, "q8 dot types");
	CHECK(isnan(g4_vecdot(G4_DOT_BF16, 48, a, a)), "bf16xbf16, n not a multiple of 32");
	CHECK(!strcmp(g4_dot_name(G4_DOT_BF16), "bf16xbf16") && !strcmp(g4_dot_name(G4_Q4_0), "q4_0"), "names");
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
				uint8_t *w = malloc(g4_row_bytes(wt(t), n) + 1), *a = malloc(g4_act_row_bytes(t, n) + 1);
				float *x = malloc((size_t)n * sizeof *x);
				make_weights(t, n, w, raw && t != G4_DOT_BF16);
				for (int64_t i = 0; i < n; i++) x[i] = frnd();
				g4_quantize_act(at, x, a, n);
				double mag, ref = ref_dot(t, n, w, a, &mag);
				float got = g4_vecdot(t, n, w, a);
				/* BF16xBF16: 4 f32 chains of up to n/8 pairs */
				double tol = (t == G4_DOT_BF16 ? 1e-5 : 1e-6) * mag + 1e-30;
				CHECK(fabs(got - ref) <= tol, "%s n=%lld raw=%d: %.9g vs %.9g (tol %.3g)",
				      g4_dot_name(t), (long long)n, raw, got, ref, tol);
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
					size_t rb = g4_row_bytes(wt(t), n);
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
								       g4_dot_name(t), (long long)n, rep, q[r], p[r]);
							bad++;
						}
					}
					free(w); free(a); free(x);
				}
			}
			if (bad) CHECK(0, "%s %s: %d of %d differ", g4_isa_name(isa), g4_dot_name(t), bad, total);
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
				size_t ab = g4_act_row_bytes(t, n) + 5, rb = g4_row_bytes(wt(t), n);
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
						if (!bad) CHECK(0, "%s %s n=%lld row %d of %d: %a vs %a", g4_isa_name(isa), g4_dot_name(t),
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
 * are tested here too on an AVX-512 CPU); they are counted per path.
 * BF16xBF16 also gets adversarial weights and activations (denormals,
 * signed zeros, infinities, NaNs, values near 2^-126 and the largest). */
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
			const int sb = t != G4_DOT_BF16 && g4_type_block(t) == 256;
			for (int i = 0; sizes(t, sb ? i / 2 : i); i++) {
				const int s = sb ? i / 2 : i, v = sb ? i % 2 : 0;
				int64_t n = sizes(t, s);
				int R = nrows[(s + 3 * v) % 8], A = nacts[(s + (int)k + 3 * v) % 6];
				/* f32 activations must be float-aligned; rows need not be */
				const int ao = at == G4_F32 ? 0 : 1;
				size_t rb = g4_row_bytes(wt(t), n), ab = g4_act_row_bytes(t, n) + (ao ? 3 : 0), gb = kr->group_bytes(n);
				int64_t G = (R + kr->rows - 1) / kr->rows;
				uint8_t *w = malloc(rb * (size_t)R + 1), *a = malloc(ab * (size_t)A + 1),
					*g = malloc(gb * (size_t)G);
				float *x = malloc((size_t)n * sizeof *x), *want = malloc((size_t)(R * A) * sizeof *want),
				      *got = malloc((size_t)((R + 1) * A + 7) * sizeof *got);
				for (int r = 0; r < R; r++)
					make_weights(t, n, w + 1 + (size_t)r * rb, (r + s) & 1);
				for (int j = 0; j < A; j++) {
					for (int64_t i = 0; i < n; i++) x[i] = frnd() * (j == 1 ? 0 : 1);
					if (t == G4_DOT_BF16 && j % 3 == 2) {
						int kind = (int)(rnd() % 8);
						for (int64_t i = 0; i < n; i++)
							if (kind != 1 || rnd() % 2)
								x[i] = bitsf(adv32(kind));
						if (kind == 7)	/* equal pairs about 2^-60 */
							for (int64_t i = 0; i < n; i += 2)
								x[i] = x[i + 1] = bitsf((rnd() & 0x807F0000) | (64 + rnd() % 7) << 23);
					}
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
								       g4_isa_name(isa), g4_dot_name(t), (long long)n, R, A,
								       j, r, got[j * (R + 1) + r], want1);
							bad++;
						}
					}
				for (int j = 0; j + 1 < A; j++)
					CHECK(got[j * (R + 1) + R] == -1.0f, "%s %s wrote past its rows",
					      g4_isa_name(isa), g4_dot_name(t));
				g4_isa_set(isa);
				free(w); free(a); free(g); free(x); free(want); free(got);
			}
			/* through g4_matmul: two slices, 1 and 2 threads, T = 1 and 5;
			 * 8-bit mode but for BF16's f32-activation kernel */
			int64_t n = sizes(t, 2), rows = 37, T = 5;
			size_t rb = g4_row_bytes(wt(t), n);
			uint8_t *d = malloc(rb * (size_t)rows * 2);
			for (int64_t r = 0; r < 2 * rows; r++)
				make_weights(t, n, d + (size_t)r * rb, (int)(r & 1));
			g4_mat m = { .data = d, .type = wt(t), .ne0 = n, .ne1 = rows, .ne2 = 2, .row_bytes = rb,
				     .mat_bytes = rb * (size_t)rows };
			float *xs = malloc((size_t)(T * n) * sizeof *xs), *y0 = malloc((size_t)(T * rows) * sizeof *y0),
			      *y1 = malloc((size_t)(T * rows) * sizeof *y1);
			for (int64_t i = 0; i < T * n; i++) xs[i] = frnd();
			g4_matmul_set_act(t == G4_BF16 ? G4_ACT_F32 : G4_ACT_Q8);
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
						      g4_isa_name(isa), g4_dot_name(t), mat, (long long)nt, th);
					}
				}
			CHECK(m.rp != NULL && m.rp->k == kr, "%s %s: the matmul made no repacked copy", g4_isa_name(isa),
			      g4_dot_name(t));
			g4_rp_release(&m);
			g4_matmul_set_act(G4_ACT_F32);
			g4_set_threads(0);
			free(d); free(xs); free(y0); free(y1);
		}
	}
	g4_isa_set(G4_ISA_BEST);
	CHECK(kernels[G4_ISA_PORTABLE] == 0, "%d repacked kernels on the portable path", kernels[G4_ISA_PORTABLE]);
	/* AVX2: the 32-element-block types, F32/F16/BF16 and BF16xBF16
	 * (emulated); AVX-512: those and the K-quants (Q2_K..Q6_K, IQ4_XS)
	 * (BF16xBF16 with vdpbf16ps where the CPU has AVX512-BF16) */
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		const int want = isa == G4_ISA_AVX2 ? 10 : 16;
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
	for (int i = 1024; i < 1280; i++)
		x[i] = frnd() * 1e-39f;	/* Q8_K: -127/max overflows */
	x[161] = 5.0f;
	x[170] = NAN;
	x[200] = INFINITY;
	x[230] = -INFINITY;
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa))
			continue;
		for (int k = 0; k < 3; k++) {
			uint32_t at = k == 2 ? G4_Q8_K : k ? G4_Q8_1 : G4_Q8_0;
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

/* ---- BF16 weights x BF16 activations (G4_DOT_BF16) ---- */

/* one vdpbf16ps lane in C: the odd element first (vecdot.h) */
static float lane_c(float acc, uint32_t w, uint32_t a)
{
	acc = g4_bf16_step(acc, (uint16_t)(w >> 16), (uint16_t)(a >> 16));
	return g4_bf16_step(acc, (uint16_t)w, (uint16_t)a);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* 16 lanes of the instruction itself: weights as the first source */
__attribute__((target("avx512f,avx512bf16"))) static void lanes_hw(const uint32_t *acc, const uint32_t *w,
								   const uint32_t *a, uint32_t *out)
{
	__m512 r = _mm512_dpbf16_ps(_mm512_loadu_ps(acc), (__m512bh)_mm512_loadu_si512(w),
				    (__m512bh)_mm512_loadu_si512(a));
	_mm512_storeu_ps(out, r);
}
#define HAVE_LANES_HW 1
#endif

/* The semantics vecdot.h states, case by case (results read off the
 * instruction on an AMD EPYC), then the C step against the instruction
 * itself, where the CPU has it, on 2^20 random and adversarial lanes:
 * denormal inputs and accumulators, cancellations down to about 2^-126,
 * huge values and overflow, infinities and NaNs of every payload. */
static void test_bf16_step(void)
{
	static const struct { uint32_t acc, w, a, want; const char *what; } cases[] = {
		/* w and a: bf16 pairs, element 2k+1 in the high half */
		{ 0x00000001, 0, 0, 0x00000000, "a denormal accumulator reads as zero" },
		{ 0x80000003, 0x80008000, 0x3F803F80, 0x80000000, "-denormal + (-0) + (-0): -0" },
		{ 0x00000000, 0x00400000, 0x71800000, 0x00000000, "a denormal weight reads as zero" },
		{ 0x00800000, 0x00800000, 0x3F000000, 0x00C00000, "a denormal product is not flushed (fma)" },
		{ 0x00000000, 0x80800000, 0x3F000000, 0x00000000, "-2^-127 flushes to -0, then -0 + 0*0 = +0" },
		{ 0x80000000, 0x00008080, 0x00003F00, 0x80000000, "-0 + (-2^-127): -0" },
		{ 0x3F800000, 0x338033C0, 0x3F803F80, 0x3F800001, "order: 1 + 2^-24 first, then 1.5 * 2^-24" },
		{ 0x3F800000, 0x33C03380, 0x3F803F80, 0x3F800002, "order: 1 + 1.5 * 2^-24 first, then 2^-24" },
		{ 0x3F800000, 0x33803380, 0x3F803F80, 0x3F800000, "no single rounding of the two products" },
		{ 0x00800001, 0x00800000, 0xB4010000, 0x00800000, "2^-126 - 2^-156 rounds to 2^-126 (tiny after rounding)" },
		{ 0x00800001, 0x00800000, 0xB4400000, 0x00000000, "2^-126 - 2^-150 is tiny: flushed" },
		{ 0xFF7FFFFF, 0x7F000000, 0x40200000, 0x7E800002, "an exact product beyond FLT_MAX" },
		{ 0x7F7FFFFF, 0x73000000, 0x3F800000, 0x7F800000, "overflow to infinity" },
		{ 0x00000000, 0x7FC57FC1, 0x3F803F80, 0x7FC10000, "NaN weights: the even one comes last" },
		{ 0x00000000, 0x00007F81, 0x00003F80, 0x7FC10000, "a signalling NaN weight made quiet" },
		{ 0x00000000, 0x00007FC1, 0x00007FC3, 0x7FC10000, "NaN weight and activation: the weight's" },
		{ 0x7FC00007, 0x00007FC1, 0x00003F80, 0x7FC10000, "NaN accumulator and weight: the weight's" },
		{ 0x7FC00007, 0x7F800000, 0x00000000, 0x7FC00007, "NaN accumulator before inf * 0" },
		{ 0x7F800007, 0x3F800000, 0x3F800000, 0x7FC00007, "a signalling NaN accumulator made quiet" },
		{ 0x00000000, 0x7F800000, 0x00000000, 0xFFC00000, "inf * 0: the default NaN" },
		{ 0x7F800000, 0xFF800000, 0x3F800000, 0xFFC00000, "inf - inf: the default NaN" },
		{ 0x00000000, 0x7F807FC1, 0x3F800000, 0x7FC10000, "inf * 0, then a NaN weight" },
	};
	int hw = 0;
#ifdef HAVE_LANES_HW
	g4_isa_set(G4_ISA_BEST);
	hw = g4_isa_bf16();
#endif
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint32_t got = fbits(lane_c(bitsf(cases[i].acc), cases[i].w, cases[i].a));
		CHECK(got == cases[i].want, "%s: C gives %08x, want %08x", cases[i].what, got, cases[i].want);
#ifdef HAVE_LANES_HW
		if (hw) {
			uint32_t acc[16], w[16], a[16], o[16];
			for (int l = 0; l < 16; l++) { acc[l] = cases[i].acc; w[l] = cases[i].w; a[l] = cases[i].a; }
			lanes_hw(acc, w, a, o);
			CHECK(o[0] == cases[i].want, "%s: vdpbf16ps gives %08x, want %08x", cases[i].what, o[0], cases[i].want);
		}
#endif
	}
	if (!hw) {
		printf("SKIP vdpbf16ps itself: this CPU has no AVX512-BF16\n");
		return;
	}
#ifdef HAVE_LANES_HW
	long bad = 0, total = 0;
	for (int it = 0; it < (1 << 16); it++) {
		uint32_t acc[16], w[16], a[16], o[16];
		int kw = (int)(rnd() % 6), ka = (int)(rnd() % 6), kc = (int)(rnd() % 6);
		for (int l = 0; l < 16; l++) {
			uint32_t w0 = adv16(kw), w1 = adv16(kw), a0 = adv16(ka), a1 = adv16(ka);
			acc[l] = adv32(kc);
			switch (rnd() % 8) {
			case 0:	/* the second product cancels the first */
				w0 = w1 ^ 0x8000 ^ (rnd() % 4);
				a0 = a1;
				break;
			case 1:	/* the accumulator cancels the first product */
				acc[l] = fbits(-(g4_bf16_to_f32((uint16_t)w1) * g4_bf16_to_f32((uint16_t)a1))) ^ (rnd() % 4);
				break;
			case 2: {	/* results near +-2^-126 */
				const int sh = (int)(rnd() % 24);
				w1 = (rnd() & 0x807F) | (1 + rnd() % 6) << 7;
				a1 = 0x3F80 | (rnd() & 0x807F);
				const float p = g4_bf16_to_f32((uint16_t)w1) * g4_bf16_to_f32((uint16_t)a1);
				acc[l] = fbits(-p) + rnd() % (1u << sh) - rnd() % (1u << sh);
				if (rnd() & 1) {
					w0 = (rnd() & 0x807F) | (rnd() % 30) << 7;
					a0 = 0x3000 | (rnd() & 0x80FF);
				}
				break;
			}
			case 3:	/* an accumulator at about 2^-126 */
				acc[l] = (rnd() & 1) << 31 | (0x00800000 + rnd() % 64 - rnd() % 64);
				break;
			}
			w[l] = w1 << 16 | w0;
			a[l] = a1 << 16 | a0;
		}
		lanes_hw(acc, w, a, o);
		for (int l = 0; l < 16; l++, total++) {
			uint32_t c = fbits(lane_c(bitsf(acc[l]), w[l], a[l]));
			if (c != o[l]) {
				if (bad < 5)
					CHECK(0, "acc %08x w %08x a %08x: vdpbf16ps %08x, C %08x", acc[l], w[l], a[l], o[l], c);
				bad++;
			}
		}
	}
	CHECK(!bad, "%ld of %ld lanes differ", bad, total);
	printf("  %ld lanes: C = vdpbf16ps bit for bit\n", total - bad);
#endif
}

/* f32 -> bf16 activations: the definition (nearest even, quiet NaN, f32
 * denormals to signed zeros) on every path, over adversarial values and
 * a stride through all 2^32 bit patterns */
static void test_bf16_act(void)
{
	enum { N = 1 << 16 };
	static float x[N];
	static uint8_t want[2 * N], got[2 * N + 2];
	for (int i = 0; i < N; i++)
		x[i] = bitsf(i < N / 2 ? adv32(i % 6) : (uint32_t)i * 65521u + (uint32_t)(i & 3) * 0x7FFFu);
	x[0] = 0x1.0101p0f;	/* ties: 1 + 2^-8 + 2^-16 rounds up, 1 + 2^-8 even down */
	x[1] = 0x1.01p0f;
	x[2] = 0x1.03p0f;
	x[3] = 0x1.fffffep127f;	/* rounds to infinity */
	x[4] = -0x1p-149f;
	g4_isa_set(G4_ISA_PORTABLE);
	g4_quantize_act(G4_BF16, x, want, N);
	int bad = 0;
	for (int i = 0; i < N; i++) {
		uint32_t u = fbits(x[i]);
		uint16_t h = rd16(want + 2 * i), e;
		if ((u & 0x7FFFFFFF) > 0x7F800000)
			e = (uint16_t)(u >> 16 | 0x40);
		else if (!(u & 0x7F800000))
			e = (uint16_t)(u >> 16 & 0x8000);
		else
			e = g4_f32_to_bf16(x[i]);
		if (h != e && bad++ < 3)
			CHECK(0, "%08x -> %04x, want %04x", u, h, e);
	}
	CHECK(rd16(want) == 0x3F81 && rd16(want + 2) == 0x3F80 && rd16(want + 4) == 0x3F82, "ties to even");
	CHECK(rd16(want + 6) == 0x7F80 && rd16(want + 8) == 0x8000, "overflow, denormal");
	for (int isa = G4_ISA_AVX2; isa <= G4_ISA_AVX512; isa++) {
		if (g4_isa_set(isa) < 0)
			continue;
		for (int n = N; n >= N - 17; n -= 17) {	/* tails */
			memset(got, 0xAB, sizeof got);
			g4_quantize_act(G4_BF16, x, got, n);
			CHECK(!memcmp(want, got, 2 * (size_t)n) && got[2 * n] == 0xAB, "%s%s: bf16 activations differ (n %d)",
			      g4_isa_name(isa), g4_isa_bf16() ? "-bf16" : "", n);
		}
	}
	g4_isa_set(G4_ISA_BEST);
}

/* g4_matmul of BF16 weights in 8-bit mode: every output is the portable
 * BF16xBF16 dot of its row and bf16 activation row, bit for bit, for
 * batches of 1, 7 and 64 rows, 1 and 2 threads and every path; a width
 * that is no multiple of 32 keeps the f32 activations. */
static void test_bf16_matmul(void)
{
	static const int64_t widths[] = { 256, 96, 48 };
	for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
		const int64_t n = widths[wi], rows = 45, T = 64;
		const size_t rb = g4_row_bytes(G4_BF16, n);
		uint8_t *d = malloc(rb * (size_t)rows * 2), *act = malloc((size_t)(T * n) * 2);
		float *x = malloc((size_t)(T * n) * sizeof *x), *want = malloc((size_t)(T * rows) * sizeof *want),
		      *y = malloc((size_t)(T * rows) * sizeof *y), *yf = malloc((size_t)(T * rows) * sizeof *yf);
		for (int64_t r = 0; r < 2 * rows; r++)
			make_weights(G4_DOT_BF16, n, d + (size_t)r * rb, r % 9 == 4);
		for (int64_t i = 0; i < T * n; i++)
			x[i] = frnd() * (i / n == 5 ? 1e-30f : 1.0f);
		x[3 * n + 7] = NAN;
		x[9 * n + 1] = INFINITY;
		g4_mat m = { .data = d, .type = G4_BF16, .ne0 = n, .ne1 = rows, .ne2 = 2, .row_bytes = rb,
			     .mat_bytes = rb * (size_t)rows };
		const int bf = n % 32 == 0;
		for (int mat = 0; mat < 2; mat++) {
			g4_isa_set(G4_ISA_PORTABLE);
			for (int64_t t = 0; t < T; t++) {
				g4_quantize_act(G4_BF16, x + t * n, act + t * n * 2, n);
				for (int64_t r = 0; r < rows; r++) {
					const uint8_t *wr = d + (size_t)(mat * rows + r) * rb;
					want[t * rows + r] = bf ? g4_vecdot(G4_DOT_BF16, n, wr, act + t * n * 2)
								: g4_vecdot(G4_BF16, n, wr, x + t * n);
				}
			}
			for (int isa = G4_ISA_PORTABLE; isa <= G4_ISA_AVX512; isa++) {
				if (g4_isa_set(isa) < 0)
					continue;
				for (int th = 1; th <= 2; th++) {
					g4_set_threads(th);
					for (int64_t nt = 1; nt <= T; nt = nt == 1 ? 7 : nt == 7 ? T : T + 1) {
						g4_matmul_set_act(G4_ACT_Q8);
						for (int64_t t0 = 0; t0 < T; t0 += nt)
							g4_matmul(&m, mat, x + t0 * n, n, T - t0 < nt ? T - t0 : nt, y + t0 * rows, rows);
						CHECK(!memcmp(want, y, (size_t)(T * rows) * sizeof *y),
						      "%s n %lld slice %d batch %lld -t %d: not the portable dots", g4_isa_name(isa),
						      (long long)n, mat, (long long)nt, th);
						g4_matmul_set_act(G4_ACT_F32);
						g4_matmul(&m, mat, x, n, T, yf, rows);
						if (bf) {	/* bf16 activations do change the results */
							int same = 0;
							for (int64_t i = 0; i < T * rows; i++)
								same += y[i] == yf[i];
							CHECK(same < T * rows / 2, "n %lld: %d of %lld outputs as with f32 activations",
							      (long long)n, same, (long long)(T * rows));
						} else
							CHECK(!memcmp(y, yf, (size_t)(T * rows) * sizeof *y),
							      "n %lld: 8-bit mode is not the f32 path", (long long)n);
					}
				}
			}
		}
		g4_rp_release(&m);
		g4_set_threads(0);
		g4_isa_set(G4_ISA_BEST);
		free(d); free(act); free(x); free(want); free(y); free(yf);
	}
}

/* Products right at AVX2's bound (kern_rp_bf16.c): pairs whose two products
 * differ by one unit of their 16th bit, w = (129, -128) x 2^ew and
 * a = (129, 130) x 2^ea (8-bit mantissas), so each pair adds exactly
 * 2^(ew + ea - 14): below 2^-126 (flushed by the instruction) when the
 * exponent fields add up to less than 142, a normal number from 142 on.
 * Every path gives the portable bits, one activation row and seven. */
static void test_bf16_bound(void)
{
	const int64_t n = 128, rows = 20, T = 7;
	const size_t rb = g4_row_bytes(G4_BF16, n);
	uint8_t *d = malloc(rb * (size_t)rows), *act = malloc((size_t)n * 2);
	float *x = malloc((size_t)(T * n) * sizeof *x), *y = malloc((size_t)(T * rows) * sizeof *y);
	g4_mat m = { .data = d, .type = G4_BF16, .ne0 = n, .ne1 = rows, .ne2 = 1, .row_bytes = rb,
		     .mat_bytes = rb * (size_t)rows };
	int flushed = 0, kept = 0;
	for (int ew = 66; ew <= 76; ew += 5) {
		for (int64_t r = 0; r < rows; r++)
			for (int64_t i = 0; i < n; i += 2) {
				uint16_t sg = (uint16_t)(rnd() & 0x8000), e = (uint16_t)(ew << 7);
				uint16_t w0 = sg | e | 1, w1 = (uint16_t)(sg ^ 0x8000) | e;	/* 129, -128 */
				if ((i / 2 + r) % 5 == 0)
					w0 = w1 = 0;
				memcpy(d + (size_t)r * rb + 2 * i, &w0, 2);
				memcpy(d + (size_t)r * rb + 2 * i + 2, &w1, 2);
			}
		for (int ea0 = 136 - ew; ea0 <= 148 - ew; ea0 += T) {
			for (int64_t t = 0; t < T; t++)	/* exponent fields ea0 + t */
				for (int64_t i = 0; i < n; i += 2) {
					x[t * n + i] = bitsf((uint32_t)(ea0 + t) << 23 | 1u << 16);	/* 129 */
					x[t * n + i + 1] = bitsf((uint32_t)(ea0 + t) << 23 | 2u << 16);	/* 130 */
				}
			g4_matmul_set_act(G4_ACT_Q8);
			for (int isa = G4_ISA_PORTABLE; isa <= G4_ISA_AVX512; isa++) {
				if (g4_isa_set(isa) < 0)
					continue;
				for (int64_t nt = 1; nt <= T; nt += T - 1) {
					for (int64_t t0 = 0; t0 < T; t0 += nt)
						g4_matmul(&m, 0, x + t0 * n, n, nt, y + t0 * rows, rows);
					g4_isa_set(G4_ISA_PORTABLE);
					for (int64_t t = 0; t < T; t++) {
						g4_quantize_act(G4_BF16, x + t * n, act, n);
						for (int64_t r = 0; r < rows; r++) {
							float want = g4_vecdot(G4_DOT_BF16, n, d + (size_t)r * rb, act);
							CHECK(!memcmp(&want, &y[t * rows + r], 4),
							      "%s batch %lld fields %d + %lld row %lld: %a vs %a", g4_isa_name(isa),
							      (long long)nt, ew, (long long)(ea0 + t), (long long)r, y[t * rows + r], want);
							if (isa == G4_ISA_PORTABLE && nt == 1) {
								if (ew + ea0 + t < 142)
									flushed += want == 0.0f;
								else
									kept += want != 0.0f;
							}
						}
					}
					g4_isa_set(isa);
				}
			}
			g4_rp_release(&m);
		}
	}
	/* the flush does show: below the bound all products vanish */
	CHECK(flushed > 100 && kept > 100, "%d flushed and %d kept outputs", flushed, kept);
	g4_matmul_set_act(G4_ACT_F32);
	g4_isa_set(G4_ISA_BEST);
	free(d); free(act); free(x); free(y);
}

/* F32/F16/BF16 tile kernels in a batch go over blocks of rows and, for long
 * rows, slices of a row with the accumulators kept between slices: rows
 * over several blocks (the last one short, its last group short), widths
 * of one slice, several slices, several with a tail; 7 and 8 activation
 * rows (a last tile of 1 and of 2).  The same bits as portable g4_vecdot. */
static void test_flt_blocks(void)
{
	static const uint32_t ft[] = { G4_F32, G4_F16, G4_BF16 };
	static const int64_t widths[] = { 2048, 4096, 4133, 6150 };
	const int R = 263;
	for (int isa = G4_ISA_PORTABLE; isa <= G4_ISA_AVX512; isa++) {
		if (!g4_isa_available(isa))
			continue;
		for (size_t k = 0; k < sizeof ft / sizeof ft[0]; k++)
			for (size_t v = 0; v < sizeof widths / sizeof widths[0]; v++) {
				const uint32_t t = ft[k];
				const int64_t n = widths[v];
				const int A = 7 + (int)(v & 1);	/* tiles 3 + 3 + 1, 3 + 3 + 2 */
				g4_isa_set(isa);
				const g4_rp_kernel *kr = g4_rp_kernel_for(t);
				if (!kr || kr->pack)
					continue;
				const size_t rb = g4_row_bytes(t, n);
				uint8_t *w = malloc(rb * R);
				float *x = malloc((size_t)(A * n) * sizeof *x), *got = malloc((size_t)(A * R) * sizeof *got);
				for (int r = 0; r < R; r++)
					make_weights(t, n, w + (size_t)r * rb, 0);
				for (int64_t i = 0; i < A * n; i++)
					x[i] = frnd();
				kr->gemm(n, w, R, (const uint8_t *)x, (size_t)n * sizeof *x, A, got, R);
				g4_isa_set(G4_ISA_PORTABLE);
				int bad = 0;
				for (int j = 0; j < A; j++)
					for (int r = 0; r < R; r++) {
						float want = g4_vecdot(t, n, w + (size_t)r * rb, x + (size_t)j * n);
						bad += memcmp(&want, &got[j * R + r], 4) != 0;
					}
				CHECK(!bad, "%s %s n=%lld: %d of %d products differ from portable", g4_isa_name(isa),
				      g4_type_name(t), (long long)n, bad, A * R);
				free(w); free(x); free(got);
			}
	}
	g4_isa_set(G4_ISA_BEST);
}

/* The exact path (f32 activations): quantised rows dequantised a group at
 * a time and multiplied by the F32 tiles, or for one activation row taken
 * from registers into the dots (kern_dq.c), give on every path and thread
 * count the portable dot of each dequantised row (rows not a multiple of
 * the group, so a short last group; rows in several blocks). */
static void test_exact_matmul(void)
{
	static const uint32_t qt[] = { G4_Q4_0, G4_Q4_1, G4_Q5_0, G4_Q5_1, G4_Q8_0, G4_IQ4_NL,
				       G4_Q2_K, G4_Q3_K, G4_Q4_K, G4_Q5_K, G4_Q6_K, G4_IQ4_XS };
	const int64_t rows = 37, T = 5;
	for (size_t k = 0; k < 2 * sizeof qt / sizeof qt[0]; k++) {
		/* width 12288: a batch's rows go in blocks of 16 (matmul.c),
		 * several to a thread's share, the last one short */
		const uint32_t t = qt[k / 2];
		const int64_t n = k % 2 ? 12288 : 512;
		const size_t rb = g4_row_bytes(t, n);
		uint8_t *d = malloc(rb * rows);
		float *x = malloc((size_t)(T * n) * sizeof *x), *row = malloc((size_t)n * sizeof *row),
		      *want = malloc((size_t)(T * rows) * sizeof *want), *y = malloc((size_t)(T * rows) * sizeof *y);
		for (int64_t r = 0; r < rows; r++)
			make_weights(t, n, d + (size_t)r * rb, 0);
		for (int64_t i = 0; i < T * n; i++)
			x[i] = frnd();
		g4_mat m = { .data = d, .type = t, .ne0 = n, .ne1 = rows, .ne2 = 1, .row_bytes = rb,
			     .mat_bytes = rb * (size_t)rows };
		g4_isa_set(G4_ISA_PORTABLE);
		for (int64_t r = 0; r < rows; r++) {
			g4_dequant_row(t, d + (size_t)r * rb, row, n);
			for (int64_t j = 0; j < T; j++)
				want[j * rows + r] = g4_vecdot(G4_F32, n, row, x + j * n);
		}
		g4_matmul_set_act(G4_ACT_F32);
		for (int isa = G4_ISA_PORTABLE; isa <= G4_ISA_AVX512; isa++) {
			if (g4_isa_set(isa) < 0)
				continue;
			for (int th = 1; th <= 2; th++)
				for (int64_t nt = 1; nt <= T; nt += 2) {
					g4_set_threads(th);
					for (int64_t i = 0; i < T * rows; i++)
						y[i] = -1.0f;
					g4_matmul(&m, 0, x, n, nt, y, rows);
					CHECK(!memcmp(want, y, (size_t)(nt * rows) * sizeof *y),
					      "%s %s T %lld -t %d: not the portable dots of the dequantised rows",
					      g4_isa_name(isa), g4_type_name(t), (long long)nt, th);
				}
		}
		g4_set_threads(0);
		g4_isa_set(G4_ISA_BEST);
		free(d); free(x); free(row); free(want); free(y);
	}
}

int main(void)
{
	printf("# vecdot path in use: %s\n", g4_isa_name(g4_isa()));
	RUN(test_act_types);
	RUN(test_portable_accuracy);
	RUN(test_simd_bitwise);
	RUN(test_acts);
	RUN(test_repack);
	RUN(test_flt_blocks);
	RUN(test_exact_matmul);
	RUN(test_act_quant_paths);
	RUN(test_bf16_step);
	RUN(test_bf16_act);
	RUN(test_bf16_matmul);
	RUN(test_bf16_bound);
	return t_done();
}
