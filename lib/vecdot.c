/* vecdot.c - activation quantisation, the portable dot-product kernels
 * (the definition of the numerics, see vecdot.h) and the run-time choice
 * of the SIMD path. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"
#include "qblock.h"
#include "qtypes.h"
#include "quantize.h"
#include "vecdot.h"

int g4_vecdot_act_type(uint32_t t)
{
	switch (t) {
	case G4_Q4_0: case G4_Q5_0: case G4_Q8_0: case G4_IQ4_NL:
		return G4_Q8_0;
	case G4_Q4_1: case G4_Q5_1:
		return G4_Q8_1;
	case G4_Q2_K: case G4_Q3_K: case G4_Q4_K: case G4_Q5_K: case G4_Q6_K: case G4_Q8_K: case G4_IQ4_XS:
		return G4_Q8_K;
	case G4_F32: case G4_F16: case G4_BF16:
		return G4_F32;
	case G4_DOT_BF16:
		return G4_BF16;
	default:
		return -1;
	}
}

/* elements per block of a dot type (0: none) */
static int dot_block(uint32_t t)
{
	return t == G4_DOT_BF16 ? 32 : t < G4_NTYPES ? g4_type_block(t) : 0;
}

uint32_t g4_vecdot_type_q8(uint32_t t, int64_t n)
{
	return t == G4_BF16 && n > 0 && n % 32 == 0 ? G4_DOT_BF16 : t;
}

const char *g4_dot_name(uint32_t t)
{
	const char *s = t == G4_DOT_BF16 ? "bf16xbf16" : g4_type_name(t);
	return s ? s : "?";
}

size_t g4_act_row_bytes(uint32_t t, int64_t n)
{
	int at = g4_vecdot_act_type(t);
	return at < 0 || n % dot_block(t) ? 0 : g4_row_bytes((uint32_t)at, n);
}

void g4_quantize_act(uint32_t at, const float *x, void *dst, int64_t n)
{
	if (at == G4_F32)
		memcpy(dst, x, (size_t)n * sizeof *x);
	else if (at == G4_BF16 && g4_isa_bf16())
		g4_act_bf16_avx512(x, dst, n);	/* the same bytes */
	else if (at == G4_BF16)
		for (int64_t i = 0; i < n; i++) {
			uint16_t h = g4_bf16_act(x[i]);
			memcpy((uint8_t *)dst + 2 * i, &h, 2);
		}
	else if (at == G4_Q8_0 && g4_isa() >= G4_ISA_AVX512 && n % 32 == 0)
		g4_quant_q8_0_avx512(x, dst, n);	/* the same bytes */
	else if (at == G4_Q8_K && g4_isa() >= G4_ISA_AVX512 && n % 256 == 0)
		g4_quant_q8_K_avx512(x, dst, n);	/* the same bytes */
	else
		g4_quantize_row(at, x, dst, n, NULL);
}

/* ---- portable kernels ---- */

float g4_reduce32(const float acc[32])
{
	float v[16], u[8];
	for (int g = 0; g < 16; g++)
		v[g] = acc[g] + acc[g + 16];
	for (int g = 0; g < 8; g++)
		u[g] = v[g] + v[g + 8];
	return ((u[0] + u[4]) + (u[2] + u[6])) + ((u[1] + u[5]) + (u[3] + u[7]));
}

