/* kern.h - the seam between vecdot.c (portable C, dispatch) and the SIMD
 * kernels (kern_avx2.c, kern_avx512.c, kern_rp_*.c).  Internal to libg4.
 *
 * A kernel computes g4_vecdot for one weight type with exactly the numerics
 * documented in vecdot.h.  The SIMD files fill a table with the kernels
 * they have; types they lack keep the next path's kernel. */
#ifndef G4_KERN_H
#define G4_KERN_H
#include <stddef.h>
#include <stdint.h>

#include "qtypes.h"
#include "vecdot.h"

typedef float (*g4_dot_fn)(int64_t n, const void *w, const void *act);
/* One weight row against nact activation rows (g4_vecdot_acts): must give
 * exactly the bits of the single-row kernel for each. */
typedef void (*g4_dotm_fn)(int64_t n, const void *w, const void *act, size_t astride, int64_t nact,
			   float *out, size_t ostride);

/* The fixed final reduction of the 32 lanes (see vecdot.h). */
float g4_reduce32(const float acc[32]);

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>
/* The f16 at p as a float: the F16C conversion, the bits of
 * g4_f16_to_f32 (subnormals exact, NaNs made quiet) without a call. */
static inline __attribute__((target("f16c"), always_inline)) float g4_h2f(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}
/* The same reduction of lanes 0-15 (lo) and 16-31 (hi) in registers, the
 * same additions: v = lo + hi, u = v[0..7] + v[8..15],
 * ((u0+u4)+(u2+u6)) + ((u1+u5)+(u3+u7)).  AVX-512 kernels only. */
static inline __attribute__((target("avx512f,avx2"), always_inline)) float g4_reduce32_zmm(__m512 lo, __m512 hi)
{
	__m512 v = _mm512_add_ps(lo, hi);
	__m256 u = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
	__m128 w = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
	__m128 a = _mm_add_ps(w, _mm_movehl_ps(w, w));
	return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
}
#endif

/* Portable: one step of the 32-element block chain (see vecdot.h):
 * returns sum after block wb (type t) x activation block ab. */
float g4_blk32_step(uint32_t t, const uint8_t *wb, const uint8_t *ab, float sum);

/* Portable BF16 x BF16 (G4_DOT_BF16, vecdot.h): one vdpbf16ps step
 * acc + w*a, and an f32 activation value to bf16. */
float g4_bf16_step(float acc, uint16_t w, uint16_t a);
uint16_t g4_bf16_act(float x);

/* Set tab[t] (and mtab[t], where there is a multi-row kernel) for the
 * types each path implements; only called when the CPU supports the path.
 * A type whose tab entry changes without an mtab entry gets the generic
 * loop over tab. */
/* The two entry points of a dot kernel family (kern_avx2.c, kern_avx512.c):
 * name (one activation row) and name_m (nact rows, RM at a time, then one
 * at a time).  `call` computes R rows from ap (astride apart) into o
 * (ostride apart); ATTR is the function's target attribute. */
#define G4_ROWS_FNS(ATTR, RM, name, call) \
ATTR static float name(int64_t n, const void *w, const void *a) \
{ \
	float out; \
	const int R = 1; \
	const uint8_t *ap = a; \
	size_t astride = 0, ostride = 1; \
	float *o = &out; \
	call; \
	return out; \
} \
ATTR static void name##_m(int64_t n, const void *w, const void *act, size_t astride, int64_t nact, \
			  float *out, size_t ostride) \
{ \
	int64_t j = 0; \
	for (; j + RM <= nact; j += RM) { \
		const int R = RM; \
		const uint8_t *ap = (const uint8_t *)act + j * astride; \
		float *o = out + j * ostride; \
		call; \
	} \
	for (; j < nact; j++) { \
		const int R = 1; \
		const uint8_t *ap = (const uint8_t *)act + j * astride; \
		float *o = out + j * ostride; \
		call; \
	} \
}

void g4_kern_avx2(g4_dot_fn tab[G4_NDOT], g4_dotm_fn mtab[G4_NDOT]);
void g4_kern_avx512(g4_dot_fn tab[G4_NDOT], g4_dotm_fn mtab[G4_NDOT]);

