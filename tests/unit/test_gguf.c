/* Tests of the GGUF reader and writer (lib/gguf.c): the worked example of
 * the spec byte for byte, byte-identical round trips of every golden GGUF,
 * getters, the fingerprint, and hostile files (truncations, corrupt fields,
 * random mutations) that must fail with the right message, never crash. */
#include <stdint.h>

#include "t.h"
#include "tutil.h"
#include "err.h"
#include "gguf.h"
#include "qtypes.h"
#include "sha256.h"

/* ---- helpers ----------------------------------------------------------- */

/* Opens a copy of buf[0..n) in a block of exactly n bytes, so that a read
 * past the end is caught by sanitizers. */
static g4_gguf *open_copy(const void *buf, size_t n, void **keep)
{
	void *c = malloc(n ? n : 1);
	memcpy(c, buf, n);
	*keep = c;
	return g4_gguf_open_mem(c, n, "t.gguf");
}

/* Expects opening buf to fail with a message containing want. */
static void expect_bad(const void *buf, size_t n, const char *want, const char *what)
{
	void *keep;
	g4_gguf *g = open_copy(buf, n, &keep);
	CHECK(g == NULL, "%s: opened", what);
	if (g)
		g4_gguf_close(g);
	else
		CHECK(strstr(g4_errmsg(), want) != NULL, "%s: message '%s' lacks '%s'",
		      what, g4_errmsg(), want);
	free(keep);
}