/* signed integer weights of a 32-element block, its scale and its min */
static void blk32_decode(uint32_t t, const uint8_t *b, int8_t q[32], float *d, float *m)
{
	*d = g4_f16_to_f32(rd16(b));
	*m = 0;
	switch (t) {
	case G4_Q4_0:
		for (int j = 0; j < 16; j++) {
			q[j] = (int8_t)((b[2 + j] & 15) - 8);
			q[j + 16] = (int8_t)((b[2 + j] >> 4) - 8);
		}
		break;
	case G4_Q4_1:
		*m = g4_f16_to_f32(rd16(b + 2));
		for (int j = 0; j < 16; j++) {
			q[j] = (int8_t)(b[4 + j] & 15);
			q[j + 16] = (int8_t)(b[4 + j] >> 4);
		}
		break;
	case G4_Q5_0: {
		uint32_t qh = rd32(b + 2);
		for (int j = 0; j < 16; j++) {
			q[j] = (int8_t)(((b[6 + j] & 15) | ((qh >> j) & 1) << 4) - 16);
			q[j + 16] = (int8_t)(((b[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
		}
		break;
	}
	case G4_Q5_1: {
		*m = g4_f16_to_f32(rd16(b + 2));
		uint32_t qh = rd32(b + 4);
		for (int j = 0; j < 16; j++) {
			q[j] = (int8_t)((b[8 + j] & 15) | ((qh >> j) & 1) << 4);
			q[j + 16] = (int8_t)((b[8 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
		}
		break;
	}
	case G4_Q8_0:
		memcpy(q, b + 2, 32);
		break;
	case G4_IQ4_NL:
		for (int j = 0; j < 16; j++) {
			q[j] = g4_kvalues_iq4nl[b[2 + j] & 15];
			q[j + 16] = g4_kvalues_iq4nl[b[2 + j] >> 4];
		}
		break;
	}
}

float g4_blk32_step(uint32_t t, const uint8_t *wb, const uint8_t *ab, float sum)
{
	int8_t q[32];
	float dw, m;
	blk32_decode(t, wb, q, &dw, &m);
	int with_min = t == G4_Q4_1 || t == G4_Q5_1;
	const int8_t *a = (const int8_t *)(ab + (with_min ? 4 : 2));
	int p = 0;
	for (int k = 0; k < 32; k++)
		p += q[k] * a[k];
	sum = fmaf((float)p, dw * g4_f16_to_f32(rd16(ab)), sum);
	if (with_min)
		sum = fmaf(m, g4_f16_to_f32(rd16(ab + 2)), sum);
	return sum;
}

#define DEF_B32(name, type) \
static float name(int64_t n, const void *w, const void *a) \
{ \
	size_t wb = g4_type_block_bytes(type), ab = g4_type_block_bytes(g4_vecdot_act_type(type)); \
	float sum = 0.0f; \
	for (int64_t b = 0; b < n / 32; b++) \
		sum = g4_blk32_step(type, (const uint8_t *)w + b * wb, (const uint8_t *)a + b * ab, sum); \
	return sum; \
}
DEF_B32(dot_q4_0, G4_Q4_0)
DEF_B32(dot_q4_1, G4_Q4_1)
DEF_B32(dot_q5_0, G4_Q5_0)
DEF_B32(dot_q5_1, G4_Q5_1)
DEF_B32(dot_q8_0, G4_Q8_0)
DEF_B32(dot_iq4_nl, G4_IQ4_NL)

static float dot_f32(int64_t n, const void *w, const void *a)
{
	const float *x = a;
	float acc[32] = { 0 }, wv;
	for (int64_t i = 0; i < n; i++) {
		memcpy(&wv, (const uint8_t *)w + 4 * i, 4);
		acc[i & 31] = fmaf(wv, x[i], acc[i & 31]);
	}
	return g4_reduce32(acc);
}

/* F16 (bf = 0) and BF16 (bf = 1) rows */
static inline float dot_half(int bf, int64_t n, const void *w, const void *a)
{
	const uint8_t *p = w;
	const float *x = a;
	float acc[32] = { 0 };
	for (int64_t i = 0; i < n; i++) {
		uint16_t h = rd16(p + 2 * i);
		acc[i & 31] = fmaf(bf ? g4_bf16_to_f32(h) : g4_f16_to_f32(h), x[i], acc[i & 31]);
	}
	return g4_reduce32(acc);
}

static float dot_f16(int64_t n, const void *w, const void *a) { return dot_half(0, n, w, a); }
static float dot_bf16(int64_t n, const void *w, const void *a) { return dot_half(1, n, w, a); }

/* BF16 x BF16: vdpbf16ps in C (vecdot.h has the semantics and how they
 * were found) */

static float f32_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

uint16_t g4_bf16_act(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	if (!(u & 0x7F800000))	/* zero or denormal: a zero of its sign */
		return (uint16_t)(u >> 16 & 0x8000);
	return g4_f32_to_bf16(x);	/* rounded to nearest even; NaN made quiet */
}

/* a NaN made quiet */
static float quiet(uint32_t u)
{
	return f32_bits(u | 0x00400000);
}

float g4_bf16_step(float acc, uint16_t w, uint16_t a)
{
	uint32_t wu = (uint32_t)w << 16, au = (uint32_t)a << 16, cu;
	memcpy(&cu, &acc, 4);
	/* denormal inputs read as zeros of their sign */
	if (!(wu & 0x7F800000))
		wu &= 0x80000000u;
	if (!(au & 0x7F800000))
		au &= 0x80000000u;
	if (!(cu & 0x7F800000))
		cu &= 0x80000000u;
	const float W = f32_bits(wu), A = f32_bits(au), C = f32_bits(cu);
	/* one rounding of the exact acc + w*a; C's gradual underflow differs
	 * from the instruction only for results of at most 2^-126 */
	const float r = fmaf(W, A, C);
	if (fabsf(r) > FLT_MIN || r == 0.0f)
		return r;
	if (r != r) {
		if ((wu & 0x7FFFFFFF) > 0x7F800000)
			return quiet(wu);
		if ((au & 0x7FFFFFFF) > 0x7F800000)
			return quiet(au);
		if ((cu & 0x7FFFFFFF) > 0x7F800000)
			return quiet(cu);
		return f32_bits(0xFFC00000u);
	}
	if (W == 0.0f || A == 0.0f)
		return r;	/* r is C, +-2^-126 */
	/* 0 < |r| <= 2^-126 with a nonzero product: then |C| and |w*a| are
	 * below 2^-99 and |W| below 2^27 (a has at least 2^-126), so scaling
	 * by 2^64 is exact and lifts the rounding clear of the denormals: the
	 * unbounded exponent's rounding, then the flush */
	const float s = fmaf(W * 0x1p64f, A, C * 0x1p64f);
	return fabsf(s) < 0x1p-62f ? copysignf(0.0f, s) : s * 0x1p-64f;
}

static float dot_bf16x(int64_t n, const void *w, const void *a)
{
	const uint8_t *p = w, *q = a;
	float s[4] = { 0 };
	for (int64_t k = 0; k < n / 2; k++) {
		float *acc = &s[k & 3];
		*acc = g4_bf16_step(*acc, rd16(p + 4 * k + 2), rd16(q + 4 * k + 2));
		*acc = g4_bf16_step(*acc, rd16(p + 4 * k), rd16(q + 4 * k));
	}
	const float r = (s[0] + s[1]) + (s[2] + s[3]);
	return r != r ? NAN : r;
}

/* Super-blocks: signed weight integers q[256], per 16-group scale sc[16]
 * and min mn[16] (0 for types without mins), d and dmin (unmultiplied). */
static void sb_decode(uint32_t t, const uint8_t *b, int q[256], int sc[16], int mn[16],
		      float *d, float *dmin)
{
	*dmin = 0;
	memset(mn, 0, 16 * sizeof *mn);
	switch (t) {
	case G4_Q2_K:
		*d = g4_f16_to_f32(rd16(b + 80));
		*dmin = g4_f16_to_f32(rd16(b + 82));
		for (int g = 0; g < 16; g++) {
			sc[g] = b[g] & 15;
			mn[g] = b[g] >> 4;
		}
		for (int e = 0; e < 256; e++)
			q[e] = (b[16 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
		break;
	case G4_Q3_K:
		*d = g4_f16_to_f32(rd16(b + 108));
		for (int g = 0; g < 16; g++)
			sc[g] = g4_q3k_scale(b + 96, g) - 32;
		for (int e = 0; e < 256; e++) {
			q[e] = (b[32 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
			if (!((b[e % 32] >> (e / 32)) & 1))
				q[e] -= 4;
		}
		break;
	case G4_Q4_K:
	case G4_Q5_K:
		*d = g4_f16_to_f32(rd16(b));
		*dmin = g4_f16_to_f32(rd16(b + 2));
		for (int j = 0; j < 8; j++) {
			g4_k4_scale_min(b + 4, j, &sc[2 * j], &mn[2 * j]);
			sc[2 * j + 1] = sc[2 * j];
			mn[2 * j + 1] = mn[2 * j];
		}
		for (int e = 0; e < 256; e++) {
			const uint8_t *qs = b + (t == G4_Q4_K ? 16 : 48);
			q[e] = (qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 15;
			if (t == G4_Q5_K)
				q[e] |= ((b[16 + e % 32] >> (e / 32)) & 1) << 4;
		}
		break;
	case G4_Q6_K:
		*d = g4_f16_to_f32(rd16(b + 208));
		for (int g = 0; g < 16; g++)
			sc[g] = (int8_t)b[192 + g];
		for (int e = 0; e < 256; e++) {
			int h = e / 128, g = (e % 128) / 32, l = e % 32;
			int lo = (b[64 * h + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 15;
			int hi = (b[128 + 32 * h + l] >> (2 * g)) & 3;
			q[e] = (lo | hi << 4) - 32;
		}
		break;
	case G4_Q8_K:
		memcpy(d, b, 4);
		for (int g = 0; g < 16; g++)
			sc[g] = 1;
		for (int e = 0; e < 256; e++)
			q[e] = (int8_t)b[4 + e];
		break;
	case G4_IQ4_XS: {
		*d = g4_f16_to_f32(rd16(b));
		unsigned sh = rd16(b + 2);
		for (int ib = 0; ib < 8; ib++) {
			int ls = ((b[4 + ib / 2] >> (4 * (ib & 1))) & 15) | ((sh >> (2 * ib)) & 3) << 4;
			sc[2 * ib] = sc[2 * ib + 1] = ls - 32;
			for (int j = 0; j < 16; j++) {
				q[32 * ib + j] = g4_kvalues_iq4nl[b[8 + 16 * ib + j] & 15];
				q[32 * ib + 16 + j] = g4_kvalues_iq4nl[b[8 + 16 * ib + j] >> 4];
			}
		}
		break;
	}
	}
}

static float dot_sb(uint32_t t, int64_t n, const void *w, const void *act)
{
	size_t wb = g4_type_block_bytes(t);
	int q[256], sc[16], mn[16];
	float sum = 0;
	for (int64_t i = 0; i < n / 256; i++) {
		const uint8_t *a = (const uint8_t *)act + 292 * i;
		const int8_t *aq = (const int8_t *)(a + 4);
		float dw, dmw, da;
		sb_decode(t, (const uint8_t *)w + wb * i, q, sc, mn, &dw, &dmw);
		memcpy(&da, a, 4);
		int32_t S = 0, M = 0;
		for (int g = 0; g < 16; g++) {
			int s = 0;
			for (int k = 16 * g; k < 16 * g + 16; k++)
				s += q[k] * aq[k];
			S += sc[g] * s;
			M += mn[g] * (int16_t)rd16(a + 260 + 2 * g);
		}
		sum = fmaf((float)S, dw * da, sum);
		if (t == G4_Q2_K || t == G4_Q4_K || t == G4_Q5_K)
			sum = fmaf(-(float)M, dmw * da, sum);
	}
	return sum;
}

#define DEF_SB(name, type) \
static float name(int64_t n, const void *w, const void *a) { return dot_sb(type, n, w, a); }
DEF_SB(dot_q2_K, G4_Q2_K)
DEF_SB(dot_q3_K, G4_Q3_K)
DEF_SB(dot_q4_K, G4_Q4_K)
DEF_SB(dot_q5_K, G4_Q5_K)
DEF_SB(dot_q6_K, G4_Q6_K)
DEF_SB(dot_q8_K, G4_Q8_K)
DEF_SB(dot_iq4_xs, G4_IQ4_XS)

/* ---- dispatch ---- */

static void fill_portable(g4_dot_fn tab[G4_NDOT])
{
	memset(tab, 0, G4_NDOT * sizeof *tab);
	tab[G4_F32] = dot_f32;
	tab[G4_F16] = dot_f16;
	tab[G4_BF16] = dot_bf16;
	tab[G4_Q4_0] = dot_q4_0;
	tab[G4_Q4_1] = dot_q4_1;
	tab[G4_Q5_0] = dot_q5_0;
	tab[G4_Q5_1] = dot_q5_1;
	tab[G4_Q8_0] = dot_q8_0;
	tab[G4_IQ4_NL] = dot_iq4_nl;
	tab[G4_Q2_K] = dot_q2_K;
	tab[G4_Q3_K] = dot_q3_K;
	tab[G4_Q4_K] = dot_q4_K;
	tab[G4_Q5_K] = dot_q5_K;
	tab[G4_Q6_K] = dot_q6_K;
	tab[G4_Q8_K] = dot_q8_K;
	tab[G4_IQ4_XS] = dot_iq4_xs;
	tab[G4_DOT_BF16] = dot_bf16x;
}

static g4_dot_fn table[G4_NDOT];
static g4_dotm_fn mtable[G4_NDOT];
static const struct g4_rp_kernel *rptable[G4_NDOT];
static int cur_isa = -1, cur_bf16;

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
/* F16C (CPUID 1, ECX bit 29) and AVX512-VNNI (CPUID 7, ECX bit 11) straight
 * from CPUID: not every compiler's __builtin_cpu_supports knows them.  Only
 * asked after avx2/avx512f, whose checks include the OS's support for the
 * registers. */
static int cpuid_bit(unsigned leaf, int bit)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(leaf, 0, &a, &b, &c, &d))
		return 0;
	return (c >> bit) & 1;
}

/* AVX512-BF16: CPUID 7 sub-leaf 1, EAX bit 5 (asked after avx512f) */
static int cpu_bf16(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1 || !__get_cpuid_count(7, 1, &a, &b, &c, &d))
		return 0;
	return (a >> 5) & 1;
}
#else
static int cpu_bf16(void)
{
	return 0;
}
#endif

int g4_isa_available(int isa)
{
	if (isa == G4_ISA_PORTABLE)
		return 1;
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	switch (isa) {
	case G4_ISA_AVX2:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuid_bit(1, 29);
	case G4_ISA_AVX512:
		return g4_isa_available(G4_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
		       cpuid_bit(7, 11);
	default:
		return 0;
	}
#else
	return 0;
#endif
}

static int best_isa(void)
{
	return g4_isa_available(G4_ISA_AVX512) ? G4_ISA_AVX512 :
	       g4_isa_available(G4_ISA_AVX2) ? G4_ISA_AVX2 : G4_ISA_PORTABLE;
}

int g4_isa_set(int isa)
{
	if (isa == G4_ISA_BEST)
		isa = best_isa();
	if (!g4_isa_available(isa))
		return -1;
	/* every path gives the same bits, so kernels of different paths mix
	 * freely: each path overrides the entries it has */
	g4_dot_fn tab[G4_NDOT];
	g4_dotm_fn mtab[G4_NDOT] = { 0 };
	const struct g4_rp_kernel *rtab[G4_NDOT] = { 0 };
	const int bf16 = isa >= G4_ISA_AVX512 && cpu_bf16();
	fill_portable(tab);
	if (isa >= G4_ISA_AVX2) {
		g4_kern_avx2(tab, mtab);
		g4_rp_avx2(rtab);
		g4_rp_avx2_bf16(rtab);
	}
	if (isa >= G4_ISA_AVX512) {
		g4_kern_avx512(tab, mtab);
		g4_rp_avx512_b32(rtab);
		g4_rp_avx512_k(rtab);
		g4_rp_avx512_flt(rtab);
	}
	if (bf16)
		g4_rp_avx512_bf16(rtab);
	memcpy(table, tab, sizeof tab);
	memcpy(mtable, mtab, sizeof mtab);
	memcpy(rptable, rtab, sizeof rtab);
	cur_isa = isa;
	cur_bf16 = bf16;
	return 0;
}

/* the best path, or the one the environment asks for (G4_ISA=portable,
 * avx2 or avx512; ignored when this CPU cannot run it) */
static void init(void)
{
	if (cur_isa >= 0)
		return;
	const char *e = getenv("G4_ISA");
	for (int isa = G4_ISA_PORTABLE; e && isa <= G4_ISA_AVX512; isa++)
		if (!strcmp(e, g4_isa_name(isa)) && g4_isa_set(isa) == 0)
			return;
	g4_isa_set(G4_ISA_BEST);
}

__attribute__((constructor)) static void vecdot_init(void)
{
	init();
}

const struct g4_rp_kernel *g4_rp_table(uint32_t t)
{
	init();
	return t < G4_NDOT ? rptable[t] : NULL;
}

int g4_isa(void)
{
	init();
	return cur_isa;
}

int g4_isa_bf16(void)
{
	init();
	return cur_bf16;
}

const char *g4_isa_name(int isa)
{
	static const char *names[] = { "portable", "avx2", "avx512" };
	return isa >= 0 && isa <= 2 ? names[isa] : "?";
}

float g4_vecdot(uint32_t t, int64_t n, const void *w, const void *a)
{
	init();
	int b = dot_block(t);
	if (t >= G4_NDOT || !table[t] || n < 0 || n % b)
		return NAN;
	return table[t](n, w, a);
}

void g4_vecdot_acts(uint32_t t, int64_t n, const void *w, const void *act, size_t astride,
		    int64_t nact, float *out, size_t ostride)
{
	init();
	int b = dot_block(t);
	if (t >= G4_NDOT || !table[t] || n < 0 || n % b) {
		for (int64_t j = 0; j < nact; j++)
			out[j * ostride] = NAN;
		return;
	}
	if (mtable[t]) {
		mtable[t](n, w, act, astride, nact, out, ostride);
		return;
	}
	g4_dot_fn f = table[t];
	for (int64_t j = 0; j < nact; j++)
		out[j * ostride] = f(n, w, (const uint8_t *)act + j * astride);
}

void g4_vecdot_rows(uint32_t t, int64_t n, int64_t nrows, const void *w, size_t wstride,
		    const void *a, float *out)
{
	init();
	int b = dot_block(t);
	if (t >= G4_NDOT || !table[t] || n < 0 || n % b) {
		for (int64_t r = 0; r < nrows; r++)
			out[r] = NAN;
		return;
	}
	g4_dot_fn f = table[t];
	for (int64_t r = 0; r < nrows; r++)
		out[r] = f(n, (const uint8_t *)w + r * wstride, a);
}
