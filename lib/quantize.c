/* quantize.c - the reference quantisers of ggml, byte for byte (see
 * quantize.h).
 *
 * Written from ../shared/spec/gguf-and-quant.md sections 2.4-2.10.  Every
 * expression keeps the reference's order of operations: where the spec
 * writes (w*x)*l we write exactly that, and integer quantities are
 * converted to float at the same point.  The search helpers are named
 * after the spec's H1..H5. */
#include <math.h>
#include <float.h>
#include <string.h>

#include "err.h"
#include "par.h"
#include "qblock.h"
#include "qtypes.h"
#include "quantize.h"

#define GROUP_MAX_EPS 1e-15f

/* rne(): round half to even via the 1.5*2^23 trick, as the reference does
 * (identical to rintf for |v| < 2^22, and to the reference beyond). */
static inline int rne(float v)
{
	float t = v + 12582912.0f;
	int32_t i;
	memcpy(&i, &t, 4);
	return (i & 0x7FFFFF) - 0x400000;
}

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int iclamp(int v, int lo, int hi) { return imax(lo, imin(hi, v)); }

/* float -> integer conversions of the reference, made safe for
 * out-of-range values (NaN/inf inputs) without changing in-range results */
static inline int trunc_i(float v)
{
	if (!(v > -2147483648.0f && v < 2147483648.0f))
		return 0;
	return (int)v;
}

/* first maximum of |x|: the signed value of the first element with the
 * largest magnitude; *amax_out its magnitude */
static inline float first_max(const float *x, int n, float *amax_out)
{
	float amax = 0, max = 0;
	for (int i = 0; i < n; i++) {
		float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	*amax_out = amax;
	return max;
}

/* ---- search helpers (spec 2.7) ---- */

/* H1: symmetric, L in [0, 2*nmax-1]; weights qw, or x^2 (rmse_type 1) */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L, const float *qw)
{
	float amax, max = first_max(x, n, &amax);
	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0;
	}
	float iscale = (float)(-nmax) / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		int l = iclamp(rne(iscale * x[i]), -nmax, nmax - 1);
		L[i] = (int8_t)(l + nmax);
		float w = qw ? qw[i] : x[i] * x[i];
		sumlx += (w * x[i]) * (float)l;
		suml2 += (w * (float)l) * (float)l;
	}
	float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
	float best = scale * sumlx;
	for (int is = -9; is <= 9; is++) {
		if (!is)
			continue;
		iscale = -((float)nmax + 0.1f * (float)is) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; i++) {
			int l = iclamp(rne(iscale * x[i]), -nmax, nmax - 1);
			float w = qw ? qw[i] : x[i] * x[i];
			sumlx += (w * x[i]) * (float)l;
			suml2 += (w * (float)l) * (float)l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; i++)
				L[i] = (int8_t)(nmax + iclamp(rne(iscale * x[i]), -nmax, nmax - 1));
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* H2: Q3_K's reference search, n values, L in [0, 2*nmax-1] */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
	float amax, max = first_max(x, n, &amax);
	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0;
	}
	float iscale = (float)(-nmax) / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		int l = iclamp(rne(iscale * x[i]), -nmax, nmax - 1);
		L[i] = (int8_t)l;
		float w = x[i] * x[i];
		sumlx += (w * x[i]) * (float)l;
		suml2 += (w * (float)l) * (float)l;
	}
	for (int itry = 0; itry < 5; itry++) {
		int changed = 0;
		for (int i = 0; i < n; i++) {
			float w = x[i] * x[i];
			float slx = sumlx - (w * x[i]) * (float)L[i];
			if (slx > 0) {
				float sl2 = suml2 - (w * (float)L[i]) * (float)L[i];
				int nl = iclamp(rne((x[i] * sl2) / slx), -nmax, nmax - 1);
				if (nl != L[i]) {
					slx = slx + (w * x[i]) * (float)nl;
					sl2 = sl2 + (w * (float)nl) * (float)nl;
					if (sl2 > 0 && (slx * slx) * suml2 > (sumlx * sumlx) * sl2) {
						L[i] = (int8_t)nl;
						sumlx = slx;
						suml2 = sl2;
						changed++;
					}
				}
			}
		}
		if (!changed)
			break;
	}
	for (int i = 0; i < n; i++)
		L[i] = (int8_t)(L[i] + nmax);
	return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

/* H3 (x3 = 0) and H4 (x3 = 1): asymmetric scale + min search.  w may be
 * NULL for H4 only (then w = x^2).  Returns the scale, *the_min = -min. */
