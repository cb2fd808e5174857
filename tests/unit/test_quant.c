/* Tests of dequant.c and quantize.c against ggml's own outputs: the golden
 * block vectors (tests/data/blocks, copied from golden/quant/blocks) and
 * the vectors of spec/gguf-and-quant.md sections 2.3, 6.1-6.4. */
#include <stdint.h>

#include "t.h"
#include "err.h"
#include "par.h"
#include "qtypes.h"
#include "quantize.h"
#include "sha256.h"

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void hex(const void *p, size_t n, char *out)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- f16 / bf16 (spec 2.3) ---- */

static void test_f16(void)
{
	static const struct { float f; uint16_t h; } v[] = {
		{ 1.0f, 0x3C00 }, { -2.0f, 0xC000 }, { 65504.0f, 0x7BFF }, { 65519.99f, 0x7BFF },
		{ 65520.0f, 0x7C00 }, { 1.0f + 0x1p-11f, 0x3C00 }, { 1.0f + 3 * 0x1p-11f, 0x3C02 },
		{ 0x1p-24f, 0x0001 }, { 0x1p-25f, 0x0000 }, { 3 * 0x1p-26f, 0x0001 }, { 0x1p-14f, 0x0400 },
		{ 0.1f, 0x2E66 }, { -0.0f, 0x8000 }, { INFINITY, 0x7C00 }, { NAN, 0x7E00 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint16_t h = g4_f32_to_f16(v[i].f);
		CHECK(h == v[i].h, "f16(%a) = %04x, want %04x", v[i].f, h, v[i].h);
	}
	/* f16 -> f32 -> f16 is the identity on every non-NaN value; the
	 * subnormal and normal decodings are exact */
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = g4_f16_to_f32((uint16_t)h);
		if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) {
			if (!isnan(f) || !(f2u(f) & 0x400000)) bad++;
			continue;
		}
		if (g4_f32_to_f16(f) != h) bad++;
	}
	CHECK(bad == 0, "%d f16 values do not round-trip", bad);
	CHECK(g4_f16_to_f32(0x0001) == 0x1p-24f, "smallest subnormal");
	CHECK(g4_f16_to_f32(0x7BFF) == 65504.0f, "largest normal");
	CHECK(f2u(g4_f16_to_f32(0x8000)) == 0x80000000u, "-0");
	CHECK(f2u(g4_f16_to_f32(0xFC00)) == 0xFF800000u, "-inf");
	CHECK(f2u(g4_f16_to_f32(0x7C01)) == 0x7FC02000u, "NaN made quiet: %08x", f2u(g4_f16_to_f32(0x7C01)));
	/* round to nearest even against a slow exact reference on a sweep */
	bad = 0;
	for (uint32_t u = 0x33000000; u < 0x477FE000; u += 0x1F3) {
		float f = u2f(u);
		uint16_t h = g4_f32_to_f16(f);
		double e = fabs((double)g4_f16_to_f32(h) - f);
		double e1 = fabs((double)g4_f16_to_f32(h + 1) - f), e0 = h ? fabs((double)g4_f16_to_f32(h - 1) - f) : 1e9;
		if (e > e1 || e > e0 || ((e == e1 || e == e0) && (h & 1))) bad++;
	}
	CHECK(bad == 0, "%d f16 roundings are not nearest-even", bad);
}