static void expect_good(const void *buf, size_t n, const char *what)
{
	void *keep;
	g4_gguf *g = open_copy(buf, n, &keep);
	CHECK(g != NULL, "%s: %s", what, g4_errmsg());
	g4_gguf_close(g);
	free(keep);
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\n')
			continue;
		unsigned v;
		if (n == max || sscanf(s, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
		s++;
	}
	return (int)n;
}

/* ---- the worked example of gguf-and-quant.md §1.9 ------------------------ */

/* The 352 bytes of the spec's hex dump, written out in full. */
static const char example_hex[] =
	"47475546 03000000 0200000000000000 0500000000000000"
	"1400000000000000 67656e6572616c2e6172636869746563747572 65"
	"08000000 0600000000000000 67656d6d6134"
	"0300000000000000 782e6e 04000000 07000000"
	"0300000000000000 782e62 07000000 01"
	"0300000000000000 782e73 09000000 08000000 0200000000000000"
	"0200000000000000 6162 0100000000000000 63"
	"0300000000000000 782e69 09000000 05000000 0200000000000000"
	"ffffffff 02000000"
	"0100000000000000 61 01000000 0300000000000000 00000000 0000000000000000"
	"0700000000000000 626c6b2e302e62 02000000 0200000000000000 0200000000000000"
	"01000000 2000000000000000"
	"00000000000000000000000000000000000000000000"
	"0000803f 000000c0 0000003f 0000000000000000000000000000000000000000"
	"003c0040 00420044 000000000000000000000000000000000000000000000000";

static const float ex_a[3] = { 1, -2, 0.5f };
static const uint16_t ex_b[4] = { 0x3c00, 0x4000, 0x4200, 0x4400 };

static int write_example(FILE *f)
{
	g4_ggufw *w = g4_ggufw_new();
	g4_str s[2] = { { 2, "ab" }, { 1, "c" } };
	int32_t iv[2] = { -1, 2 };
	int64_t ne_a[1] = { 3 }, ne_b[2] = { 2, 2 };
	int rc = g4_ggufw_set_str(w, "general.architecture", "gemma4") ||
		 g4_ggufw_set_u32(w, "x.n", 7) ||
		 g4_ggufw_set_bool(w, "x.b", 1) ||
		 g4_ggufw_set_str_arr(w, "x.s", 2, s) ||
		 g4_ggufw_set_arr(w, "x.i", G4_GGUF_INT32, 2, iv) ||
		 g4_ggufw_add_tensor(w, "a", G4_F32, 1, ne_a) ||
		 g4_ggufw_add_tensor(w, "blk.0.b", G4_F16, 2, ne_b) ||
		 g4_ggufw_write_header(w, f) ||
		 g4_ggufw_write_data(w, f, ex_a, sizeof ex_a) ||
		 g4_ggufw_write_data(w, f, ex_b, sizeof ex_b) ||
		 g4_ggufw_finish(w, f);
	g4_ggufw_free(w);
	return rc ? -1 : 0;
}

static uint8_t example[352];

static void test_worked_example(void)
{
	uint8_t want[400];
	int n = unhex(example_hex, want, sizeof want);
	CHECK(n == 352, "spec dump has %d bytes", n);
	t_mem m;
	t_mem_open(&m);
	int rc = write_example(m.f);
	t_mem_close(&m);
	CHECK(rc == 0, "write: %s", g4_errmsg());
	CHECK(m.n == 352, "wrote %zu bytes", m.n);
	if (m.n == 352 && n == 352) {
		for (size_t i = 0; i < 352; i++)
			if (m.p[i] != (char)want[i]) {
				CHECK(0, "first difference at byte %#zx: %02x, want %02x", i,
				      (uint8_t)m.p[i], want[i]);
				break;
			}
		memcpy(example, m.p, 352);
	}
	free(m.p);

	g4_gguf *g = g4_gguf_open_mem(example, sizeof example, "example");
	CHECK(g != NULL, "read back: %s", g4_errmsg());
	if (!g)
		return;
	CHECK(g->version == 3 && g->n_kv == 5 && g->n_tensors == 2, "counts");
	CHECK(g->data_off == 0x120 && g->alignment == 32, "data_off %llu", (unsigned long long)g->data_off);
	uint32_t u = 0;
	int b = 0;
	g4_str s;
	CHECK(!g4_gguf_get_u32(g, "x.n", &u) && u == 7, "x.n");
	CHECK(!g4_gguf_get_bool(g, "x.b", &b) && b == 1, "x.b");
	CHECK(!g4_gguf_get_str(g, "general.architecture", &s) && s.len == 6 &&
	      !memcmp(s.ptr, "gemma4", 6), "arch");
	g4_str *sa = NULL;
	uint64_t na = 0;
	CHECK(!g4_gguf_get_str_arr(g, "x.s", &sa, &na) && na == 2 && sa[0].len == 2 &&
	      !memcmp(sa[0].ptr, "ab", 2) && sa[1].len == 1 && sa[1].ptr[0] == 'c', "x.s");
	free(sa);
	uint32_t et;
	const void *d;
	CHECK(!g4_gguf_get_arr(g, "x.i", &et, &na, &d) && et == G4_GGUF_INT32 && na == 2 &&
	      g4_gguf_arr_i64(et, d, 0) == -1 && g4_gguf_arr_i64(et, d, 1) == 2 &&
	      g4_gguf_arr_f64(et, d, 0) == -1.0, "x.i");
	const g4_gguf_tensor *t = g4_gguf_find_tensor(g, "blk.0.b");
	CHECK(t && t->type == G4_F16 && t->n_dims == 2 && t->ne[0] == 2 && t->ne[1] == 2 &&
	      t->ne[2] == 1 && t->offset == 32 && t->nbytes == 8 &&
	      !memcmp(t->data, ex_b, 8), "tensor blk.0.b");
	t = g4_gguf_find_tensor(g, "a");
	CHECK(t && t->nbytes == 12 && !memcmp(t->data, ex_a, 12), "tensor a");
	CHECK(g4_gguf_find_tensor(g, "b") == NULL, "no tensor b");
	g4_gguf_close(g);
}

/* ---- golden files: byte-identical round trips ---------------------------- */

static const struct {
	const char *file, *sha256;
} golden[] = {
	{ "micro-e2b-f32.gguf", "8b276517c4f3ed3f40a19250677c8cdfcd3a7732896efa35f4204439f58be58f" },
	{ "micro-moe-f32.gguf", "1f9b3391ea878bdfa3ce8e739f19d3726b3901aebb531ecbdb1e2251efbe5df6" },
	{ "micro-dense-f32.gguf", "356384277fd10bc93d32751c6eca0af398e79bb98b53704f0468600abd762e83" },
	{ "micro-e2b-Q8_0.gguf", "ed9e95b7346aa5fcef077bdc4f6bdc7bd00758b59732f890133af3e5c795b13a" },
	{ "micro-e2b-Q4_0.gguf", "c181c0fa43e247363175517aec74bc3490f519a63458fd58ef1791d414c0714e" },
	{ "micro-e2b-Q4_K_M.gguf", "1db93f26ae7f1771207031bfc65b693dd80069e6dbb06f1a0449273fba39bf1a" },
	{ "micro-e2b-256-f32.gguf", "70ab21c0c9209c746916d2a473da86cfb7003ae6d4f47dd7d7949f965d47887e" },
	{ "micro-dense-256-f32.gguf", "8543d451e6cadf6fba09817f4109c10a86a29f55b879819c3be57402cd0c4fb4" },
	{ "mmproj-tiny-vision-e.gguf", "b0f1cd631e245d83fe22512e33421e427d193e98fecd30113fe1edfd38867d9a" },
	{ "mmproj-tiny-vision-e-f16.gguf", "e1ac9051d7e860265d13dc7a827ce83c28ead30063bb039a4a7b57dc1c481701" },
	{ "mmproj-tiny-vision-large.gguf", "2643509fec3b465c699810a57bbe7516513b8b3031e9fd8488192bce1a0d0c57" },
	{ "mmproj-tiny-audio.gguf", "5e54666bad20615a1c11f0d72badc820e892aef1bfed7721f4847f1c3065b644" },
	{ "mmproj-tiny-audio-f16.gguf", "37f56f31308a05006e2fafc39859af9fa85ef4cfa110ef8c487633cbdac1a0c3" },
};

/* Writes g back: every record and tensor in order; tensor data in pieces. */
static int copy_gguf(const g4_gguf *g, FILE *f)
{
	g4_ggufw *w = g4_ggufw_new();
	int rc = 0;
	for (uint64_t i = 0; i < g->n_kv && !rc; i++)
		rc = g4_ggufw_copy_kv(w, g, i);
	for (uint64_t i = 0; i < g->n_tensors && !rc; i++) {
		const g4_gguf_tensor *t = &g->tensors[i];
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
		rc = g4_ggufw_add_tensor(w, name, t->type, t->n_dims, t->ne);
	}
	if (!rc)
		rc = g4_ggufw_write_header(w, f);
	for (uint64_t i = 0; i < g->n_tensors && !rc; i++) {
		const g4_gguf_tensor *t = &g->tensors[i];
		uint64_t half = t->nbytes / 2;
		rc = g4_ggufw_write_data(w, f, t->data, half) ||
		     g4_ggufw_write_data_part(w, f, (const char *)t->data + half, t->nbytes - half, 1);
	}
	if (!rc)
		rc = g4_ggufw_finish(w, f);
	g4_ggufw_free(w);
	return rc ? -1 : 0;
}

static void test_golden_roundtrip(void)
{
	for (size_t k = 0; k < sizeof golden / sizeof *golden; k++) {
		const char *path = t_data(golden[k].file);
		g4_gguf *g = g4_gguf_open(path);
		CHECK(g != NULL, "%s", g4_errmsg());
		if (!g)
			continue;
		char hex[65];
		g4_sha256_hex(g->map, g->size, hex);
		CHECK(!strcmp(hex, golden[k].sha256), "%s: sha256 %s (copy in tests/data differs from golden)",
		      golden[k].file, hex);
		t_mem m;
		t_mem_open(&m);
		int rc = copy_gguf(g, m.f);
		t_mem_close(&m);
		CHECK(rc == 0, "%s: write: %s", golden[k].file, g4_errmsg());
		CHECK(m.n == g->size, "%s: wrote %zu bytes, file has %llu", golden[k].file, m.n,
		      (unsigned long long)g->size);
		g4_sha256_hex(m.p, m.n, hex);
		CHECK(!strcmp(hex, golden[k].sha256), "%s: round trip differs (sha256 %s)",
		      golden[k].file, hex);
		/* the copy has the same fingerprint */
		g4_gguf *c = g4_gguf_open_mem(m.p, m.n, "copy");
		CHECK(c != NULL, "%s: copy: %s", golden[k].file, g4_errmsg());
		if (c) {
			uint8_t a[32], b[32];
			g4_gguf_fingerprint(g, a);
			g4_gguf_fingerprint(c, b);
			CHECK(!memcmp(a, b, 32), "%s: fingerprint of the copy differs", golden[k].file);
			g4_gguf_close(c);
		}
		free(m.p);
		g4_gguf_close(g);
	}
}

/* ---- getters on a real model ------------------------------------------- */

static void test_getters(void)
{
	g4_gguf *g = g4_gguf_open(t_data("micro-e2b-f32.gguf"));
	CHECK(g != NULL, "%s", g4_errmsg());
	if (!g)
		return;
	uint32_t u;
	int64_t v;
	float f;
	int b;
	g4_str s;
	CHECK(!g4_gguf_get_u32(g, "gemma4.block_count", &u) && u == 5, "block_count");
	CHECK(!g4_gguf_get_i64(g, "gemma4.embedding_length", &v) && v == 64, "embedding_length");
	CHECK(!g4_gguf_get_f32(g, "gemma4.final_logit_softcapping", &f) && f == 30.0f, "softcap");
	CHECK(!g4_gguf_get_f32(g, "gemma4.attention.layer_norm_rms_epsilon", &f) && f == 1e-6f, "eps");
	CHECK(!g4_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b) && b == 1, "add_bos");
	CHECK(!g4_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b) && b == 0, "add_eos");
	CHECK(!g4_gguf_get_str(g, "tokenizer.ggml.model", &s) && s.len == 6 &&
	      !memcmp(s.ptr, "gemma4", 6), "tokenizer model");
	/* per-layer: an INT32 array here, a scalar for head_count_kv */
	static const int ff[5] = { 128, 128, 128, 256, 256 };
	for (uint32_t l = 0; l < 5; l++) {
		CHECK(!g4_gguf_get_layer_i64(g, "gemma4.feed_forward_length", l, &v) && v == ff[l],
		      "ff[%u] = %lld", l, (long long)v);
		CHECK(!g4_gguf_get_layer_i64(g, "gemma4.attention.head_count_kv", l, &v) && v == 1,
		      "head_count_kv[%u]", l);
	}
	CHECK(g4_gguf_get_layer_i64(g, "gemma4.feed_forward_length", 5, &v) == -1 &&
	      strstr(g4_errmsg(), "layer 5"), "layer past the array: %s", g4_errmsg());
	/* the sliding pattern is a BOOL array: SSFSF */
	uint32_t et;
	uint64_t n;
	const void *d;
	CHECK(!g4_gguf_get_arr(g, "gemma4.attention.sliding_window_pattern", &et, &n, &d) &&
	      et == G4_GGUF_BOOL && n == 5 && g4_gguf_arr_i64(et, d, 0) == 1 &&
	      g4_gguf_arr_i64(et, d, 2) == 0 && g4_gguf_arr_i64(et, d, 4) == 0, "pattern");
	g4_str *tok = NULL;
	CHECK(!g4_gguf_get_str_arr(g, "tokenizer.ggml.tokens", &tok, &n) && n == 382 &&
	      tok[2].len == 5 && !memcmp(tok[2].ptr, "<bos>", 5), "tokens");
	free(tok);
	CHECK(!g4_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &n, &d) && et == G4_GGUF_FLOAT32 &&
	      n == 382, "scores");
	/* errors name the key */
	CHECK(g4_gguf_get_u32(g, "no.such.key", &u) == -1 && strstr(g4_errmsg(), "no.such.key") &&
	      strstr(g4_errmsg(), "missing"), "missing: %s", g4_errmsg());
	CHECK(g4_gguf_get_u32(g, "general.architecture", &u) == -1 &&
	      strstr(g4_errmsg(), "general.architecture"), "wrong type: %s", g4_errmsg());
	CHECK(g4_gguf_get_str(g, "gemma4.block_count", &s) == -1, "u32 as string");
	CHECK(g4_gguf_get_f32(g, "gemma4.block_count", &f) == -1, "u32 as float");
	CHECK(g4_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n, &d) == -1, "strings as numbers");
	CHECK(g4_gguf_get_str_arr(g, "tokenizer.ggml.scores", &tok, &n) == -1, "numbers as strings");
	CHECK(g4_gguf_find_key(g, "general.architecture") == 0, "key index");
	/* tensors */
	const g4_gguf_tensor *t = g4_gguf_find_tensor(g, "token_embd.weight");
	CHECK(t && t->type == G4_F32 && t->ne[0] == 64 && t->ne[1] == 382 &&
	      t->nbytes == 64 * 382 * 4, "token_embd");
	CHECK(t && (const uint8_t *)t->data >= g->map + g->data_off &&
	      (const uint8_t *)t->data + t->nbytes <= g->map + g->size, "data in the file");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)g->tensors[i].name.len, g->tensors[i].name.ptr);
		CHECK(g4_gguf_find_tensor(g, name) == &g->tensors[i], "find %s", name);
	}
	g4_gguf_close(g);

	/* a per-layer array of u32 head counts (micro-moe) */
	g = g4_gguf_open(t_data("micro-moe-f32.gguf"));
	CHECK(g != NULL, "%s", g4_errmsg());
	if (g) {
		static const int kv[6] = { 2, 2, 1, 2, 2, 1 };
		for (uint32_t l = 0; l < 6; l++)
			CHECK(!g4_gguf_get_layer_i64(g, "gemma4.attention.head_count_kv", l, &v) &&
			      v == kv[l], "moe head_count_kv[%u] = %lld", l, (long long)v);
		g4_gguf_close(g);
	}
}

