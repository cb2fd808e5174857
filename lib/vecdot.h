/* vecdot.h - dot products of one weight row (any supported ggml type) with
 * one activation row, the inner loop of every matmul in libg4.
 *
 * As in ggml, a quantised weight row is dotted with an activation row that
 * was itself quantised to 8 bits, so the inner loop is integer:
 *
 *   weight type                          activation type (act_type)
 *   Q4_0 Q5_0 Q8_0 IQ4_NL                Q8_0  (34-byte blocks of 32)
 *   Q4_1 Q5_1                            Q8_1  (36 bytes: Q8_0 + f16 s = d*sum(q))
 *   Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K IQ4_XS Q8_K  (292 bytes: f32 d, 256 q, 16 bsums)
 *   F32 F16 BF16                         F32   (the activations themselves)
 *   BF16 as G4_DOT_BF16 (below)          BF16  (x rounded to bf16)
 *
 * The activation quantisers are ggml's reference ones (quantize_row_q8_0_ref,
 * _q8_1_ref, _q8_K_ref; Q8_K's bsums are zeroed for an all-zero block), the
 * same on every CPU.  (ggml's x86 CPU backend quantises Q8_0/Q8_1
 * activations with its own SIMD code: 127/amax instead of 1/(amax/127) and
 * ties to even, so in rare cases an activation differs by one step; its
 * Q8_K is the reference one.)  The products are ggml's; the float
 * reduction order below is g4's own, so a dot agrees with llama.cpp's to
 * rounding, not to the bit.
 *
 * How a matmul uses it (y = W x, W: m rows of n, X: k rows of n):
 *
 *   uint32_t at = g4_vecdot_act_type(wtype);
 *   size_t ab = g4_act_row_bytes(wtype, n);
 *   for each row i of X:                        quantise once per x row...
 *       g4_quantize_act(at, X + i*n, act + i*ab, n);
 *   for each row i of X, each weight row r:     ...reuse for all m weight rows
 *       Y[i*m + r] = g4_vecdot(wtype, n, W + r*g4_row_bytes(wtype, n), act + i*ab);
 *
 * (g4_vecdot_rows does the inner loop over weight rows with one dispatch;
 * for a batch, g4_vecdot_acts does all x rows for one weight row and is
 * faster: swap the loops.)
 * Split the work over threads by output (weight rows and/or x rows), never
 * inside a dot product: every output is then reduced in one fixed order and
 * results are bitwise identical for any thread count and batch size.  For
 * F32/F16/BF16 weights the "activation row" is the f32 row itself (no
 * copy needed; g4_quantize_act(G4_F32, ...) is a memcpy; it must be
 * float-aligned).  Quantised rows and blocks need no alignment.
 *
 * Numerics (identical, bit for bit, on every code path: portable C, AVX2,
 * AVX-512; the SIMD paths are tested against the portable one):
 *  - 32-element blocks: a chain over the blocks in order, from sum = 0.0f:
 *    p = the exact integer sum of w_q * a_q over the block (w_q signed:
 *    q-8, q-16, kvalues[q], raw q for Q4_1/Q5_1), d = f16(w.d) * f16(a.d)
 *    (one f32 product), sum = fma((float)p, d, sum); Q4_1/Q5_1 then
 *    sum = fma(f16(w.m), f16(a.s), sum).  The dot is sum.
 *  - F32/F16/BF16: acc[i%32] = fma(w_i, x_i, acc[i%32]).
 *    32 lanes from 0.0f, reduced as v_g = acc[g]+acc[g+16] (16),
 *    u_g = v_g + v_{g+8} (8), ((u0+u4)+(u2+u6)) + ((u1+u5)+(u3+u7)).
 *  - 256-element super-blocks: per super-block the exact integers
 *    S = sum over 16-element groups of scale_g * sum(w_q * a_q) and
 *    M = sum of min_g * bsum_g (Q2_K, Q4_K, Q5_K); then, in block order,
 *    sum = fma((float)S, d, sum); sum = fma(-(float)M, dmin, sum) with
 *    d = f16(w.d) * a.d and dmin = f16(w.dmin) * a.d (Q8_K weights: f32 d).
 * fma is a fused multiply-add (C fmaf); all integer sums are exact.
 *
 * BF16 weights with BF16 activations (G4_DOT_BF16, matmul's 8-bit-activation
 * mode; ggml's vec_dot_type for BF16 is BF16 too).  The numerics are those
 * of AVX512-BF16's vdpbf16ps, found by comparing the instruction on an AMD
 * EPYC with emulations over 2*10^8 random and adversarial lanes and
 * hand-made cases (the SDM's text says DAZ, FTZ, round to nearest even,
 * odd element first; the rest is what this CPU does, and test_vecdot
 * checks it against the instruction wherever it runs):
 *  - activations: x -> bf16 rounded to nearest even; a NaN keeps its sign
 *    and top payload bits and becomes quiet (bit 6 of the bf16 set); f32
 *    denormals become a zero of their sign (vcvtneps2bf16 exactly: checked
 *    on all 2^32 inputs).  So an activation is never a bf16 denormal.
 *  - one step acc' = step(acc, w, a), w and a bf16: denormal w, a and acc
 *    are read as zeros of their sign; acc + w*a is rounded once (the
 *    product is exact, never rounded nor flushed by itself: a fused
 *    multiply-add), to nearest even, as if the exponent were unbounded;
 *    a result below 2^-126 in magnitude after that rounding becomes a zero
 *    of its sign (so 2^-126 - 2^-150 flushes where C's gradual underflow
 *    would round up to 2^-126); overflow gives +-inf.  NaN: if w (the
 *    first source operand, where the kernels put the weights) is NaN, w
 *    made quiet; else a's; else acc's; an invalid operation (inf * 0,
 *    inf - inf) gives the default NaN 0xffc00000.  The MXCSR is not used.
 *  - per 32-bit lane of vdpbf16ps, for the bf16 pair k (elements 2k and
 *    2k+1): acc = step(step(acc, w[2k+1], a[2k+1]), w[2k], a[2k]) (odd
 *    element first, as the SDM says; checked: the order shows in
 *    rounding).
 *  - the dot: pair k goes into partial s[k % 4], each from 0.0f; the dot
 *    is (s0 + s1) + (s2 + s3) in ordinary f32 arithmetic (gradual
 *    underflow), and a NaN result is returned as the quiet NaN 0x7fc00000
 *    (its payload would depend on how a compiler orders those additions).
 *    n must be a multiple of 32.
 * Four chains per row let a kernel overlap the instruction's latency with
 * one activation row; the structure does not depend on the batch, so the
 * bits do not either.
 */
