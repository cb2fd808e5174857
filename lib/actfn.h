/* actfn.h - the decoder's elementwise functions, vectorised: tanh-GELU
 * gating, the logit soft-cap, softmax's exp and attention's axpy.
 *
 * All are built on one exp, evaluated with the same float operations in
 * the same order on every code path (portable C with fmaf, AVX2, AVX-512),
 * so every path gives the same bits (tested against each other):
 *
 *   exp(y), y clamped to [-87, 88]:  k = rint(y * log2 e) (by the 1.5*2^23
 *     trick); r = fma(k, -ln2_hi, y); r = fma(k, -ln2_lo, r);
 *     p = Taylor polynomial of degree 7 in r (Horner, fma); exp = p * 2^k
 *   gelu(x) = 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)),
 *     u = x * fma(x*x, sqrt(2/pi)*0.044715, sqrt(2/pi))
 *   softcap(x) = c * tanh(x/c),  tanh(v) = (1 - e) / (1 + e), e = exp(-2v)
 *
 * Relative error of gelu a few float ulps; soft-capped logits within about
 * 2e-6 absolute (the double-precision formulas are the reference). */
#ifndef G4_ACTFN_H
#define G4_ACTFN_H
#include <stdint.h>

/* out[i] = gelu(gate[i]) * up[i] for i < n (out may alias gate or up). */
void g4_gelu_mul(float *out, const float *gate, const float *up, int64_t n);

/* x[i] = c * tanh(x[i] / c) for i < n. */
void g4_softcap(float *x, int64_t n, float c);

/* x[i] = exp(x[i] - m) for i < n (softmax numerators). */
void g4_exp_shift(float *x, int64_t n, float m);

/* y[i] = y[i] + a * x[i] for i < n: the product rounded, then the sum (no
 * fused multiply-add), as attention's weighted sum of values is defined. */
void g4_axpy(int64_t n, float a, const float *x, float *y);

/* Attention's weighted sum of value rows:
 *   o[n*ostride + d] = sum over j < nk, in order, of p[n*pstride + j] * v_j[off + d]
 * for n < nh, d < dn, from 0.0f, each product rounded then added (g4_axpy's
 * arithmetic); row j is rows[j], of type G4_F32, G4_F16 or G4_BF16. */
void g4_wsum_rows(uint32_t type, int nh, int64_t nk, int64_t dn, const float *p, int64_t pstride,
		  const void *const *rows, int64_t off, float *o, int64_t ostride);

/* the scalar functions every path follows */
float g4_gelu1(float x);
float g4_softcap1(float x, float c);
float g4_exp1(float x);

#endif