/* ---- fingerprint --------------------------------------------------------- */

static void fp_of(const void *buf, size_t n, uint8_t out[32])
{
	memset(out, 0, 32);
	g4_gguf *g = g4_gguf_open_mem(buf, n, "fp");
	CHECK(g != NULL, "%s", g4_errmsg());
	if (g)
		g4_gguf_fingerprint(g, out);
	g4_gguf_close(g);
}

static void test_fingerprint(void)
{
	size_t n, nq;
	uint8_t *f = t_slurp(t_data("micro-e2b-f32.gguf"), &n);
	uint8_t *q = t_slurp(t_data("micro-e2b-Q8_0.gguf"), &nq);
	if (!f || !q)
		return;
	uint8_t a[32], b[32], c[32];
	char hex[65];
	fp_of(f, n, a);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", a[i]);
	/* Pinned: snapshots store this; a change of the recipe must be deliberate. */
	CHECK(!strcmp(hex, "720d84bd180c202043597c2fa4ccbb4aea48983676d613dbafeadca83aa13e60"),
	      "fingerprint of micro-e2b-f32 is %s", hex);
	fp_of(q, nq, b);
	CHECK(memcmp(a, b, 32), "f32 and Q8_0 have the same fingerprint");
	/* weight bytes do not count ... */
	g4_gguf *g = g4_gguf_open_mem(f, n, "x");
	uint64_t last = g ? g->data_off + g->tensors[g->n_tensors - 1].offset : 0;
	g4_gguf_close(g);
	f[last] ^= 0x55;
	fp_of(f, n, c);
	CHECK(!memcmp(a, c, 32), "weight bytes changed the fingerprint");
	f[last] ^= 0x55;
	/* ... metadata does: flip a letter of general.name's value */
	g = g4_gguf_open_mem(f, n, "x");
	g4_str s = { 0, NULL };
	if (g && !g4_gguf_get_str(g, "general.name", &s))
		f[(const uint8_t *)s.ptr - f] ^= 0x20;
	g4_gguf_close(g);
	CHECK(s.len > 0, "general.name");
	fp_of(f, n, c);
	CHECK(memcmp(a, c, 32), "metadata change kept the fingerprint");
	free(f);
	free(q);
}