static float make_qkx_quants(int n, int nmax, const float *x, const float *w,
			     uint8_t *L, float *the_min, float rmin, float rdelta,
			     int nstep, int use_mad, int x3)
{
	uint8_t Laux[32];
	float min = x[0], max = x[0];
	float sum_w = w ? w[0] : x[0] * x[0];
	float sum_x = sum_w * x[0];
	for (int i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		float wi = w ? w[i] : x[i] * x[i];
		sum_w += wi;
		sum_x += wi * x[i];
	}
	if (min > 0)
		min = 0;
	if (x3 ? max <= min : max == min) {
		memset(L, 0, (size_t)n);
		*the_min = -min;
		return 0;
	}
	float iscale = (float)nmax / (max - min);
	float scale = 1 / iscale;
	float best_err = 0;
	for (int i = 0; i < n; i++) {
		int l = iclamp(rne(iscale * (x[i] - min)), 0, nmax);
		L[i] = (uint8_t)l;
		float diff = ((scale * (float)l) + min) - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		float wi = w ? w[i] : x[i] * x[i];
		best_err += wi * diff;
	}
	if (nstep < 1) {
		*the_min = -min;
		return scale;
	}
	for (int is = 0; is <= nstep; is++) {
		iscale = ((rmin + rdelta * (float)is) + (float)nmax) / (max - min);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; i++) {
			int l = iclamp(rne(iscale * (x[i] - min)), 0, nmax);
			Laux[i] = (uint8_t)l;
			float wi = w ? w[i] : x[i] * x[i];
			sum_l += wi * (float)l;
			sum_l2 += (wi * (float)l) * (float)l;
			sum_xl += (wi * (float)l) * x[i];
		}
		float D = (sum_w * sum_l2) - (sum_l * sum_l);
		if (D > 0) {
			float this_scale = ((sum_w * sum_xl) - (sum_x * sum_l)) / D;
			float this_min = ((sum_l2 * sum_x) - (sum_l * sum_xl)) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			float err = 0;
			for (int i = 0; i < n; i++) {
				float diff = ((this_scale * (float)Laux[i]) + this_min) - x[i];
				diff = use_mad ? fabsf(diff) : diff * diff;
				float wi = w ? w[i] : x[i] * x[i];
				err += wi * diff;
			}
			if (err < best_err) {
				memcpy(L, Laux, (size_t)n);
				best_err = err;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
}

/* H5: quantise non-negative sub-block scales/mins to [0, nmax] */
static float make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw)
{
	float max = 0;
	for (int i = 0; i < n; i++)
		max = max > x[i] ? max : x[i];
	if (max < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0;
	}
	float iscale = (float)nmax / max;
	for (int i = 0; i < n; i++)
		L[i] = (uint8_t)rne(iscale * x[i]);
	float scale = 1 / iscale;
	float best_mse = 0;
	for (int i = 0; i < n; i++) {
		float diff = x[i] - scale * (float)L[i];
		best_mse += (qw[i] * diff) * diff;
	}
	for (int is = -4; is <= 4; is++) {
		if (!is)
			continue;
		float iscale_is = (0.1f * (float)is + (float)nmax) / max;
		float scale_is = 1 / iscale_is;
		float mse = 0;
		for (int i = 0; i < n; i++) {
			int l = imin(nmax, rne(iscale_is * x[i]));
			float diff = x[i] - scale_is * (float)l;
			mse += (qw[i] * diff) * diff;
		}
		if (mse < best_mse) {
			best_mse = mse;
			iscale = iscale_is;
		}
	}
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		int l = imin(nmax, rne(iscale * x[i]));
		L[i] = (uint8_t)l;
		sumlx += (qw[i] * x[i]) * (float)l;
		suml2 += (qw[i] * (float)l) * (float)l;
	}
	for (int itry = 0; itry < 5; itry++) {
		int changed = 0;
		for (int i = 0; i < n; i++) {
			float w = qw[i];
			float slx = sumlx - (w * x[i]) * (float)L[i];
			float sl2 = suml2 - (w * (float)L[i]) * (float)L[i];
			if (slx > 0 && sl2 > 0) {
				int nl = imin(nmax, rne((x[i] * sl2) / slx));
				if (nl != L[i]) {
					slx = slx + (w * x[i]) * (float)nl;
					sl2 = sl2 + (w * (float)nl) * (float)nl;
					if ((slx * slx) * suml2 > (sumlx * sumlx) * sl2) {
						L[i] = (uint8_t)nl;
						sumlx = slx;
						suml2 = sl2;
						changed++;
					}
				}
			}
		}
		if (!changed)
			break;
	}
	return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

/* IQ4 helper: index of the nearest level of the sorted table (ties go up) */
static inline int best_index(const int8_t *v, float x)
{
	if (x <= (float)v[0])
		return 0;
	if (x >= (float)v[15])
		return 15;
	int lo = 0, hi = 15;
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;
		if (x < (float)v[mid])
			hi = mid;
		else
			lo = mid;
	}
	return x - (float)v[hi - 1] < (float)v[hi] - x ? hi - 1 : hi;
}

/* ---- legacy 32-element formats (spec 2.6, 2.10) ---- */

/* nibble packing shared by Q4_x/Q5_x/IQ4: element j low, j+16 high;
 * for 5-bit values bit 4 of element j goes to bit j of *qh */