static void test_bf16(void)
{
	static const struct { uint32_t f; uint16_t h; } v[] = {
		{ 0x3F808000, 0x3F80 }, { 0x3F818000, 0x3F82 }, { 0x3F808001, 0x3F81 },
		{ 0x7F7FFFFF, 0x7F80 }, { 0x7F800001, 0x7FC0 }, { 0xFFC00001, 0xFFC0 },
		{ 0x00000001, 0x0000 }, { 0x00008000, 0x0000 }, { 0x00018000, 0x0002 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint16_t h = g4_f32_to_bf16(u2f(v[i].f));
		CHECK(h == v[i].h, "bf16(%08x) = %04x, want %04x", v[i].f, h, v[i].h);
	}
	CHECK(f2u(g4_bf16_to_f32(0x3F81)) == 0x3F810000u, "bf16 -> f32 is a shift");
	CHECK(f2u(g4_bf16_to_f32(0x8001)) == 0x80010000u, "subnormals kept");
}

/* ---- golden blocks ---- */

static const char *gtypes[] = {
	"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs"
};
#define NGT (sizeof gtypes / sizeof gtypes[0])
enum { GROWS = 64, GCOLS = 256 };

static void test_golden_dequant(void)
{
	for (size_t k = 0; k < NGT; k++) {
		char name[64];
		int t = g4_type_from_name(gtypes[k]);
		size_t nq = 0, nf = 0;
		snprintf(name, sizeof name, "blocks/plain.%s.bin", gtypes[k]);
		uint8_t *q = t_slurp(t_data(name), &nq);
		snprintf(name, sizeof name, "blocks/plain.%s.dequant.f32", gtypes[k]);
		float *want = t_slurp(t_data(name), &nf);
		if (!q || !want) { free(q); free(want); continue; }
		size_t rb = g4_row_bytes(t, GCOLS);
		CHECK(nq == rb * GROWS && nf == 4 * GROWS * GCOLS, "%s: sizes %zu %zu", gtypes[k], nq, nf);
		if (nq != rb * GROWS || nf != 4 * GROWS * GCOLS) { free(q); free(want); continue; }
		float *got = malloc(nf);
		for (int r = 0; r < GROWS; r++)
			g4_dequant_row(t, q + r * rb, got + r * GCOLS, GCOLS);
		int diff = 0, first = -1;
		for (int i = 0; i < GROWS * GCOLS; i++)
			if (f2u(got[i]) != f2u(want[i])) { diff++; if (first < 0) first = i; }
		CHECK(!diff, "%s: %d values differ, first at %d: %a vs %a", gtypes[k], diff, first,
		      first >= 0 ? got[first] : 0, first >= 0 ? want[first] : 0);
		/* the whole tensor in one call gives the same values */
		g4_dequant_row(t, q, got, (int64_t)GROWS * GCOLS);
		CHECK(!memcmp(got, want, nf), "%s: one-call dequant differs", gtypes[k]);
		free(got); free(q); free(want);
	}
}

static void golden_quant(int with_imatrix)
{
	size_t nx, nw;
	float *x = t_slurp(t_data("blocks/input.f32"), &nx);
	float *w = t_slurp(t_data("blocks/imatrix.f32"), &nw);
	if (!x || !w || nx != 4 * GROWS * GCOLS || nw != 4 * GCOLS) { free(x); free(w); CHECK(0, "inputs"); return; }
	for (size_t k = 0; k < NGT; k++) {
		char name[64];
		int t = g4_type_from_name(gtypes[k]);
		size_t nq = 0;
		snprintf(name, sizeof name, "blocks/%s.%s.bin", with_imatrix ? "imatrix" : "plain", gtypes[k]);
		uint8_t *want = t_slurp(t_data(name), &nq);
		if (!want) continue;
		size_t rb = g4_row_bytes(t, GCOLS);
		uint8_t *got = malloc(rb * GROWS);
		size_t n = g4_quantize(t, x, got, GROWS, GCOLS, with_imatrix ? w : NULL);
		CHECK(n == nq, "%s: %zu bytes, want %zu", name, n, nq);
		if (n == nq) {
			size_t i = 0;
			while (i < n && got[i] == want[i]) i++;
			CHECK(i == n, "%s: first difference at byte %zu (row %zu)", name, i, i / rb);
		}
		free(got); free(want);
	}
	free(x); free(w);
}

static void test_golden_quant_plain(void) { golden_quant(0); }
static void test_golden_quant_imatrix(void) { golden_quant(1); }

/* ---- LCG-16x256 (spec 6.3) ---- */

static float *lcg_data(void)
{
	float *x = malloc(4096 * sizeof *x);
	uint32_t s = 1;
	for (int k = 0; k < 4096; k++) {
		s = s * 1664525u + 1013904223u;
		int32_t v = (int32_t)(s >> 8) - 8388608;
		x[k] = (float)v / 8388608.0f;
	}
	x[256 + 17] = 7.5f;
	for (int j = 0; j < 256; j++) {
		x[512 + j] = 0.5f + 0.5f * x[512 + j];
		x[768 + j] = 0;
		x[1024 + j] = x[1024 + j] * 1e-3f;
	}
	return x;
}

static const struct { const char *type; size_t bytes; const char *plain, *imat; } lcg[] = {
	{ "f16", 8192, "8b316c57bbe793fd5fe807b3131d318818cb790d4a85204308891c33aa5adfba", NULL },
	{ "bf16", 8192, "f1a37e2da3abaa861b4fa85dbe020846a28f22a7849ab9f9e4a4cb238be66c50", NULL },
	{ "q4_0", 2304, "d9bcca8c1e7cf1f7c6cd76e323fea6b1039631201a45631543007e7ca66ce81c", "5cf32320b9d2a233840e37fc384ef85ca82621ebb364df85d3bda128086d66dd" },
	{ "q4_1", 2560, "088e99e15a2cf29d02431540c1a0a9981b9d321e90e432f269bb7e94ca5bbcc7", "e62c9a407618470baaca94581b4917aad5387bf54487070e4fb03c284fe3a3a7" },
	{ "q5_0", 2816, "79395e5a183948d2b3009b522822dc9a04c212a93de7e23a87e2e15753594e0e", "699119bb5458256ef405d18d6269396b39e6ab3b15d93fb1b5880d103816cc7e" },
	{ "q5_1", 3072, "cc3037964b170ebe84902e6f1a43308fd80f301ddf8f2a5cf5e15130cc8687d5", "bf977938772aa4bba7ec0a5d2103ab02b8c5bd157aa41b1f9007fa2d71acfb54" },
	{ "q8_0", 4352, "26eef6ce8df1bbac90409c170401e049faca3251f80af88b09a3b1fbda4c0545", "26eef6ce8df1bbac90409c170401e049faca3251f80af88b09a3b1fbda4c0545" },
	{ "q2_K", 1344, "63fcd781215bd58cdafbfbdf4f49d9756610695948cd81016502d633d552e64d", "39ac609da89e17879c242d6f0ec638c7461ae8198c86a02d4cddf467e401c8bc" },
	{ "q3_K", 1760, "0a499cefa8147d278687693e996ccd78c39288d02e6d2170f430f44eb5eb4b57", "9d9d458b7c901e2ac985e2d7c5e70b95690b9654996ea17d74e9228b7a2bb948" },
	{ "q4_K", 2304, "7d3ee87eb32e8cabdd1bc80856505f95912f4fd1a2740478fe99e0f7d16d4b62", "93b52b1ef088fad88a1b464f19aea53d8ea2ae8e56f907fd7dd19df225461ec5" },
	{ "q5_K", 2816, "f6ec1f46d49b64dde88ea0c3656731ea274cc8861719eb631c6871e649268b34", "e7f8b249fc2aeac42d007a19b12cd6e4400de186db0d517d0fabf2ad902c0437" },
	{ "q6_K", 3360, "9b47091d2fc013398765b2befdd9812c5d32be26a855217395cc6af83b72db08", "47eb257c4672d8e67fe7a68d1493562cdc1755772212d54b11e9fbcc88598e8a" },
	{ "iq4_nl", 2304, "d99e5a6521c46800d5960c157e7a89f9a23824d3f4469d808693f99507e280a4", "fdac60d82a2402fe6ded93a31667a833f79c9b5ba3c12a63f6a1bff2b356f980" },
	{ "iq4_xs", 2176, "0694e9041a338618d02e535bdc9ee5c42e25497d4b2252873818b1c7fb9a378d", "84fff361698378018704613b0248e80c19a10ccbdb03b97ebf64fe330d2c8cec" },
	{ "q8_K", 4672, "50856d81da18ad7ecf1532d258815a8358ad68f9f1f038cbe4dae51d8b92493e", NULL },
};

static void test_lcg_hashes(void)
{
	float *x = lcg_data(), w[256];
	char h[65];
	g4_sha256_hex(x, 16384, h);
	CHECK(!strcmp(h, "fc6cbb98e1c89979b852d8d9e0050a087500d86d3a822154b9ebc3ef8ee6ad12"), "input: %s", h);
	for (int j = 0; j < 256; j++) w[j] = (float)(1 + j % 7);
	uint8_t *out = malloc(8192);
	for (size_t k = 0; k < sizeof lcg / sizeof lcg[0]; k++) {
		int t = g4_type_from_name(lcg[k].type);
		for (int im = 0; im < 2; im++) {
			const char *want = im ? lcg[k].imat : lcg[k].plain;
			if (!want) continue;
			for (int th = 1; th <= 3; th += 2) {
				g4_set_threads(th);
				size_t n = g4_quantize(t, x, out, 16, 256, im ? w : NULL);
				CHECK(n == lcg[k].bytes, "%s: %zu bytes", lcg[k].type, n);
				g4_sha256_hex(out, n, h);
				CHECK(!strcmp(h, want), "%s%s (%d threads): %s", lcg[k].type, im ? " imatrix" : "", th, h);
			}
		}
	}
	g4_set_threads(0);
	/* first block of row 0, for a readable failure */
	static const struct { const char *type, *hex; } first[] = {
		{ "q4_0", "bc2fe456b89b31161d5920ba94674acef43f" },
		{ "iq4_nl", "1b20e345c89c31151d4920cba3563adef32f" },
		{ "q8_0", "cc1fbbde01368ade480f8125beec1859ba7e5fd33008b5988fd09f3616e0c24271ab" },
	};
	for (size_t k = 0; k < sizeof first / sizeof first[0]; k++) {
		int t = g4_type_from_name(first[k].type);
		char got[80];
		g4_quantize(t, x, out, 1, 32, NULL);
		hex(out, g4_type_block_bytes(t), got);
		CHECK(!strcmp(got, first[k].hex), "%s first block: %s", first[k].type, got);
	}
	free(out);
	free(x);
}

/* ---- hand-derivable and special blocks (spec 6.1, 6.2) ---- */

static void check_hex(const char *what, int t, const float *x, int n, const char *want)
{
	uint8_t out[1024];
	char got[2100];
	size_t b = g4_quantize(t, x, out, 1, n, NULL);
	hex(out, b, got);
	CHECK(!strcmp(got, want), "%s %s:\n    got  %s\n    want %s", what, g4_type_name(t), got, want);
}

static void rep(char *s, const char *unit, int n)
{
	while (n--) strcat(s, unit);
}

static void test_small_blocks(void)
{
	float x[32];
	for (int j = 0; j < 32; j++) x[j] = (float)(j - 13) / 4;
	check_hex("ramp32", G4_Q8_0, x, 32, "8928a4abb2b9c0c8cfd6dde4ebf2f900070e151c232a313840474e555c636a71787f");
	check_hex("ramp32", G4_Q4_0, x, 32, "80b87e6d6d5c5c4c4b4b3a3a2929181808" "07");
	check_hex("ramp32", G4_Q4_1, x, 32, "223880c280809191a2a2b3b3c4c4d5d5e6e6f7f7");
	check_hex("ramp32", G4_Q5_0, x, 32, "80b4ff3f0000dccbcab9a8978675645443423120" "1f0e");
	check_hex("ramp32", G4_Q5_1, x, 32, "003480c20000ffff00112233445566778899aabbccddeeff");
	check_hex("ramp32", G4_IQ4_NL, x, 32, "8da86e6e5d4d4d4c3c3b2b2a2a19191807" "07");

	float z[256] = { 0 };
	char w[1200];
	check_hex("zero", G4_Q8_0, z, 32, "00000000000000000000000000000000000000000000000000000000000000000000");
	strcpy(w, "0080"); rep(w, "88", 16); check_hex("zero", G4_Q4_0, z, 32, w);
	w[0] = 0; rep(w, "00", 20); check_hex("zero", G4_Q4_1, z, 32, w);
	strcpy(w, "0080ffffffff"); rep(w, "00", 16); check_hex("zero", G4_Q5_0, z, 32, w);
	w[0] = 0; rep(w, "00", 24); check_hex("zero", G4_Q5_1, z, 32, w);
	strcpy(w, "0000"); rep(w, "88", 16); check_hex("zero", G4_IQ4_NL, z, 32, w);
	static const int kz[] = { G4_Q2_K, G4_Q3_K, G4_Q4_K, G4_Q5_K, G4_Q6_K };
	for (int i = 0; i < 5; i++) {
		w[0] = 0; rep(w, "00", (int)g4_type_block_bytes(kz[i]));
		check_hex("zero", kz[i], z, 256, w);
	}
	strcpy(w, "0080aaaa00000000"); rep(w, "88", 128); check_hex("zero", G4_IQ4_XS, z, 256, w);

	float one[256];
	for (int i = 0; i < 256; i++) one[i] = 1.0f;
	w[0] = 0; rep(w, "0f", 16); rep(w, "ff", 64); strcat(w, "b0250000");
	check_hex("ones", G4_Q2_K, one, 256, w);
	w[0] = 0; rep(w, "00", 32 + 64 + 12); strcat(w, "0020");
	check_hex("ones", G4_Q3_K, one, 256, w);
	strcpy(w, "56140000ffffffff000000000f0f0f0f"); rep(w, "ff", 128);
	check_hex("ones", G4_Q4_K, one, 256, w);
	strcpy(w, "32100000ffffffff000000000f0f0f0f"); rep(w, "ff", 32 + 128);
	check_hex("ones", G4_Q5_K, one, 256, w);
	w[0] = 0; rep(w, "00", 128 + 64); rep(w, "80", 16); strcat(w, "000c");
	check_hex("ones", G4_Q6_K, one, 256, w);
	strcpy(w, "888c000000000000"); rep(w, "ff", 128);
	check_hex("ones", G4_IQ4_XS, one, 256, w);
}

static void test_ramp256(void)
{
	static const struct { int t; const char *hex; } v[] = {
		{ G4_Q2_K, "f1d1b1917161412102030507090b0e0f404040818185c6d6dadbebefffffffff10506060a1b1f5f6f6fafbfffffffffff8f8f8fdfdfdfdfdfdfefefefefefffffefefefefeffffffffffffffffffffff7b25382c" },
		{ G4_Q3_K, "1010000000000000000000000000000000000000000000000000000000000008000000000000404040404040505090900000004040404080809090d0d0d0d01014141717171706060202010101010000060606050505050505010100000000004084c81d5084c8fce4e4e4f48e9f" },
		{ G4_Q4_K, "32140c244f4fcfcf3f2f1f10000f000f0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff00101021213232434354546565767687879899a9aababbcbccdcddedeefeffff80808191929293a3a4a4a5b5b6b6b7c7c8c8c9d9dadadaebebececfdfdfefeffcacacacbcbcbcbcbdbdcdcdcdcdcdcddedededededeeeeeefefefefeffffffff" },
		{ G4_Q5_K, "1e101024505090d03f2f2010000f0f0fe0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e4fdffffffffffffffffffffffffffffff000112233445566778899aabbccddeeff000112233445566778899aabbccddee0112233445566778899aabbccddeeff001112233445566778899aabbccddeeff001112232435364748595a6b6c7d7e8f809191a2a3b4b5c6c7d8d9eaebfcfdfe8585868696979797a8a8a8a9b9b9babacacbcbcbdcdcdcddededeeeefeffffff" },
		{ G4_Q6_K, "00001011212131324242525363637374001010213131425252627373839494a400102131415262728393a3b4c4d4e5f50020416181a2c2e30323446485a5c5e6606e5c5a474543313f2d2b1816140200505f4e4d4c3b3a3928272615141302014b4a4a3938382726262514141302020148373736362525242413131212010100000000000000000000000000000000000000000000000000404040404040404002010101010101010000000000000000010000000000000000000000000000008090a0b0c0d0e0f00f2031404f5f6f7ff78b" },
		{ G4_IQ4_XS, "b88b50fe808008f80010101010101010101010101010101010101010101010101010101010212121101010202020202020212121213131313030304040415151515162626272728338382727262626151515151404040303131313131212121202020202020201011212121201010101010101010101010101010101010101010101010100000000" },
	};
	float x[256];
	for (int i = 0; i < 256; i++) x[i] = (float)(i - 128) / 128;
	for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
		check_hex("ramp256", v[k].t, x, 256, v[k].hex);
}

static void test_q8_K_dequant(void)
{
	uint8_t b[292] = { 0 };
	float d = 0.015625f, y[256];
	memcpy(b, &d, 4);
	for (int j = 0; j < 256; j++) b[4 + j] = (uint8_t)(int8_t)(j - 128);
	g4_dequant_row(G4_Q8_K, b, y, 256);
	int bad = 0;
	for (int j = 0; j < 256; j++) if (y[j] != d * (float)(j - 128)) bad++;
	CHECK(!bad, "%d wrong", bad);
	/* quantise -> dequantise is close, and bsums are the sub-block sums */
	float x[256], back[256];
	for (int j = 0; j < 256; j++) x[j] = sinf((float)j * 0.37f) * 3;
	g4_quantize(G4_Q8_K, x, b, 1, 256, NULL);
	g4_dequant_row(G4_Q8_K, b, back, 256);
	float err = 0;
	for (int j = 0; j < 256; j++) err = fmaxf(err, fabsf(back[j] - x[j]));
	CHECK(err <= 3.0f / 127 / 2 * 1.001f, "max error %g", err);
	int16_t bs;
	for (int j = 0; j < 16; j++) {
		int s = 0;
		for (int i = 0; i < 16; i++) s += (int8_t)b[4 + 16 * j + i];
		memcpy(&bs, b + 260 + 2 * j, 2);
		CHECK(bs == s, "bsum %d: %d vs %d", j, bs, s);
	}
}

static void test_errors(void)
{
	float x[64] = { 0 };
	uint8_t out[256];
	CHECK(g4_quantize(G4_Q4_K, x, out, 1, 64, NULL) == 0, "q4_K of a 64-row accepted");
	CHECK(strstr(g4_errmsg(), "multiple") != NULL, "message: %s", g4_errmsg());
	CHECK(g4_quantize(G4_IQ2_XXS, x, out, 1, 256, NULL) == 0, "iq2_xxs accepted");
	CHECK(g4_quantize(99, x, out, 1, 32, NULL) == 0, "type 99 accepted");
	CHECK(g4_quantize_needs_imatrix(G4_IQ2_XS) && !g4_quantize_needs_imatrix(G4_Q4_K), "needs_imatrix");
	CHECK(g4_quantize_uses_imatrix(G4_Q4_K) && !g4_quantize_uses_imatrix(G4_Q8_0), "uses_imatrix");
	CHECK(g4_quantize(G4_F32, x, out, 2, 32, NULL) == 256, "f32 copy");
}

/* inf, NaN and huge inputs give some bytes, never a crash (llama-quantize
 * refuses such tensors; the reference code would assert) */
static void test_nonfinite(void)
{
	static const uint32_t types[] = { G4_F16, G4_BF16, G4_Q4_0, G4_Q4_1, G4_Q5_0, G4_Q5_1, G4_Q8_0,
		G4_Q8_1, G4_Q2_K, G4_Q3_K, G4_Q4_K, G4_Q5_K, G4_Q6_K, G4_Q8_K, G4_IQ4_NL, G4_IQ4_XS };
	float x[512], w[256];
	uint8_t out[1024];
	for (int i = 0; i < 512; i++)
		x[i] = i % 5 == 0 ? NAN : i % 5 == 1 ? INFINITY : i % 5 == 2 ? -3e38f : i % 5 == 3 ? 1e-40f : (float)i;
	for (int i = 0; i < 256; i++)
		w[i] = i % 3 ? 1.0f : 0.0f;
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
		for (int im = 0; im < 2; im++) {
			size_t n = g4_quantize(types[k], x, out, 2, 256, im ? w : NULL);
			CHECK(n == 2 * g4_row_bytes(types[k], 256), "%s: %zu", g4_type_name(types[k]), n);
		}
}

/* many rows: the bytes do not depend on the thread count, and equal
 * row-by-row g4_quantize_row */
static void test_threads(void)
{
	enum { R = 1024, C = 256 };
	float *x = malloc(sizeof(float) * R * C), w[C];
	uint32_t s = 7;
	for (int i = 0; i < R * C; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)((int32_t)(s >> 8) - 8388608) / 8388608.0f;
	}
	for (int j = 0; j < C; j++) w[j] = 1 + (float)(j % 5);
	static const uint32_t types[] = { G4_Q4_K, G4_Q5_0, G4_IQ4_NL, G4_F16 };
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		size_t rb = g4_row_bytes(types[k], C);
		uint8_t *a = malloc(rb * R), *b = malloc(rb * R), *c = malloc(rb * R);
		g4_set_threads(1);
		g4_quantize(types[k], x, a, R, C, w);
		g4_set_threads(2);
		g4_quantize(types[k], x, b, R, C, w);
		for (int r = 0; r < R; r++)
			g4_quantize_row(types[k], x + r * C, c + r * rb, C, w);
		CHECK(!memcmp(a, b, rb * R), "%s: 1 vs 2 threads", g4_type_name(types[k]));
		CHECK(!memcmp(a, c, rb * R), "%s: rows", g4_type_name(types[k]));
		free(a); free(b); free(c);
	}
	g4_set_threads(0);
	free(x);
}

int main(void)
{
	RUN(test_f16);
	RUN(test_bf16);
	RUN(test_golden_dequant);
	RUN(test_golden_quant_plain);
	RUN(test_golden_quant_imatrix);
	RUN(test_lcg_hashes);
	RUN(test_small_blocks);
	RUN(test_ramp256);
	RUN(test_q8_K_dequant);
	RUN(test_errors);
	RUN(test_nonfinite);
	RUN(test_threads);
	return t_done();
}