/* ---- writer rules ------------------------------------------------------ */

static void test_writer_rules(void)
{
	g4_ggufw *w = g4_ggufw_new();
	int64_t ne[2] = { 33, 2 }, ok_ne[2] = { 32, 2 };
	CHECK(g4_ggufw_add_tensor(w, "q", G4_Q4_0, 2, ne) == -1 &&
	      strstr(g4_errmsg(), "multiple"), "q4_0 row of 33: %s", g4_errmsg());
	CHECK(g4_ggufw_add_tensor(w, "u", 4, 2, ok_ne) == -1 &&
	      strstr(g4_errmsg(), "unknown tensor type"), "type 4: %s", g4_errmsg());
	char long_name[80];
	memset(long_name, 'x', 64);
	long_name[64] = 0;
	CHECK(g4_ggufw_add_tensor(w, long_name, G4_F32, 2, ok_ne) == -1, "64-byte name");
	long_name[63] = 0;
	CHECK(g4_ggufw_add_tensor(w, long_name, G4_F32, 2, ok_ne) == 0, "63-byte name: %s", g4_errmsg());
	CHECK(g4_ggufw_add_tensor(w, long_name, G4_F32, 2, ok_ne) == -1 &&
	      strstr(g4_errmsg(), "twice"), "duplicate tensor");
	int64_t zero[2] = { 32, 0 };
	CHECK(g4_ggufw_add_tensor(w, "z", G4_F32, 2, zero) == -1, "zero dim");
	/* key order: re-set keeps its place; move_after; remove */
	CHECK(!g4_ggufw_set_u32(w, "k.a", 1) && !g4_ggufw_set_u32(w, "k.b", 2) &&
	      !g4_ggufw_set_u32(w, "k.c", 3) && !g4_ggufw_set_f32(w, "k.a", 1.5f) &&
	      !g4_ggufw_move_after(w, "k.c", "k.a") && !g4_ggufw_set_i32(w, "k.d", -4) &&
	      !g4_ggufw_move_after(w, "k.a", NULL) && !g4_ggufw_remove(w, "k.d") &&
	      !g4_ggufw_remove(w, "k.none"), "kv edits: %s", g4_errmsg());
	CHECK(g4_ggufw_move_after(w, "k.none", NULL) == -1, "move of a missing key");
	CHECK(g4_ggufw_move_after(w, "k.b", "k.none") == -1, "move after a missing key");
	CHECK(g4_ggufw_set_str(w, "", "x") == -1, "empty key");
	uint64_t big = 5000000000ull;
	double pi = 3.25;
	int8_t neg = -3;
	CHECK(!g4_ggufw_set_val(w, "k.u64", G4_GGUF_UINT64, &big) &&
	      !g4_ggufw_set_val(w, "k.f64", G4_GGUF_FLOAT64, &pi) &&
	      !g4_ggufw_set_val(w, "k.i8", G4_GGUF_INT8, &neg), "set_val: %s", g4_errmsg());
	CHECK(g4_ggufw_set_val(w, "k.s", G4_GGUF_STRING, "x") == -1, "set_val string");
	t_mem m;
	t_mem_open(&m);
	float data[64] = { 0 };
	CHECK(g4_ggufw_write_data(w, m.f, data, 4) == -1, "data before header");
	CHECK(g4_ggufw_write_header(w, m.f) == 0, "header: %s", g4_errmsg());
	CHECK(g4_ggufw_set_u32(w, "k.e", 1) == -1, "set after header");
	CHECK(g4_ggufw_finish(w, m.f) == -1 && strstr(g4_errmsg(), "0 of 256"), "finish early: %s",
	      g4_errmsg());
	CHECK(g4_ggufw_write_data(w, m.f, data, 300) == -1, "too much data");
	CHECK(g4_ggufw_write_data_part(w, m.f, data, 100, 1) == -1, "last piece short");
	CHECK(g4_ggufw_write_data(w, m.f, data, 100) == 0 &&
	      g4_ggufw_write_data(w, m.f, data, 156) == 0, "pieces: %s", g4_errmsg());
	CHECK(g4_ggufw_write_data(w, m.f, data, 4) == -1, "data past the last tensor");
	CHECK(g4_ggufw_finish(w, m.f) == 0, "finish: %s", g4_errmsg());
	g4_ggufw_free(w);
	t_mem_close(&m);
	g4_gguf *g = g4_gguf_open_mem(m.p, m.n, "w");
	CHECK(g != NULL, "read: %s", g4_errmsg());
	if (g) {
		float f;
		const char *order[3] = { "k.c", "k.b", "k.a" };
		CHECK(g->n_kv == 6, "n_kv %llu", (unsigned long long)g->n_kv);
		int64_t v;
		uint32_t u;
		CHECK(!g4_gguf_get_i64(g, "k.u64", &v) && v == 5000000000ll, "u64");
		CHECK(g4_gguf_get_u32(g, "k.u64", &u) == -1 && strstr(g4_errmsg(), "out of range"),
		      "u64 into u32: %s", g4_errmsg());
		CHECK(!g4_gguf_get_i64(g, "k.i8", &v) && v == -3, "i8");
		CHECK(g4_gguf_get_u32(g, "k.i8", &u) == -1, "-3 into u32");
		CHECK(!g4_gguf_get_f32(g, "k.f64", &f) && f == 3.25f, "f64 as f32");
		for (int i = 0; i < 3 && i < (int)g->n_kv; i++)
			CHECK(g->kv[i].key.len == 3 && !memcmp(g->kv[i].key.ptr, order[i], 3),
			      "key %d is %.*s", i, (int)g->kv[i].key.len, g->kv[i].key.ptr);
		CHECK(!g4_gguf_get_f32(g, "k.a", &f) && f == 1.5f, "k.a replaced");
		CHECK(g->n_tensors == 1 && g->tensors[0].nbytes == 256, "tensor");
		CHECK(m.n == g->data_off + 256, "size %zu", m.n);
		g4_gguf_close(g);
	}
	free(m.p);

	/* general.alignment is honoured when u32, refused otherwise */
	w = g4_ggufw_new();
	int64_t ne1[1] = { 3 };
	g4_ggufw_set_u32(w, "general.alignment", 64);
	g4_ggufw_add_tensor(w, "a", G4_F32, 1, ne1);
	g4_ggufw_add_tensor(w, "b", G4_F32, 1, ne1);
	t_mem_open(&m);
	int rc = g4_ggufw_write_header(w, m.f) || g4_ggufw_write_data(w, m.f, ex_a, 12) ||
		 g4_ggufw_write_data(w, m.f, ex_a, 12) || g4_ggufw_finish(w, m.f);
	g4_ggufw_free(w);
	t_mem_close(&m);
	CHECK(rc == 0, "aligned 64: %s", g4_errmsg());
	g = g4_gguf_open_mem(m.p, m.n, "a64");
	CHECK(g && g->alignment == 64 && g->data_off % 64 == 0 && g->tensors[1].offset == 64 &&
	      m.n == g->data_off + 128, "alignment 64: %s", g ? "layout" : g4_errmsg());
	g4_gguf_close(g);
	free(m.p);
	w = g4_ggufw_new();
	g4_ggufw_set_u32(w, "general.alignment", 48);
	t_mem_open(&m);
	CHECK(g4_ggufw_write_header(w, m.f) == -1 && strstr(g4_errmsg(), "power of two"),
	      "alignment 48: %s", g4_errmsg());
	g4_ggufw_set_i32(w, "general.alignment", 64);
	CHECK(g4_ggufw_write_header(w, m.f) == -1 && strstr(g4_errmsg(), "u32"),
	      "i32 alignment: %s", g4_errmsg());
	g4_ggufw_free(w);
	t_mem_close(&m);
	free(m.p);
}