/* Repacked-weight kernels (repack.h): each file sets rtab[t] for the types
 * it has; g4_rp_table(t) is the entry of the path in use (or NULL). */
struct g4_rp_kernel;
void g4_rp_avx2(const struct g4_rp_kernel *rtab[G4_NDOT]);
void g4_rp_avx512_b32(const struct g4_rp_kernel *rtab[G4_NDOT]);
void g4_rp_avx512_k(const struct g4_rp_kernel *rtab[G4_NDOT]);
void g4_rp_avx512_flt(const struct g4_rp_kernel *rtab[G4_NDOT]);
/* G4_DOT_BF16 (kern_rp_bf16.c): AVX512-BF16, and AVX2's exact emulation */
void g4_rp_avx512_bf16(const struct g4_rp_kernel *rtab[G4_NDOT]);
void g4_rp_avx2_bf16(const struct g4_rp_kernel *rtab[G4_NDOT]);
const struct g4_rp_kernel *g4_rp_table(uint32_t t);

/* Elementwise functions (actfn.h): the constants and the scalar exp every
 * path follows, and the SIMD versions (kern_act.c; the tails use the
 * scalar functions). */
#define G4_EXP_LO (-87.0f)
#define G4_EXP_HI 88.0f
#define G4_LOG2E 1.44269502f
#define G4_RINT_MAGIC 12582912.0f
#define G4_LN2_HI 0.693115234375f	/* ln 2 with its last 11 bits zero: k * hi is exact */
#define G4_LN2_LO 3.19461849e-05f	/* ln 2 - G4_LN2_HI */
#define G4_EXP_C2 0.5f
#define G4_EXP_C3 0.166666672f
#define G4_EXP_C4 0.0416666679f
#define G4_EXP_C5 0.00833333377f
#define G4_EXP_C6 0.00138888892f
#define G4_EXP_C7 0.000198412701f
#define G4_GELU_K0 0.797884583f	/* sqrt(2/pi) */
#define G4_GELU_K1 0.0356774069f	/* sqrt(2/pi) * 0.044715 */
float g4_exp_core(float y);
void g4_gelu_mul_avx2(float *out, const float *gate, const float *up, int64_t n);
void g4_gelu_mul_avx512(float *out, const float *gate, const float *up, int64_t n);
void g4_softcap_avx2(float *x, int64_t n, float c);
void g4_softcap_avx512(float *x, int64_t n, float c);
void g4_exp_shift_avx2(float *x, int64_t n, float m);
void g4_exp_shift_avx512(float *x, int64_t n, float m);
void g4_axpy_avx2(int64_t n, float a, const float *x, float *y);
void g4_axpy_avx512(int64_t n, float a, const float *x, float *y);
void g4_quant_q8_0_avx512(const float *x, uint8_t *y, int64_t n);
void g4_quant_q8_K_avx512(const float *x, uint8_t *y, int64_t n);
/* n activation values to bf16 (g4_bf16_act) with vcvtneps2bf16 */
void g4_act_bf16_avx512(const float *x, uint8_t *y, int64_t n);
/* n f16 (bf = 0) or bf16 (bf = 1) values at src to f32, AVX2 + F16C */
void g4_half_to_f32_avx(int bf, const uint8_t *src, float *dst, int64_t n);
/* nb blocks of type t at b to f32 (kern_dq.c); 0 if the type has no kernel */
int g4_dequant_avx512(uint32_t t, const uint8_t *b, float *y, int64_t nb);
/* y[r] = g4_vecdot(G4_F32, n, row r dequantised, x) for nrows (1..4) rows
 * of type t, rb bytes apart, without storing the values (kern_dq.c); 0 if
 * the type has no kernel */
int g4_exact_rows_avx512(uint32_t t, int nrows, int64_t n, const uint8_t *w, size_t rb, const float *x, float *y);
void g4_wsum_rows_avx512(uint32_t type, int nh, int64_t nk, int64_t dn, const float *p, int64_t pstride,
			 const void *const *rows, int64_t off, float *o, int64_t ostride);

#endif