static void pack_nibbles(const int *L, uint8_t *qs, uint32_t *qh)
{
	uint32_t h = 0;
	for (int j = 0; j < 16; j++) {
		qs[j] = (uint8_t)((L[j] & 15) | (L[j + 16] & 15) << 4);
		h |= (uint32_t)((L[j] >> 4) & 1) << j;
		h |= (uint32_t)((L[j + 16] >> 4) & 1) << (j + 16);
	}
	if (qh)
		*qh = h;
}

/* The quants of a Q4_x / Q5_x block after its hdr bytes of scales: the
 * nibbles, and for Q5_x the fifth bits (qh) before them. */
static void pack_q45(const int *L, uint8_t *y, int hdr, int bits)
{
	if (bits == 4) {
		pack_nibbles(L, y + hdr, NULL);
	} else {
		uint32_t qh;
		pack_nibbles(L, y + hdr + 4, &qh);
		wr32(y + hdr, qh);
	}
}

/* Q4_0 and Q5_0 reference: d = max / -(2^(bits-1)) */
static void q_x_0_ref(const float *x, uint8_t *y, int bits)
{
	int half = 1 << (bits - 1), top = (1 << bits) - 1;
	float amax, max = first_max(x, 32, &amax);
	float d = max / (float)(-half);
	float id = d != 0 ? 1.0f / d : 0.0f;
	int L[32];
	for (int j = 0; j < 32; j++)
		L[j] = imin(top, (int8_t)trunc_i(x[j] * id + ((float)half + 0.5f)));
	wr16(y, g4_f32_to_f16(d));
	pack_q45(L, y, 2, bits);
}

/* Q4_1 and Q5_1 reference: d = (max - min) / (2^bits - 1) */
static void q_x_1_ref(const float *x, uint8_t *y, int bits)
{
	float min = FLT_MAX, max = -FLT_MAX;
	for (int j = 0; j < 32; j++) {
		if (x[j] < min)
			min = x[j];
		if (x[j] > max)
			max = x[j];
	}
	float d = (max - min) / (float)((1 << bits) - 1);
	float id = d != 0 ? 1.0f / d : 0.0f;
	int L[32];
	for (int j = 0; j < 32; j++) {
		float v = (x[j] - min) * id + 0.5f;
		L[j] = bits == 4 ? imin(15, (int8_t)trunc_i(v)) : (uint8_t)trunc_i(v);
	}
	wr16(y, g4_f32_to_f16(d));
	wr16(y + 2, g4_f32_to_f16(min));
	pack_q45(L, y, 4, bits);
}

/* row-level sigma2 of the imatrix paths of Q4_0/Q4_1/Q5_0/Q5_1 */
static float row_sigma2(const float *x, int64_t n)
{
	float s = 0;
	for (int64_t j = 0; j < n; j++)
		s += x[j] * x[j];
	return s / (float)n;
}

static void imatrix_weights(const float *x, const float *qw, float sigma2, float *w, int n)
{
	for (int j = 0; j < n; j++)
		w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
}

/* Q4_0 / Q5_0 with an importance matrix */
static void q_x_0_imat(const float *x, uint8_t *y, int bits, const float *qw, float sigma2)
{
	float w[32];
	int8_t L8[32];
	int L[32];
	imatrix_weights(x, qw, sigma2, w, 32);
	float d = make_qx_quants(32, 1 << (bits - 1), x, L8, w);
	for (int j = 0; j < 32; j++)
		L[j] = L8[j];
	wr16(y, g4_f32_to_f16(d));
	pack_q45(L, y, 2, bits);
}

/* Q4_1 / Q5_1 with an importance matrix */
static void q_x_1_imat(const float *x, uint8_t *y, int bits, const float *qw, float sigma2)
{
	float w[32], the_min;
	uint8_t L8[32];
	int L[32];
	imatrix_weights(x, qw, sigma2, w, 32);
	float d = make_qkx_quants(32, (1 << bits) - 1, x, w, L8, &the_min, -0.9f, 0.05f, 36, 0, 1);
	for (int j = 0; j < 32; j++)
		L[j] = L8[j];
	wr16(y, g4_f32_to_f16(d));
	wr16(y + 2, g4_f32_to_f16(-the_min));
	pack_q45(L, y, 4, bits);
}

/* Q8_0 (imatrix ignored); Q8_1 also stores s = fp16(sum(q) * d) */

/* roundf(x), half away from zero, bit for bit, without a libm call (it is
 * the hot spot of Q8_0 conversion): for |x| < 2^23, x - trunc(x) is exact;
 * larger values, infinities and NaN are integral already or pass through. */
static inline float round_away(float x)
{
	if (!(fabsf(x) < 8388608.0f))
		return x;
	float t = (float)(int32_t)x;
	float d = x - t;	/* branch-free: the comparisons are coin flips */
	t += (float)((d >= 0.5f) - (d <= -0.5f));
	return copysignf(t, x);
}