/* Known types that libg4 cannot compute with are listed, not refused. */
static void test_unsupported_type(void)
{
	g4_ggufw *w = g4_ggufw_new();
	int64_t ne[2] = { 256, 2 };
	uint8_t blocks[2 * 66] = { 0 };
	t_mem m;
	t_mem_open(&m);
	int rc = g4_ggufw_add_tensor(w, "iq2", G4_IQ2_XXS, 2, ne) ||
		 g4_ggufw_write_header(w, m.f) ||
		 g4_ggufw_write_data(w, m.f, blocks, sizeof blocks) || g4_ggufw_finish(w, m.f);
	g4_ggufw_free(w);
	t_mem_close(&m);
	CHECK(rc == 0, "write: %s", g4_errmsg());
	g4_gguf *g = g4_gguf_open_mem(m.p, m.n, "iq2.gguf");
	CHECK(g && g->n_tensors == 1 && g->tensors[0].type == G4_IQ2_XXS &&
	      g->tensors[0].nbytes == 132 && !g4_type_supported(g->tensors[0].type),
	      "iq2_xxs: %s", g ? "fields" : g4_errmsg());
	if (g) {
		t_mem o;
		t_mem_open(&o);
		g4_gguf_print_info(g, o.f);
		t_mem_close(&o);
		CHECK(strstr(o.p, " iq2_xxs ") && strstr(o.p, "(not supported by g4)"), "info: %s", o.p);
		free(o.p);
	}
	g4_gguf_close(g);
	free(m.p);
}

