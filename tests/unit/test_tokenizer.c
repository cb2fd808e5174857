/* Tokenizer: the 46 + 348 reference vectors (ids and round trip), special
 * tokens on/off, byte fallback both ways, streaming decode.  The vocabulary
 * is tests/data/tokenizer/mini-tokenizer.json.zst: the real Gemma file cut
 * down to what the test texts use (tools/mini_tokenizer.py), same ids. */
#include "t.h"
#include "err.h"
#include "tokenizer.h"

static g4_tokenizer *tok;

static char *enc_str(const char *s, size_t n, int flags)
{
	int32_t *ids = NULL;
	size_t ni = 0, cap = 0;
	static char out[1 << 16];
	out[0] = 0;
	if (g4_tok_encode(tok, s, n, flags, &ids, &ni, &cap)) {
		snprintf(out, sizeof out, "ERROR %s", g4_errmsg());
		return out;
	}
	size_t o = 0;
	for (size_t i = 0; i < ni && o + 16 < sizeof out; i++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%d", i ? " " : "", ids[i]);
	free(ids);
	return out;
}

static void vectors(const char *base, int want)
{
	char p1[256], p2[256];
	snprintf(p1, sizeof p1, "tokenizer/%s.inp", base);
	snprintf(p2, sizeof p2, "tokenizer/%s.out", base);
	size_t ni, no;
	char *inp = t_slurp(t_data(p1), &ni), *out = t_slurp(t_data(p2), &no);
	if (!inp || !out)
		return;
	char *s = inp, *o = out;
	int k = 0, bad = 0, rt = 0;
	for (;;) {
		char *e = memmem(s, (size_t)(inp + ni - s), "\n__ggml_vocab_test__\n", 21);
		size_t len = e ? (size_t)(e - s) : (size_t)(inp + ni - s);
		char *ol = memchr(o, '\n', (size_t)(out + no - o));
		if (!ol) {
			CHECK(0, "%s: .out has fewer lines than inputs", base);
			break;
		}
		*ol = 0;
		const char *got = enc_str(s, len, 0);
		if (strcmp(got, o)) {
			bad++;
			CHECK(bad > 3, "%s #%d: want [%s] got [%s]", base, k, o, got);
		}
		/* round trip, except literal U+2581 (decodes as a space) */
		int32_t *ids = NULL;
		size_t n = 0, cap = 0;
		g4_tok_encode(tok, s, len, 0, &ids, &n, &cap);
		g4_buf d = { 0 };
		CHECK(!g4_tok_decode(tok, ids, n, 0, &d), "decode: %s", g4_errmsg());
		if (!memmem(s, len, "\xE2\x96\x81", 3) && !(d.n == len && (len == 0 || !memcmp(d.p, s, len)))) {
			rt++;
			CHECK(rt > 3, "%s #%d: round trip differs", base, k);
		}
		g4_buf_free(&d);
		free(ids);
		k++;
		o = ol + 1;
		if (!e)
			break;
		s = e + 21;
	}
	CHECK(k == want, "%s: %d inputs, want %d", base, k, want);
	CHECK(!bad, "%s: %d of %d vectors differ", base, bad, k);
	CHECK(!rt, "%s: %d round trips differ", base, rt);
	free(inp);
	free(out);
}

static void test_load(void)
{
	tok = g4_tok_load(t_data("tokenizer/mini-tokenizer.json.zst"));
	CHECK(tok != NULL, "load: %s", g4_errmsg());
	if (!tok)
		exit(1);
	CHECK(g4_tok_n_vocab(tok) == 262144, "n_vocab %zu (the <image_soft_token> of Gemma 3 dropped)", g4_tok_n_vocab(tok));
	CHECK(g4_tok_bos(tok) == 2 && g4_tok_eos(tok) == 1 && g4_tok_pad(tok) == 0, "bos/eos/pad");
	CHECK(g4_tok_id(tok, "<|turn>", 7) == 105, "<|turn> -> %d", g4_tok_id(tok, "<|turn>", 7));
	CHECK(g4_tok_id(tok, "<start_of_turn>", 15) == -1, "Gemma 3 marker still present");
	CHECK(g4_tok_id(tok, "<|video|>", 9) == 258884, "<|video|>");
	CHECK(g4_tok_type(tok, 100) == G4_TT_USER && g4_tok_type(tok, 105) == G4_TT_CONTROL, "types");
	CHECK(g4_tok_type(tok, 238) == G4_TT_BYTE, "byte type");
	CHECK(g4_tok_is_eog(tok, 1) && g4_tok_is_eog(tok, 106) && g4_tok_is_eog(tok, 50) && !g4_tok_is_eog(tok, 212), "eog");
}

static void test_llama_vectors(void) { vectors("gemma4-vocab-tests", 46); }
static void test_extra_vectors(void) { vectors("extra-tests", 348); }

static void test_examples(void)
{
	struct { const char *in; const char *want; } v[] = {
		{ "Hello world", "9259 1902" },
		{ "   Hello", "139 9259" },
		{ "\r\n", "251 107" },
		{ "a\xC2\xA0" "b", "236746 432 398 236763" },
		{ "", "" },
		{ "<table>", "168" },
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		const char *g = enc_str(v[i].in, strlen(v[i].in), 0);
		CHECK(!strcmp(g, v[i].want), "'%s': got [%s] want [%s]", v[i].in, g, v[i].want);
	}
	CHECK(!strcmp(enc_str("Hello", 5, G4_ENC_BOS), "2 9259"), "bos");
}

static void test_special(void)
{
	const char *g = enc_str("<|turn>", 7, G4_ENC_SPECIAL);
	CHECK(!strcmp(g, "105"), "special on: %s", g);
	g = enc_str("<|turn>", 7, 0);
	CHECK(!strcmp(g, "236820 236909 887 236813"), "special off: %s", g);
	/* user-defined markers are always matched (llama.cpp) */
	g = enc_str("<|channel>", 10, 0);
	CHECK(!strcmp(g, "100"), "user-defined: %s", g);
	g = enc_str("<bos>Hello", 10, G4_ENC_SPECIAL | G4_ENC_BOS);
	CHECK(!strcmp(g, "2 2 9259"), "explicit bos: %s", g);
}

static void test_invalid_utf8(void)
{
	/* invalid bytes become their byte tokens, and decode back to U+FFFD */
	const char in[] = "a\xFF" "b\xC3";
	const char *g = enc_str(in, 4, 0);
	CHECK(!strcmp(g, "236746 493 236763 433"), "got %s", g);
	int32_t ids[] = { 476, 388 };	/* <0xE2> <0x96>: incomplete */
	g4_buf d = { 0 };
	CHECK(!g4_tok_decode(tok, ids, 2, 0, &d), "decode");
	CHECK(d.n == 6 && !memcmp(d.p, "\xEF\xBF\xBD\xEF\xBF\xBD", 6), "incomplete run: %zu bytes", d.n);
	g4_buf_free(&d);
	int32_t bad[] = { 9259, 262144 };
	CHECK(g4_tok_decode(tok, bad, 2, 0, &d) == -1 && strstr(g4_errmsg(), "token 1"), "unknown id: %s", g4_errmsg());
	g4_buf_free(&d);
}

static void test_stream_decode(void)
{
	/* 🦙 as four byte tokens, then text; control tokens hidden by default */
	int32_t ids[] = { 2, 478, 397, 404, 391, 26352, 106 };
	g4_detok st = { 0 };
	g4_buf out = { 0 };
	size_t after[7];
	for (int i = 0; i < 7; i++) {
		CHECK(!g4_detok_put(tok, &st, ids[i], 0, &out), "put");
		after[i] = out.n;
	}
	g4_detok_flush(&st, &out);
	CHECK(after[1] == 0 && after[3] == 0 && after[4] == 4, "held until the character is complete");
	CHECK(out.n == 10 && !memcmp(out.p, "\xF0\x9F\xA6\x99 Hello", 10), "text: %.*s", (int)out.n, out.p);
	g4_buf_free(&out);
	g4_detok st2 = { 0 };
	CHECK(!g4_detok_put(tok, &st2, 105, G4_DEC_SPECIAL, &out), "put");
	CHECK(out.n == 7 && !memcmp(out.p, "<|turn>", 7), "special shown");
	g4_buf_free(&out);
	/* a byte that cannot continue: U+FFFD for the pending lead, then the byte */
	g4_detok st3 = { 0 };
	g4_detok_put(tok, &st3, 238 + 0xC3, 0, &out);
	g4_detok_put(tok, &st3, 238 + 'A', 0, &out);
	g4_detok_flush(&st3, &out);
	CHECK(out.n == 4 && !memcmp(out.p, "\xEF\xBF\xBD" "A", 4), "bad continuation");
	g4_buf_free(&out);
}

static const char seq_text[] = "Gemma 4 reads text in chunks: 512 tokens at a time, then 1,024 more.\n\n"
	"She wrote \"caf\u00e9\" twice \u2014 and  stopped. Why? Nobody knew! It was 3:07 a.m.";

static int ids_eq(const int32_t *a, size_t n, const int32_t *b, size_t m)
{
	return n == m && !memcmp(a, b, n * sizeof *a);
}

/* golden/sequences.json text_ids come out of the micro GGUF's vocabulary
 * (llama.cpp's tokenisation); text_real_gemma_ids out of the real one */
static void test_micro_gguf(void)
{
	static const int32_t micro[] = { 2,375,330,341,374,334,317,280,337,370,341,373,363,368,335,299,268,311,360,
		314,341,363,360,364,368,374,309,357,8,324,327,294,339,378,366,329,318,283,9,340,357,328,379,338,326,
		380,312,302,341,372,370,364,377,268,357,354,357 };
	static const int32_t real[] = { 2,236823,12367,236743,236812,20838,1816,528,49145,236787,236743,236810,
		236770,236778,21739,657,496,990,236764,1299,236743,236770,236764,236771,236778,236812,919,236761,108,
		5778,7971,623,123125,236859,236775,10911,2192,532,138,144830,236761,8922,236881,53705,7261,236888,
		1030,691,236743,236800,236787,236771,236832,496,236761,236757,236761 };
	g4_tokenizer *m = g4_tok_load(t_data("micro-e2b-Q4_0.gguf"));
	CHECK(m != NULL, "micro: %s", g4_errmsg());
	if (!m)
		return;
	CHECK(g4_tok_n_vocab(m) == 382 && g4_tok_n_merges(m) == 77, "%zu tokens %zu merges", g4_tok_n_vocab(m), g4_tok_n_merges(m));
	int32_t *ids = NULL;
	size_t n = 0, cap = 0;
	CHECK(!g4_tok_encode(m, seq_text, strlen(seq_text), G4_ENC_BOS, &ids, &n, &cap), "encode");
	CHECK(ids_eq(ids, n, micro, sizeof micro / sizeof *micro), "micro ids differ (%zu ids)", n);
	g4_buf d = { 0 };
	CHECK(!g4_tok_decode(m, ids, n, 0, &d) && d.n == strlen(seq_text) && !memcmp(d.p, seq_text, d.n), "micro decode");
	g4_buf_free(&d);
	n = 0;
	CHECK(!g4_tok_encode(tok, seq_text, strlen(seq_text), G4_ENC_BOS, &ids, &n, &cap), "encode");
	CHECK(ids_eq(ids, n, real, sizeof real / sizeof *real), "real ids differ (%zu ids)", n);
	free(ids);
	g4_tok_free(m);
}

/* a vocab-only GGUF written from tokenizer.json loads back with the same
 * encodings: all vectors, except the two with literal "▁▁" next to a space
 * (a ▁ run is a normal token in GGUF, as llama.cpp writes it, so BPE gives
 * 139 where the tokenizer.json split gives 138 236743) */
static void test_vocab_gguf(void)
{
	const char *p = t_tmp("vocab.gguf");
	CHECK(!g4_tok_write_vocab_gguf(tok, p), "write: %s", g4_errmsg());
	g4_tokenizer *g = g4_tok_load(p);
	CHECK(g != NULL, "load back: %s", g4_errmsg());
	if (!g)
		return;
	CHECK(g4_tok_n_vocab(g) == g4_tok_n_vocab(tok) && g4_tok_n_merges(g) == g4_tok_n_merges(tok), "sizes");
	CHECK(g4_tok_type(g, 100) == G4_TT_USER && g4_tok_type(g, 105) == G4_TT_CONTROL &&
	      g4_tok_type(g, 168) == G4_TT_USER && g4_tok_type(g, 138) == G4_TT_NORMAL && g4_tok_type(g, 300) == G4_TT_BYTE, "types");
	size_t ni;
	char *inp = t_slurp(t_data("tokenizer/extra-tests.inp"), &ni);
	char *s = inp;
	int k = 0, differ = 0;
	while (inp) {
		char *e = memmem(s, (size_t)(inp + ni - s), "\n__ggml_vocab_test__\n", 21);
		size_t len = e ? (size_t)(e - s) : (size_t)(inp + ni - s);
		int32_t *a = NULL, *b = NULL;
		size_t na = 0, nb = 0, ca = 0, cb = 0;
		g4_tok_encode(tok, s, len, G4_ENC_BOS, &a, &na, &ca);
		g4_tok_encode(g, s, len, G4_ENC_BOS, &b, &nb, &cb);
		if (!ids_eq(a, na, b, nb)) {
			differ++;
			CHECK(k == 346 || k == 347, "vector %d differs", k);
		}
		free(a);
		free(b);
		k++;
		if (!e)
			break;
		s = e + 21;
	}
	CHECK(differ == 2, "%d vectors differ, want the 2 with literal U+2581", differ);
	free(inp);
	g4_tok_free(g);
	/* a GGUF without a tokenizer, and one of another model type */
	CHECK(!g4_tok_load(t_data("mmproj-tiny-audio-f16.gguf")) && strstr(g4_errmsg(), "tokenizer"), "no tokenizer: %s", g4_errmsg());
}

/* tokenizer.json ids: one past Gemma's vocabulary and beyond what the file
 * can hold is refused before anything is sized by it (it once cost 80 MB);
 * a subset of Gemma's vocabulary keeps its ids (mini-tokenizer.json) */
static void test_json_sparse_id(void)
{
	const char sparse[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 4000000}, "
			      "\"merges\": []}}";
	g4_tokenizer *t = g4_tok_from_json(sparse, sizeof sparse - 1, "sparse.json");
	CHECK(!t && strstr(g4_errmsg(), "sparse.json: token id 4000000") && strstr(g4_errmsg(), "can hold"),
	      "sparse: %s", t ? "loaded" : g4_errmsg());
	g4_tok_free(t);
}

/* many added tokens sharing prefixes: the trie grows many times while a
 * string is inserted (a stale pointer there once crashed on real files) */
static void test_many_added(void)
{
	enum { N = 20000 };
	static char names[N + 256][24];
	static const char *tok[N + 256];
	static size_t len[N + 256];
	static int32_t type[N + 256];
	for (int b = 0; b < 256; b++) {
		snprintf(names[b], sizeof names[b], "<0x%02X>", b);
		type[b] = G4_TT_BYTE;
	}
	for (int i = 0; i < N; i++) {
		snprintf(names[256 + i], sizeof names[256 + i], "<|tok%d_%d|>", i % 97, i);
		type[256 + i] = i % 2 ? G4_TT_USER : G4_TT_CONTROL;
	}
	for (int i = 0; i < N + 256; i++) {
		tok[i] = names[i];
		len[i] = strlen(names[i]);
	}
	g4_tok_spec sp = { .n_vocab = N + 256, .tokens = tok, .token_len = len, .types = type,
			   .bos = -1, .eos = -1, .unk = -1, .pad = -1, .mask = -1, .name = "many" };
	g4_tokenizer *m = g4_tok_build(&sp);
	CHECK(m != NULL, "build: %s", g4_errmsg());
	if (!m)
		return;
	int bad = 0;
	for (int i = 0; i < N; i += 7) {
		int32_t *ids = NULL;
		size_t n = 0, cap = 0;
		g4_tok_encode(m, names[256 + i], len[256 + i], G4_ENC_SPECIAL, &ids, &n, &cap);
		bad += !(n == 1 && ids[0] == 256 + i);
		free(ids);
	}
	CHECK(!bad, "%d added tokens not matched", bad);
	g4_tok_free(m);
}

int main(void)
{
	RUN(test_load);
	RUN(test_llama_vectors);
	RUN(test_extra_vectors);
	RUN(test_examples);
	RUN(test_special);
	RUN(test_invalid_utf8);
	RUN(test_stream_decode);
	RUN(test_many_added);
	RUN(test_json_sparse_id);
	RUN(test_micro_gguf);
	RUN(test_vocab_gguf);
	g4_tok_free(tok);
	return t_done();
}