static void q8_x(const float *x, uint8_t *y, int with_sum)
{
	float amax = 0;
	for (int j = 0; j < 32; j++) {
		float a = fabsf(x[j]);
		amax = amax > a ? amax : a;
	}
	float d = amax / 127;
	float id = d != 0 ? 1.0f / d : 0.0f;
	int8_t *qs = (int8_t *)(y + (with_sum ? 4 : 2));
	int sum = 0;
	for (int j = 0; j < 32; j++) {
		float v = round_away(x[j] * id);
		qs[j] = (int8_t)(v > -128.0f && v < 128.0f ? v : 0);
		sum += qs[j];
	}
	wr16(y, g4_f32_to_f16(d));
	if (with_sum)
		wr16(y + 2, g4_f32_to_f16((float)sum * d));
}

/* ---- K-quants (spec 2.8, 2.10) ---- */

/* Q2_K/Q3_K: 2-bit packing of L[256] (values 0..3) into qs[64] */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
	for (int h = 0; h < 2; h++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *p = L + 128 * h + l;
			qs[32 * h + l] = (uint8_t)(p[0] | p[32] << 2 | p[64] << 4 | p[96] << 6);
		}
}

/* Q2_K re-quantisation against the rounded scales, then packing */
static void q2_K_finish(const float *x, uint8_t *y, uint8_t *L)
{
	float d = g4_f16_to_f32(rd16(y + 80)), dmin = g4_f16_to_f32(rd16(y + 82));
	for (int j = 0; j < 16; j++) {
		float dd = d * (float)(y[j] & 15);
		if (dd == 0)
			continue;
		float dm = dmin * (float)(y[j] >> 4);
		for (int i = 0; i < 16; i++)
			L[16 * j + i] = (uint8_t)iclamp(rne((x[16 * j + i] + dm) / dd), 0, 3);
	}
	pack_2bit(L, y + 16);
}

static void q2_K_ref(const float *x, uint8_t *y)
{
	uint8_t L[256];
	float w[16], scales[16], mins[16];
	float max_scale = 0, max_min = 0;
	for (int j = 0; j < 16; j++) {
		for (int l = 0; l < 16; l++)
			w[l] = fabsf(x[16 * j + l]);
		scales[j] = make_qkx_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, 1, 0);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	if (max_scale > 0) {
		float iscale = 15.0f / max_scale;
		for (int j = 0; j < 16; j++)
			y[j] = (uint8_t)rne(iscale * scales[j]);
		wr16(y + 80, g4_f32_to_f16(max_scale / 15.0f));
	} else {
		memset(y, 0, 16);
		wr16(y + 80, g4_f32_to_f16(0.0f));
	}
	if (max_min > 0) {
		float iscale = 15.0f / max_min;
		for (int j = 0; j < 16; j++)
			y[j] |= (uint8_t)((unsigned)rne(iscale * mins[j]) << 4);
		wr16(y + 82, g4_f32_to_f16(max_min / 15.0f));
	} else {
		wr16(y + 82, g4_f32_to_f16(0.0f));
	}
	q2_K_finish(x, y, L);
}

static void q2_K_imat(const float *x, uint8_t *y, const float *qw)
{
	uint8_t L[256], Ls[16], Lm[16];
	float w[16], sw[16], scales[16], mins[16];
	float sumx2 = 0;
	for (int j = 0; j < 256; j++)
		sumx2 += x[j] * x[j];
	float sigma2 = sumx2 / 256;
	for (int j = 0; j < 16; j++) {
		imatrix_weights(x + 16 * j, qw + 16 * j, sigma2, w, 16);
		sw[j] = 0;
		for (int l = 0; l < 16; l++)
			sw[j] += w[l];
		scales[j] = make_qkx_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.9f, 0.05f, 36, 0, 1);
	}
	float dm = make_qp_quants(16, 15, scales, Ls, sw);
	float mm = make_qp_quants(16, 15, mins, Lm, sw);
	wr16(y + 80, g4_f32_to_f16(dm));
	wr16(y + 82, g4_f32_to_f16(mm));
	for (int j = 0; j < 16; j++)
		y[j] = (uint8_t)(Ls[j] | Lm[j] << 4);
	q2_K_finish(x, y, L);
}

/* Q3_K: pack 6-bit biased scale v of sub-block j (scales zeroed first) */
static void q3_K_put_scale(uint8_t *s, int j, int v)
{
	if (j < 8)
		s[j] = (uint8_t)(v & 15);
	else
		s[j - 8] |= (uint8_t)((v & 15) << 4);
	s[8 + j % 4] |= (uint8_t)((v >> 4) << (2 * (j / 4)));
}