/* ---- hostile files ------------------------------------------------------ */

/* Byte offsets in the example (see the dump in the spec). */
enum {
	EX_NT = 0x08, EX_NKV = 0x10, EX_KEY0 = 0x18, EX_XN_TYPE = 0x51, EX_XB_KEY = 0x61,
	EX_XS_ELEM = 0x78, EX_XS_COUNT = 0x7c, EX_XS_STR0 = 0x84, EX_XI_COUNT = 0xaa,
	EX_A_NDIMS = 0xc3, EX_A_NE0 = 0xc7, EX_A_TYPE = 0xcf, EX_A_OFF = 0xd3,
	EX_B_NAMELEN = 0xdb, EX_B_NE1 = 0xf6, EX_B_TYPE = 0xfe, EX_B_OFF = 0x102,
};

static void test_corrupt(void)
{
	uint8_t x[352 + 64];
	uint8_t *e = example;
#define FRESH() (memcpy(x, e, 352), memset(x + 352, 0, 64))
	FRESH(); x[0] = 'X';
	expect_bad(x, 352, "bad magic", "magic");
	expect_bad(x, 0, "bad magic", "empty");
	FRESH();
	expect_bad(x, 20, "truncated header", "20 bytes");
	FRESH(); put_u32(x + 4, 1);
	expect_bad(x, 352, "version 1", "v1");
	FRESH(); put_u32(x + 4, 4);
	expect_bad(x, 352, "version 4", "v4");
	FRESH(); put_u32(x + 4, 0x03000000);
	expect_bad(x, 352, "big-endian", "big-endian");
	FRESH(); put_u32(x + 4, 2);
	expect_good(x, 352, "v2");
	FRESH(); put_u64(x + EX_NKV, 1ull << 60);
	expect_bad(x, 352, "absurd key count", "n_kv 2^60");
	FRESH(); put_u64(x + EX_NKV, 1000);
	expect_bad(x, 352, "1000 keys and 2 tensors cannot fit in a file of 352 bytes", "n_kv 1000");
	FRESH(); put_u64(x + EX_NT, 1ull << 60);
	expect_bad(x, 352, "absurd tensor count", "n_tensors 2^60");
	FRESH(); put_u64(x + EX_NT, 3);
	expect_bad(x, 352, "tensor 2 (info at byte 266)", "one tensor too many");
	FRESH(); put_u64(x + EX_KEY0, 1ull << 50);
	expect_bad(x, 352, "string of 1125899906842624 bytes at byte 24", "key of 2^50 bytes");
	FRESH(); put_u64(x + EX_KEY0, 0);
	expect_bad(x, 352, "empty key", "empty key");
	FRESH(); put_u32(x + EX_XN_TYPE, 13);
	expect_bad(x, 352, "key 'x.n' (record at byte 70): unknown value type 13", "value type 13");
	FRESH(); x[EX_XB_KEY + 2] = 'n';
	expect_bad(x, 352, "key 'x.n' (record at byte 89): duplicate of the record at byte 70",
		   "duplicate key");
	FRESH(); put_u32(x + EX_XS_ELEM, 9);
	expect_bad(x, 352, "key 'x.s' (record at byte 105): arrays of arrays", "nested array");
	FRESH(); put_u32(x + EX_XS_ELEM, 77);
	expect_bad(x, 352, "unknown element type 77", "array of type 77");
	FRESH(); put_u64(x + EX_XS_COUNT, 1ull << 61);
	expect_bad(x, 352, "array of 2305843009213693952 strings cannot fit", "2^61 strings");
	FRESH(); put_u64(x + EX_XS_STR0, 1ull << 40);
	expect_bad(x, 352, "key 'x.s' (record at byte 105): element 0", "string element of 2^40");
	FRESH(); put_u64(x + EX_XI_COUNT, 1ull << 62);
	expect_bad(x, 352, "array of 4611686018427387904 i32 values runs past the end", "2^62 ints");
	FRESH(); put_u32(x + EX_A_NDIMS, 5);
	expect_bad(x, 352, "tensor 'a' (info at byte 186): 5 dimensions", "n_dims 5");
	FRESH(); put_u32(x + EX_A_TYPE, 4);
	expect_bad(x, 352, "tensor 'a' (info at byte 186): unknown tensor type id 4", "type 4");
	FRESH(); put_u32(x + EX_A_TYPE, 99);
	expect_bad(x, 352, "unknown tensor type id 99", "type 99");
	FRESH(); put_u32(x + EX_A_TYPE, G4_Q4_0);
	expect_bad(x, 352, "not a multiple", "q4_0 row of 3");
	FRESH(); put_u32(x + EX_A_TYPE, G4_IQ2_XXS);
	expect_bad(x, 352, "not a multiple", "iq2_xxs row of 3 (known type, not computable)");
	FRESH(); put_u64(x + EX_A_NE0, 1ull << 38);	/* a terabyte of f32 */
	expect_bad(x, 352, "tensor 'a': data [0, 1099511627776)", "terabyte tensor");
	FRESH(); put_u64(x + EX_A_NE0, 1ull << 62);
	expect_bad(x, 352, "tensor 'a' (info at byte 186): dimension 0", "ne0 2^62");
	FRESH(); put_u64(x + EX_A_NE0, (uint64_t)-3);
	expect_bad(x, 352, "dimension 0 is -3", "negative ne");
	FRESH(); put_u64(x + EX_A_NE0, 0);
	expect_bad(x, 352, "dimension 0 is 0", "zero ne");
	FRESH(); put_u64(x + EX_B_NE1, 1ull << 31);
	put_u64(x + EX_B_NE1 - 8, 1ull << 31);
	expect_bad(x, 352, "blk.0.b", "2^62-byte f16 tensor");
	FRESH(); put_u64(x + EX_B_NE1 - 8, 1ull << 32); put_u64(x + EX_B_NE1, 1ull << 32);
	expect_bad(x, 352, "tensor 'blk.0.b' (info at byte 219): element count overflows", "2^64 elements");
	/* four dims of 2^32: 2^128 elements would wrap to 0 bytes in 128-bit arithmetic */
	{
		g4_ggufw *w = g4_ggufw_new();
		int64_t ne4[4] = { 1ll << 32, 1ll << 32, 1ll << 32, 1ll << 32 };
		CHECK(g4_ggufw_add_tensor(w, "big", G4_F32, 4, ne4) == -1 &&
		      strstr(g4_errmsg(), "overflows"), "writer: 2^128 elements: %s", g4_errmsg());
		g4_ggufw_free(w);
		uint64_t nb = 0;
		CHECK(g4_tensor_bytes(G4_F32, ne4, &nb) == -1, "g4_tensor_bytes: 2^128 elements gave %llu",
		      (unsigned long long)nb);
	}
	FRESH(); put_u64(x + EX_B_OFF, 16);
	expect_bad(x, 352, "tensor 'blk.0.b': data offset 16 is not a multiple of the alignment 32",
		   "misaligned");
	FRESH(); put_u64(x + EX_B_OFF, 0);
	expect_bad(x, 352, "overlaps tensor 'a'", "overlap");
	FRESH(); put_u64(x + EX_B_OFF, 1ull << 40);
	expect_bad(x, 352, "tensor 'blk.0.b': data [1099511627776, 1099511627784)", "offset 2^40");
	FRESH(); put_u64(x + EX_B_OFF, 64);
	expect_bad(x, 352, "runs past the end", "gap past the end");
	expect_good(x, 352 + 32, "gap inside the file");
	FRESH(); put_u64(x + EX_B_OFF, 0); put_u64(x + EX_A_OFF, 32);
	expect_good(x, 352, "tensors in another order");
	FRESH(); put_u64(x + EX_B_NAMELEN, 0);
	expect_bad(x, 352, "empty name", "empty tensor name");
	FRESH(); put_u64(x + EX_B_NAMELEN, 64);
	expect_bad(x, 352, "longer than 63", "64-byte tensor name");
	FRESH(); put_u64(x + EX_B_NAMELEN, 1ull << 45);
	expect_bad(x, 352, "tensor 1 (info at byte 219)", "tensor name of 2^45");
	FRESH();
	expect_bad(x, 0x120 + 39, "tensor 'blk.0.b': data [32, 40)", "data truncated");
	expect_good(x, 0x140 + 8, "last pad missing");

	/* duplicate tensor names and general.alignment: built with the writer, then patched */
	g4_ggufw *w = g4_ggufw_new();
	int64_t ne[1] = { 8 };
	g4_ggufw_set_u32(w, "general.alignment", 32);
	g4_ggufw_add_tensor(w, "t0", G4_F32, 1, ne);
	g4_ggufw_add_tensor(w, "t1", G4_F32, 1, ne);
	t_mem m;
	t_mem_open(&m);
	float z[8] = { 0 };
	int rc = g4_ggufw_write_header(w, m.f) || g4_ggufw_write_data(w, m.f, z, 32) ||
		 g4_ggufw_write_data(w, m.f, z, 32) || g4_ggufw_finish(w, m.f);
	g4_ggufw_free(w);
	t_mem_close(&m);
	CHECK(rc == 0, "writer: %s", g4_errmsg());
	uint8_t *y = (uint8_t *)m.p;
	/* layout: 24 header, key record 8+17+4+4 = 33 -> alignment value at 24+29 */
	size_t aval = 24 + 8 + 17 + 4, t1 = 24 + 33 + (8 + 2 + 4 + 8 + 4 + 8) + 8 + 1;
	CHECK(y[t1] == '1' && y[aval] == 32, "layout assumptions");
	expect_good(y, m.n, "writer file");
	y[t1] = '0';
	expect_bad(y, m.n, "tensor 't0' (info at byte 91): duplicate name", "duplicate tensor");
	y[t1] = '1';
	put_u32(y + aval, 48);
	expect_bad(y, m.n, "general.alignment' (record at byte 24): 48 is not a power of two", "align 48");
	put_u32(y + aval, 0);
	expect_bad(y, m.n, "not a power of two", "align 0");
	put_u32(y + aval, 32);
	put_u32(y + aval - 4, G4_GGUF_INT32);
	expect_bad(y, m.n, "has type i32, must be u32", "align i32");
	put_u32(y + aval - 4, G4_GGUF_UINT32);
	put_u32(y + aval, 16);
	expect_good(y, m.n, "alignment 16 (offsets 0 and 32 are multiples)");
	put_u32(y + aval, 64);
	expect_bad(y, m.n, "not a multiple of the alignment 64", "alignment 64");
	free(m.p);
#undef FRESH
}