#ifndef G4_VECDOT_H
#define G4_VECDOT_H
#include <stddef.h>
#include <stdint.h>

#include "qtypes.h"

/* Dot types: every weight type libg4 dots (its rows with activations of
 * g4_vecdot_act_type), and G4_DOT_BF16: BF16 rows with BF16 activations,
 * the numerics above.  The functions below that take a weight type take
 * any dot type. */
enum { G4_DOT_BF16 = G4_NTYPES, G4_NDOT };

/* The dot type of matmul's 8-bit-activation mode (G4_ACT_Q8) for rows of
 * weight type wtype and width n: G4_DOT_BF16 for BF16 rows with n a
 * multiple of 32, else wtype itself (F32, F16 and other BF16 rows keep f32
 * activations). */
uint32_t g4_vecdot_type_q8(uint32_t wtype, int64_t n);

/* A name for messages: the type's, or "bf16xbf16". */
const char *g4_dot_name(uint32_t t);

/* The activation format for a dot type (G4_Q8_0, G4_Q8_1, G4_Q8_K, G4_BF16
 * or G4_F32); -1 if the weight type cannot be dotted. */
int g4_vecdot_act_type(uint32_t wtype);

/* Bytes of a quantised activation row of n elements for this weight type
 * (0 if n is not a multiple of the block). */
size_t g4_act_row_bytes(uint32_t wtype, int64_t n);

/* Quantises n floats (a multiple of the act type's block) to act_type
 * (G4_Q8_0, G4_Q8_1, G4_Q8_K, G4_BF16 or G4_F32).  Single-threaded. */
void g4_quantize_act(uint32_t act_type, const float *x, void *dst, int64_t n);

/* Dot product of a weight row of n elements with an activation row made by
 * g4_quantize_act(g4_vecdot_act_type(wtype), ...).  n must be a multiple
 * of the weight block (NaN otherwise, or for an unsupported type). */
float g4_vecdot(uint32_t wtype, int64_t n, const void *wrow, const void *act);

/* out[r] = g4_vecdot(wtype, n, w + r*wstride, act) for r < nrows. */
void g4_vecdot_rows(uint32_t wtype, int64_t n, int64_t nrows, const void *w,
		    size_t wstride, const void *act, float *out);

/* One weight row against nact activation rows (astride bytes apart):
 * out[j*ostride] = g4_vecdot(wtype, n, w, act + j*astride), the same bits,
 * but faster for batches (prefill): the weights are decoded once for up to
 * four activation rows.  A matmul over a batch loops over weight rows
 * (split over threads) and calls this with all its activation rows. */
void g4_vecdot_acts(uint32_t wtype, int64_t n, const void *w, const void *act, size_t astride,
		    int64_t nact, float *out, size_t ostride);

/* Code paths.  The best available one is chosen at start-up (or the one
 * named by the environment variable G4_ISA=portable|avx2|avx512, if this
 * CPU runs it); tests and benchmarks can force one (not while other
 * threads compute).  Every path
 * gives the same bits.  AVX2 needs FMA and F16C; AVX-512 needs F, BW, VL
 * and VNNI (types without an AVX-512 kernel use the AVX2 one); where the
 * CPU also has AVX512-BF16, that path dots G4_DOT_BF16 with vdpbf16ps. */
enum { G4_ISA_BEST = -1, G4_ISA_PORTABLE = 0, G4_ISA_AVX2 = 1, G4_ISA_AVX512 = 2 };
int g4_isa_available(int isa);	/* 1 if this CPU runs that path */
int g4_isa_set(int isa);	/* -1 if not available; else 0; G4_ISA_BEST: the best */
int g4_isa(void);		/* the path in use */
const char *g4_isa_name(int isa);
int g4_isa_bf16(void);		/* 1 if the path in use has vdpbf16ps */

#endif