/* Q3_K re-quantisation, hmask and packing (L signed-offset 0..7 in) */
static void q3_K_finish(const float *x, uint8_t *y, int8_t *L)
{
	uint8_t *hm = y, *sc = y + 96;
	float d = g4_f16_to_f32(rd16(y + 108));
	for (int j = 0; j < 16; j++) {
		float dd = d * (float)(int8_t)(g4_q3k_scale(sc, j) - 32);
		if (dd == 0)
			continue;
		for (int i = 0; i < 16; i++)
			L[16 * j + i] = (int8_t)(iclamp(rne(x[16 * j + i] / dd), -4, 3) + 4);
	}
	memset(hm, 0, 32);
	uint8_t L2[256];
	for (int e = 0; e < 256; e++) {
		int l = L[e];
		if (l > 3) {
			hm[e % 32] |= (uint8_t)(1 << (e / 32));
			l -= 4;
		}
		L2[e] = (uint8_t)l;
	}
	pack_2bit(L2, y + 32);
}

static void q3_K_ref(const float *x, uint8_t *y)
{
	int8_t L[256];
	float scales[16], amax = 0, max_scale = 0;
	for (int j = 0; j < 16; j++) {
		scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
		float a = fabsf(scales[j]);
		if (a > amax) {
			amax = a;
			max_scale = scales[j];
		}
	}
	memset(y + 96, 0, 12);
	if (max_scale != 0) {
		float iscale = -32.0f / max_scale;
		for (int j = 0; j < 16; j++) {
			int8_t l = (int8_t)rne(iscale * scales[j]);
			q3_K_put_scale(y + 96, j, iclamp(l, -32, 31) + 32);
		}
		wr16(y + 108, g4_f32_to_f16(1 / iscale));
	} else {
		wr16(y + 108, g4_f32_to_f16(0.0f));
	}
	q3_K_finish(x, y, L);
}

static void q3_K_imat(const float *x, uint8_t *y, const float *qw)
{
	int8_t L[256], Ls[16];
	float w[16], sw[16], scales[16];
	float sumx2 = 0;
	for (int j = 0; j < 256; j++)
		sumx2 += x[j] * x[j];
	float sigma2 = 2 * sumx2 / 256;
	for (int j = 0; j < 16; j++) {
		imatrix_weights(x + 16 * j, qw + 16 * j, sigma2, w, 16);
		float s = 0;
		for (int l = 0; l < 16; l++)
			s += w[l];
		sw[j] = s;
		scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, w);
	}
	memset(y + 96, 0, 12);
	float d_block = make_qx_quants(16, 32, scales, Ls, sw);
	for (int j = 0; j < 16; j++)
		q3_K_put_scale(y + 96, j, Ls[j]);
	wr16(y + 108, g4_f32_to_f16(d_block));
	q3_K_finish(x, y, L);
}

/* Q4_K/Q5_K: pack 6-bit scale and min of sub-block j (12 bytes) */
static void k4_put_scale_min(uint8_t *s, int j, uint8_t ls, uint8_t lm)
{
	if (j < 4) {
		s[j] = ls;
		s[j + 4] = lm;
	} else {
		s[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
		s[j - 4] |= (uint8_t)((ls >> 4) << 6);
		s[j] |= (uint8_t)((lm >> 4) << 6);
	}
}

/* Q4_K (nmax 15) / Q5_K (nmax 31): re-quantise against the rounded
 * scales, then pack.  y points at the block, fields at fixed offsets. */
static void q45_K_finish(const float *x, uint8_t *y, uint8_t *L, int nmax)
{
	float d = g4_f16_to_f32(rd16(y)), dmin = g4_f16_to_f32(rd16(y + 2));
	for (int j = 0; j < 8; j++) {
		int sc, m;
		g4_k4_scale_min(y + 4, j, &sc, &m);
		float dd = d * (float)sc;
		if (dd == 0)
			continue;
		float dm = dmin * (float)m;
		for (int i = 0; i < 32; i++)
			L[32 * j + i] = (uint8_t)iclamp(rne((x[32 * j + i] + dm) / dd), 0, nmax);
	}
	if (nmax == 15) {
		uint8_t *qs = y + 16;
		for (int c = 0; c < 4; c++)
			for (int l = 0; l < 32; l++)
				qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + l + 32] << 4);
	} else {
		uint8_t *qh = y + 16, *qs = y + 48;
		memset(qh, 0, 32);
		for (int c = 0; c < 4; c++)
			for (int l = 0; l < 32; l++) {
				int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
				if (l1 > 15) {
					l1 -= 16;
					qh[l] |= (uint8_t)(1 << (2 * c));
				}
				if (l2 > 15) {
					l2 -= 16;
					qh[l] |= (uint8_t)(2 << (2 * c));
				}
				qs[32 * c + l] = (uint8_t)(l1 | l2 << 4);
			}
	}
}