/* Every prefix of a golden file: fails exactly when tensor data is cut. */
static void test_truncation(void)
{
	size_t n;
	uint8_t *f = t_slurp(t_data("micro-e2b-Q4_K_M.gguf"), &n);
	if (!f)
		return;
	g4_gguf *g = g4_gguf_open_mem(f, n, "full");
	CHECK(g != NULL, "%s", g4_errmsg());
	if (!g) {
		free(f);
		return;
	}
	uint64_t need = 0, hdr = g->data_off;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		uint64_t end = g->data_off + g->tensors[i].offset + g->tensors[i].nbytes;
		if (end > need)
			need = end;
	}
	g4_gguf_close(g);
	int bad = 0;
	for (size_t len = 0; len <= n; len += len < hdr + 64 ? 1 : 97) {
		void *keep;
		g4_gguf *h = open_copy(f, len, &keep);
		int want_ok = len >= need;
		if (!!h != want_ok || (!h && !g4_errmsg()[0])) {
			if (bad++ < 5)
				CHECK(0, "prefix of %zu bytes: %s (%s)", len, h ? "opened" : "failed",
				      g4_errmsg());
		}
		g4_gguf_close(h);
		free(keep);
	}
	expect_good(f, n, "whole file");
	free(f);
}

/* Random mutations of the example and of a real header: never a crash. */
static void test_mutations(void)
{
	size_t n;
	uint8_t *f = t_slurp(t_data("micro-e2b-Q8_0.gguf"), &n);
	if (!f)
		return;
	uint32_t s = 12345;
#define RND() (s = s * 1664525u + 1013904223u, s >> 8)
	int opened = 0, failed = 0;
	for (int round = 0; round < 3000; round++) {
		const uint8_t *src = round & 1 ? f : example;
		size_t len = round & 1 ? n : sizeof example;
		size_t span = round & 1 ? 16000 : len;	/* header of the Q8_0 file */
		uint8_t *c = malloc(len);
		memcpy(c, src, len);
		for (int k = 1 + RND() % 4; k > 0; k--) {
			size_t at = RND() % span;
			switch (RND() % 3) {
			case 0: c[at] ^= (uint8_t)(1u << (RND() % 8)); break;
			case 1: c[at] = (uint8_t)RND(); break;
			default: c[at] = 0xff; break;
			}
		}
		size_t cut = RND() % 4 == 0 ? RND() % len : len;
		g4_gguf *g = g4_gguf_open_mem(c, cut, "m");
		if (g) {
			opened++;
			uint8_t fp[32];
			g4_gguf_fingerprint(g, fp);
			FILE *dn = fopen("/dev/null", "w");
			g4_gguf_print_info(g, dn);
			fclose(dn);
			for (uint64_t i = 0; i < g->n_tensors; i++) {
				const g4_gguf_tensor *t = &g->tensors[i];
				CHECK((const uint8_t *)t->data + t->nbytes <= c + cut, "tensor past the end");
			}
		} else {
			failed++;
			CHECK(g4_errmsg()[0], "no message");
		}
		g4_gguf_close(g);
		free(c);
	}
#undef RND
	CHECK(opened > 0 && failed > 0, "opened %d, failed %d", opened, failed);
	free(f);
}