static void q45_K_ref(const float *x, uint8_t *y, int nmax)
{
	uint8_t L[256];
	float w[32], scales[8], mins[8], max_scale = 0, max_min = 0;
	float rmin = nmax == 15 ? -1.0f : -0.5f;
	int nstep = nmax == 15 ? 20 : 15;
	for (int j = 0; j < 8; j++) {
		const float *xj = x + 32 * j;
		float sum_x2 = 0;
		for (int l = 0; l < 32; l++)
			sum_x2 += xj[l] * xj[l];
		float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; l++)
			w[l] = av_x + fabsf(xj[l]);
		scales[j] = make_qkx_quants(32, nmax, xj, w, L + 32 * j, &mins[j], rmin, 0.1f, nstep, 0, 0);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
	float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
	for (int j = 0; j < 8; j++) {
		uint8_t ls = (uint8_t)rne(inv_scale * scales[j]);
		uint8_t lm = (uint8_t)rne(inv_min * mins[j]);
		k4_put_scale_min(y + 4, j, ls < 63 ? ls : 63, lm < 63 ? lm : 63);
	}
	wr16(y, g4_f32_to_f16(max_scale / 63.0f));
	wr16(y + 2, g4_f32_to_f16(max_min / 63.0f));
	q45_K_finish(x, y, L, nmax);
}

static void q45_K_imat(const float *x, uint8_t *y, int nmax, const float *qw)
{
	uint8_t L[256], Ls[8], Lm[8];
	float w[32], sw[8], scales[8], mins[8];
	float sum_x2 = 0;
	for (int l = 0; l < 256; l++)
		sum_x2 += x[l] * x[l];
	float sigma2 = 2 * sum_x2 / 256;
	for (int j = 0; j < 8; j++) {
		imatrix_weights(x + 32 * j, qw + 32 * j, sigma2, w, 32);
		float s = 0;
		for (int l = 0; l < 32; l++)
			s += w[l];
		sw[j] = s;
		scales[j] = make_qkx_quants(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], -0.9f, 0.05f, 36, 0, 1);
	}
	float d_block = make_qp_quants(8, 63, scales, Ls, sw);
	float m_block = make_qp_quants(8, 63, mins, Lm, sw);
	for (int j = 0; j < 8; j++)
		k4_put_scale_min(y + 4, j, Ls[j] < 63 ? Ls[j] : 63, Lm[j] < 63 ? Lm[j] : 63);
	wr16(y, g4_f32_to_f16(d_block));
	wr16(y + 2, g4_f32_to_f16(m_block));
	q45_K_finish(x, y, L, nmax);
}

/* Q6_K, reference (qw NULL: weights x^2) or imatrix (raw weights) */
static void q6_K(const float *x, uint8_t *y, const float *qw)
{
	int8_t L[256];
	float scales[16], max_scale = 0, max_abs = 0;
	for (int ib = 0; ib < 16; ib++) {
		scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw ? qw + 16 * ib : NULL);
		float a = fabsf(scales[ib]);
		if (a > max_abs) {
			max_abs = a;
			max_scale = scales[ib];
		}
	}
	if (max_abs < GROUP_MAX_EPS) {
		memset(y, 0, 210);
		return;
	}
	uint8_t *ql = y, *qh = y + 128;
	int8_t *sc = (int8_t *)(y + 192);
	float iscale = -128.0f / max_scale;
	wr16(y + 208, g4_f32_to_f16(1 / iscale));
	for (int ib = 0; ib < 16; ib++)
		sc[ib] = (int8_t)imin(127, rne(iscale * scales[ib]));
	float d = g4_f16_to_f32(rd16(y + 208));
	for (int j = 0; j < 16; j++) {
		float dd = d * (float)sc[j];
		if (dd == 0)
			continue;
		for (int i = 0; i < 16; i++)
			L[16 * j + i] = (int8_t)(iclamp(rne(x[16 * j + i] / dd), -32, 31) + 32);
	}
	for (int h = 0; h < 2; h++)
		for (int l = 0; l < 32; l++) {
			const int8_t *p = L + 128 * h + l;
			ql[64 * h + l] = (uint8_t)((p[0] & 15) | (p[64] & 15) << 4);
			ql[64 * h + l + 32] = (uint8_t)((p[32] & 15) | (p[96] & 15) << 4);
			qh[32 * h + l] = (uint8_t)((p[0] >> 4) | (p[32] >> 4) << 2 | (p[64] >> 4) << 4 | (p[96] >> 4) << 6);
		}
}

/* Q8_K (activation format): d f32, qs[256], bsums[16]; bsums zeroed for
 * an all-zero block (the reference leaves them untouched) */
static void q8_K(const float *x, uint8_t *y)
{
	float amax, max = first_max(x, 256, &amax);
	int8_t *qs = (int8_t *)(y + 4);
	if (amax == 0) {
		memset(y, 0, 292);
		return;
	}
	float iscale = -127.0f / max;
	for (int j = 0; j < 256; j++)
		qs[j] = (int8_t)imin(127, rne(iscale * x[j]));
	for (int j = 0; j < 16; j++) {
		int s = 0;
		for (int i = 0; i < 16; i++)
			s += qs[16 * j + i];
		wr16(y + 260 + 2 * j, (uint16_t)(int16_t)s);
	}
	float d = 1 / iscale;
	uint32_t u;
	memcpy(&u, &d, 4);
	wr32(y, u);
}

/* ---- IQ4_NL / IQ4_XS (spec 2.9) ---- */

/* The scale search of one 32-element block (ntry = 7).  Returns 0 for an
 * all-zero block. */
static float iq4_block_scale(const float *x, const float *w)
{
	const int8_t *v = g4_kvalues_iq4nl;
	float amax, max = first_max(x, 32, &amax);
	if (amax < GROUP_MAX_EPS)
		return 0;
	float d = -max / (float)v[0];
	float id = 1 / d;
	float sumqx = 0, sumq2 = 0;
	for (int j = 0; j < 32; j++) {
		float q = (float)v[best_index(v, id * x[j])];
		sumqx += (w[j] * q) * x[j];
		sumq2 += (w[j] * q) * q;
	}
	d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
	float best = d * sumqx;
	for (int itry = -7; itry <= 7; itry++) {
		id = (float)(itry + v[0]) / max;
		sumqx = sumq2 = 0;
		for (int j = 0; j < 32; j++) {
			float q = (float)v[best_index(v, id * x[j])];
			sumqx += (w[j] * q) * x[j];
			sumq2 += (w[j] * q) * q;
		}
		if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
			d = sumqx / sumq2;
			best = d * sumqx;
		}
	}
	return d;
}

static float iq4_sigma2(const float *x, int n)
{
	float s = 0;
	for (int j = 0; j < n; j++)
		s += x[j] * x[j];
	return s * (2.0f / (float)n);
}

static void iq4_weights(const float *x, const float *qw, float sigma2, float *w)
{
	if (qw)
		imatrix_weights(x, qw, sigma2, w, 32);
	else
		for (int j = 0; j < 32; j++)
			w[j] = x[j] * x[j];
}

static void iq4_nl(const float *x, uint8_t *y, const float *qw)
{
	float w[32];
	int L[32];
	iq4_weights(x, qw, iq4_sigma2(x, 32), w);
	float s = iq4_block_scale(x, w);
	wr16(y, g4_f32_to_f16(s));
	float id = s != 0 ? 1 / s : 0.0f;
	for (int j = 0; j < 32; j++)
		L[j] = best_index(g4_kvalues_iq4nl, id * x[j]);
	pack_nibbles(L, y + 2, NULL);
}

static void iq4_xs(const float *x, uint8_t *y, const float *qw)
{
	float w[32], scales[8], sigma2 = iq4_sigma2(x, 256);
	float max_scale = 0, amax_scale = 0;
	for (int ib = 0; ib < 8; ib++) {
		iq4_weights(x + 32 * ib, qw ? qw + 32 * ib : NULL, sigma2, w);
		scales[ib] = iq4_block_scale(x + 32 * ib, w);
		float a = fabsf(scales[ib]);
		if (a > amax_scale) {
			amax_scale = a;
			max_scale = scales[ib];
		}
	}
	float d = -max_scale / 32;
	float id = d != 0 ? 1 / d : 0.0f;
	uint16_t sh = 0;
	uint8_t *sl = y + 4, *qs = y + 8;
	wr16(y, g4_f32_to_f16(d));
	for (int ib = 0; ib < 8; ib++) {
		int l = iclamp(rne(id * scales[ib]), -32, 31);
		float dl = d * (float)l;
		float idl = dl != 0 ? 1 / dl : 0.0f;
		int L[32];
		for (int j = 0; j < 32; j++)
			L[j] = best_index(g4_kvalues_iq4nl, idl * x[32 * ib + j]);
		pack_nibbles(L, qs + 16 * ib, NULL);
		l += 32;
		if (ib % 2 == 0)
			sl[ib / 2] = (uint8_t)(l & 15);
		else
			sl[ib / 2] |= (uint8_t)((l & 15) << 4);
		sh |= (uint16_t)((l >> 4) << (2 * ib));
	}
	wr16(y + 2, sh);
}

/* ---- dispatch ---- */

int g4_quantize_supported(uint32_t t)
{
	switch (t) {
	case G4_F32: case G4_F16: case G4_BF16:
	case G4_Q4_0: case G4_Q4_1: case G4_Q5_0: case G4_Q5_1: case G4_Q8_0: case G4_Q8_1:
	case G4_Q2_K: case G4_Q3_K: case G4_Q4_K: case G4_Q5_K: case G4_Q6_K: case G4_Q8_K:
	case G4_IQ4_NL: case G4_IQ4_XS:
		return 1;
	default:
		return 0;
	}
}

int g4_quantize_needs_imatrix(uint32_t t)
{
	return t == G4_IQ2_XXS || t == G4_IQ2_XS || t == G4_IQ1_S;
}