static void test_open_errors(void)
{
	CHECK(g4_gguf_open(t_tmp("no-such-file.gguf")) == NULL &&
	      strstr(g4_errmsg(), "no-such-file.gguf"), "missing file: %s", g4_errmsg());
	CHECK(g4_gguf_open("/") == NULL && strstr(g4_errmsg(), "not a regular file"),
	      "directory: %s", g4_errmsg());
	const char *p = t_tmp("short.gguf");
	FILE *f = fopen(p, "wb");
	fputs("GGUF", f);
	fclose(f);
	CHECK(g4_gguf_open(p) == NULL && strstr(g4_errmsg(), "truncated header"), "4 bytes: %s",
	      g4_errmsg());
	f = fopen(p, "wb");
	fclose(f);
	CHECK(g4_gguf_open(p) == NULL && strstr(g4_errmsg(), "bad magic"), "empty: %s", g4_errmsg());
	remove(p);
}

int main(void)
{
	RUN(test_worked_example);
	RUN(test_golden_roundtrip);
	RUN(test_getters);
	RUN(test_fingerprint);
	RUN(test_writer_rules);
	RUN(test_unsupported_type);
	RUN(test_corrupt);
	RUN(test_truncation);
	RUN(test_mutations);
	RUN(test_open_errors);
	return t_done();
}