int g4_quantize_uses_imatrix(uint32_t t)
{
	switch (t) {
	case G4_Q4_0: case G4_Q4_1: case G4_Q5_0: case G4_Q5_1:
	case G4_Q2_K: case G4_Q3_K: case G4_Q4_K: case G4_Q5_K: case G4_Q6_K:
	case G4_IQ4_NL: case G4_IQ4_XS:
		return 1;
	default:
		return 0;
	}
}

static int check_args(uint32_t t, int64_t n)
{
	if (!g4_quantize_supported(t))
		return g4_err("cannot quantise to type %s (id %u)",
			      g4_type_name(t) ? g4_type_name(t) : "unknown", t);
	int b = g4_type_block(t);
	if (n <= 0 || n % b)
		return g4_err("row length %lld is not a positive multiple of %s's block of %d",
			      (long long)n, g4_type_name(t), b);
	return 0;
}

/* one row; arguments already checked */
static void quant_row(uint32_t t, const float *x, uint8_t *y, int64_t n, const float *qw)
{
	int64_t nb = n / g4_type_block(t);
	size_t bb = g4_type_block_bytes(t);
	if (!g4_quantize_uses_imatrix(t))
		qw = NULL;
	float sigma2 = 0;
	if (qw && (t == G4_Q4_0 || t == G4_Q4_1 || t == G4_Q5_0 || t == G4_Q5_1))
		sigma2 = row_sigma2(x, n);
	switch (t) {
	case G4_F32:
		memcpy(y, x, (size_t)n * 4);
		return;
	case G4_F16:
		for (int64_t i = 0; i < n; i++)
			wr16(y + 2 * i, g4_f32_to_f16(x[i]));
		return;
	case G4_BF16:
		for (int64_t i = 0; i < n; i++)
			wr16(y + 2 * i, g4_f32_to_bf16(x[i]));
		return;
	default:
		break;
	}
	for (int64_t i = 0; i < nb; i++, y += bb) {
		int64_t k = i * g4_type_block(t);
		const float *xb = x + k, *wb = qw ? qw + k : NULL;
		switch (t) {
		case G4_Q4_0: if (wb) q_x_0_imat(xb, y, 4, wb, sigma2); else q_x_0_ref(xb, y, 4); break;
		case G4_Q5_0: if (wb) q_x_0_imat(xb, y, 5, wb, sigma2); else q_x_0_ref(xb, y, 5); break;
		case G4_Q4_1: if (wb) q_x_1_imat(xb, y, 4, wb, sigma2); else q_x_1_ref(xb, y, 4); break;
		case G4_Q5_1: if (wb) q_x_1_imat(xb, y, 5, wb, sigma2); else q_x_1_ref(xb, y, 5); break;
		case G4_Q8_0: q8_x(xb, y, 0); break;
		case G4_Q8_1: q8_x(xb, y, 1); break;
		case G4_Q2_K: if (wb) q2_K_imat(xb, y, wb); else q2_K_ref(xb, y); break;
		case G4_Q3_K: if (wb) q3_K_imat(xb, y, wb); else q3_K_ref(xb, y); break;
		case G4_Q4_K: if (wb) q45_K_imat(xb, y, 15, wb); else q45_K_ref(xb, y, 15); break;
		case G4_Q5_K: if (wb) q45_K_imat(xb, y, 31, wb); else q45_K_ref(xb, y, 31); break;
		case G4_Q6_K: q6_K(xb, y, wb); break;
		case G4_Q8_K: q8_K(xb, y); break;
		case G4_IQ4_NL: iq4_nl(xb, y, wb); break;
		case G4_IQ4_XS: iq4_xs(xb, y, wb); break;
		}
	}
}

size_t g4_quantize_row(uint32_t t, const float *src, void *dst, int64_t n, const float *imatrix)
{
	if (check_args(t, n) < 0)
		return 0;
	quant_row(t, src, dst, n, imatrix);
	return g4_row_bytes(t, n);
}

size_t g4_quantize(uint32_t t, const float *src, void *dst, int64_t nrows,
		   int64_t n_per_row, const float *imatrix)
{
	if (check_args(t, n_per_row) < 0)
		return 0;
	if (nrows < 0) {
		g4_err("negative row count %lld", (long long)nrows);
		return 0;
	}
	size_t rb = g4_row_bytes(t, n_per_row);
	/* chunks of at least ~64K elements keep the scheduling cheap */
	int chunk = n_per_row >= 65536 ? 1 : (int)(65536 / n_per_row);
	#pragma omp parallel for schedule(dynamic, chunk) num_threads(g4_threads()) if (nrows > 1)
	for (int64_t r = 0; r < nrows; r++)
		quant_row(t, src + r * n_per_row, (uint8_t *)dst + (size_t)r * rb, n_per_row, imatrix);
	return (size_t)nrows * rb;
}
